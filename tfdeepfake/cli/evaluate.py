"""Evaluate a countermeasure's score file, or a model on a corpus or TFRecords (tfdeepfake.evaluate,
tfdeepfake.reports):

    tfdeepfake evaluate --scores scores.txt --protocol ASVspoof2019.LA.cm.eval.trl.txt --out report/
    tfdeepfake evaluate --model aasist --dataset asvspoof2019-la --root LA/ --splits eval --out report/
    tfdeepfake evaluate --model runs/demo --tfrecords tfrecords/ --splits eval --folds 0 --out report/
"""
from __future__ import annotations

import argparse

from .. import reports
from ..corpora import READERS
from ..evaluate import EvaluationData, run_model

#: score-file options that have no meaning for a model (their defaults), and why
SCORE_FILE_ONLY = {"protocol": (None, "labels come from the corpus reader or the TFRecords"),
                   "higher_is": ("bonafide", "a model's logit is higher = bona fide"),
                   "subset": (None, "use --splits (ASVspoof 2021: the keys' subsets)"),
                   "allow_missing": (False, "unreadable files are always reported and left out"),
                   "allow_unmatched": (False, "every scored utterance comes from the corpus"),
                   "allow_duplicates": (False, "every utterance is scored once")}



def add_score_arguments(parser: argparse.ArgumentParser, sources=None) -> argparse.ArgumentParser:
    """The options of ``evaluate scores`` (reusable by any front end); :func:`run_scores` reads them.

    ``sources``: a mutually exclusive group to put ``--scores`` in (then it is not required by itself).
    """
    (sources or parser).add_argument("--scores", required=sources is None, metavar="FILE",
                                     help="CM score file: UTT ATTACK KEY SCORE, UTT SCORE, or CSV "
                                          "utt_id,attack,label,score")
    parser.add_argument("--protocol", metavar="FILE",
                        help="ASVspoof 2019 LA/PA protocol or 2021 LA/DF keys (trial_metadata.txt); "
                             "without it the score file's own labels are used")
    parser.add_argument("--asv-scores", metavar="FILE",
                        help="official ASV scores (SOURCE TYPE SCORE) for min t-DCF 2019 and 2021")
    parser.add_argument("--dev-scores", metavar="FILE", help="dev CM scores to fit a logistic calibration on")
    parser.add_argument("--dev-protocol", metavar="FILE", help="protocol of the dev scores")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for report.md, metrics.json, scores.txt and the PNG plots (with --model also "
                             "scores.csv and, when files failed, failures.csv)")
    parser.add_argument("--higher-is", choices=reports.HIGHER_IS, default="bonafide",
                        help="what a higher score in the files means (default: bonafide, the ASVspoof convention)")
    parser.add_argument("--subset", action="append", metavar="NAME",
                        help="2021 keys: evaluate only this subset (eval, progress, hidden_track); repeatable")
    parser.add_argument("--allow-missing", action="store_true", help="evaluate even if protocol trials lack scores")
    parser.add_argument("--allow-unmatched", action="store_true",
                        help="ignore scores of utterances that are not in the protocol")
    parser.add_argument("--allow-duplicates", action="store_true",
                        help="keep the first score of an utterance scored more than once")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap replicates for the EER 95%% interval (0: none; default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return parser


def run_scores(args: argparse.Namespace) -> dict:
    """Evaluate the score files named by :func:`add_score_arguments`'s options; returns the metrics dict."""
    return reports.evaluate_scores(
        args.scores, args.protocol, asv_scores=args.asv_scores, dev_scores=args.dev_scores,
        dev_protocol=args.dev_protocol, out_dir=args.out, higher_is=args.higher_is, subsets=args.subset,
        allow_missing=args.allow_missing, allow_unmatched=args.allow_unmatched,
        allow_duplicates=args.allow_duplicates, n_bootstrap=args.bootstrap, seed=args.seed,
        plots=not args.no_plots)


def summary_lines(result: dict) -> list[str]:
    """The headline numbers of a metrics dict, one per line, for a terminal."""
    trials = result["trials"]
    lines = [f"trials: {trials['evaluated']} ({trials['bonafide']} bona fide, {trials['spoof']} spoof)"]
    ci = result["eer_ci95"]
    lines.append(f"EER: {result['eer_percent']:.4f} %" +
                 ("" if ci is None else f" (95% CI {100 * ci['low']:.4f} - {100 * ci['high']:.4f})"))
    for version, tdcf in (result["min_tdcf"] or {}).items():
        lines.append(f"min t-DCF ({version}): {tdcf['min_tdcf']:.4f}")
    lines.append(f"ROC AUC: {result['roc_auc']:.6f}   min Cllr: {result['min_cllr']:.4f}   "
                 f"Cllr (raw scores as LLRs): {result['raw']['cllr']:.4f}")
    if result["calibrated"] is not None:
        lines.append(f"Cllr (dev-calibrated): {result['calibrated']['cllr']:.4f}")
    lines += [f"note: {n}" for n in result["notes"]]
    return lines


def add_model_arguments(parser: argparse.ArgumentParser, sources) -> argparse.ArgumentParser:
    """``--model`` (in the ``sources`` group, beside ``--scores``) and the data options it reads."""
    sources.add_argument("--model", metavar="MODEL",
                         help="score data with this detector: preset name, bundle or run folder, SavedModel "
                              "folder or .tflite file (Detector.load)")
    data = parser.add_argument_group("data for --model (a corpus, or TFRecords)")
    data.add_argument("--dataset", choices=sorted(READERS), help="corpus reader; labels, attacks, codecs from it")
    data.add_argument("--root", metavar="DIR", help="corpus folder (for csv: the CSV file)")
    data.add_argument("--tfrecords", metavar="DIR", help="TFRecord folder of tfdeepfake build-records")
    data.add_argument("--splits", nargs="+", metavar="NAME",
                      help="ASVspoof 2019 splits (default eval), ASVspoof 2021 key subsets (default all) or "
                           "TFRecord splits (default eval)")
    data.add_argument("--folds", nargs="+", type=int, metavar="K", help="TFRecord folds (default all)")
    data.add_argument("--protocol-dir", metavar="DIR", help="ASVspoof 2019: protocol folder if not standard")
    data.add_argument("--keys", metavar="FILE", help="ASVspoof 2021: trial_metadata.txt if not standard")
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _check_model_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.model is None:
        given = [f"--{k.replace('_', '-')}" for k in ("dataset", "root", "tfrecords", "splits", "folds",
                                                      "protocol_dir", "keys") if getattr(args, k) is not None]
        if given:
            parser.error(f"{', '.join(given)}: only with --model")
        return
    for key, (default, why) in SCORE_FILE_ONLY.items():
        if getattr(args, key) != default:
            parser.error(f"--{key.replace('_', '-')} is for score files, not --model: {why}")
    if (args.dataset is None) == (args.tfrecords is None):
        parser.error("--model needs one of --dataset NAME --root DIR, or --tfrecords DIR")
    if args.dataset is not None and args.root is None:
        parser.error(f"--dataset {args.dataset} needs --root")
    if args.tfrecords is not None and (args.root or args.protocol_dir or args.keys):
        parser.error("--root, --protocol-dir and --keys are for --dataset, not --tfrecords")
    if args.dataset is not None and args.folds is not None:
        parser.error("--folds selects TFRecord folds; with --dataset every listed file is scored")
    if args.splits and args.dataset and not args.dataset.startswith("asvspoof"):
        parser.error(f"--splits: the {args.dataset} reader has no splits to choose")


def main(argv: list[str] | None = None, prog: str = "tfdeepfake evaluate") -> int:
    """``tfdeepfake evaluate --scores FILE [--protocol FILE]`` or ``--model MODEL --dataset NAME --root DIR`` /
    ``--model MODEL --tfrecords DIR`` [...]; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Evaluate a spoofing countermeasure's score file, or a model on a corpus or "
                               "TFRecords: EER (bootstrap CI), min t-DCF, Cllr, per-attack and per-codec tables, "
                               "plots.")
    sources = parser.add_mutually_exclusive_group(required=True)
    add_score_arguments(parser, sources)
    add_model_arguments(parser, sources)
    args = parser.parse_args(argv)
    _check_model_arguments(parser, args)
    if args.model is None:
        result = run_scores(args)
    else:
        data = EvaluationData(args.dataset, args.root, args.tfrecords, tuple(args.splits) if args.splits else None,
                              tuple(args.folds) if args.folds is not None else None, args.protocol_dir, args.keys)
        result = run_model(args.model, data, asv_scores=args.asv_scores, dev_scores=args.dev_scores,
                           dev_protocol=args.dev_protocol, out=args.out, n_bootstrap=args.bootstrap, seed=args.seed,
                           plots=not args.no_plots, quiet=args.quiet)
    lines = summary_lines(result)
    if args.model is not None:
        trials = result["trials"]
        failed = [f"unreadable: {shown}" for shown in result["examples"].get("unreadable", [])]
        lines[:0] = [f"files: {trials['files']} ({trials['unreadable']} unreadable, left out) scored with "
                     f"{result['inputs']['model_id']}", *failed]
    print("\n".join(lines))
    if args.out:
        print(f"report: {args.out}/report.md")
    return 0
