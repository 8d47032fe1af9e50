"""Write the demo corpus: real recordings plus spoofs from several generators, ASVspoof 2019 LA layout.

    tfdeepfake make-demo-corpus                                   # asterisk prompt voices (Debian packages)
    tfdeepfake make-demo-corpus --bonafide ../shared/corpora/librispeech-sample --out data/libri-demo
"""
from __future__ import annotations

import argparse

from ..spoofing.demo import build_demo_corpus


def main(argv=None, prog: str = "tfdeepfake make-demo-corpus") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/demo")
    parser.add_argument("--bonafide", help="folder of real recordings (first folder level = speaker)")
    parser.add_argument("--per-speaker", type=int, default=48, help="real prompts per voice / speaker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    manifest = build_demo_corpus(args.out, bonafide_dir=args.bonafide, per_speaker=args.per_speaker,
                                 seed=args.seed, sample_rate=args.rate, workers=args.workers)
    print(f"{args.out}: {sum(sum(c.values()) for c in manifest['counts'].values())} clips, {manifest['hours']} h; "
          f"{len(manifest['failures'])} failed; skipped systems: {manifest['skipped_systems'] or 'none'}")
    return 0
