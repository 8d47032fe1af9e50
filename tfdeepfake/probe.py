"""The green-AI path: frozen self-supervised embeddings + a scikit-learn classifier, on a CPU.

    tfdeepfake probe --checkpoint checkpoints/wavlm-base-plus --tfrecords tfrecords/la2019 --layer 6

Mean-pooled hidden states of one layer (``--layer``; -1 = last) of a frozen WavLM (or Wav2Vec2) backbone are
extracted for the training splits, a logistic regression or SVM is chosen by GridSearchCV (5-fold ROC AUC),
saved with joblib, and scored on the evaluation splits with our metrics (higher = bona fide).
"""
from __future__ import annotations

import os

import tfdeepfake  # noqa: F401

import numpy as np
import tensorflow as tf

from . import evaluate
from .pipeline import InputConfig, eval_dataset

GRIDS = {"logreg": {"classifier__C": [0.01, 0.1, 1.0, 10.0]},
         "svm": {"classifier__C": [0.1, 1.0, 10.0], "classifier__gamma": ["scale"]}}


def extract_embeddings(backbone, tfrecords: str, splits, layer: int = -1, crop_samples: int = 64600,
                       batch_size: int = 8, folds=None) -> dict[str, np.ndarray]:
    """Mean-pooled hidden state ``layer`` for the first ``crop_samples`` of every utterance of ``splits``."""
    config = InputConfig(tfrecords, splits=tuple(splits), folds=folds, crop_samples=crop_samples,
                         batch_size=batch_size)
    embed = tf.function(lambda x: tf.reduce_mean(backbone(x)["hidden_states"][layer], axis=1))
    rows = {"embedding": [], "label": [], "utt_id": [], "attack": []}
    for batch in eval_dataset(config):
        rows["embedding"].append(embed(batch["inputs"]).numpy())
        rows["label"].append(batch["label"].numpy().astype(int))
        rows["utt_id"].append(batch["utt_id"].numpy().astype(str))
        rows["attack"].append(batch["attack"].numpy().astype(str))
    return {key: np.concatenate(values) for key, values in rows.items()}


def fit_probe(embeddings: np.ndarray, labels: np.ndarray, kind: str = "logreg", seed: int = 0, folds: int = 5):
    """GridSearchCV over the classifier's regularisation, 5-fold ROC AUC, standardised inputs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if kind not in GRIDS:
        raise ValueError(f"kind must be one of {sorted(GRIDS)}, got {kind!r}")
    classifier = LogisticRegression(max_iter=2000, class_weight="balanced") if kind == "logreg" else \
        SVC(class_weight="balanced")
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("classifier", classifier)]), GRIDS[kind],
                          scoring="roc_auc", cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return search.fit(embeddings, labels)


def run_probe(checkpoint: str, tfrecords: str, out: str, backbone: str = "wavlm", layer: int = -1,
              train_splits=("train",), eval_splits=("eval",), classifier: str = "logreg", crop_samples: int = 64600,
              seed: int = 0) -> dict:
    """Extract, fit on ``train_splits``, score ``eval_splits``; writes probe.joblib, eval_scores.csv and
    metrics.json to ``out`` and returns the metrics."""
    import joblib

    from .models.ssl.checkpoints import load_wavlm
    from .models.ssl.classifier import Wav2Vec2Backbone

    model = load_wavlm(checkpoint) if backbone == "wavlm" else Wav2Vec2Backbone(checkpoint)
    train = extract_embeddings(model, tfrecords, train_splits, layer, crop_samples)
    search = fit_probe(train["embedding"], train["label"], classifier, seed)
    os.makedirs(out, exist_ok=True)
    joblib.dump(search.best_estimator_, os.path.join(out, "probe.joblib"))
    results = {"cv_roc_auc": float(search.best_score_), "best_params": search.best_params_, "layer": layer}
    test = extract_embeddings(model, tfrecords, eval_splits, layer, crop_samples)
    scores = {**{k: test[k] for k in ("utt_id", "label", "attack")},
              "score": search.best_estimator_.decision_function(test["embedding"])}
    evaluate.write_scores(os.path.join(out, "eval_scores.csv"), scores)
    results["eval"] = evaluate.summarise(scores)
    evaluate.write_json(os.path.join(out, "metrics.json"), results)
    return results
