"""Speaker verification with x-vectors: pairwise cosine scores and embedding plots for a set of files.

    tfdeepfake xvectors a.wav b.flac c.mp3 --checkpoint checkpoints/wavlm-base-sv --out runs/verify

Writes ``scores.csv`` (file_a, file_b, cosine), ``embeddings.npy``, and ``pca.png`` / ``tsne.png``.
"""
from __future__ import annotations

import argparse


def main(argv=None, prog: str = "tfdeepfake xvectors") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--checkpoint", required=True, help="WavLMForXVector folder, e.g. microsoft/wavlm-base-sv")
    parser.add_argument("--out", default="runs/verify")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("give at least two files to compare")
    from ..speaker_verification import verify_speakers

    written = verify_speakers(args.files, args.checkpoint, args.out)
    print(f"{len(args.files)} files: {args.out}/scores.csv, " + ", ".join(written[1:]))
    return 0
