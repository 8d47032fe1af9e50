"""Score an evaluation dataset with a model and summarise it: score files, EER, per-attack EER, ROC AUC and
error rates at a threshold chosen on dev; and the command line that evaluates existing score files or a model
on a corpus or TFRecords (see :func:`main` and :mod:`tfdeepfake.reports`):

    tfdeepfake evaluate --scores scores.txt --protocol ASVspoof2019.LA.cm.eval.trl.txt --out report/
    tfdeepfake evaluate --model aasist --dataset asvspoof2019-la --root LA/ --splits eval --out report/
    tfdeepfake evaluate --model runs/demo --tfrecords tfrecords/ --splits eval --folds 0 --out report/

Score convention (ASVspoof): the model's logit, higher means bona fide.
TensorFlow is imported inside the model-side functions only, so evaluating a score file does not load it.
"""
from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import metrics, reports
from .corpora import READERS
from .errors import TfDeepfakeError

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


# ----------------------------------------------------------------------------------------------
# command line: a model on a corpus or TFRecords
# ----------------------------------------------------------------------------------------------

SCORES_CSV = "scores.csv"
FAILURES_CSV = "failures.csv"
SCORES_CSV_COLUMNS = ("utt_id", "attack", "label", "logit", "spoof_probability", "decision", "flags")
#: score-file options that have no meaning for a model (their defaults), and why
SCORE_FILE_ONLY = {"protocol": (None, "labels come from the corpus reader or the TFRecords"),
                   "higher_is": ("bonafide", "a model's logit is higher = bona fide"),
                   "subset": (None, "use --splits (ASVspoof 2021: the keys' subsets)"),
                   "allow_missing": (False, "unreadable files are always reported and left out"),
                   "allow_unmatched": (False, "every scored utterance comes from the corpus"),
                   "allow_duplicates": (False, "every utterance is scored once")}


class ModelEvaluationError(TfDeepfakeError, ValueError):
    """A model evaluation that cannot run as asked: the data it names and why."""


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


def _corpus_clips(args) -> tuple[list, str, str, list[str]]:
    """(utterances, kind, description, notes on protocol lines not used) of the ``--dataset`` corpus.

    Files are not checked for existence here: a missing one fails in the Detector like any unreadable file.
    """
    from .build_tfrecords import reader_options
    from .corpora import read_corpus

    splits = args.splits or (["eval"] if args.dataset.startswith("asvspoof2019") else None)
    options = reader_options(argparse.Namespace(dataset=args.dataset, splits=splits,
                                                protocol_dir=args.protocol_dir, keys=args.keys))
    if args.dataset.startswith("asvspoof2021") and splits:
        options["subsets"] = set(splits)
    if "check_audio" in inspect.signature(READERS[args.dataset][0]).parameters:
        options["check_audio"] = False
    try:
        listing = read_corpus(args.dataset, args.root, **options)
    except TfDeepfakeError:
        raise
    except ValueError as error:  # a reader's own argument check, e.g. an unknown ASVspoof 2019 split
        raise ModelEvaluationError(f"{args.root}: {error}") from error
    notes = [f"{len(listing.problems)} protocol lines were not used: {listing.report(reports.EXAMPLES)}"] \
        if listing.problems else []
    description = f"{args.dataset} at `{args.root}`" + (f", splits {' '.join(splits)}" if splits else "")
    return listing.utterances, reports.corpus_kind(args.dataset), description, notes


def _tfrecord_clips(args):
    """(iterator of (utterance, float32 samples, rate), kind, description, notes) of the chosen TFRecords."""
    from . import records
    from .audio import from_int16
    from .corpora.base import METADATA_FIELDS, Utterance

    splits = tuple(args.splits or ("eval",))
    try:
        manifest = records.read_manifest(args.tfrecords)
        records.shard_files(args.tfrecords, splits, args.folds)
    except (FileNotFoundError, ValueError) as error:
        raise ModelEvaluationError(str(error)) from error
    unlabelled = sum(cell["label"].get("unknown", 0) for split, by_fold in manifest["counts"].items()
                     if split in splits for fold, cell in by_fold.items()
                     if args.folds is None or int(fold) in args.folds)
    if unlabelled:
        raise ModelEvaluationError(f"{args.tfrecords}: {unlabelled} records of splits {list(splits)} have no label "
                                   "(built from a trial list without keys)")
    dataset = records.load_dataset(args.tfrecords, splits, args.folds, shuffle_files=False, deterministic=True,
                                   pcm=True)

    def clips():
        for example in dataset.as_numpy_iterator():
            utterance = Utterance(**{name: example[name].decode() for name in METADATA_FIELDS})
            yield utterance, from_int16(example["audio"]), int(example["sample_rate"])

    description = f"TFRecords `{args.tfrecords}`, splits {' '.join(splits)}" + \
        (f", folds {' '.join(map(str, args.folds))}" if args.folds is not None else "")
    failed = len(manifest.get("failures", []))
    notes = [f"{failed} files (of any split) failed when these TFRecords were built and are not in them; see "
             f"{args.tfrecords}/{records.MANIFEST}"] if failed else []
    return clips(), reports.corpus_kind(manifest.get("dataset")), description, notes


def _array_predictions(detector, clips):
    """(utterance, Prediction) for decoded clips; a clip the Detector refuses gives an error row."""
    from .audio import AudioError
    from .inference import Prediction

    for utterance, samples, rate in clips:
        try:
            yield utterance, detector.predict(samples, sample_rate=rate)
        except AudioError as error:
            yield utterance, Prediction(utterance.utt_id, detector.model_id, "error", None,
                                        detector.bundle.threshold.spoof_probability, None, None,
                                        error=f"{utterance.utt_id}: {error}")


@dataclass(frozen=True)
class ModelScores:
    """What :func:`score_with_model` returns: the scored and the unreadable utterances, and about the data."""

    detector: object
    scored: list  # (Utterance, Prediction) in data order
    unreadable: list  # (Utterance, error text)
    kind: str  # reports.DECOMPOSITION key
    description: str
    notes: list


def score_with_model(args: argparse.Namespace) -> ModelScores:
    """Every utterance of the data options through the Detector named by ``--model``.

    Corpus files go through :meth:`Detector.predictions` (the ``tfdeepfake predict`` path); TFRecord clips are
    the stored int16 PCM decoded and given to :meth:`Detector.predict`, so both get the Detector's own windows,
    batches and aggregation. A file that cannot be read is an unreadable row; the rest go on.
    """
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)
    from tqdm import tqdm

    from .inference import Detector

    detector = Detector.load(args.model)
    quiet = args.quiet or None
    if args.tfrecords is not None:
        clips, kind, description, notes = _tfrecord_clips(args)
        rows = _array_predictions(detector, tqdm(clips, unit="utt", disable=quiet, file=sys.stderr))
    else:
        utterances, kind, description, notes = _corpus_clips(args)
        progress = tqdm(utterances, unit="file", disable=quiet, file=sys.stderr)
        rows = zip(utterances, detector.predictions(u.path for u in progress))
    scored, unreadable = [], []
    for utterance, prediction in rows:
        if prediction.ok:
            scored.append((utterance, prediction))
        else:
            unreadable.append((utterance, prediction.error))
    return ModelScores(detector, scored, unreadable, kind, description, notes)


def write_model_scores(path: str, scored) -> None:
    """``scores.csv``: utt_id, attack, label, logit (lossless; higher = bona fide), spoof_probability, decision,
    flags; ``--scores`` reads it back."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SCORES_CSV_COLUMNS)
        for utterance, prediction in scored:
            writer.writerow([utterance.utt_id, utterance.attack, utterance.label, repr(prediction.logit),
                             repr(prediction.spoof_probability), prediction.decision, ";".join(prediction.flags)])


def write_failures(path: str, unreadable) -> None:
    """``failures.csv``: utt_id, path, error of each utterance that could not be scored."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("utt_id", "path", "error"))
        writer.writerows((utterance.utt_id, utterance.path, error) for utterance, error in unreadable)


def run_model(args: argparse.Namespace) -> dict:
    """Score the data options' utterances with ``--model`` and evaluate them as :func:`run_scores` does a score
    file; with ``--out`` also ``scores.csv`` (and ``failures.csv``). Returns the metrics dict."""
    run = score_with_model(args)
    shown = [f"{u.utt_id} ({error})" for u, error in run.unreadable[:reports.EXAMPLES]]
    if not run.scored:
        raise ModelEvaluationError(f"{run.description}: no file could be scored ({len(run.unreadable)} unreadable, "
                                   f"e.g. {'; '.join(shown) or 'none listed'})")
    no_speech = sum("no-speech" in p.flags for _, p in run.scored)
    counts = {"files": len(run.scored) + len(run.unreadable), "unreadable": len(run.unreadable),
              "no_speech": no_speech}
    sources = {"model": args.model, "model_id": run.detector.model_id,
               "input_rule": run.detector.input_rule.describe(), "data": run.description, "scores": None,
               "protocol": None, "scoring": "Detector.predictions over the files" if args.tfrecords is None else
               "Detector.predict on the decoded int16 PCM"}
    trials = reports.corpus_trials([u for u, _ in run.scored], [p.logit for _, p in run.scored], run.kind, sources,
                                   counts, {"unreadable": shown})
    asv = reports.read_asv_scores(args.asv_scores) if args.asv_scores else None
    dev = reports.read_dev_trials(args.dev_scores, args.dev_protocol)
    result = reports.evaluate_trials(trials, asv=asv, dev=dev, n_bootstrap=args.bootstrap, seed=args.seed)
    result["notes"] += run.notes
    if no_speech:
        result["notes"].append(f"{no_speech} clips are flagged no-speech; their scores are evaluated as they are")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_model_scores(os.path.join(args.out, SCORES_CSV), run.scored)
        result["files"] = {"scores_csv": SCORES_CSV}
        if run.unreadable:
            write_failures(os.path.join(args.out, FAILURES_CSV), run.unreadable)
            result["files"]["failures"] = FAILURES_CSV
        reports.write_outputs(args.out, result, trials, plots=not args.no_plots)
    return result


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
    result = run_scores(args) if args.model is None else run_model(args)
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


if __name__ == "__main__":
    from .cli import shim

    sys.exit(shim("evaluate"))
