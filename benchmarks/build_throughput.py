"""TFRecord build throughput: tfdeepfake's builder against the plain notebook approach, same clips, same run.

    python benchmarks/build_throughput.py --clips 2000 --seed 0

Baseline ("plain"): one process, ``librosa.load(path, sr=16000)`` per file, the waveform serialized as a
``FloatList`` feature (as public ASVspoof notebooks do) into one ``TFRecordWriter``. A second reference,
"plain-int16", is the same loop storing int16 bytes, to separate the gain of the format from that of the
worker processes. tfdeepfake: ``python -m tfdeepfake.build_tfrecords`` logic (read CSV, folds, plan,
decode with soundfile + soxr, int16 PCM, all cores, checksums, manifest).
The last line printed is ``speedup: X.XX`` (tfdeepfake against plain).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tfdeepfake import records  # noqa: E402
from tfdeepfake.corpora import assign_folds, read_csv  # noqa: E402

RATE = 16000


def make_clips(folder: Path, count: int, seed: int) -> tuple[Path, float]:
    """``count`` FLAC clips of 2-6 s: harmonic 'voiced' segments with a moving pitch over coloured noise."""
    rng = np.random.default_rng(seed)
    rows, seconds = ["path,label,speaker,attack"], 0.0
    for i in range(count):
        duration = rng.uniform(2.0, 6.0)
        t = np.arange(int(duration * RATE)) / RATE
        f0 = 100 + 60 * rng.random() + 20 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t) ** 2
        noise = np.convolve(rng.standard_normal(len(t)), np.ones(8) / 8, mode="same")
        clip = 0.1 * voiced * envelope + 0.02 * noise
        name = f"clip{i:05d}.flac"
        sf.write(folder / name, clip.astype(np.float32), RATE, subtype="PCM_16")
        label = "bonafide" if i % 10 == 0 else "spoof"
        rows.append(f"{name},{label},spk{i % 40},{'-' if label == 'bonafide' else f'A{i % 6 + 1:02d}'}")
        seconds += len(t) / RATE
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    return folder / "list.csv", seconds


def plain(csv_path: Path, out: Path, int16: bool) -> None:
    import librosa
    import tensorflow as tf

    rows = [line.split(",") for line in csv_path.read_text().splitlines()[1:]]
    with tf.io.TFRecordWriter(str(out)) as writer:
        for path, label, speaker, attack in rows:
            samples, _ = librosa.load(csv_path.parent / path, sr=RATE)
            if int16:
                audio = tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[(np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes()]))
            else:
                audio = tf.train.Feature(float_list=tf.train.FloatList(value=samples))
            feature = {"audio": audio,
                       "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label == "bonafide")])),
                       "attack": tf.train.Feature(bytes_list=tf.train.BytesList(value=[attack.encode()]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def ours(csv_path: Path, out: Path, workers: int | None) -> dict:
    listing = read_csv(str(csv_path))
    folds = assign_folds(listing.utterances, 5, seed=0)
    return records.build(listing.utterances, folds, str(out), workers=workers, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="tfdeepfake worker processes (default: all cores)")
    parser.add_argument("--results", default=str(Path(__file__).resolve().parents[1] / "results" /
                                                  "build_throughput.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        csv_path, seconds = make_clips(tmp / "clips", args.clips, args.seed)
        hours = seconds / 3600
        timings = {}
        for name, run in (("plain", lambda: plain(csv_path, tmp / "plain.tfrecord", int16=False)),
                          ("plain-int16", lambda: plain(csv_path, tmp / "plain16.tfrecord", int16=True)),
                          ("tfdeepfake", lambda: ours(csv_path, tmp / "ours", args.workers))):
            start = time.perf_counter()
            run()
            timings[name] = time.perf_counter() - start
        sizes = {"plain": (tmp / "plain.tfrecord").stat().st_size,
                 "plain-int16": (tmp / "plain16.tfrecord").stat().st_size,
                 "tfdeepfake": sum(p.stat().st_size for p in (tmp / "ours").glob("*.tfrecord"))}
    report = {
        "command": f"python benchmarks/build_throughput.py --clips {args.clips} --seed {args.seed}"
                   + (f" --workers {args.workers}" if args.workers else ""),
        "seed": args.seed, "clips": args.clips, "audio_hours": round(hours, 4),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "baseline": "plain: 1 process, librosa.load + FloatList + one TFRecordWriter",
        "results": {name: {"seconds": round(t, 2), "files_per_s": round(args.clips / t, 1),
                           "audio_hours_per_s": round(hours / t, 4), "output_mb": round(sizes[name] / 2**20, 1)}
                    for name, t in timings.items()},
        "speedup": round(timings["plain"] / timings["tfdeepfake"], 2),
        "speedup_vs_plain_int16": round(timings["plain-int16"] / timings["tfdeepfake"], 2),
    }
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    for name, row in report["results"].items():
        print(f"{name:12s} {row['seconds']:8.2f} s  {row['files_per_s']:8.1f} files/s  "
              f"{row['audio_hours_per_s']:.4f} audio-h/s  {row['output_mb']:.1f} MB")
    print(f"speedup vs plain-int16: {report['speedup_vs_plain_int16']:.2f}")
    print(f"speedup: {report['speedup']:.2f}")


if __name__ == "__main__":
    main()
