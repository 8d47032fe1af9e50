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


def triplet_loss(anchor, positive, negative, margin: float = 0.3):
    """mean(max(0, d(a, p) - d(a, n) + margin)) over explicit triplets."""
    ap = tf.norm(anchor - positive, axis=-1)
    an = tf.norm(anchor - negative, axis=-1)
    return tf.reduce_mean(tf.maximum(ap - an + margin, 0.0))


def mined_triplet_loss(embeddings, labels, margin: float = 0.3, mining: str = "batch_hard"):
    """Triplet loss with triplets mined in the batch from ``labels``.

    batch_hard: each anchor's farthest positive and nearest negative. semi_hard: the nearest negative that is
    still farther than the positive (FaceNet), else the farthest negative — per (anchor, positive) pair.
    """
    if mining not in ("batch_hard", "semi_hard"):
        raise ValueError(f"mining must be 'batch_hard' or 'semi_hard', got {mining!r}")
    distances = pairwise_distances(embeddings)
    labels = tf.reshape(labels, [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    positive_mask = tf.cast(same & ~eye, distances.dtype)
    negative_mask = tf.cast(~same, distances.dtype)
    big = tf.reduce_max(distances) + 1.0
    if mining == "batch_hard":
        hardest_positive = tf.reduce_max(distances * positive_mask, axis=1)
        hardest_negative = tf.reduce_min(distances + big * (1.0 - negative_mask), axis=1)
        valid = tf.cast((tf.reduce_sum(positive_mask, 1) > 0) & (tf.reduce_sum(negative_mask, 1) > 0),
                        distances.dtype)
        losses = tf.maximum(hardest_positive - hardest_negative + margin, 0.0) * valid
        return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(valid), 1.0)
    # semi-hard, over every (anchor, positive) pair: (a, p, n) cube
    ap = distances[:, :, None]
    an = distances[:, None, :]
    negatives = tf.cast(negative_mask[:, None, :] > 0, tf.bool)
    semi = negatives & (an > ap)
    nearest_semi = tf.reduce_min(tf.where(semi, an, big), axis=2)
    farthest = tf.reduce_max(tf.where(negatives, an, -big), axis=2)
    chosen = tf.where(tf.reduce_any(semi, axis=2), nearest_semi, farthest)
    pairs = positive_mask * tf.cast(tf.reduce_any(negatives, axis=2), distances.dtype)
    losses = tf.maximum(distances - chosen + margin, 0.0) * pairs
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(pairs), 1.0)


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


def am_softmax_loss(embeddings, labels, weight, scale: float = 30.0, margin: float = 0.4):
    """Additive-margin softmax (as transformers' ``AMSoftmaxLoss`` of the x-vector models): cosine logits
    between normalised embeddings and normalised class weights (dim, classes), ``margin`` subtracted from the
    true class, times ``scale``, then cross-entropy."""
    cosine = tf.matmul(tf.math.l2_normalize(embeddings, axis=1), tf.math.l2_normalize(weight, axis=0))
    onehot = tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]), tf.shape(weight)[1])
    logits = scale * (cosine - margin * onehot)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(onehot, logits))
