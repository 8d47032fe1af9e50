"""One real utterance through each augmentation: waveform and log-mel before/after, into results/.

    python scripts/augment_figures.py --seed 0

Uses the first file of speaker 1688 in ../shared/corpora/librispeech-sample (first 4 s) when present, else a
generated harmonic signal. Offline conditions whose tool is missing are skipped and listed.
"""
from __future__ import annotations

import argparse
import sys
import time
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
SECONDS = 4
CORPUS = ROOT.parent / "shared" / "corpora" / "librispeech-sample"


def source() -> tuple[np.ndarray, str]:
    files = sorted(p for p in CORPUS.glob("*/1688/**/*") if p.suffix in (".flac", ".wav")) if CORPUS.is_dir() else []
    if files:
        return load_audio(files[0], RATE)[0][: SECONDS * RATE], f"LibriSpeech {files[0].name} (first {SECONDS} s)"
    t = np.arange(SECONDS * RATE) / RATE
    f0 = 140 * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))  # gliding pitch, syllable-rate envelope
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 50)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.2 * voice / np.abs(voice).max()).astype(np.float32), "a generated harmonic signal (no ../shared)"


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
        "wave.add_noise white, SNR 10 dB": wave.add_noise(clean, seed, (10.0, 10.0), "white").numpy(),
        "wave.add_noise coloured, SNR 10 dB": wave.add_noise(clean, seed, (10.0, 10.0), "coloured").numpy(),
        "wave.random_gain -6 dB": wave.random_gain(clean, seed, (-6.0, -6.0)).numpy(),
        "wave.telephony (300-3400 Hz, mu-law)": wave.telephony(clean, seed, RATE, ("mulaw",)).numpy(),
        "wave.telephony (300-3400 Hz, A-law)": wave.telephony(clean, seed, RATE, ("alaw",)).numpy(),
        "wave.rawboost (LnL + ISD + SSI)": wave.rawboost(clean, seed).numpy(),
    }
    timings, skipped = {}, {}
    for condition in offline.CONDITIONS:
        try:
            start = time.perf_counter()
            variants[f"offline {condition}: {offline.DESCRIPTIONS[condition]}"] = offline.apply_condition(
                clean, RATE, condition, args.seed)
            timings[condition] = time.perf_counter() - start
        except offline.ToolMissing as error:
            skipped[condition] = str(error)
            print(f"skipped {condition}: {error}")
    features = logmel(clean[None])
    masked = spec.spec_augment(features, seed, time_masks=2, max_time_width=40, freq_masks=2, max_freq_width=15,
                               mask_value=tf.reduce_mean(features))[0].numpy()
    panels = list(variants.items()) + [("spec.spec_augment (2 time + 2 mel masks)", None)]
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 4, figsize=(22, 1.6 * rows), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 2, 1, 2]})
    top = float(logmel(clean[None])[0].numpy().max())
    for index, (name, samples) in enumerate(panels):
        left, right = axes[index % rows, 2 * (index // rows)], axes[index % rows, 2 * (index // rows) + 1]
        if samples is None:
            image = masked
            left.axis("off")
        else:
            left.plot(np.arange(len(samples)) / RATE, samples, linewidth=0.3)
            left.set_ylim(-1, 1)
            left.set_xlim(0, SECONDS * 1.12)
            image = logmel(samples[None].astype(np.float32))[0].numpy()
        right.imshow(image.T, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                     extent=[0, image.shape[0] / 100, 0, 80])
        right.set_xlim(0, SECONDS * 1.12)
        right.set_title(name, fontsize=9, loc="left")
        right.tick_params(labelsize=7)
        left.tick_params(labelsize=7)
    for index in range(len(panels), 2 * rows):
        axes[index % rows, 2 * (index // rows)].axis("off")
        axes[index % rows, 2 * (index // rows) + 1].axis("off")
    for column in (1, 3):
        axes[-1, column].set_xlabel("seconds (log-mel: 80 bands, 0-8 kHz, 80 dB range)", fontsize=8)
    out = ROOT / "results" / "augmentations.png"
    fig.savefig(out, dpi=60)
    lines = [f"| `{name}` | {offline.DESCRIPTIONS[name]} | {seconds:.2f} |" for name, seconds in timings.items()]
    lines += [f"| `{name}` | skipped: {why} | |" for name, why in skipped.items()]
    (ROOT / "results" / "augmentations.md").write_text(
        f"# Augmentations\n\n`python scripts/augment_figures.py --seed {args.seed}` on {origin}: waveform and "
        "log-mel (80 bands) for each in-graph augmentation (`tfdeepfake.augment.wave` / `spec`, fixed strengths) and "
        "each offline condition (`tfdeepfake.augment.offline.apply_condition`). Codec copies keep the length "
        "(encoder delay removed); speed and tempo change it; the room adds its reverberation tail."
        "\n\n![augmentations](augmentations.png)\n\n"
        f"Offline conditions, seconds for {len(clean) / RATE:g} s of 16 kHz audio on this machine:\n\n"
        "| condition | what | seconds |\n|---|---|---|\n" + "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
