"""One real utterance through each augmentation: waveform and log-mel before/after, into results/.

    python scripts/augment_figures.py --seed 0

Uses ../shared/corpora/librispeech-sample (speaker 1688) when present, else a generated harmonic signal.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tfdeepfake  # noqa: E402,F401

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdeepfake.audio import load_audio  # noqa: E402
from tfdeepfake.augment import offline, spec, wave  # noqa: E402
from tfdeepfake.features import FeatureConfig, make_frontend  # noqa: E402

RATE = 16000
SAMPLE = ROOT.parent / "shared" / "corpora" / "librispeech-sample" / "librispeech_test-other" / "1688" / \
    "1688-142285-0002.flac"


def source() -> tuple[np.ndarray, str]:
    if SAMPLE.exists():
        return load_audio(SAMPLE, RATE)[0][: 3 * RATE], f"LibriSpeech {SAMPLE.name}"
    t = np.arange(3 * RATE) / RATE
    return (0.2 * sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 30))).astype(np.float32), "generated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean, origin = source()
    seed = tf.constant([args.seed, 1], tf.int64)
    logmel = make_frontend(FeatureConfig(kind="logmel", n_mels=80))
    variants = {
        "original": clean,
        "noise 10 dB (coloured)": wave.add_noise(clean, seed, (10.0, 10.0), "coloured").numpy(),
        "gain +6 dB": wave.random_gain(clean, seed, (6.0, 6.0)).numpy(),
        "telephony (band 300-3400 Hz, mu-law)": wave.telephony(clean, seed, RATE, ("mulaw",)).numpy(),
        "RawBoost (LnL + ISD + SSI)": wave.rawboost(clean, seed).numpy(),
    }
    for condition in ("g722", "gsm", "opus_6k", "mp3_32k", "amrnb_7k95", "tempo_1.1", "room"):
        try:
            variants[f"{condition} (offline)"] = offline.apply_condition(clean, RATE, condition, args.seed)
        except offline.ToolMissing as error:
            print(f"skipped {condition}: {error}")
    features = logmel(clean[None])
    masked = spec.spec_augment(features, seed, time_masks=2, max_time_width=40, freq_masks=2, max_freq_width=15,
                               mask_value=tf.reduce_mean(features))[0].numpy()
    rows = len(variants) + 1
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.7 * rows), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 2]})
    for (name, samples), (left, right) in zip(list(variants.items()) + [("SpecAugment", None)], axes):
        if samples is None:
            left.axis("off")
            image = masked
        else:
            left.plot(np.arange(len(samples)) / RATE, samples, linewidth=0.3)
            left.set_ylim(-1, 1)
            image = logmel(samples[None].astype(np.float32))[0].numpy()
        right.imshow(image.T, origin="lower", aspect="auto", cmap="magma", vmin=-100, vmax=image.max(),
                     extent=[0, image.shape[0] / 100, 0, 80])
        left.set_title(name, fontsize=9, loc="left")
    axes[-1, 1].set_xlabel("seconds")
    out = ROOT / "results" / "augmentations.png"
    fig.savefig(out, dpi=70)
    (ROOT / "results" / "augmentations.md").write_text(
        f"# Augmentations\n\n`python scripts/augment_figures.py --seed {args.seed}` on {origin}: waveform (left) and "
        "log-mel, 80 bands (right), for each in-graph augmentation (tfdeepfake.augment.wave / spec) and each "
        "offline condition (tfdeepfake.augment.offline).\n\n![augmentations](augmentations.png)\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
