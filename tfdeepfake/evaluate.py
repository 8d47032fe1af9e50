"""Score an evaluation dataset with a model and summarise it: score files, EER, per-attack EER, ROC AUC and
error rates at a threshold chosen on dev; and the command line that evaluates existing score files
(``python -m tfdeepfake.evaluate scores ...``, see :func:`main` and :mod:`tfdeepfake.reports`).

Score convention (ASVspoof): the model's logit, higher means bona fide.
TensorFlow is imported inside the model-side functions only, so evaluating a score file does not load it.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from . import metrics, reports

if TYPE_CHECKING:
    import tensorflow as tf


def score_dataset(model: tf.keras.Model, dataset: tf.data.Dataset,
                  aggregation: str = "mean-logit") -> dict[str, np.ndarray]:
    """Run ``model`` over batches of ``eval_dataset`` dicts; the windows of one utterance are aggregated by the
    Detector's rule (``bundle.aggregate_logits``).

    Returns arrays ``utt_id, label, attack, score`` with one row per utterance, in first-seen order.
    """
    import tensorflow as tf

    from .bundle import aggregate_logits

    predict = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    windows, labels, attacks = defaultdict(list), {}, {}
    for batch in dataset:
        logits = tf.reshape(tf.cast(predict(batch["inputs"]), tf.float32), [-1]).numpy()
        for utt, label, attack, logit in zip(batch["utt_id"].numpy(), batch["label"].numpy(),
                                             batch["attack"].numpy(), logits):
            utt = utt.decode()
            windows[utt].append(float(logit))
            labels[utt], attacks[utt] = int(label), attack.decode()
    ids = list(windows)
    return {"utt_id": np.array(ids), "label": np.array([labels[u] for u in ids]),
            "attack": np.array([attacks[u] for u in ids]),
            "score": np.array([aggregate_logits(windows[u], aggregation) for u in ids], dtype=np.float64)}


def summarise(scores: dict[str, np.ndarray], dev_threshold: float | None = None) -> dict:
    """EER, per-attack EER, ROC AUC, and error rates at a threshold chosen on dev (when given)."""
    labelled = scores["label"] >= 0
    label, score, attack = scores["label"][labelled], scores["score"][labelled], scores["attack"][labelled]
    bonafide, spoof = score[label == 1], score[label == 0]
    if len(bonafide) == 0 or len(spoof) == 0:
        return {"utterances": int(labelled.sum()), "note": "needs both bona fide and spoof to score"}
    eer, threshold = metrics.compute_eer(bonafide, spoof)
    summary = {
        "utterances": int(labelled.sum()), "bonafide": int(len(bonafide)), "spoof": int(len(spoof)),
        "eer": float(eer), "eer_threshold": float(threshold), "roc_auc": float(metrics.roc_auc(bonafide, spoof)),
        "per_attack_eer": {k: float(v) for k, v in metrics.per_attack_eer(score, label, attack).items()},
    }
    if dev_threshold is not None:
        frr, far = metrics.error_rates_at_threshold(bonafide, spoof, dev_threshold)
        summary["at_dev_threshold"] = {"threshold": float(dev_threshold), "frr": float(frr), "far": float(far),
                                       "hter": float((frr + far) / 2)}
    return summary


def write_scores(path: str, scores: dict[str, np.ndarray]) -> None:
    """CSV ``utt_id,attack,label,score`` (label: bonafide/spoof/unknown)."""
    import tensorflow as tf

    names = {1: "bonafide", 0: "spoof", -1: "unknown"}
    with tf.io.gfile.GFile(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utt_id", "attack", "label", "score"])
        for utt, attack, label, score in zip(scores["utt_id"], scores["attack"], scores["label"], scores["score"]):
            writer.writerow([utt, attack, names[int(label)], f"{score:.6f}"])


def write_json(path: str, payload: dict) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(payload, indent=1, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------
# command line: evaluate score files
# ----------------------------------------------------------------------------------------------


def add_score_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``evaluate scores`` (reusable by any front end); :func:`run_scores` reads them."""
    parser.add_argument("--scores", required=True, metavar="FILE",
                        help="CM score file: UTT ATTACK KEY SCORE, UTT SCORE, or CSV utt_id,attack,label,score")
    parser.add_argument("--protocol", metavar="FILE",
                        help="ASVspoof 2019 LA/PA protocol or 2021 LA/DF keys (trial_metadata.txt); "
                             "without it the score file's own labels are used")
    parser.add_argument("--asv-scores", metavar="FILE",
                        help="official ASV scores (SOURCE TYPE SCORE) for min t-DCF 2019 and 2021")
    parser.add_argument("--dev-scores", metavar="FILE", help="dev CM scores to fit a logistic calibration on")
    parser.add_argument("--dev-protocol", metavar="FILE", help="protocol of the dev scores")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for report.md, metrics.json, scores.txt and the PNG plots")
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


def main(argv: list[str] | None = None, prog: str = "tfdeepfake evaluate") -> int:
    """``tfdeepfake evaluate --scores FILE --protocol FILE [...]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Evaluate spoofing-countermeasure scores: EER (bootstrap CI), min t-DCF, Cllr, "
                               "per-attack and per-codec tables, plots.")
    add_score_arguments(parser)
    args = parser.parse_args(argv)
    result = run_scores(args)
    print("\n".join(summary_lines(result)))
    if args.out:
        print(f"report: {args.out}/report.md")
    return 0


if __name__ == "__main__":
    from .cli import shim

    sys.exit(shim("evaluate"))
