"""A small ResNet (basic blocks) on log-mel or log-linear spectrograms."""
from __future__ import annotations

import tensorflow as tf

from .common import Standardise, logit_head, model_inputs


def _block(x, channels: int, stride: int, name: str):
    shortcut = x
    y = tf.keras.layers.Conv2D(channels, 3, stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = tf.keras.layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = tf.keras.layers.ReLU()(y)
    y = tf.keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = tf.keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != channels:
        shortcut = tf.keras.layers.Conv2D(channels, 1, stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = tf.keras.layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    return tf.keras.layers.ReLU()(tf.keras.layers.Add()([y, shortcut]))


def build_resnet(feature_config, input_samples: int, features_input: bool = False,
                 channels: tuple = (16, 32, 64, 128), blocks_per_stage: int = 2, dropout: float = 0.3,
                 name: str = "resnet") -> tf.keras.Model:
    inputs, features = model_inputs(feature_config, input_samples, features_input)
    x = tf.keras.layers.Reshape((-1, feature_config.num_bins(), 1))(Standardise(name="feature_norm")(features))
    x = tf.keras.layers.Conv2D(channels[0], 3, padding="same", use_bias=False, name="stem")(x)
    x = tf.keras.layers.ReLU()(tf.keras.layers.BatchNormalization(name="stem_bn")(x))
    for stage, width in enumerate(channels):
        for block in range(blocks_per_stage):
            x = _block(x, width, 2 if block == 0 and stage > 0 else 1, f"stage{stage}_block{block}")
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, logit_head(x, dropout), name=name)
