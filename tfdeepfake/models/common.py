"""What every model shares: waveform or feature input, the front-end layer, feature normalisation, the one-logit
output.

Convention (ASVspoof): the output is one logit, higher means bona fide; ``spoof_probability = sigmoid(-logit)``.
"""
from __future__ import annotations

import tensorflow as tf

from ..features import FeatureConfig, FrontEnd


def model_inputs(feature_config: FeatureConfig, input_samples: int, features_input: bool):
    """The Keras input and the (batch, frames, bins) float32 features it leads to.

    ``features_input=False``: waveforms (batch, input_samples) enter and the FrontEnd layer computes features in
    the model (on the accelerator). ``True``: host-computed features enter directly.
    """
    if features_input:
        shape = (feature_config.num_frames(input_samples), feature_config.num_bins())
        inputs = tf.keras.Input(shape, name="features", dtype="float32")
        return inputs, inputs
    inputs = tf.keras.Input((input_samples,), name="waveform", dtype="float32")
    return inputs, FrontEnd(feature_config, name="frontend")(inputs)


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class Standardise(tf.keras.layers.Layer):
    """Per-example, per-bin mean/variance normalisation over frames (utterance CMVN) of (batch, frames, bins).

    A registered layer, not a Lambda: models holding it save and reload whole (.keras) without ``safe_mode=False``.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, features):
        mean = tf.reduce_mean(features, axis=1, keepdims=True)
        return (features - mean) / (tf.math.reduce_std(features, axis=1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class AttentiveStatsPool(tf.keras.layers.Layer):
    """Channel- and frame-dependent attentive statistics pooling (ECAPA-TDNN's ASTP; Nes2Net-X's ``pool_func
    'ASTP'`` and the ``asp_mlp`` back-end): per-channel softmax weights over frames from ``W2 tanh(W1 x)``, then
    the weighted mean and standard deviation, (batch, frames, channels) → (batch, 2 channels). The statistics are
    taken in float32 (the variance is a difference of two sums), also under mixed precision."""

    def __init__(self, bottleneck: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.bottleneck = bottleneck
        self.linear1 = tf.keras.layers.Dense(bottleneck, activation="tanh", name="linear1")

    def build(self, input_shape):
        self.linear2 = tf.keras.layers.Dense(input_shape[-1], name="linear2")
        super().build(input_shape)

    def call(self, x):
        alpha = tf.nn.softmax(tf.cast(self.linear2(self.linear1(x)), tf.float32), axis=1)
        x = tf.cast(x, tf.float32)
        mean = tf.reduce_sum(alpha * x, axis=1)
        variance = tf.reduce_sum(alpha * tf.square(x), axis=1) - tf.square(mean)
        stats = tf.concat([mean, tf.sqrt(tf.maximum(variance, 1e-10))], axis=-1)
        return tf.cast(stats, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "bottleneck": self.bottleneck}


def logit_head(pooled, dropout: float = 0.0):
    """Dropout then a float32 Dense(1): the bona fide logit, also under mixed precision."""
    if dropout:
        pooled = tf.keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    return tf.keras.layers.Dense(1, dtype="float32", name="logit")(pooled)


def spoof_probability(logits):
    """P(spoof) from the bona fide logit."""
    return tf.math.sigmoid(-tf.cast(logits, tf.float32))
