"""Metric-learning heads and losses: a 128-d L2-normalised embedding, triplet loss (explicit triplets, or
batch-hard / semi-hard mining over labels) and supervised contrastive loss.

For anti-spoofing the triplet is (augmented bona fide utterance, its original, a spoof): bona fide speech
gathers whatever the channel, spoofs are pushed at least ``margin`` away.
"""
from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class EmbeddingHead(tf.keras.layers.Layer):
    """Dense projection to ``dim`` then L2 normalisation (float32 under mixed precision); registered."""

    def __init__(self, dim: int = 128, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.dim = dim
        self.projection = tf.keras.layers.Dense(dim, dtype="float32", name="projection")

    def call(self, pooled):
        return tf.math.l2_normalize(self.projection(tf.cast(pooled, tf.float32)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def pairwise_distances(embeddings):
    """(n, n) Euclidean distances, numerically safe at zero."""
    squared = tf.reduce_sum(tf.square(embeddings), axis=1)
    distances = squared[:, None] - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True) + squared[None, :]
    distances = tf.maximum(distances, 0.0)
    zero = tf.cast(tf.equal(distances, 0.0), distances.dtype)
    return tf.sqrt(distances + zero * 1e-16) * (1.0 - zero)


def supervised_contrastive_loss(embeddings, labels, temperature: float = 0.1):
    """SupCon (Khosla et al. 2020) on L2-normalised embeddings: for each anchor, the mean over its positives of
    -log softmax similarity against all other samples."""
    labels = tf.reshape(labels, [-1])
    n = tf.shape(labels)[0]
    logits = tf.matmul(embeddings, embeddings, transpose_b=True) / temperature
    not_self = 1.0 - tf.eye(n)
    logits = logits - tf.stop_gradient(tf.reduce_max(logits, axis=1, keepdims=True))
    log_prob = logits - tf.math.log(tf.reduce_sum(tf.exp(logits) * not_self, axis=1, keepdims=True))
    positives = tf.cast(tf.equal(labels[:, None], labels[None, :]), tf.float32) * not_self
    count = tf.reduce_sum(positives, axis=1)
    per_anchor = -tf.reduce_sum(positives * log_prob, axis=1) / tf.maximum(count, 1.0)
    has = tf.cast(count > 0, tf.float32)
    return tf.reduce_sum(per_anchor * has) / tf.maximum(tf.reduce_sum(has), 1.0)
