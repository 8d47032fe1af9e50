"""Training pieces for Keras ``fit``: warm-up + decay schedule, the dev-EER callback, and the callback set
(best-dev-EER checkpoint, early stopping on it, BackupAndRestore, TensorBoard and CSV logs)."""
from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

from .. import evaluate, metrics


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class WarmupDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then cosine or linear decay to
    ``peak * final_ratio`` at ``total_steps``."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int, kind: str = "cosine",
                 final_ratio: float = 0.0):
        if kind not in ("cosine", "linear"):
            raise ValueError(f"schedule must be 'cosine' or 'linear', got {kind!r}")
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, max(total_steps, warmup_steps + 1)
        self.kind, self.final_ratio = kind, final_ratio

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = tf.cast(self.warmup_steps, tf.float32)
        progress = tf.clip_by_value((step - warm) / float(self.total_steps - self.warmup_steps), 0.0, 1.0)
        shape = 0.5 * (1.0 + tf.cos(math.pi * progress)) if self.kind == "cosine" else 1.0 - progress
        decayed = self.peak * (self.final_ratio + (1.0 - self.final_ratio) * shape)
        warming = self.peak * (step + 1.0) / tf.maximum(warm, 1.0)
        return tf.where(step < warm, warming, decayed)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps,
                "kind": self.kind, "final_ratio": self.final_ratio}


class DevEER(tf.keras.callbacks.Callback):
    """Scores the dev set after each epoch and puts ``dev_eer`` into the logs (what checkpoints and early
    stopping watch: accuracy says little at 1 bona fide : 9 spoof)."""

    def __init__(self, dev_dataset: tf.data.Dataset, score_path: str | None = None):
        super().__init__()
        self.dev_dataset, self.score_path = dev_dataset, score_path

    def on_epoch_end(self, epoch, logs=None):
        scores = evaluate.score_dataset(self.model, self.dev_dataset)
        bonafide, spoof = scores["score"][scores["label"] == 1], scores["score"][scores["label"] == 0]
        eer = metrics.compute_eer(bonafide, spoof)[0] if len(bonafide) and len(spoof) else np.nan
        if logs is not None:
            logs["dev_eer"] = float(eer)
        if self.score_path:
            evaluate.write_scores(self.score_path, scores)
        print(f" - dev_eer: {100 * eer:.2f}%")


def callbacks(run_dir: str, dev_dataset: tf.data.Dataset | None, patience: int) -> list[tf.keras.callbacks.Callback]:
    """The standard set; DevEER comes first so the others see ``dev_eer`` in the same epoch's logs."""
    monitor = "dev_eer" if dev_dataset is not None else "loss"
    chosen = [DevEER(dev_dataset, os.path.join(run_dir, "dev_scores_last.csv"))] if dev_dataset is not None else []
    chosen += [
        tf.keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor=monitor,
                                           mode="min", save_best_only=True, save_weights_only=True),
        tf.keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        tf.keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
        tf.keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"), update_freq="epoch",
                                       profile_batch=0),
    ]
    if patience > 0:
        chosen.append(tf.keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=patience))
    return chosen
