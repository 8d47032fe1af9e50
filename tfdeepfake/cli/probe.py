"""The green-AI path: frozen self-supervised embeddings + a scikit-learn classifier, on a CPU.

    tfdeepfake probe --checkpoint checkpoints/wavlm-base-plus --tfrecords tfrecords/la2019 --layer 6

Mean-pooled hidden states of one layer (``--layer``; -1 = last) of a frozen WavLM (or Wav2Vec2) backbone are
extracted for the training splits, a logistic regression or SVM is chosen by GridSearchCV (5-fold ROC AUC),
saved with joblib, and scored on the evaluation splits with our metrics (higher = bona fide).
"""
from __future__ import annotations

import argparse

from ..probe import GRIDS, run_probe


def main(argv=None, prog: str = "tfdeepfake probe") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="Hugging Face WavLM or Wav2Vec2 folder (or hub name)")
    parser.add_argument("--backbone", choices=["wavlm", "wav2vec2"], default="wavlm")
    parser.add_argument("--tfrecords", required=True)
    parser.add_argument("--layer", type=int, default=-1)
    parser.add_argument("--train-splits", nargs="+", default=["train"])
    parser.add_argument("--eval-splits", nargs="+", default=["eval"])
    parser.add_argument("--classifier", choices=sorted(GRIDS), default="logreg")
    parser.add_argument("--crop-samples", type=int, default=64600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/probe")
    args = parser.parse_args(argv)
    results = run_probe(args.checkpoint, args.tfrecords, args.out, args.backbone, args.layer, args.train_splits,
                        args.eval_splits, args.classifier, args.crop_samples, args.seed)
    print(f"cv ROC AUC {results['cv_roc_auc']:.3f}; eval EER {100 * results['eval'].get('eer', float('nan')):.2f}%")
    return 0
