"""Score recordings with a detector: files and folders (walked recursively) in any format ffmpeg reads.

    tfdeepfake predict call.m4a memo.webm recordings/            # the default pretrained detector, a table
    tfdeepfake predict recordings/ --model runs/demo --format csv --out scores.csv
    tfdeepfake predict clip.wav --model aasist-l --format jsonl   # with the per-window score track
    tfdeepfake predict gs://b/clips/ list.txt --model export/ --format csv --out gs://b/scores --runner dataflow -- ...

One row per file: path, logit, calibrated spoof probability, decision, windows. A file that cannot be read is an
error row and the others are still scored; rows are written as they come, so an interrupted run keeps what it
wrote. Exit status 0 when at least one file was scored (with ``--strict``: every file), 1 otherwise.
``--runner`` scores with an Apache Beam pipeline instead (tfdeepfake.beam.predict: an exported SavedModel, paths
local or gs://, ``.txt`` lists of paths, CSV / JSON-lines shards at ``--out``); options this command does not
know, and everything after ``--``, are the runner's PipelineOptions.
"""
from __future__ import annotations

import argparse
import sys

from ..beam import RUNNERS
from ..score_files import Writer, audio_files
from .common import parse_with_runner


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..models.presets import DEFAULT_PRESET

    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR", help="audio files and folders")
    parser.add_argument("--model", default=DEFAULT_PRESET,
                        help=f"preset name, bundle or run folder, SavedModel folder, .tflite or .onnx file "
                             f"(default: {DEFAULT_PRESET}, the pretrained preset we measured best on published "
                             "TTS / vocoder sets)")
    parser.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    parser.add_argument("--out", metavar="FILE", help="write the rows here instead of standard output")
    parser.add_argument("--hop", type=float, metavar="SECONDS", help="window hop (default: the model's, half a "
                                                                     "window)")
    parser.add_argument("--aggregation", choices=("mean-logit", "max-spoof"),
                        help="how window scores make the file's score (default: the model's, mean-logit)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any file could not be scored")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--runner", choices=sorted(RUNNERS),
                        help="score with an Apache Beam pipeline (RunInference) on this runner: --model an exported "
                             "SavedModel, --out a shard prefix, --format csv|jsonl; .txt paths are lists of paths")
    return parser


def main(argv=None, prog: str = "tfdeepfake predict") -> int:
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)
    from tqdm import tqdm

    from ..inference import Detector
    from ..inference.batch import batch_predictions

    parser = build_parser(prog)
    args, beam_args = parse_with_runner(parser, sys.argv[1:] if argv is None else argv)
    if args.runner is not None:
        from ..beam.predict import run_predict

        return run_predict(args.paths, args.model, args.runner, args.out, args.format, beam_args,
                           args.hop, args.aggregation, args.strict)
    files = audio_files(args.paths)
    detector = Detector.load(args.model)
    if args.hop is not None or args.aggregation is not None:
        detector = detector.with_input(args.hop, args.aggregation)
    scored = failed = 0
    handle = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = Writer(handle, args.format)
        progress = tqdm(batch_predictions(detector, files), total=len(files), unit="file",
                        disable=args.quiet or None, file=sys.stderr)
        for prediction in progress:
            writer.write(prediction)
            scored, failed = scored + prediction.ok, failed + (not prediction.ok)
    finally:
        if args.out:
            handle.close()
    print(f"{scored} scored, {failed} failed with {detector.model_id}" + (f"; rows in {args.out}" if args.out else ""),
          file=sys.stderr)
    return 0 if scored and not (args.strict and failed) else 1
