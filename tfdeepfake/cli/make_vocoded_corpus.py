"""Write a vocoded corpus: each real recording beside its resynthesis by every chosen system (ASVspoof 2019 LA
layout, speakers disjoint between train / dev / eval, held-out systems in eval only). Running the same command
again finishes an interrupted build and keeps what is written.

    tfdeepfake make-vocoded-corpus --bonafide ../shared/corpora/librispeech-sample asterisk --out data/vocoded
    tfdeepfake make-vocoded-corpus --bonafide recordings/ --out data/v --systems lyra_6000 hifigan_v3_fp16 world \\
        --holdout world
    tfdeepfake make-vocoded-corpus --list-systems                      # what runs here
    tfdeepfake make-vocoded-corpus --download-weights --list-systems   # fetch the pinned neural models only
"""
from __future__ import annotations

import argparse
import sys

from ..spoofing.vocoded import (ASTERISK, DEFAULT_HOLDOUT, DEFAULT_MAX_SECONDS, DEFAULT_MIN_SECONDS, DEFAULT_PER_SPEAKER,
                               DEFAULT_SPLITS, build_vocoded_corpus, copy_synthesis_systems)


def list_systems() -> str:
    from ..spoofing.generators import GENERATORS

    lines = []
    for sid in copy_synthesis_systems():
        why = GENERATORS[sid].missing()
        lines.append(f"{sid:16} {'ok ' if why is None else 'NO '} {GENERATORS[sid].description}"
                     + (f"\n{'':21}{why}" if why else ""))
    return "\n".join(lines)


def main(argv=None, prog: str = "tfdeepfake make-vocoded-corpus") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bonafide", nargs="+", default=[ASTERISK], metavar="DIR",
                        help=f"folders of real recordings (first folder level or LibriSpeech name = speaker); "
                             f"{ASTERISK!r} = the installed asterisk prompt voices (default)")
    parser.add_argument("--out", default="data/vocoded")
    parser.add_argument("--systems", nargs="+", metavar="ID",
                        help="copy-synthesis systems (default: every one that can run here; see --list-systems)")
    parser.add_argument("--holdout", nargs="*", metavar="ID",
                        help=f"systems in eval only (default: those of {' '.join(DEFAULT_HOLDOUT)} among the "
                             "systems; the option without a value: none)")
    parser.add_argument("--per-speaker", type=int, default=DEFAULT_PER_SPEAKER,
                        help="recordings per speaker at most (0: all)")
    parser.add_argument("--min-seconds", type=float, default=DEFAULT_MIN_SECONDS,
                        help="shorter recordings are left out")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help="longer recordings are cut at a pause before this (0: kept whole)")
    parser.add_argument("--splits", nargs=3, type=float, default=list(DEFAULT_SPLITS), metavar=("TRAIN", "DEV", "EVAL"),
                        help="shares of each folder's speakers in train, dev and eval")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--workers", type=int, help="recordings processed at once (default: all cores)")
    parser.add_argument("--skip-unavailable", action="store_true",
                        help="leave out named systems that cannot run here instead of stopping")
    parser.add_argument("--download-weights", action="store_true",
                        help="first fetch the pinned neural model files that are not on this machine "
                             "(with --list-systems: only that)")
    parser.add_argument("--list-systems", action="store_true", help="list the systems and whether they run here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.download_weights:
        from ..spoofing.neural import download_weights

        for name, path in download_weights(args.systems or copy_synthesis_systems()).items():
            print(f"{name}: {path}", file=sys.stderr)
    if args.list_systems:  # with --download-weights: fetch, show, build nothing
        print(list_systems())
        return 0
    manifest = build_vocoded_corpus(
        args.out, bonafide=args.bonafide, systems=args.systems, holdout=args.holdout, seed=args.seed,
        per_speaker=args.per_speaker or None, min_seconds=args.min_seconds, max_seconds=args.max_seconds or None,
        sample_rate=args.rate, split_fractions=args.splits, workers=args.workers,
        skip_unavailable=args.skip_unavailable, progress=not args.quiet)
    clips = sum(sum(counts.values()) for counts in manifest["counts"].values())
    print(f"{args.out}: {clips} clips ({manifest['made_this_run']} made now, {manifest['kept_from_before']} kept), "
          f"{manifest['hours']} h from {manifest['recordings']['used']} recordings in {manifest['build_seconds']} s; "
          f"{len(manifest['failures'])} failed; systems: {', '.join(manifest['systems'])}; held out: "
          f"{', '.join(manifest['holdout']) or 'none'}; skipped: {', '.join(manifest['skipped_systems']) or 'none'}")
    for failure in manifest["failures"][:5]:
        print(f"  failed {failure['utt_id']} ({failure['system'] or 'bona fide'}, {failure['source']}): "
              f"{failure['reason']}", file=sys.stderr)
    return 0
