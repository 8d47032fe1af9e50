"""Score an evaluation dataset with a model and summarise it: score files, EER, per-attack EER, ROC AUC and
error rates at a threshold chosen on dev.

Score convention (ASVspoof): the model's logit, higher means bona fide.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import tensorflow as tf

from . import metrics


def score_dataset(model: tf.keras.Model, dataset: tf.data.Dataset) -> dict[str, np.ndarray]:
    """Run ``model`` over batches of ``eval_dataset`` dicts; windows of one utterance are averaged.

    Returns arrays ``utt_id, label, attack, score`` with one row per utterance, in first-seen order.
    """
    predict = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    sums, counts, labels, attacks = defaultdict(float), defaultdict(int), {}, {}
    for batch in dataset:
        logits = tf.reshape(tf.cast(predict(batch["inputs"]), tf.float32), [-1]).numpy()
        for utt, label, attack, logit in zip(batch["utt_id"].numpy(), batch["label"].numpy(),
                                             batch["attack"].numpy(), logits):
            utt = utt.decode()
            sums[utt] += float(logit)
            counts[utt] += 1
            labels[utt], attacks[utt] = int(label), attack.decode()
    ids = list(sums)
    return {"utt_id": np.array(ids), "label": np.array([labels[u] for u in ids]),
            "attack": np.array([attacks[u] for u in ids]),
            "score": np.array([sums[u] / counts[u] for u in ids], dtype=np.float64)}


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
    names = {1: "bonafide", 0: "spoof", -1: "unknown"}
    with tf.io.gfile.GFile(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utt_id", "attack", "label", "score"])
        for utt, attack, label, score in zip(scores["utt_id"], scores["attack"], scores["label"], scores["score"]):
            writer.writerow([utt, attack, names[int(label)], f"{score:.6f}"])


def write_json(path: str, payload: dict) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(payload, indent=1, sort_keys=True) + "\n")
