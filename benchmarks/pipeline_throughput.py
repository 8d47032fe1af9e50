"""Input pipeline throughput: tfdeepfake's tf.data pipeline against a per-clip librosa loop, same clips, same run.

    python benchmarks/pipeline_throughput.py --clips 4096 --seed 0 --repeats 5

Baseline ("librosa loop", as public notebooks do): for each clip, ``librosa.load`` the FLAC file, random crop
of 64,600 samples (repeat-pad), ``librosa.feature.melspectrogram`` (n_fft 512, hop 160, 80 Slaney mels) and
``power_to_db``, stacked into batches of 32. tfdeepfake: the same clips from TFRecords -> parse -> random crop
-> white noise at a random SNR (cut from the pipeline's seeded noise bank) -> gain -> log-mel (same parameters)
-> batches of 32, all in the graph.

Each is timed over ``--repeats`` back-to-back epochs after one warm-up epoch, as in multi-epoch training, one
contender after another; the median epoch counts. tfdeepfake is read as train.py feeds ``fit``: one iterator
over the repeated dataset, ``clips // 32`` steps an epoch. Also shown: a new iterator per epoch (each restart
refills the shuffle buffer and re-warms the autotuner), and, as a breakdown, the same tf.data pipeline without
the log-mel step, the log-mel step alone on a batch in memory, and its real FFT alone (and scipy's on all
cores), so the ceiling the FFT sets is visible. Also prints the achieved GFLOP/s of the STFT + mel step against
a count of its floating-point operations and this machine's measured float32 matmul GFLOP/s. The last line
printed is ``speedup: X.XX``.
"""
from __future__ import annotations

import argparse
import gc
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
import scipy.fft  # a librosa dependency: pocketfft, the FFT numpy and librosa use
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


def tf_pipeline(tfrecords: str, seed: int, steps: int, features: FeatureConfig | None = FEATURES,
                fresh_iterator: bool = False):
    """A function doing one epoch of ``steps`` batches. As train.py feeds ``fit``: one endless iterator over the
    repeated dataset (built and traced once); ``fresh_iterator`` starts a new iterator per epoch instead."""
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=BATCH, shuffle_buffer=256,
                         augment=AugmentConfig(noise_p=1.0, noise_kind="white", gain_p=1.0))
    dataset = train_dataset(config, features, seed=seed)
    if fresh_iterator:
        return lambda: sum(int(inputs.shape[0]) for inputs, _ in dataset)
    stream = iter(dataset.repeat())
    return lambda: sum(int(next(stream)[0].shape[0]) for _ in range(steps))


def epochs(make_epoch, repeats: int) -> list[float]:
    """Clips/s of ``repeats`` back-to-back epochs after a warm-up one (imports, tracing, autotuning). Contenders run
    one after another, never interleaved: a live tf.data iterator keeps working in the background, which would
    both slow the loop down and pre-fill its own buffers; the epoch function is dropped before the next one."""
    epoch = make_epoch()
    epoch()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        produced = epoch()
        rates.append(produced / (time.perf_counter() - start))
    del epoch
    gc.collect()
    time.sleep(1.0)  # let spinning worker threads (BLAS, Eigen, tf.data) go idle
    return rates


def feature_flops_per_clip() -> float:
    """Floating-point operations of framing + window, real FFT, power and the (dense) mel projection."""
    frames, n_fft, bins = FEATURES.num_frames(CROP), FEATURES.n_fft, FEATURES.n_fft // 2 + 1
    fft = 2.5 * n_fft * math.log2(n_fft)  # real FFT: half of a complex radix-2 FFT's 5 N log2 N
    per_frame = n_fft + fft + 3 * bins + 2 * bins * FEATURES.n_mels
    return frames * per_frame


def cpu_model() -> str:
    """The CPU's model name (Linux), else the architecture: timings only compare on the same CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


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
    frames = tf.constant(rng.standard_normal((256 * FEATURES.num_frames(CROP), FEATURES.n_fft)).astype(np.float32))
    rfft = tf.function(lambda: tf.math.real(tf.signal.rfft(frames))[0, 0])  # a scalar out: no 200 MB copy timed
    rfft_seconds = timed(lambda: rfft().numpy(), 5)
    host_frames = frames.numpy()
    pocketfft_seconds = timed(lambda: scipy.fft.rfft(host_frames, workers=os.cpu_count()), 5)
    achieved = feature_flops_per_clip() * 256 / seconds / 1e9
    a = tf.constant(rng.standard_normal((2048, 2048)).astype(np.float32))
    matmul = tf.function(lambda: tf.linalg.matmul(a, a))
    matmul_gflops = 2 * 2048**3 / timed(lambda: matmul().numpy(), 10) / 1e9
    return {"feature_step_clips_per_s": round(256 / seconds, 1), "rfft_alone_clips_per_s": round(256 / rfft_seconds, 1),
            "scipy_rfft_all_cores_clips_per_s": round(256 / pocketfft_seconds, 1),
            "feature_step_gflops": round(achieved, 2),
            "matmul_gflops": round(matmul_gflops, 2), "fraction_of_matmul": round(achieved / matmul_gflops, 3),
            "flops_per_clip": feature_flops_per_clip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per contender (median counts)")
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
        shards, steps = str(tmp / "tfrecords"), args.clips // BATCH
        contenders = {"librosa loop": lambda: lambda: librosa_loop(paths, args.seed),
                      "tfdeepfake": lambda: tf_pipeline(shards, args.seed, steps),
                      "tfdeepfake, new iterator per epoch": lambda: tf_pipeline(shards, args.seed, steps,
                                                                                fresh_iterator=True),
                      "tfdeepfake without log-mel": lambda: tf_pipeline(shards, args.seed, steps, features=None)}
        passes = {name: epochs(make, args.repeats) for name, make in contenders.items()}
    floor = compute_floor(args.seed)
    rates = {name: float(np.median(rate)) for name, rate in passes.items()}
    report = {
        "command": f"python benchmarks/pipeline_throughput.py --clips {args.clips} --seed {args.seed} --repeats {args.repeats}",
        "seed": args.seed, "clips": args.clips, "crop": CROP, "batch": BATCH,
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}",
        "baseline": "librosa loop: librosa.load + crop + melspectrogram + power_to_db per clip, np.stack per batch",
        "clips_per_s": {name: round(rate, 1) for name, rate in rates.items()},
        "passes_clips_per_s": {name: [round(rate, 1) for rate in rate_list] for name, rate_list in passes.items()},
        "compute_floor": floor,
        "speedup": round(rates["tfdeepfake"] / rates["librosa loop"], 2),
    }
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    for name, rate in rates.items():
        print(f"{name:35s} {rate:8.1f} clips/s")
    print(f"log-mel step alone (batch in memory): {floor['feature_step_clips_per_s']} clips/s; its rfft alone: "
          f"{floor['rfft_alone_clips_per_s']} clips/s (scipy's pocketfft on all cores: "
          f"{floor['scipy_rfft_all_cores_clips_per_s']} clips/s)")
    print(f"STFT+log-mel step: {floor['feature_step_gflops']} GFLOP/s = {100 * floor['fraction_of_matmul']:.1f}% of this"
          f" machine's float32 matmul ({floor['matmul_gflops']} GFLOP/s)")
    print(f"speedup: {report['speedup']:.2f}")


if __name__ == "__main__":
    main()
