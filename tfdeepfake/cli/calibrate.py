"""Fit a detector's decision to your own recordings (tfdeepfake.calibration).

    tfdeepfake calibrate aasist-l --bonafide my_calls/ --out bundles/aasist-l-mine
    tfdeepfake calibrate runs/demo --bonafide real/ --spoof fakes/ --false-alarm 0.01 --out bundles/demo-mine
    tfdeepfake calibrate exports/aasist-l.tflite --bonafide my_calls/ --out bundles/aasist-l-tflite-mine

With real recordings only, the threshold moves so that the chosen share of them (--false-alarm, default 5%) is
called spoof; with spoofed recordings too, the calibration is refitted on both first. Files that cannot be read
or hold no speech are listed and left out (OUT/calibration_files.csv). The new bundle works everywhere a model
does (tfdeepfake predict --model OUT, export, serve); its card records the data and the figures. An exported model
(.tflite, .onnx, SavedModel folder) is calibrated with the metadata tfdeepfake export wrote beside it (or
--metadata); the new bundle holds a copy of the export and runs it. OUT is written whole or not at all: it may be
new, empty or an earlier bundle, which is replaced.
"""
from __future__ import annotations

import argparse

from ..calibration import calibrate_to_recordings


def main(argv=None, prog: str = "tfdeepfake calibrate") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="preset name, bundle or run folder, or an export (.tflite, .onnx, SavedModel)")
    parser.add_argument("--bonafide", nargs="+", required=True, metavar="FILE|DIR", help="your real recordings")
    parser.add_argument("--spoof", nargs="+", metavar="FILE|DIR", help="spoofed recordings of your domain (optional)")
    parser.add_argument("--false-alarm", type=float, default=0.05, metavar="RATE",
                        help="share of real recordings to be called spoof (default 0.05)")
    parser.add_argument("--out", required=True, help="the new bundle's folder")
    parser.add_argument("--metadata", metavar="BUNDLE",
                        help="for an export without its <file>.bundle.json: the bundle folder or bundle.json of the "
                             "model it was exported from (input rule, calibration, threshold)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    args = parser.parse_args(argv)
    result = calibrate_to_recordings(args.model, args.bonafide, args.out, args.spoof, args.false_alarm,
                                     seed=args.seed, metadata=args.metadata)
    errors = [row for row in result.rows if row.status != "used"]
    for row in errors:
        print(f"left out: {row.path}: {row.error}")
    figures = result.figures
    low, high = figures["false_alarm_ci95"]
    print(f"used {figures['bonafide_files']} real and {figures['spoof_files']} spoofed recordings "
          f"({len(errors)} left out)")
    print(f"threshold: P(spoof) >= {result.bundle.threshold.spoof_probability:.6g} (logit <= "
          f"{figures['threshold_logit']:.6g}); false alarms {100 * figures['false_alarm']:.2f}% "
          f"(95% CI {100 * low:.2f} - {100 * high:.2f}%; before {100 * figures['false_alarm_before']:.2f}%)")
    if figures["spoof_files"]:
        print(f"spoofs missed {100 * figures['miss']:.2f}% (before {100 * figures['miss_before']:.2f}%); EER "
              f"{100 * figures['eer']:.2f}%; Cllr {figures['cllr_before']:.4f} -> {figures['cllr_after']:.4f}")
    print(f"bundle {result.bundle.model_id} written to {args.out}")
    return 0
