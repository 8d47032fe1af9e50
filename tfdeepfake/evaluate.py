"""Score an evaluation dataset with a model and summarise it: score files, EER, per-attack EER, ROC AUC and
error rates at a threshold chosen on dev; and a model evaluated on a corpus or TFRecords (:func:`run_model`,
reported by :mod:`tfdeepfake.reports`), as ``tfdeepfake evaluate`` (tfdeepfake.cli.evaluate) runs it:

    tfdeepfake evaluate --scores scores.txt --protocol ASVspoof2019.LA.cm.eval.trl.txt --out report/
    tfdeepfake evaluate --model aasist --dataset asvspoof2019-la --root LA/ --splits eval --out report/
    tfdeepfake evaluate --model runs/demo --tfrecords tfrecords/ --splits eval --folds 0 --out report/

Score convention (ASVspoof): the model's logit, higher means bona fide.
TensorFlow is imported inside the model-side functions only, so evaluating a score file does not load it.
"""
from __future__ import annotations

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
    Detector's rule (``input_rule.aggregate_logits``).

    Returns arrays ``utt_id, label, attack, score`` with one row per utterance, in first-seen order.
    """
    import tensorflow as tf

    from .input_rule import aggregate_logits

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
# a model on a corpus or TFRecords
# ----------------------------------------------------------------------------------------------

SCORES_CSV = "scores.csv"
FAILURES_CSV = "failures.csv"
SCORES_CSV_COLUMNS = ("utt_id", "attack", "label", "logit", "spoof_probability", "decision", "flags")
class ModelEvaluationError(TfDeepfakeError, ValueError):
    """A model evaluation that cannot run as asked: the data it names and why."""


@dataclass(frozen=True)
class EvaluationData:
    """The data a model is evaluated on: a corpus (``dataset`` read at ``root``) or TFRecords, and which part."""

    dataset: str | None = None
    root: str | None = None
    tfrecords: str | None = None
    splits: tuple | None = None
    folds: tuple | None = None
    protocol_dir: str | None = None
    keys: str | None = None


def _corpus_clips(data: EvaluationData) -> tuple[list, str, str, list[str]]:
    """(utterances, kind, description, notes on protocol lines not used) of the ``--dataset`` corpus.

    Files are not checked for existence here: a missing one fails in the Detector like any unreadable file.
    """
    from .build_tfrecords import reader_options
    from .corpora import read_corpus

    splits = data.splits or (["eval"] if data.dataset.startswith("asvspoof2019") else None)
    options = reader_options(data.dataset, splits, data.protocol_dir, data.keys)
    if data.dataset.startswith("asvspoof2021") and splits:
        options["subsets"] = set(splits)
    if "check_audio" in inspect.signature(READERS[data.dataset][0]).parameters:
        options["check_audio"] = False
    try:
        listing = read_corpus(data.dataset, data.root, **options)
    except TfDeepfakeError:
        raise
    except ValueError as error:  # a reader's own argument check, e.g. an unknown ASVspoof 2019 split
        raise ModelEvaluationError(f"{data.root}: {error}") from error
    notes = [f"{len(listing.problems)} protocol lines were not used: {listing.report(reports.EXAMPLES)}"] \
        if listing.problems else []
    description = f"{data.dataset} at `{data.root}`" + (f", splits {' '.join(splits)}" if splits else "")
    return listing.utterances, reports.corpus_kind(data.dataset), description, notes


def _tfrecord_clips(data: EvaluationData):
    """(iterator of (utterance, float32 samples, rate), kind, description, notes) of the chosen TFRecords."""
    from . import records
    from .audio import from_int16
    from .corpora.base import METADATA_FIELDS, Utterance

    splits = tuple(data.splits or ("eval",))
    try:
        manifest = records.read_manifest(data.tfrecords)
        records.shard_files(data.tfrecords, splits, data.folds)
    except (FileNotFoundError, ValueError) as error:
        raise ModelEvaluationError(str(error)) from error
    unlabelled = sum(cell["label"].get("unknown", 0) for split, by_fold in manifest["counts"].items()
                     if split in splits for fold, cell in by_fold.items()
                     if data.folds is None or int(fold) in data.folds)
    if unlabelled:
        raise ModelEvaluationError(f"{data.tfrecords}: {unlabelled} records of splits {list(splits)} have no label "
                                   "(built from a trial list without keys)")
    dataset = records.load_dataset(data.tfrecords, splits, data.folds, shuffle_files=False, deterministic=True,
                                   pcm=True)

    def clips():
        for example in dataset.as_numpy_iterator():
            utterance = Utterance(**{name: example[name].decode() for name in METADATA_FIELDS})
            yield utterance, from_int16(example["audio"]), int(example["sample_rate"])

    description = f"TFRecords `{data.tfrecords}`, splits {' '.join(splits)}" + \
        (f", folds {' '.join(map(str, data.folds))}" if data.folds is not None else "")
    failed = len(manifest.get("failures", []))
    notes = [f"{failed} files (of any split) failed when these TFRecords were built and are not in them; see "
             f"{data.tfrecords}/{records.MANIFEST}"] if failed else []
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


def score_with_model(model: str, data: EvaluationData, quiet: bool = False) -> ModelScores:
    """Every utterance of ``data`` through the Detector of ``model`` (anything Detector.load takes).

    Corpus files go through :meth:`Detector.predictions` (the ``tfdeepfake predict`` path); TFRecord clips are
    the stored int16 PCM decoded and given to :meth:`Detector.predict`, so both get the Detector's own windows,
    batches and aggregation. A file that cannot be read is an unreadable row; the rest go on.
    """
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)
    from tqdm import tqdm

    from .inference import Detector

    detector = Detector.load(model)
    quiet = quiet or None
    if data.tfrecords is not None:
        clips, kind, description, notes = _tfrecord_clips(data)
        rows = _array_predictions(detector, tqdm(clips, unit="utt", disable=quiet, file=sys.stderr))
    else:
        utterances, kind, description, notes = _corpus_clips(data)
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


def run_model(model: str, data: EvaluationData, *, asv_scores: str | None = None, dev_scores: str | None = None,
              dev_protocol: str | None = None, out: str | None = None, n_bootstrap: int = 1000, seed: int = 0,
              plots: bool = True, quiet: bool = False) -> dict:
    """Score ``data`` with ``model`` and evaluate it as :func:`tfdeepfake.reports.evaluate_scores` does a score
    file; with ``out`` also ``scores.csv`` (and ``failures.csv``). Returns the metrics dict."""
    run = score_with_model(model, data, quiet)
    shown = [f"{u.utt_id} ({error})" for u, error in run.unreadable[:reports.EXAMPLES]]
    if not run.scored:
        raise ModelEvaluationError(f"{run.description}: no file could be scored ({len(run.unreadable)} unreadable, "
                                   f"e.g. {'; '.join(shown) or 'none listed'})")
    no_speech = sum("no-speech" in p.flags for _, p in run.scored)
    counts = {"files": len(run.scored) + len(run.unreadable), "unreadable": len(run.unreadable),
              "no_speech": no_speech}
    sources = {"model": model, "model_id": run.detector.model_id,
               "input_rule": run.detector.input_rule.describe(), "data": run.description, "scores": None,
               "protocol": None, "scoring": "Detector.predictions over the files" if data.tfrecords is None else
               "Detector.predict on the decoded int16 PCM"}
    trials = reports.corpus_trials([u for u, _ in run.scored], [p.logit for _, p in run.scored], run.kind, sources,
                                   counts, {"unreadable": shown})
    asv = reports.read_asv_scores(asv_scores) if asv_scores else None
    dev = reports.read_dev_trials(dev_scores, dev_protocol)
    result = reports.evaluate_trials(trials, asv=asv, dev=dev, n_bootstrap=n_bootstrap, seed=seed)
    result["notes"] += run.notes
    if no_speech:
        result["notes"].append(f"{no_speech} clips are flagged no-speech; their scores are evaluated as they are")
    if out:
        os.makedirs(out, exist_ok=True)
        write_model_scores(os.path.join(out, SCORES_CSV), run.scored)
        result["files"] = {"scores_csv": SCORES_CSV}
        if run.unreadable:
            write_failures(os.path.join(out, FAILURES_CSV), run.unreadable)
            result["files"]["failures"] = FAILURES_CSV
        reports.write_outputs(out, result, trials, plots=plots)
    return result
