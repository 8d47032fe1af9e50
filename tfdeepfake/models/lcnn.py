"""LFCC-LCNN: the light CNN with max-feature-map activations of the ASVspoof 2021 LA/DF baselines
(Wang & Yamagishi 2021), here with global average pooling over time in place of the baseline's BLSTM."""
from __future__ import annotations

import tensorflow as tf

from .common import Standardise, logit_head, model_inputs

# (kernel, channels before MFM halves them, max-pool after) — the baseline's nine conv layers
BASELINE_LAYERS = ((5, 64, True), (1, 64, False), (3, 96, True), (1, 96, False), (3, 128, True),
                   (1, 128, False), (3, 64, False), (1, 64, False), (3, 64, True))


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class MaxFeatureMap(tf.keras.layers.Layer):
    """Splits channels in two halves and keeps their element-wise maximum (a competitive activation); no
    parameters, so the base config is complete."""

    def call(self, inputs):
        first, second = tf.split(inputs, 2, axis=-1)
        return tf.maximum(first, second)


def build_lcnn(feature_config, input_samples: int, features_input: bool = False, width: float = 1.0,
               dropout: float = 0.7, name: str = "lcnn") -> tf.keras.Model:
    """LCNN over (frames, bins) features; ``width`` scales every layer's channels (0.25 for tiny tests)."""
    inputs, features = model_inputs(feature_config, input_samples, features_input)
    x = tf.keras.layers.Reshape((-1, feature_config.num_bins(), 1))(Standardise(name="feature_norm")(features))
    for index, (kernel, channels, pool) in enumerate(BASELINE_LAYERS):
        channels = max(2, 2 * round(width * channels / 2))
        x = tf.keras.layers.Conv2D(channels, kernel, padding="same", name=f"conv{index}")(x)
        x = MaxFeatureMap(name=f"mfm{index}")(x)
        if pool:
            x = tf.keras.layers.MaxPool2D(2, name=f"pool{index}")(x)
        elif index not in (0,):
            x = tf.keras.layers.BatchNormalization(name=f"bn{index}")(x)
    # (batch, frames', bins', channels) -> pool over time, keep frequency x channel detail
    x = tf.keras.layers.Reshape((-1, x.shape[2] * x.shape[3]), name="time_major")(x)
    x = tf.keras.layers.GlobalAveragePooling1D(name="time_pool")(x)
    return tf.keras.Model(inputs, logit_head(x, dropout), name=name)
