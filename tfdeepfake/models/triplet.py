"""Triplet training around any registered model: the logit keeps its cross-entropy, and a 128-d embedding
head learns that an augmented bona fide utterance (anchor) lies nearer its clean original (positive) than
any spoof in the batch (negative) by a margin — robustness to channels, separation from spoofs.

Inputs while training are pairs (batch, 2, ...) [clean, augmented] from ``InputConfig(paired=True)``;
scoring takes plain inputs and returns the logit, so evaluation code is unchanged. The wrapper is for training
only: keep the trained scoring model with ``model.base.save(path)`` (it saves and reloads whole).
"""
from __future__ import annotations

import tensorflow as tf

from .heads import EmbeddingHead, pairwise_distances, supervised_contrastive_loss


def anchored_triplet_loss(anchors, positives, labels, margin: float = 0.3):
    """For each bona fide anchor (label 1): max(0, d(a, its positive) - d(a, nearest spoof) + margin); spoofs of
    both views are the negatives. Batches without bona fide or without spoof contribute 0."""
    labels = tf.reshape(tf.cast(labels > 0.5, tf.float32), [-1])
    everything = tf.concat([anchors, positives], axis=0)
    spoof = tf.concat([1.0 - labels, 1.0 - labels], axis=0)
    distances = pairwise_distances(everything)[: tf.shape(anchors)[0]]  # anchors x (anchors + positives)
    big = tf.reduce_max(distances) + 1.0
    nearest_spoof = tf.reduce_min(distances + big * (1.0 - spoof)[None, :], axis=1)
    positive = tf.norm(anchors - positives, axis=1)
    valid = labels * tf.cast(tf.reduce_sum(spoof) > 0, tf.float32)
    return tf.reduce_sum(tf.maximum(positive - nearest_spoof + margin, 0.0) * valid) / tf.maximum(
        tf.reduce_sum(valid), 1.0)


class TripletModel(tf.keras.Model):
    """Wraps a model whose last layer is the Dense named ``logit``; adds ``weight`` x metric loss to its BCE."""

    def __init__(self, base: tf.keras.Model, dim: int = 128, margin: float = 0.3, weight: float = 1.0,
                 loss: str = "triplet", temperature: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if loss not in ("triplet", "supcon"):
            raise ValueError(f"metric loss must be 'triplet' or 'supcon', got {loss!r}")
        self.base = base
        self.pooled = tf.keras.Model(base.inputs, base.get_layer("logit").input, name="pooled")
        self.head = EmbeddingHead(dim, name="embedding")
        self.margin, self.weight, self.kind, self.temperature = margin, weight, loss, temperature

    def call(self, inputs, training=False):
        return self.base(inputs, training=training)

    def embed(self, inputs, training=False):
        return self.head(self.pooled(inputs, training=training))

    def train_step(self, data):
        inputs, labels = data[0], data[1]
        clean, augmented = inputs[:, 0], inputs[:, 1]
        with tf.GradientTape() as tape:
            logits = self.base(augmented, training=True)
            bce = self.compiled_loss(labels, logits, regularization_losses=self.base.losses)
            anchors, positives = self.embed(augmented, training=True), self.embed(clean, training=True)
            if self.kind == "triplet":
                metric = anchored_triplet_loss(anchors, positives, labels, self.margin)
            else:
                views = tf.concat([anchors, positives], axis=0)
                metric = supervised_contrastive_loss(views, tf.concat([labels, labels], 0), self.temperature)
            loss = bce + self.weight * metric
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        self.compiled_metrics.update_state(labels, logits)
        return {"loss": loss, "metric_loss": metric, **{m.name: m.result() for m in self.metrics if m.name != "loss"}}
