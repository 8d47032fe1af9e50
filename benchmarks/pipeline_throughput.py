"""Input pipeline throughput: tfdeepfake's tf.data pipeline against a per-clip librosa loop, same clips, same run.

    python benchmarks/pipeline_throughput.py --clips 1024 --seed 0

Baseline ("librosa loop", as public notebooks do): for each clip, ``librosa.load`` the FLAC file, random crop
of 64,600 samples (repeat-pad), ``librosa.feature.melspectrogram`` (n_fft 512, hop 160, 80 Slaney mels) and
``power_to_db``, stacked into batches of 32. tfdeepfake: the same clips from TFRecords -> parse -> random crop
-> gain + white noise at a random SNR -> log-mel (same parameters) -> batches of 32, all in the graph.
Both are timed on a second pass (after one warm-up pass), as in multi-epoch training. Also prints the achieved GFLOP/s of the STFT + mel step against a count of its floating-point operations and
this machine's measured float32 matmul GFLOP/s. The last line printed is ``speedup: X.XX``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tfdeepfake import records  # noqa: E402
from tfdeepfake.corpora import assign_folds, read_csv  # noqa: E402
from tfdeepfake.features import FeatureConfig, make_frontend  # noqa: E402
from tfdeepfake.pipeline import AugmentConfig, InputConfig, train_dataset  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from build_throughput import make_clips  # noqa: E402

RATE, CROP, BATCH = 16000, 64600, 32
FEATURES = FeatureConfig(kind="logmel", n_fft=512, hop_length=160, n_mels=80)


def librosa_loop(paths: list[Path], seed: int) -> int:
    """One pass over ``paths``; returns the clips produced in full batches."""
    import librosa

    rng = np.random.default_rng(seed)
    batch, produced = [], 0
    for path in paths:
        samples, _ = librosa.load(path, sr=RATE)
        if len(samples) < CROP:
            samples = np.resize(samples, CROP)
        start = rng.integers(0, len(samples) - CROP + 1)
        mel = librosa.feature.melspectrogram(y=samples[start:start + CROP], sr=RATE, n_fft=512, hop_length=160,
                                             n_mels=80)
        batch.append(librosa.power_to_db(mel).T)
        if len(batch) == BATCH:
            np.stack(batch)
            produced += BATCH
            batch = []
    return produced


def tf_pipeline(tfrecords: str, seed: int):
    """A function doing one epoch over the TFRecords; the dataset is built (and traced) once, as in training."""
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=BATCH, shuffle_buffer=256,
                         augment=AugmentConfig(noise_p=1.0, noise_kind="white", gain_p=1.0))
    dataset = train_dataset(config, FEATURES, seed=seed)

    def epoch() -> int:
        return sum(int(inputs.shape[0]) for inputs, _ in dataset)

    return epoch


def feature_flops_per_clip() -> float:
    """Floating-point operations of framing + window, real FFT, power and the (dense) mel projection."""
    frames, n_fft, bins = FEATURES.num_frames(CROP), FEATURES.n_fft, FEATURES.n_fft // 2 + 1
    fft = 2.5 * n_fft * math.log2(n_fft)  # real FFT: half of a complex radix-2 FFT's 5 N log2 N
    per_frame = n_fft + fft + 3 * bins + 2 * bins * FEATURES.n_mels
    return frames * per_frame


def timed(fn, repeats: int) -> float:
    fn()  # warm-up and tracing
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def compute_floor(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    waves = tf.constant(rng.standard_normal((256, CROP)).astype(np.float32))
    frontend = tf.function(make_frontend(FEATURES))
    seconds = timed(lambda: frontend(waves).numpy(), 5)
    achieved = feature_flops_per_clip() * 256 / seconds / 1e9
    a = tf.constant(rng.standard_normal((2048, 2048)).astype(np.float32))
    matmul = tf.function(lambda: tf.linalg.matmul(a, a))
    matmul_gflops = 2 * 2048**3 / timed(lambda: matmul().numpy(), 10) / 1e9
    return {"feature_step_clips_per_s": round(256 / seconds, 1), "feature_step_gflops": round(achieved, 2),
            "matmul_gflops": round(matmul_gflops, 2), "fraction_of_matmul": round(achieved / matmul_gflops, 3),
            "flops_per_clip": feature_flops_per_clip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(ROOT / "results" / "pipeline_throughput.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        csv_path, _ = make_clips(tmp / "clips", args.clips, args.seed)
        listing = read_csv(str(csv_path))
        records.build(listing.utterances, assign_folds(listing.utterances, 1), str(tmp / "tfrecords"),
                      progress=False)
        paths = [Path(u.path) for u in listing.utterances]
        timings = {}
        tf_epoch = tf_pipeline(str(tmp / "tfrecords"), args.seed)
        librosa_loop(paths[:BATCH], args.seed)  # warm-ups: imports, caches, graph tracing
        tf_epoch()
        for name, run in (("librosa loop", lambda: librosa_loop(paths, args.seed)), ("tfdeepfake", tf_epoch)):
            start = time.perf_counter()
            produced = run()
            timings[name] = (time.perf_counter() - start, produced)
    floor = compute_floor(args.seed)
    rates = {name: produced / seconds for name, (seconds, produced) in timings.items()}
    report = {
        "command": f"python benchmarks/pipeline_throughput.py --clips {args.clips} --seed {args.seed}",
        "seed": args.seed, "clips": args.clips, "crop": CROP, "batch": BATCH,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}",
        "baseline": "librosa loop: librosa.load + crop + melspectrogram + power_to_db per clip, np.stack per batch",
        "clips_per_s": {name: round(rate, 1) for name, rate in rates.items()},
        "compute_floor": floor,
        "speedup": round(rates["tfdeepfake"] / rates["librosa loop"], 2),
    }
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    for name, rate in rates.items():
        print(f"{name:14s} {rate:8.1f} clips/s")
    print(f"STFT+log-mel step alone: {floor['feature_step_clips_per_s']} clips/s, {floor['feature_step_gflops']} GFLOP/s"
          f" = {100 * floor['fraction_of_matmul']:.1f}% of this machine's float32 matmul ({floor['matmul_gflops']} GFLOP/s)")
    print(f"speedup: {report['speedup']:.2f}")


if __name__ == "__main__":
    main()
