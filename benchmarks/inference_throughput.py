"""Inference speed of our AASIST against the official PyTorch AASIST, same weights, same clips, one run.

    python benchmarks/inference_throughput.py --official-src /path/to/aasist/models/AASIST.py \
        --torch-python /opt/torchenv/bin/python --preset aasist --clips 32 --repeats 5 --seed 0

Clips: the first 64,600 samples (repeat-padded) of real LibriSpeech files from ../shared/corpora, else seeded
noise. Ours runs as the Detector runs it (a tf.function graph, batch of fixed shape); an XLA-compiled variant is
timed too. The official model runs in a side environment with the CPU torch wheel (benchmarks/torch_side.py,
never imported here), with torch.set_num_threads(2) on the same clips; that side is skipped, with a message, when
the side environment or the official source is absent. Each contender runs alone (one after another), warmed up,
median of --repeats passes. Both sides' logits are compared. The last line is the slower-batch ratio of ours to
the official model: ``speedup: X.XX``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

import tfdeepfake  # noqa: E402,F401  (Keras 2 switch before TensorFlow loads)
import tensorflow as tf  # noqa: E402

from tfdeepfake.audio import load_audio  # noqa: E402
from tfdeepfake.models.presets import get_preset, load_preset  # noqa: E402
from tfdeepfake.weights import resolve  # noqa: E402


def benchmark_clips(count: int, samples: int, seed: int) -> tuple[np.ndarray, str]:
    """(clips [count, samples], where they came from): real speech when ../shared is there, else noise."""
    folder = SHARED / "corpora" / "librispeech-sample"
    files = sorted(folder.rglob("*.flac"))[:count] if folder.is_dir() else []
    if len(files) < count:
        rng = np.random.default_rng(seed)
        return (0.1 * rng.standard_normal((count, samples))).astype(np.float32), f"noise (seed {seed})"
    clips = []
    for path in files:
        audio, _ = load_audio(path, 16000)
        clips.append(np.resize(audio, samples) if len(audio) < samples else audio[:samples])
    return np.stack(clips).astype(np.float32), f"{count} LibriSpeech files from {folder}"


def time_passes(run, clips: np.ndarray, batch: int, repeats: int) -> dict:
    """clips/s (median over passes) and ms per batch (p50, p95) of ``run`` over all clips in batches."""
    usable = len(clips) // batch * batch
    batches = [clips[i:i + batch] for i in range(0, usable, batch)]
    run(batches[0])  # trace / warm up
    per_pass, per_batch = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in batches:
            began = time.perf_counter()
            run(x)
            per_batch.append(1e3 * (time.perf_counter() - began))
        per_pass.append(usable / (time.perf_counter() - start))
    return {"clips_per_s": float(np.median(per_pass)), "ms_p50": float(np.percentile(per_batch, 50)),
            "ms_p95": float(np.percentile(per_batch, 95))}


def ours(preset: str, clips: np.ndarray, batches: list[int], repeats: int) -> tuple[dict, np.ndarray]:
    model = load_preset(preset)
    rows = {}
    for mode, jit in (("graph", False), ("xla", True)):
        forward = tf.function(lambda x: model(x, training=False), jit_compile=jit, reduce_retracing=True)
        for batch in batches:
            rows[f"{mode}/batch{batch}"] = time_passes(lambda x: forward(tf.constant(x)).numpy(), clips, batch,
                                                       repeats)
            print(f"tfdeepfake {preset} {mode:5s} batch {batch:2d}: {rows[f'{mode}/batch{batch}']}", flush=True)
    forward = tf.function(lambda x: model(x, training=False))
    logits = np.concatenate([forward(tf.constant(clips[i:i + 16])).numpy() for i in range(0, len(clips), 16)])
    return rows, logits[:, 0]


def official(args, clips: np.ndarray, batches: list[int]) -> tuple[dict, np.ndarray | None, str | None]:
    """The official model's rows, its bona fide logits, or the reason it was skipped."""
    python = args.torch_python or os.environ.get("TORCH_PYTHON")
    source = args.official_src or os.environ.get("AASIST_SRC")
    if not python or not Path(python).is_file():
        return {}, None, "no side environment with torch (--torch-python or $TORCH_PYTHON)"
    if not source or not Path(source).is_file():
        return {}, None, "official models/AASIST.py not given (--official-src or $AASIST_SRC; clone clovaai/aasist)"
    preset = get_preset(args.preset)
    checkpoint = resolve(preset.weights)
    rows, logits = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        inputs, config, out = Path(tmp) / "clips.npy", Path(tmp) / "config.json", Path(tmp) / "logits.npy"
        np.save(inputs, clips)
        config.write_text(json.dumps({"model_config": {"nb_samp": preset.input_samples, **preset.params}}))
        for batch in batches:
            command = [python, str(ROOT / "benchmarks" / "torch_side.py"), "--aasist-src", source, "--checkpoint",
                       checkpoint, "--config", str(config), "--inputs", str(inputs), "--batch", str(batch),
                       "--repeats", str(args.repeats), "--threads", str(args.threads), "--seed", str(args.seed),
                       "--out-logits", str(out)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                return {}, None, f"official side failed: {done.stderr.strip()[-500:]}"
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows[f"batch{batch}"] = {"clips_per_s": row["clips_per_s"], "ms_p50": row["ms_per_batch_p50"],
                                     "ms_p95": row["ms_per_batch_p95"]}
            print(f"official  {args.preset} torch batch {batch:2d}: {rows[f'batch{batch}']}", flush=True)
            two_class = np.load(out)
            logits = two_class[:, 1] - two_class[:, 0]
    return rows, logits, None


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="aasist", choices=["aasist", "aasist-l", "aasist-asvspoof5"])
    parser.add_argument("--official-src", help="the official models/AASIST.py (clovaai/aasist)")
    parser.add_argument("--torch-python", help="python of a side environment with the CPU torch wheel")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(ROOT / "results" / "inference_throughput"))
    args = parser.parse_args(argv)

    clips, origin = benchmark_clips(args.clips, get_preset(args.preset).input_samples, args.seed)
    mine, my_logits = ours(args.preset, clips, args.batches, args.repeats)
    theirs, their_logits, skipped = official(args, clips, args.batches)
    report = {"command": " ".join(["python benchmarks/inference_throughput.py"] + (argv or sys.argv[1:])),
              "preset": args.preset, "clips": origin, "seed": args.seed, "cpu": cpu_model(),
              "cores": os.cpu_count(), "tensorflow": tf.__version__, "tfdeepfake": mine, "official": theirs}
    ratios = {}
    if skipped:
        report["official_skipped"] = skipped
        print(f"official PyTorch side skipped: {skipped}")
    else:
        report["max_abs_logit_difference"] = float(np.abs(my_logits - their_logits).max())
        ratios = {f"batch{b}": mine[f"graph/batch{b}"]["clips_per_s"] / theirs[f"batch{b}"]["clips_per_s"]
                  for b in args.batches}
        report["speedup"] = ratios
        print(f"logits agree within {report['max_abs_logit_difference']:.2e}")
    write_results(Path(args.results), report)
    print(f"speedup: {min(ratios.values()):.2f}" if ratios else "speedup: n/a (no PyTorch baseline in this run)")
    return 0


def write_results(stem: Path, report: dict) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Inference throughput: tfdeepfake {report['preset']} vs the official PyTorch model", "",
             f"`{report['command']}`", "",
             f"{report['cpu']}, {report['cores']} cores, TensorFlow {report['tensorflow']}; clips: {report['clips']}.",
             "", "| contender | batch | clips/s | ms per batch p50 | p95 |", "|---|---|---|---|---|"]
    for name, rows in (("tfdeepfake", report["tfdeepfake"]), ("official PyTorch", report["official"])):
        for key, row in rows.items():
            mode, _, batch = key.rpartition("/")
            label = f"{name} ({mode})" if mode else name
            lines.append(f"| {label} | {batch.removeprefix('batch')} | {row['clips_per_s']:.2f} | "
                         f"{row['ms_p50']:.0f} | {row['ms_p95']:.0f} |")
    if "speedup" in report:
        lines += ["", "Speedup of tfdeepfake (graph, as the Detector runs it) over the official model: "
                  + ", ".join(f"batch {k.removeprefix('batch')}: {v:.2f}x" for k, v in report["speedup"].items())
                  + f"; logits agree within {report['max_abs_logit_difference']:.1e}."]
    else:
        lines += ["", f"Official side skipped: {report['official_skipped']}."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
