"""Convert a corpus into speaker-grouped, stratified K-fold TFRecord shards with a manifest.

    tfdeepfake build-records --dataset asvspoof2019-la --root DIR --out DIR --folds 5
    tfdeepfake build-records ... --runner dataflow -- --project P --region R --temp_location gs://B/tmp ...

Running the same build command again after an interruption finishes the missing shards only. ``--runner``
writes the same shards with an Apache Beam pipeline (tfdeepfake.beam.records); flags this command does not know,
and everything after ``--``, are the runner's PipelineOptions.
"""
from __future__ import annotations

import argparse

from ..beam import RUNNERS
from ..build_tfrecords import build_from_corpus
from ..corpora import READERS
from .common import parse_with_runner


def build_parser(prog: str = "tfdeepfake build-records") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=sorted(READERS))
    parser.add_argument("--root", required=True, help="corpus folder (for csv: the CSV file)")
    parser.add_argument("--out", required=True, help="output folder, local or gs://")
    parser.add_argument("--folds", type=int, default=5, help="folds within each split (1: no folds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    parser.add_argument("--splits", nargs="+", help="ASVspoof 2019 splits to read (default: those whose protocol "
                                                    "exists; named splits must all exist)")
    parser.add_argument("--protocol-dir", help="ASVspoof 2019: protocol folder if not in the standard place")
    parser.add_argument("--keys", help="ASVspoof 2021: trial_metadata.txt if not in the standard place")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--max-seconds", type=float, help="files longer than this are reported and skipped")
    parser.add_argument("--shard-mb", type=float, default=150.0, help="target decoded size of one shard")
    parser.add_argument("--workers", type=int, help="decoding threads (default: all cores; with --runner: per shard "
                                                    "on a worker, default its cores)")
    parser.add_argument("--conditions", nargs="+", default=[], metavar="NAME",
                        help="offline augmentation: one extra copy of every utterance per condition (g722, gsm, "
                             "opus_6k/12k/24k, mp3_32k, aac_32k, alaw, ulaw, amrnb_7k95, speed_0.9/1.1, "
                             "tempo_0.9/1.1, room), marked in its condition field")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad file instead of reporting it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--runner", choices=sorted(RUNNERS),
                        help="write the shards with an Apache Beam pipeline on this runner (the beam extra); "
                             "without it the local builder runs")
    return parser


def main(argv=None, prog: str = "tfdeepfake build-records") -> int:
    parser = build_parser(prog)
    args, beam_args = parse_with_runner(parser, argv or [])
    build_from_corpus(args.dataset, args.root, args.out, folds=args.folds, seed=args.seed, splits=args.splits,
                      protocol_dir=args.protocol_dir, keys=args.keys, sample_rate=args.sample_rate,
                      max_seconds=args.max_seconds, shard_mb=args.shard_mb, workers=args.workers,
                      conditions=args.conditions, strict=args.strict, progress=not args.quiet, runner=args.runner,
                      beam_args=beam_args)
    return 0
