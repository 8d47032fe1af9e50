"""Export report: size, latency, memory and score change of every model in every export format.

    python benchmarks/export_report.py                       # all models and formats -> results/export.md + .json
    python benchmarks/export_report.py --models aasist-l --formats keras tflite --repeats 20

Per model (LCNN, ResNet and a base-size WavLM classifier with random weights, seed --seed; the pretrained AASIST,
AASIST-L and RawGAT-ST) each format is exported by ``tfdeepfake.export.export_model`` (parity against Keras on
real LibriSpeech windows), then measured in a process of its own: p50 / p95 latency of one ~4 s window at batch 1
(after warm-up calls), peak resident memory (VmHWM) and the memory TensorFlow alone takes there, and, for
the pretrained models, the EER on the ../shared published sets (hifigan-demo, vits-demo: real against fake of each
set, one window per clip: the official input rule, the first 64,600 samples) next to Keras's. The same run times
the official PyTorch AASIST and AASIST-L at batch 1 on the same window (torch in a side venv: --torch-python /
$TORCH_PYTHON and --official-src / $AASIST_SRC; skipped with the reason when absent). Last line:
``speedup: X.XX`` = official PyTorch AASIST-L p50 / our AASIST-L TFLite p50.

A model's formats are timed interleaved, so that they see the same load on a shared machine: all its format
processes load their model, then take turns, ``--rounds`` times, each timing its share of ``--repeats`` calls
(the order rotating from round to round); p50 / p95 are over all of a format's calls. The TFLite targets also
give the median over rounds of the per-round TFLite / Keras p50 ratio.
"""
from __future__ import annotations

import argparse
import csv
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
CORPORA = SHARED / "corpora"
sys.path.insert(0, str(ROOT))

FORMATS = ("keras", "savedmodel", "tflite", "tflite-fp16", "tflite-int8", "onnx")
PRETRAINED = ("aasist", "aasist-l", "rawgat-st")
RANDOM = ("lcnn", "resnet", "wavlm-base")
WINDOW = 64000  # the random-weight models' window: 4 s at 16 kHz (the presets keep their 64,600)
SETS = ("hifigan-demo", "vits-demo")
FLOAT_EXPORTS = ("savedmodel", "tflite", "onnx")
TARGET_MS = 20.0  # AASIST-L TFLite p50 per window


def random_bundle(name: str, seed: int):
    """A random-weight model of ``name`` as an in-memory bundle (weights from tf.random seed ``seed``)."""
    import tensorflow as tf

    from tfdeepfake.bundle import Bundle, InputRule
    from tfdeepfake.features import FeatureConfig
    from tfdeepfake.models import build_model

    tf.keras.utils.set_random_seed(seed)
    if name == "lcnn":
        model = build_model("lcnn", FeatureConfig.lfcc_baseline(), WINDOW)
    elif name == "resnet":
        model = build_model("resnet", FeatureConfig(kind="logmel", n_mels=80), WINDOW)
    else:
        model = build_model("ssl", FeatureConfig(), WINDOW, config={})  # WavLM base: 12 x 768, 94M weights
    return Bundle(name, f"{name} (random weights, seed {seed})", name, InputRule(16000, WINDOW), model=model,
                  parameters=int(model.count_params()))


def check_clips() -> list[str]:
    files = sorted((CORPORA / "librispeech-sample").rglob("*.flac"))[:4]
    return [str(f) for f in files]


def published_rows() -> list[dict]:
    """The published sets' rows of ../shared/corpora/manifest.csv (path, label, system)."""
    rows = list(csv.DictReader(open(CORPORA / "manifest.csv")))
    return [r for r in rows if r["path"].split("/", 1)[0] in SETS]


# ---------------------------------------------------------------- the worker (one model, one format, own process)


def vm_hwm_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(args) -> int:
    """Load ``--path`` with the Detector and warm it up, then serve the driver's lines on stdin: a number N times
    N batch-1 calls (one JSON list of milliseconds back), ``end`` scores the published sets (with ``--score``)
    and answers the peak memory; one JSON line each."""
    import tensorflow as tf  # noqa: F401  (the baseline: what TensorFlow itself takes)

    from tfdeepfake.audio import load_audio
    from tfdeepfake.inference import Detector

    baseline = vm_hwm_mb()
    detector = Detector.load(args.worker)
    rule = detector.input_rule
    audio, _ = load_audio(check_clips()[0], rule.sample_rate)
    window = audio[rule.window_indices(len(audio))[0]][None, :].astype(np.float32)
    for _ in range(args.warmup):
        detector.runner(window)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() == "end":
            break
        times = []
        for _ in range(int(line)):
            began = time.perf_counter()
            detector.runner(window)
            times.append(1e3 * (time.perf_counter() - began))
        print(json.dumps(times), flush=True)
    result = {"window_samples": rule.window_samples}
    if args.score:
        logits = []
        for row in published_rows():
            samples, _ = load_audio(CORPORA / row["path"], rule.sample_rate)
            logits.append(float(detector.runner(samples[rule.window_indices(len(samples))[0]][None, :])[0]))
        result["logits"] = logits
    result.update({"peak_rss_mb": vm_hwm_mb(), "tensorflow_rss_mb": baseline})
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------- the driver


class Worker:
    """One format's worker process (``--worker``), asked line by line; TensorFlow's messages go to a file."""

    def __init__(self, path: str, args, score: bool):
        command = [sys.executable, __file__, "--worker", path, "--warmup", str(args.warmup)] + \
            (["--score"] if score else [])
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        try:
            self.reply()  # loaded and warmed up
        except (RuntimeError, ValueError):
            self.close()
            raise

    def reply(self):
        """The worker's next JSON line; RuntimeError with the end of its stderr if it died."""
        line = self.process.stdout.readline()
        if not line:
            self.errors.seek(0)
            raise RuntimeError(self.errors.read().decode(errors="replace").strip()[-400:]
                               or f"worker exited with {self.process.wait()}")
        return json.loads(line)

    def ask(self, line: str):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.reply()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.errors.close()


def measure(paths: dict, args, score: set) -> dict:
    """Time every format of one model interleaved (module docstring); ``paths``: format -> what to load,
    ``score``: the formats that also score the published sets. format -> its measurements, or its error."""
    workers, results = {}, {}
    for fmt, path in paths.items():  # started one by one: loading is not what is timed
        try:
            workers[fmt] = Worker(path, args, fmt in score)
        except (OSError, RuntimeError, ValueError) as error:
            results[fmt] = {"error": str(error)}
    times = {fmt: [] for fmt in workers}
    rounds_p50 = {fmt: [] for fmt in workers}
    rounds = max(1, min(args.rounds, args.repeats))
    per_round = [args.repeats // rounds + (i < args.repeats % rounds) for i in range(rounds)]
    for turn, calls in enumerate(per_round):
        order = list(workers)
        if not order:
            break
        for fmt in order[turn % len(order):] + order[:turn % len(order)]:
            try:
                took = workers[fmt].ask(str(calls))
            except (OSError, RuntimeError, ValueError) as error:
                results[fmt] = {"error": str(error)}
                workers.pop(fmt).close()
                continue
            times[fmt] += took
            rounds_p50[fmt].append(float(np.percentile(took, 50)))
    for fmt, process in workers.items():
        try:
            final = process.ask("end")
        except (OSError, RuntimeError, ValueError) as error:
            results[fmt] = {"error": str(error)}
            continue
        finally:
            process.close()
        results[fmt] = {"ms_p50": float(np.percentile(times[fmt], 50)),
                        "ms_p95": float(np.percentile(times[fmt], 95)), "repeats": len(times[fmt]),
                        "rounds_ms_p50": rounds_p50[fmt], **final}
    return results


def eers(logits: list[float]) -> dict:
    from tfdeepfake import metrics

    rows, values = published_rows(), np.asarray(logits)
    result = {}
    for group in SETS:
        real = [i for i, r in enumerate(rows) if r["path"].startswith(group) and r["label"] == "bonafide"]
        fake = [i for i, r in enumerate(rows) if r["path"].startswith(group) and r["label"] != "bonafide"]
        result[group] = metrics.compute_eer(values[real], values[fake])[0]
    return result


def official_latency(args, preset_name: str) -> dict:
    """Batch-1 p50 / p95 of the official PyTorch model on the same window, or why it was skipped."""
    from tfdeepfake.audio import load_audio
    from tfdeepfake.models.presets import get_preset
    from tfdeepfake.weights import resolve

    python = args.torch_python or os.environ.get("TORCH_PYTHON")
    source = args.official_src or os.environ.get("AASIST_SRC")
    if not python or not Path(python).is_file():
        return {"skipped": "no side environment with torch (--torch-python or $TORCH_PYTHON)"}
    if not source or not Path(source).is_file():
        return {"skipped": "official models/AASIST.py not given (--official-src or $AASIST_SRC)"}
    preset = get_preset(preset_name)
    audio, _ = load_audio(check_clips()[0], 16000)
    window = np.resize(audio, preset.input_samples)[None, :].astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        inputs, config = Path(tmp) / "clip.npy", Path(tmp) / "config.json"
        np.save(inputs, np.repeat(window, args.repeats, axis=0))
        config.write_text(json.dumps({"model_config": {"nb_samp": preset.input_samples, **preset.params}}))
        command = [python, str(ROOT / "benchmarks" / "torch_side.py"), "--aasist-src", source, "--checkpoint",
                   resolve(preset.weights), "--config", str(config), "--inputs", str(inputs), "--batch", "1",
                   "--repeats", "1", "--threads", str(os.cpu_count()), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"skipped": f"official side failed: {done.stderr.strip()[-300:]}"}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {"ms_p50": row["ms_per_batch_p50"], "ms_p95": row["ms_per_batch_p95"], "torch": row["torch"],
            "repeats": args.repeats}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(RANDOM[:2] + PRETRAINED + RANDOM[2:]))
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="turns each format takes (interleaved timing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-python", default=None)
    parser.add_argument("--official-src", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "export"))
    parser.add_argument("--append", action="store_true",
                        help="add these models to the report already at --out (its other rows are kept)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import tfdeepfake  # noqa: F401  (Keras 2 before TensorFlow loads)

    if args.worker:
        return worker(args)
    from tfdeepfake.bundle import bundle_from_preset, write_bundle
    from tfdeepfake.export import ExportError, export_model

    report = {"command": " ".join(["python benchmarks/export_report.py"] + (argv or sys.argv[1:])),
              "seed": args.seed, "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
              "models": {}, "official_pytorch": {}, "load_average": {"start": os.getloadavg()[0]}}
    if args.append and Path(args.out).with_suffix(".json").is_file():
        earlier = json.loads(Path(args.out).with_suffix(".json").read_text())
        report["command"] = f"{earlier['command']}; then {report['command']}"
        report["models"], report["official_pytorch"] = earlier["models"], earlier["official_pytorch"]
        report["load_average"]["start"] = max(report["load_average"]["start"],
                                              earlier.get("load_average", {}).get("start", 0.0))
    clips = check_clips()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            folder = Path(tmp) / name
            if name in PRETRAINED:
                bundle = bundle_from_preset(name, str(folder / "bundle"))
            else:
                memory = random_bundle(name, args.seed)
                bundle = write_bundle(str(folder / "bundle"), memory.model, memory)
            parameters = bundle.parameters
            rows, paths = {}, {}
            for fmt in args.formats:
                row = {}
                if fmt == "keras":
                    paths[fmt] = str(folder / "bundle")
                    row["bytes"] = os.path.getsize(folder / "bundle" / "model.keras")
                else:
                    suffix = {"savedmodel": "", "onnx": ".onnx"}.get(fmt, ".tflite")
                    target = folder / ("saved_model" if fmt == "savedmodel" else f"{fmt}{suffix}")
                    try:
                        exported = export_model(str(folder / "bundle"), fmt, str(target), check_audio=clips)
                    except ExportError as error:
                        rows[fmt] = {"error": str(error)}
                        print(name, fmt, "export failed:", error, flush=True)
                        continue
                    paths[fmt] = exported.path
                    row.update({"bytes": exported.bytes, "export_seconds": exported.seconds,
                                "parity": exported.to_dict()["parity"]})
                rows[fmt] = row
            # float32 formats equal Keras within 1e-4 (checked at export), so only Keras and the quantized
            # formats are scored on the published sets
            scored = {fmt for fmt in paths if name in PRETRAINED and fmt not in FLOAT_EXPORTS}
            for fmt, measured in measure(paths, args, scored).items():
                if "logits" in measured:
                    measured["eer"] = eers(measured.pop("logits"))
                rows[fmt].update(measured)
                print(name, fmt, json.dumps({k: v for k, v in rows[fmt].items() if k != "parity"}), flush=True)
            rows = {fmt: rows[fmt] for fmt in args.formats if fmt in rows}
            earlier_rows = report["models"].get(name, {}).get("formats", {})  # --append: keep other formats
            report["models"][name] = {"parameters": parameters, "formats": {**earlier_rows, **rows}}
            del bundle
        for preset in ("aasist", "aasist-l"):
            if preset in args.models:
                measured = official_latency(args, preset)
                print("official", preset, measured, flush=True)
                if "skipped" not in measured or "skipped" in report["official_pytorch"].get(preset, {"skipped": ""}):
                    report["official_pytorch"][preset] = measured  # an --append keeps an earlier measurement
    report["load_average"]["end"] = os.getloadavg()[0]
    write(Path(args.out), report)
    ours = report["models"].get("aasist-l", {}).get("formats", {}).get("tflite", {}).get("ms_p50")
    theirs = report["official_pytorch"].get("aasist-l", {}).get("ms_p50")
    for line in tflite_targets(report):
        print(line)
    if ours and theirs:
        print(f"speedup: {theirs / ours:.2f}")
    return 0


def _cpu() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def _load(report: dict) -> str:
    load = report.get("load_average", {})
    return " → ".join(f"{load[k]:.1f}" for k in ("start", "end") if k in load) or "not recorded"


def _fmt(value, spec, missing="—"):
    return missing if value is None else format(value, spec)


def write(stem: Path, report: dict) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    machine = report["machine"]
    lines = ["# Export: size, latency, memory, parity and EER change per model and format", "",
             f"`{report['command']}` (seed {report['seed']}); {machine['cpu']}, {machine['cores']} cores, "
             f"Python {machine['python']}; 1-minute load average {_load(report)} (above the core count, other jobs "
             "shared the cores: the latencies are then upper bounds, and rows compare with each other).", "",
             "Latency: one window (~4 s) at batch 1 through the Detector's runner, p50 / p95 over the repeats after "
             "warm-up, each format in a process of its own, a model's formats timed interleaved in turns (rounds) so that "
             "they share the load. Memory: that process's peak resident set (VmHWM) and, in "
             "brackets, what it was with TensorFlow imported before the model loaded. Parity: max |Δ logit| against "
             "the Keras model on windows of 4 real LibriSpeech files (export time). EER: the ../shared published "
             "sets, real against fake of each set, the first window of each clip (the official input rule); "
             "pretrained models only (random weights have no EER worth reading); float32 exports are within 1e-4 of "
             "Keras in every logit, so their EER is Keras's and only the quantized ones are scored again.", "",
             "| model | params | format | size MB | p50 ms | p95 ms | peak MB (TF alone) | max \\|Δ logit\\| "
             "| corr | EER hifigan-demo | EER vits-demo | ΔEER (points) |", "|" + "---|" * 12]
    for name, entry in report["models"].items():
        keras_eer = entry["formats"].get("keras", {}).get("eer")
        for fmt, row in entry["formats"].items():
            if "error" in row:
                lines.append(f"| {name} | {entry['parameters']:,} | {fmt} | — | — | — | — | — | — | — | — | "
                             f"{row['error'][:160]} |")
                continue
            parity = row.get("parity") or {}
            eer = row.get("eer")
            delta = "—"
            if eer is None and keras_eer and fmt in FLOAT_EXPORTS:
                eer, delta = keras_eer, "0 (float32 parity)"
            elif eer and keras_eer and fmt != "keras":
                delta = " / ".join(f"{100 * (eer[s] - keras_eer[s]):+.2f}" for s in SETS)
            lines.append(
                f"| {name} | {entry['parameters']:,} | {fmt} | {row['bytes'] / 1e6:.2f} | {_fmt(row.get('ms_p50'), '.1f')} "
                f"| {_fmt(row.get('ms_p95'), '.1f')} | {_fmt(row.get('peak_rss_mb'), '.0f')} "
                f"({_fmt(row.get('tensorflow_rss_mb'), '.0f')}) | {_fmt(parity.get('max_abs_logit_diff'), '.2e')} "
                f"| {_fmt(parity.get('correlation'), '.6f')} | {_fmt(eer and 100 * eer['hifigan-demo'], '.2f')} "
                f"| {_fmt(eer and 100 * eer['vits-demo'], '.2f')} | {delta} |")
    sequential = [f"{name} {fmt}" for name, entry in report["models"].items() for fmt, row in entry["formats"].items()
                  if "ms_p50" in row and "rounds_ms_p50" not in row]
    if sequential:
        lines += ["", "Timed one format after another, not interleaved (rows kept by --append from runs before the "
                      "interleaved timing; their latencies saw different loads): " + ", ".join(sequential) + "."]
    lines += ["", "Official PyTorch (same window, batch 1, torch threads = cores):", ""]
    for preset, row in report["official_pytorch"].items():
        lines.append(f"- {preset}: " + (row["skipped"] if "skipped" in row else
                                         f"p50 {row['ms_p50']:.1f} ms, p95 {row['ms_p95']:.1f} ms (torch {row['torch']})"))
    ours = report["models"].get("aasist-l", {}).get("formats", {}).get("tflite", {}).get("ms_p50")
    if ours is not None:
        lines += ["", f"Target: AASIST-L TFLite p50 ≤ {TARGET_MS:.0f} ms per window: measured {ours:.1f} ms — "
                      f"{'met' if ours <= TARGET_MS else 'missed'}."]
    targets = tflite_targets(report)
    if targets:
        lines += ["", "TFLite fp32 targets (p50 ≤ Keras p50 and ≤ 1.5 × ONNX Runtime p50):", ""] + targets
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def tflite_targets(report: dict) -> list[str]:
    """One line per model with TFLite, Keras and ONNX latencies: the two TFLite ratios and whether each target
    (TFLite p50 ≤ Keras p50, ≤ 1.5 × ONNX Runtime p50) is met."""
    lines = []
    for name, entry in report["models"].items():
        p50 = {fmt: entry["formats"].get(fmt, {}).get("ms_p50") for fmt in ("keras", "tflite", "onnx")}
        if None in p50.values():
            continue
        vs_keras, vs_onnx = p50["tflite"] / p50["keras"], p50["tflite"] / p50["onnx"]
        per_round = [t / k for t, k in zip(entry["formats"]["tflite"].get("rounds_ms_p50", []),
                                           entry["formats"]["keras"].get("rounds_ms_p50", []))]
        rounds = f"; per round {float(np.median(per_round)):.2f} (median of {len(per_round)})" if per_round else ""
        lines.append(f"- {name}: TFLite {p50['tflite']:.1f} ms, Keras {p50['keras']:.1f} ms, ONNX {p50['onnx']:.1f} ms; "
                     f"TFLite/Keras {vs_keras:.2f} ({'met' if vs_keras <= 1 else 'missed'}{rounds}), "
                     f"TFLite/ONNX {vs_onnx:.2f} ({'met' if vs_onnx <= 1.5 else 'missed'})")
    return lines


if __name__ == "__main__":
    sys.exit(main())
