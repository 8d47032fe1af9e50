"""File-scoring throughput: the Detector (``tfdeepfake predict``) against the per-file loop a notebook writes.

    python benchmarks/predict_throughput.py --files 60 --repeats 3 --seed 0

Files: a fixed, seeded selection of ``--files`` real recordings from ../shared/corpora, taken in turn from
librispeech-sample (16 kHz), hifigan-demo and vits-demo (22.05 kHz, so resampled), 1-23 s long. Models: an
LFCC-LCNN built by the registry from the shipped ``lcnn`` recipe with ``--seed`` (random weights: the timing
does not depend on them) and written as a bundle, or ``--lcnn-bundle PATH``; and the AASIST-L preset.

Baseline, per file: ``librosa.load(path, sr=16000)``, the windows the bundle's ``InputRule.window_indices`` cuts
(so both sides run the same model work), ``model.predict(windows)`` on the same Keras model, mean logit. Ours:
``batch_predictions`` over the file list (what ``tfdeepfake predict`` runs: decoding ahead in threads, speech-activity
check, windows of many files packed into batches through one traced graph, calibration). Contenders run one after another, each with an
untimed warm-up pass over all files, then ``--repeats`` timed passes; the median pass counts. Both sides'
per-file logits are compared (max |diff|, 16 kHz files and resampled ones apart: librosa resamples with
soxr_hq and pads to ceil(n * 16000 / rate) samples, the Detector with soxr VHQ to soxr's own length, which can
be one sample shorter: the end-aligned last window then starts a sample apart, and the number of such files and
their largest logit difference are reported too). Results: results/predict_throughput.{json,md}. The last line
printed is the smaller of the two models' speedups: ``speedup: X.XX``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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
from tfdeepfake.inference.batch import batch_predictions  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from pipeline_throughput import cpu_model  # noqa: E402

SOURCES = ("librispeech-sample", "hifigan-demo", "vits-demo")
RATE = 16000


def select_files(count: int, seed: int) -> list[Path]:
    """``count`` recordings taken in turn from each source, each source's files in a seeded order."""
    orders = []
    for offset, name in enumerate(SOURCES):
        files = sorted((SHARED / "corpora" / name).rglob("*.flac"))
        if not files:
            raise SystemExit(f"{SHARED / 'corpora' / name}: no FLAC files (the benchmark needs ../shared/corpora)")
        orders.append([files[i] for i in np.random.default_rng([seed, offset]).permutation(len(files))])
    chosen = [orders[i % len(orders)][i // len(orders)] for i in range(count)]
    return chosen


def lcnn_bundle(out_dir: str, seed: int) -> str:
    """An LFCC-LCNN from the registry (the shipped ``lcnn`` recipe), random weights from ``seed``, as a bundle."""
    from tfdeepfake.bundle import Bundle, InputRule, write_bundle
    from tfdeepfake.config import load_config
    from tfdeepfake.models.registry import build_model

    config = load_config("lcnn")
    tf.keras.utils.set_random_seed(seed)
    model = build_model(config.model.name, config.features, config.data.crop_samples, **config.model.params)
    bundle = Bundle(f"lcnn-random-seed{seed}", "LFCC-LCNN, random weights (speed only)", "lcnn",
                    InputRule(RATE, config.data.crop_samples),
                    provenance={"note": f"untrained: registry build of the lcnn recipe with seed {seed}"})
    write_bundle(out_dir, model, bundle)
    return out_dir


def notebook_loop(model, rule, paths: list[Path]) -> list[tuple[float, int]]:
    """The per-file loop of a notebook: librosa.load at 16 kHz, cut windows, model.predict, mean logit.

    Returns (logit, samples at 16 kHz) per file."""
    import librosa

    rows = []
    for path in paths:
        audio, _ = librosa.load(path, sr=RATE)
        windows = audio[rule.window_indices(len(audio))]
        rows.append((rule.aggregate(model.predict(windows, verbose=0).reshape(-1)), len(audio)))
    return rows


def detector_pass(detector, paths: list[Path]) -> list[tuple[float, int]]:
    """What ``tfdeepfake predict`` runs for these files: (logit, samples at 16 kHz) per file."""
    predictions = list(batch_predictions(detector, paths))
    failed = [p.source for p in predictions if not p.ok]
    if failed:
        raise SystemExit(f"the Detector could not read {failed}")
    return [(p.logit, int(round(p.duration * RATE))) for p in predictions]


def timed_passes(run, repeats: int) -> tuple[list[float], list[float]]:
    """(logits of the warm-up pass, wall seconds of each timed pass)."""
    logits = run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return logits, seconds


def measure(name: str, detector, paths: list[Path], audio_seconds: float, repeats: int,
            resampled: np.ndarray) -> dict:
    model, rule = detector.runner.model, detector.input_rule
    rows = {}
    for contender, run in (("notebook loop", lambda: notebook_loop(model, rule, paths)),
                           ("tfdeepfake predict", lambda: detector_pass(detector, paths))):
        scored, seconds = timed_passes(run, repeats)
        median = float(np.median(seconds))
        rows[contender] = {"files_per_s": len(paths) / median, "real_time_factor": audio_seconds / median,
                           "median_s": median, "passes_s": seconds, "scored": np.array(scored)}
        print(f"{name:9s} {contender:18s} {len(paths) / median:8.2f} files/s  {audio_seconds / median:8.1f} audio "
              f"s per s  (passes {', '.join(f'{s:.2f}' for s in seconds)} s)", flush=True)
    theirs, ours = rows["notebook loop"].pop("scored"), rows["tfdeepfake predict"].pop("scored")
    diff = np.abs(theirs[:, 0] - ours[:, 0])
    lengths = theirs[:, 1] != ours[:, 1]
    windows = sum(len(rule.window_indices(int(n))) for n in ours[:, 1])
    return {"model_id": detector.model_id, "parameters": int(model.count_params()), "windows_per_pass": windows,
            "input_rule": rule.describe(), **rows,
            "files_of_other_length": {"count": int(lengths.sum()),
                                      "max_abs_logit_diff": float(diff[lengths].max()) if lengths.any() else None},
            "speedup": rows["tfdeepfake predict"]["files_per_s"] / rows["notebook loop"]["files_per_s"],
            "max_abs_logit_diff": {"16 kHz files": float(diff[~resampled].max()) if (~resampled).any() else None,
                                   "resampled files": float(diff[resampled].max()) if resampled.any() else None}}


def markdown(report: dict) -> str:
    lines = ["# File-scoring throughput: Detector against a per-file notebook loop", "",
             f"Command: `{report['command']}` (figures in `predict_throughput.json`). Machine: {report['machine']}.",
             f"{report['files']} files ({report['audio_seconds']:.0f} s of audio, {report['resampled_files']} at "
             f"22.05 kHz), seed {report['seed']}; warm-up pass untimed, median of {report['repeats']} passes.",
             "", "| model | contender | files/s | audio s per wall s | speedup | max abs logit diff (16 kHz / "
                 "resampled) |", "|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        diff = row["max_abs_logit_diff"]
        shown = " / ".join("–" if v is None else f"{v:.2e}" for v in diff.values())
        for contender in ("notebook loop", "tfdeepfake predict"):
            cell = row[contender]
            speed = f"**{row['speedup']:.2f}x**" if contender == "tfdeepfake predict" else ""
            lines.append(f"| {name} ({row['model_id']}) | {contender} | {cell['files_per_s']:.2f} | "
                         f"{cell['real_time_factor']:.1f} | {speed} | {shown if speed else ''} |")
    lines += ["", "Files whose 16 kHz length differs by librosa's length fix (ceil) against soxr's, and their largest "
                  "logit difference: " + "; ".join(f"{name} {row['files_of_other_length']['count']} files, "
                                                   f"{row['files_of_other_length']['max_abs_logit_diff'] or 0:.2e}"
                                                   for name, row in report["models"].items()) + ".",
              "", report["baseline"], "", report["note"], "", f"speedup (the smaller): {report['speedup']:.2f}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per contender (median counts)")
    parser.add_argument("--seed", type=int, default=0, help="file selection and LCNN weights")
    parser.add_argument("--lcnn-bundle", help="an LCNN bundle to time instead of the random-weight one")
    parser.add_argument("--results", default=str(ROOT / "results" / "predict_throughput.json"))
    args = parser.parse_args()
    paths = select_files(args.files, args.seed)
    infos = [sf.info(p) for p in paths]
    audio_seconds = float(sum(i.duration for i in infos))
    resampled = np.array([i.samplerate != RATE for i in infos])
    report = {"command": "python benchmarks/predict_throughput.py " + " ".join(sys.argv[1:]), "seed": args.seed,
              "files": len(paths), "repeats": args.repeats, "audio_seconds": audio_seconds,
              "resampled_files": int(resampled.sum()), "paths": [str(p.relative_to(SHARED)) for p in paths],
              "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, TensorFlow "
                         f"{tf.__version__}, GPU: {[d.name for d in tf.config.list_physical_devices('GPU')] or 'none'}",
              "baseline": "notebook loop: per file librosa.load(path, sr=16000), windows cut by the bundle's "
                          "InputRule.window_indices, model.predict(windows) on the Detector's own Keras model, "
                          "mean logit. tfdeepfake predict: batch_predictions(detector, paths) "
                          "(windows of many files per model call).",
              "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        lcnn = args.lcnn_bundle or lcnn_bundle(os.path.join(tmp, "lcnn"), args.seed)
        report["note"] = ("LCNN: " + (f"bundle {lcnn}" if args.lcnn_bundle else
                                      f"random weights (registry build of the lcnn recipe, seed {args.seed}): "
                                      "speed does not depend on the weights") +
                          "; AASIST-L: the pretrained preset.")
        for name, source in (("LCNN", lcnn), ("AASIST-L", "aasist-l")):
            report["models"][name] = measure(name, Detector.load(source), paths, audio_seconds, args.repeats,
                                             resampled)
    report["speedup"] = min(row["speedup"] for row in report["models"].values())
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=1) + "\n")
    results.with_suffix(".md").write_text(markdown(report))
    for name, row in report["models"].items():
        print(f"{name}: speedup {row['speedup']:.2f}, max |logit diff| {row['max_abs_logit_diff']}")
    print(f"speedup: {report['speedup']:.2f}")


if __name__ == "__main__":
    main()
