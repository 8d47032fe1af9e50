"""Small generated corpora for tests: tones with harmonics (bona fide) against noisy buzz (spoof)."""
from pathlib import Path

import numpy as np
import soundfile as sf

from tfdeepfake import records
from tfdeepfake.corpora import assign_folds, read_csv


def toy_tfrecords(folder: Path, count: int = 48, seconds: float = 0.5, folds: int = 2, seed: int = 0) -> str:
    """A separable two-class corpus as TFRecords (split 'train', ``folds`` speaker-grouped folds)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,label,speaker,attack"]
    for i in range(count):
        t = np.arange(int(16000 * seconds)) / 16000
        f0 = rng.uniform(100, 250)
        if i % 2 == 0:
            clip, label, attack = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)), "bonafide", "-"
        else:
            clip, label, attack = np.sign(np.sin(2 * np.pi * f0 * t)) + rng.standard_normal(len(t)), "spoof", "T01"
        sf.write(folder / f"c{i}.wav", (0.2 * clip / np.abs(clip).max()).astype(np.float32), 16000)
        rows.append(f"c{i}.wav,{label},s{i % 8},{attack}")
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    listing = read_csv(str(folder / "list.csv"))
    out = folder / "tfrecords"
    records.build(listing.utterances, assign_folds(listing.utterances, folds, seed), str(out), progress=False,
                  workers=1)
    return str(out)
