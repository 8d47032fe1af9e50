"""Figures of the demo corpus for results/: counts per split and attack, and one real prompt beside each spoof.

    python scripts/demo_figures.py --corpus data/demo --seed 0

The corpus is the one `tfdeepfake make-demo-corpus --seed 0` (or the default `python -m tfdeepfake.train`) wrote.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tfdeepfake.spoofing.demo import (EVAL_ATTACKS, TRAIN_ATTACKS, FinalChain, asterisk_sources,  # noqa: E402
                                      folder_sources, read_source, render, Job)


def table(corpus: Path) -> str:
    manifest = json.loads((corpus / "manifest.json").read_text())
    attacks = sorted({a for counts in manifest["counts"].values() for a in counts})
    systems = {**TRAIN_ATTACKS, **EVAL_ATTACKS}
    header = "| split | speakers | " + " | ".join(f"{a} ({systems.get(a, 'bona fide')})" for a in attacks) + " |"
    rows = [f"| {split} | {', '.join(manifest['speakers'][split])} | "
            + " | ".join(str(counts.get(a, "")) for a in attacks) + " |" for split, counts in manifest["counts"].items()]
    return "\n".join([header, "|" + "---|" * (len(attacks) + 2), *rows]) + \
        f"\n\n{manifest['hours']} hours at {manifest['sample_rate']} Hz; seed {manifest['seed']}; " \
        f"{manifest['per_speaker']} prompts per voice; final chain {json.dumps(manifest['final_chain'])}.\n"


def picture(out: Path, seed: int, bonafide: str | None) -> None:
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = folder_sources(bonafide) if bonafide else asterisk_sources()
    source = next(s for s in sources if 2.0 < len(read_source(s, 16000)) / 16000 < 4.0)
    chain = FinalChain(target_rate=16000, level="rms", pad_seconds=(0.05, 0.4))
    systems = [("-", None)] + sorted({**TRAIN_ATTACKS, **EVAL_ATTACKS}.items())
    fig, axes = plt.subplots(len(systems), 1, figsize=(10, 2.0 * len(systems)), constrained_layout=True)
    for axis, (attack, system) in zip(axes, systems):
        clip = render(Job("figure", "train", source, attack, system, seed), chain, 16000)
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=512, hop_length=160,
                                                                 n_mels=80), ref=np.max)
        axis.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0,
                    extent=[0, len(clip) / 16000, 0, 80])
        axis.set_title(f"{attack} {system or 'bona fide'}: '{source.text}' ({source.speaker})", fontsize=9)
        axis.set_ylabel("mel band")
    axes[-1].set_xlabel("seconds")
    fig.savefig(out, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="data/demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bonafide", help="folder of real recordings instead of the asterisk voices")
    args = parser.parse_args()
    results = ROOT / "results"
    command = f"python scripts/demo_figures.py --corpus {args.corpus} --seed {args.seed}"
    (results / "demo_corpus.md").write_text(
        f"# Demo corpus\n\nCorpus written by `tfdeepfake make-demo-corpus --seed {args.seed}`; this file by `{command}`.\n\n"
        + table(Path(args.corpus)) + "\n![spectrograms](demo_spoofs.png)\n\n`demo_spoofs.png`: one real prompt and "
        "each attack applied to it, after the final chain (log-mel, 80 bands, 16 kHz).\n")
    picture(results / "demo_spoofs.png", args.seed, args.bonafide)
    print(f"wrote {results / 'demo_corpus.md'} and {results / 'demo_spoofs.png'}")


if __name__ == "__main__":
    main()
