"""Export a detector (preset, bundle or run) to SavedModel, TFLite or ONNX with one serving signature.

    tfdeepfake export aasist-l --format tflite --out exports/aasist-l.tflite
    tfdeepfake export runs/demo --format savedmodel --format onnx --out exports/demo --check-audio a.wav b.flac
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import TfDeepfakeError
from ..export import FORMATS, export_model
from ..inference import FORMATS as EXPORT_FORMATS


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=(
        "Export a detector (preset, bundle or run) to SavedModel, TFLite or ONNX with one serving signature: "
        "waveform float32 [batch, window] -> logit, spoof_probability. The bundle metadata is written with it, so "
        "`tfdeepfake predict --model PATH` runs the export."))
    parser.add_argument("model", help="preset name, bundle folder or run folder")
    parser.add_argument("--format", dest="formats", action="append", choices=FORMATS, required=True,
                        help="export format; repeat for several (each gets its own file in --out)")
    parser.add_argument("--out", required=True, help="the file (.tflite / .onnx) or folder (SavedModel, or where "
                                                     "several formats go)")
    parser.add_argument("--check-audio", nargs="+", default=None, metavar="FILE",
                        help="real recordings for the parity check (default: synthetic windows)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    several = len(args.formats) > 1
    failed = 0
    reports = []
    for fmt in args.formats:
        out = os.path.join(args.out, "saved_model") if several and fmt == "savedmodel" else args.out
        if several and fmt != "savedmodel" and args.out.endswith(EXPORT_FORMATS[fmt].suffix):
            parser.error("several formats need --out to be a folder")
        try:
            report = export_model(args.model, fmt, out, check_audio=args.check_audio)
        except TfDeepfakeError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        reports.append(report.to_dict())
        check = report.parity
        if not args.json:
            print(f"{fmt:<12} {report.path}  {report.bytes / 1e6:.2f} MB  max|Δlogit| {check.max_abs_logit_diff:.2e}"
                  f"  corr {check.correlation:.6f}  agree {100 * check.decision_agreement:.1f}%  ({check.windows} "
                  f"windows: {check.audio})")
    if args.json:
        print(json.dumps(reports, indent=1))
    return 1 if failed else 0
