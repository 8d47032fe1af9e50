"""Convert a corpus into speaker-grouped, stratified K-fold TFRecord shards with a manifest.

    python -m tfdeepfake.build_tfrecords --dataset asvspoof2019-la --root DIR --out DIR --folds 5
    python -m tfdeepfake.build_tfrecords verify DIR
    tfdeepfake build-records ... --runner dataflow -- --project P --region R --temp_location gs://B/tmp ...

Running the same build command again after an interruption finishes the missing shards only. ``--runner``
writes the same shards with an Apache Beam pipeline (tfdeepfake.beam.records); flags this command does not know,
and everything after ``--``, are the runner's PipelineOptions.
"""
from __future__ import annotations

import argparse
import sys

import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

from . import records
from .beam import RUNNERS, split_arguments
from .corpora import READERS, assign_folds, read_corpus


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


def reader_options(args) -> dict:
    """The CLI options that the chosen reader understands."""
    options = {}
    if args.dataset.startswith("asvspoof2019"):
        options.update(splits=tuple(args.splits or ("train", "dev", "eval")), protocol_dir=args.protocol_dir,
                       require_all=bool(args.splits))
    elif args.dataset.startswith("asvspoof2021") and args.keys:
        options["keys"] = args.keys
    return options


def run_build(args, beam_args=()) -> dict:
    options = reader_options(args)
    listing = read_corpus(args.dataset, args.root, **options)
    print(f"{args.dataset}: {len(listing.utterances)} utterances; {listing.report()}", file=sys.stderr)
    if args.strict and listing.problems:
        raise records.BuildError(f"--strict: protocol problems\n{listing.report()}")
    folds = assign_folds(listing.utterances, args.folds, args.seed)
    problems = [{"kind": p.kind, "where": p.where, "detail": p.detail} for p in listing.problems]
    provenance = {
        "dataset": args.dataset, "root": args.root, "folds": args.folds, "seed": args.seed,
        "conditions": list(args.conditions),
        "reader": {"name": args.dataset, "options": {k: v for k, v in options.items() if v is not None}},
        "protocol_problems": problems,
    }
    settings = dict(sample_rate=args.sample_rate, shard_mb=args.shard_mb, max_seconds=args.max_seconds,
                    workers=args.workers, strict=args.strict, provenance=provenance, conditions=tuple(args.conditions))
    if args.runner:
        from .beam.records import build as beam_build

        provenance["beam_runner"] = args.runner
        manifest = beam_build(listing.utterances, folds, args.out, runner=args.runner, beam_args=beam_args,
                              **settings)
    else:
        manifest = records.build(listing.utterances, folds, args.out, progress=not args.quiet, **settings)
    print(f"{manifest['records']} records, {manifest['hours']:.3f} h in {len(manifest['shards'])} shards; "
          f"{len(manifest['failures'])} files failed; manifest: {args.out}/{records.MANIFEST}", file=sys.stderr)
    return manifest


def main(argv=None, prog: str = "tfdeepfake build-records") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["verify"]:
        parser = argparse.ArgumentParser(prog=prog.replace("build-records", "verify-records"),
                                         description="Check TFRecord shards against their manifest.")
        parser.add_argument("directory", help="TFRecord folder (local or gs://)")
        problems = records.verify(parser.parse_args(argv[1:]).directory)
        for problem in problems:
            print(problem)
        print("verified: manifest and shards agree" if not problems else f"{len(problems)} problems")
        return 1 if problems else 0
    parser = build_parser(prog)
    ours, after_dashes = split_arguments(argv)
    args, unknown = parser.parse_known_args(ours)
    if args.runner is None and unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")  # as parse_args says it
    run_build(args, unknown + after_dashes)
    return 0


if __name__ == "__main__":
    from .cli import main as cli

    verify = sys.argv[1:2] == ["verify"]
    sys.exit(cli(["verify-records", *sys.argv[2:]] if verify else ["build-records", *sys.argv[1:]]))
