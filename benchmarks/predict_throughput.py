"""File-scoring throughput: ``tfdeepfake predict``'s batch scorer against the official PyTorch AASIST evaluation loop,
same files, same run.

    git clone https://github.com/clovaai/aasist /tmp/aasist
    /opt/torchenv/bin/pip install torchcontrib tensorboard     # the official main.py imports both
    python benchmarks/predict_throughput.py --aasist-repo /tmp/aasist --torch-python /opt/torchenv/bin/python \\
        --files 48 --repeats 3 --seed 0

Files: a seeded selection of ``--files`` real 16 kHz FLAC recordings from ../shared/corpora (librispeech-sample and
asvspoof2019-la-sample): the official reader (soundfile, no resampling) assumes 16 kHz, so other rates are refused.
Models: AASIST-L and AASIST, the official checkpoints of the checkout (models/weights/) on the torch side and our
presets, converted from the same files (sha256 checked), on ours.

Contenders, per model:
- official: the checkout's own evaluation loop in the torch environment (benchmarks/torch_side.py --aasist-repo:
  main.get_model, data_utils.Dataset_ASVspoof2019_devNeval in a DataLoader with the config's batch size,
  main.produce_evaluation_file under torch.no_grad): one window per file, the first 64,600 samples, repeat-padded.
- ours, official rule: ``batch_predictions(detector, paths, first_window_only=True)``, the same window of each file
  through the same weights (decoding ahead in threads, windows of many files per call of one traced graph,
  speech-activity check and calibration included).
- ours, sliding windows: ``batch_predictions(detector, paths)``, what ``tfdeepfake predict`` runs by default (every
  window at half-window hop, the last aligned to the end): more model work per file, its own row.

The contenders alternate (official, ours official rule, ours sliding, official, ...) so that the load of a shared
machine falls on all of them; the first round is an untimed warm-up, then ``--repeats`` timed rounds; medians
count. Per pass: wall and CPU seconds (CPU: the process's user + system time). files/s = files / wall s; real-time
factor = the files' audio seconds (their whole length) / wall s. Parity: the official model's two outputs on the
same loader (bona fide minus spoof, our one logit) against ours under the official rule, per file. The load average
is recorded before and after each model. Results: results/predict_throughput.{json,md}. The last line printed is
the smaller of the two models' speedups under the official rule: ``speedup: X.XX``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

import tfdeepfake  # noqa: E402,F401  (Keras 2 switch before TensorFlow loads)
import tensorflow as tf  # noqa: E402

from tfdeepfake.inference import Detector  # noqa: E402
from tfdeepfake.inference.batch import DECODE_WORKERS, batch_predictions  # noqa: E402
from tfdeepfake.models.presets import get_preset  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from pipeline_throughput import cpu_model  # noqa: E402

SOURCES = ("librispeech-sample", "asvspoof2019-la-sample")
RATE = 16000
MODELS = {"AASIST-L": "aasist-l", "AASIST": "aasist"}  # official config / checkpoint name -> our preset
OFFICIAL, FIRST, SLIDING = "official PyTorch loop", "ours, official rule", "ours, sliding windows"


def select_files(count: int, seed: int) -> list[Path]:
    """``count`` 16 kHz recordings in a seeded order (all of them when ``count`` is 0)."""
    files = sorted(p for name in SOURCES for p in (SHARED / "corpora" / name).rglob("*.flac"))
    if not files:
        raise SystemExit(f"{SHARED / 'corpora'}: no FLAC files of {SOURCES} (the benchmark needs ../shared/corpora)")
    order = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
    chosen = order[:count] if count else order
    other = [str(p) for p in chosen if sf.info(p).samplerate != RATE]
    if other:
        raise SystemExit(f"not at {RATE} Hz (the official reader does not resample): {other}")
    return chosen


class OfficialLoop:
    """The torch side, served: a subprocess answering ``pass`` / ``logits`` (benchmarks/torch_side.py)."""

    def __init__(self, python: str, repo: Path, name: str, file_list: Path, threads: int, log: Path):
        config, checkpoint = repo / "config" / f"{name}.conf", repo / "models" / "weights" / f"{name}.pth"
        self.log = log
        self.process = subprocess.Popen(
            [python, str(ROOT / "benchmarks" / "torch_side.py"), "--aasist-repo", str(repo), "--checkpoint",
             str(checkpoint), "--config", str(config), "--file-list", str(file_list), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
        self.setup = self._reply()
        self.setup["config"], self.setup["checkpoint_sha256"] = str(config), sha256(checkpoint)

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the official loop stopped: {self.log.read_text()[-2000:]}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        self.process.wait(timeout=60)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ours(detector, paths: list[Path], first_window_only: bool, batch_windows: int | None) -> dict:
    """One pass of the batch scorer: wall and CPU seconds, per-file logits and windows scored."""
    began, cpu = time.perf_counter(), time.process_time()
    predictions = list(batch_predictions(detector, paths, batch_windows=batch_windows,
                                         first_window_only=first_window_only))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    failed = [p.source for p in predictions if not p.ok]
    if failed:
        raise SystemExit(f"the Detector could not read {failed}")
    return {"seconds": wall, "cpu_seconds": cpu, "logits": [p.logit for p in predictions],
            "windows": sum(len(p.windows) for p in predictions)}


def measure(name: str, args, paths: list[Path], audio_seconds: float, folder: Path) -> dict:
    """Alternating rounds of the three contenders on one model; medians, parity and the load around them."""
    preset = get_preset(MODELS[name])
    detector = Detector.load(preset.name)
    load_before = os.getloadavg()
    official = OfficialLoop(args.torch_python, Path(args.aasist_repo), name, folder / "files.txt", args.threads,
                            folder / f"{name}.torch.log")
    if official.setup["checkpoint_sha256"] != preset.weights.sha256:
        raise SystemExit(f"{name}: the checkout's checkpoint is not the one our preset converts")
    contenders = {OFFICIAL: lambda: official.ask("pass"),
                  FIRST: lambda: ours(detector, paths, True, args.batch_windows),
                  SLIDING: lambda: ours(detector, paths, False, args.batch_windows)}
    passes = {contender: [] for contender in contenders}
    try:
        for round_number in range(args.repeats + 1):
            for contender, run in contenders.items():
                result = run()
                label = "warm-up" if round_number == 0 else f"round {round_number}"
                print(f"{name:8s} {label:8s} {contender:22s} {result['seconds']:7.1f} s wall "
                      f"{result['cpu_seconds']:7.1f} s CPU (load {os.getloadavg()[0]:.1f})", flush=True)
                if round_number:
                    passes[contender].append(result)
        two_class = np.array(official.ask("logits")["logits"])
    finally:
        official.close()
    load_after = os.getloadavg()
    rows = {}
    for contender, results in passes.items():
        wall = float(np.median([r["seconds"] for r in results]))
        rows[contender] = {"files_per_s": len(paths) / wall, "real_time_factor": audio_seconds / wall,
                           "median_s": wall, "passes_s": [r["seconds"] for r in results],
                           "median_cpu_s": float(np.median([r["cpu_seconds"] for r in results])),
                           "windows_per_pass": results[-1].get("windows", len(paths))}
    score_file_diff = np.abs(np.array(passes[OFFICIAL][-1]["scores"]) - two_class[:, 1])
    diff = np.abs(np.array(passes[FIRST][-1]["logits"]) - (two_class[:, 1] - two_class[:, 0]))
    base = rows[OFFICIAL]["files_per_s"]
    return {"preset": preset.name, "parameters": official.setup["parameters"], "torch_side": official.setup,
            "batch_windows": detector.batch_windows if args.batch_windows is None else args.batch_windows,
            **rows,
            "speedup": rows[FIRST]["files_per_s"] / base, "sliding_vs_official": rows[SLIDING]["files_per_s"] / base,
            "parity": {"max_abs_logit_diff": float(diff.max()), "median_abs_logit_diff": float(np.median(diff)),
                       "official_score_file_vs_bona_fide_output": float(score_file_diff.max())},
            "load_average": {"before": list(load_before), "after": list(load_after)}}


def markdown(report: dict) -> str:
    lines = ["# File scoring: tfdeepfake's batch scorer against the official PyTorch AASIST evaluation loop", "",
             f"Command: `{report['command']}` (figures in `predict_throughput.json`). Machine: {report['machine']}.",
             f"{report['files']} real 16 kHz recordings ({report['audio_seconds']:.0f} s of audio, "
             f"{report['scored_seconds_official_rule']:.0f} s of it under the official first-window rule), seed "
             f"{report['seed']}; contenders alternated, one untimed warm-up round, median of {report['repeats']} "
             f"rounds. Threads: {report['threads']}.", "",
             "| model | contender | windows | files/s | audio s per wall s | median wall s | median CPU s | "
             "vs official |", "|---|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        for contender in (OFFICIAL, FIRST, SLIDING):
            cell = row[contender]
            ratio = {OFFICIAL: "", FIRST: f"**{row['speedup']:.2f}x**",
                     SLIDING: f"{row['sliding_vs_official']:.2f}x"}[contender]
            lines.append(f"| {name} | {contender} | {cell['windows_per_pass']} | {cell['files_per_s']:.3f} | "
                         f"{cell['real_time_factor']:.2f} | {cell['median_s']:.1f} | {cell['median_cpu_s']:.1f} | "
                         f"{ratio} |")
    lines += ["", "Parity (ours under the official rule against the official model on the same files, logit = bona "
                  "fide minus spoof output): " + "; ".join(
                      f"{name} max |diff| {row['parity']['max_abs_logit_diff']:.2e} (median "
                      f"{row['parity']['median_abs_logit_diff']:.2e})" for name, row in report["models"].items()) + ".",
              "", "Load average (1, 5, 15 min) before / after each model: " + "; ".join(
                  f"{name} {', '.join(f'{v:.1f}' for v in row['load_average']['before'])} / "
                  f"{', '.join(f'{v:.1f}' for v in row['load_average']['after'])}"
                  for name, row in report["models"].items()) + ".",
              "", report["baseline"], "", f"speedup (the smaller, official rule): {report['speedup']:.2f}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aasist-repo", required=True, help="a checkout of https://github.com/clovaai/aasist")
    parser.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", "/opt/torchenv/bin/python"),
                        help="the side environment's python (torch, soundfile, torchcontrib, tensorboard)")
    parser.add_argument("--files", type=int, default=48, help="recordings to score (0: all 16 kHz ones)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (median counts)")
    parser.add_argument("--seed", type=int, default=0, help="file selection")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads on its side")
    parser.add_argument("--batch-windows", type=int, default=None, help="ours: windows per model call "
                                                                        "(default: the Detector's)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--results", default=str(ROOT / "results" / "predict_throughput.json"))
    args = parser.parse_args()
    paths = select_files(args.files, args.seed)
    durations = [sf.info(p).duration for p in paths]
    audio_seconds = float(sum(durations))
    threads = tf.config.threading
    report = {"command": "python benchmarks/predict_throughput.py " + " ".join(sys.argv[1:]), "seed": args.seed,
              "files": len(paths), "repeats": args.repeats, "audio_seconds": audio_seconds,
              "scored_seconds_official_rule": float(sum(min(d, 64600 / RATE) for d in durations)),
              "paths": [str(p.relative_to(SHARED)) for p in paths],
              "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, TensorFlow "
                         f"{tf.__version__}, GPU: {[d.name for d in tf.config.list_physical_devices('GPU')] or 'none'}",
              "threads": f"torch.set_num_threads({args.threads}); TensorFlow intra-op "
                         f"{threads.get_intra_op_parallelism_threads()} / inter-op "
                         f"{threads.get_inter_op_parallelism_threads()} (0 = all cores), {DECODE_WORKERS} decoding "
                         "threads",
              "baseline": "official PyTorch loop: the clovaai/aasist checkout's main.get_model, "
                          "data_utils.Dataset_ASVspoof2019_devNeval (soundfile read, first 64,600 samples, "
                          "repeat-padded) in a DataLoader with the config's batch size, main.produce_evaluation_file "
                          "(torch.no_grad), run by benchmarks/torch_side.py in the torch environment. ours, official "
                          "rule: batch_predictions(detector, paths, first_window_only=True), the same window per file "
                          "(decoding stops after it). ours, sliding windows: batch_predictions(detector, paths), what "
                          "tfdeepfake predict runs.",
              "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "files.txt").write_text("".join(f"{p}\n" for p in paths))
        for name in args.models:
            report["models"][name] = measure(name, args, paths, audio_seconds, folder)
    report["speedup"] = min(row["speedup"] for row in report["models"].values())
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=1) + "\n")
    results.with_suffix(".md").write_text(markdown(report))
    for name, row in report["models"].items():
        print(f"{name}: speedup {row['speedup']:.2f} (sliding windows {row['sliding_vs_official']:.2f}), parity max "
              f"|logit diff| {row['parity']['max_abs_logit_diff']:.2e}")
    print(f"speedup: {report['speedup']:.2f}")


if __name__ == "__main__":
    main()
