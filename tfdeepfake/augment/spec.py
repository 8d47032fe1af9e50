"""Seeded batch augmentation of features (batch, frames, bins): SpecAugment masks, MixUp and CutMix.

Random draws are stateless from a ``seed`` tensor of shape [2]; draws are per example. Labels are
(batch,) or (batch, classes): with ``num_classes`` integer labels become one-hot, otherwise they are mixed
as they are (e.g. a (batch,) bona fide probability).
"""
from __future__ import annotations

import tensorflow as tf


def _seeds(seed, n: int):
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), n))


def _coin(seed, batch, p: float):
    """(batch,) bool, True with probability p."""
    return tf.random.stateless_uniform([batch], seed) < p


def _axis_masks(seed, batch, size, count: int, max_width: int):
    """(batch, size) bool: the union of ``count`` spans per example, widths uniform in 0..max_width."""
    width_seed, start_seed = _seeds(seed, 2)
    width = tf.math.minimum(
        tf.random.stateless_uniform([batch, count], width_seed, 0, max_width + 1, dtype=tf.int32), size)
    start = tf.cast(tf.random.stateless_uniform([batch, count], start_seed) * tf.cast(size - width + 1, tf.float32),
                    tf.int32)
    index = tf.range(size)[None, None, :]
    inside = (index >= start[..., None]) & (index < (start + width)[..., None])
    return tf.math.reduce_any(inside, axis=1)


def spec_augment(features, seed, time_masks: int = 2, max_time_width: int = 20, freq_masks: int = 2,
                 max_freq_width: int = 10, mask_value: float = 0.0, p: float = 1.0):
    """SpecAugment (Park et al. 2019) without warping: set ``time_masks`` frame spans and ``freq_masks`` bin spans
    to ``mask_value``, each span's width uniform in 0..max width and position uniform."""
    features = tf.convert_to_tensor(features, tf.float32)
    coin_seed, time_seed, freq_seed = _seeds(seed, 3)
    batch, frames, bins = tf.unstack(tf.shape(features))
    time = _axis_masks(time_seed, batch, frames, time_masks, max_time_width)
    freq = _axis_masks(freq_seed, batch, bins, freq_masks, max_freq_width)
    masked = (time[:, :, None] | freq[:, None, :]) & _coin(coin_seed, batch, p)[:, None, None]
    return tf.where(masked, tf.cast(mask_value, features.dtype), features)


def _targets(labels, num_classes):
    labels = tf.convert_to_tensor(labels)
    if num_classes is not None and labels.shape.rank == 1:
        return tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    return tf.cast(labels, tf.float32)


def _beta(seed, batch, alpha: float):
    """(batch,) draws from Beta(alpha, alpha) as G1 / (G1 + G2) with Gamma(alpha) variables."""
    g1_seed, g2_seed = _seeds(seed, 2)
    g1 = tf.random.stateless_gamma([batch], g1_seed, alpha)
    g2 = tf.random.stateless_gamma([batch], g2_seed, alpha)
    total = g1 + g2
    return tf.where(total > 0, g1 / tf.math.maximum(total, 1e-30), 0.5)


def _partners(seed, batch):
    """A random permutation of the batch: example i is mixed with example partners[i]."""
    return tf.argsort(tf.random.stateless_uniform([batch], seed))


def _expand(weights, like):
    """(batch,) weights reshaped to broadcast against ``like``."""
    return tf.reshape(weights, tf.concat([[-1], tf.ones([tf.rank(like) - 1], tf.int32)], axis=0))


def mixup(features, labels, seed, alpha: float = 0.4, num_classes: int | None = None, p: float = 1.0):
    """MixUp (Zhang et al. 2018): x = lam*x_i + (1-lam)*x_j, y likewise, lam ~ Beta(alpha, alpha) per example,
    j a random partner; examples left alone (probability 1-p) keep lam = 1."""
    features = tf.convert_to_tensor(features, tf.float32)
    targets = _targets(labels, num_classes)
    coin_seed, lam_seed, partner_seed = _seeds(seed, 3)
    batch = tf.shape(features)[0]
    lam = tf.where(_coin(coin_seed, batch, p), _beta(lam_seed, batch, alpha), 1.0)
    partners = _partners(partner_seed, batch)
    mixed = _expand(lam, features) * features + _expand(1.0 - lam, features) * tf.gather(features, partners)
    soft = _expand(lam, targets) * targets + _expand(1.0 - lam, targets) * tf.gather(targets, partners)
    return mixed, soft


def cutmix(features, labels, seed, alpha: float = 1.0, num_classes: int | None = None, p: float = 1.0):
    """CutMix along time: a span of round((1-lam)*frames) frames, lam ~ Beta(alpha, alpha), at a uniform position
    is replaced by the partner's frames; the label weight of the partner is the spliced fraction of frames."""
    features = tf.convert_to_tensor(features, tf.float32)
    targets = _targets(labels, num_classes)
    coin_seed, lam_seed, start_seed, partner_seed = _seeds(seed, 4)
    batch, frames = tf.shape(features)[0], tf.shape(features)[1]
    lam = tf.where(_coin(coin_seed, batch, p), _beta(lam_seed, batch, alpha), 1.0)
    cut = tf.cast(tf.math.round((1.0 - lam) * tf.cast(frames, tf.float32)), tf.int32)
    start = tf.cast(tf.random.stateless_uniform([batch], start_seed) * tf.cast(frames - cut + 1, tf.float32), tf.int32)
    index = tf.range(frames)[None, :]
    spliced = (index >= start[:, None]) & (index < (start + cut)[:, None])
    partners = _partners(partner_seed, batch)
    mixed = tf.where(spliced[:, :, None], tf.gather(features, partners), features)
    share = tf.cast(cut, tf.float32) / tf.cast(frames, tf.float32)
    soft = _expand(1.0 - share, targets) * targets + _expand(share, targets) * tf.gather(targets, partners)
    return mixed, soft
