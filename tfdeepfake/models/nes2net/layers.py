"""Layers of Nes2Net-X (Liu et al., "Nes2Net: A Lightweight Nested Architecture for Foundation Model Driven Speech
Anti-spoofing", IEEE T-IFS 2025), written for tf-keras from the paper and checked against the official PyTorch
code (github Liu-Tianchi/Nes2Net_ASVspoof_ITW, ``model_scripts/wav2vec2_Nes2Net_X.py``).

Layout: channels last, (batch, frames, channels); the official 1 × 1 Conv1d layers are Dense layers on the last
axis. Every shape but the frame count is static and no branch depends on the data, so XLA and TFLite see fixed
graphs; the frame count may vary (every operation is a same-padded convolution or a mean over frames).
"""
from __future__ import annotations

import tensorflow as tf

from ..aasist.layers import BN

register = tf.keras.utils.register_keras_serializable(package="tfdeepfake.nes2net")


@register
class ChannelSplit(tf.keras.layers.Layer):
    """(batch, frames, channels) → a list of ``groups`` equal channel slices, in order."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def build(self, input_shape):
        if input_shape[-1] % self.groups:
            raise ValueError(f"{self.name}: {input_shape[-1]} channels do not split into {self.groups} groups")
        super().build(input_shape)

    def call(self, x):
        return tf.split(x, self.groups, axis=-1)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape)
        return [shape[:-1].concatenate([shape[-1] // self.groups])] * self.groups

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@register
class SqueezeExcitation(tf.keras.layers.Layer):
    """Channel gates from the mean over frames: ``x · sigmoid(W2 relu(W1 mean_t(x)))``, W1 to channels // ratio."""

    def __init__(self, channels: int, ratio: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.ratio = channels, ratio
        self.squeeze = tf.keras.layers.Dense(channels // ratio, activation="relu", name="squeeze")
        self.excite = tf.keras.layers.Dense(channels, activation="sigmoid", name="excite")

    def call(self, x):
        return x * self.excite(self.squeeze(tf.reduce_mean(x, axis=1, keepdims=True)))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "ratio": self.ratio}


@register
class Bottle2neck(tf.keras.layers.Layer):
    """The inner Res2Net block of Nes2Net-X, (batch, frames, planes) → same shape.

    A 1 × 1 projection to ``scale`` groups of ``width = planes // scale`` channels (ReLU, BatchNorm). The last group
    starts a stack; step i appends group i to the stack as one more *slot*, runs a shared (kernel × 1) dilated conv
    over frames on every slot (ReLU, BatchNorm) and emits the slots' sum weighted by learned weights (initialised
    1 / slots); the stack keeps growing, so step i sees i + 2 slots. The outputs and the last group are
    concatenated, projected back to ``planes`` (ReLU, BatchNorm), gated by squeeze-excitation and added to the
    input. The slot axis is static: each step's convolution has a fixed shape.
    """

    def __init__(self, planes: int, kernel_size: int = 3, dilation: int = 2, scale: int = 8, se_ratio: int = 1,
                 **kwargs):
        super().__init__(**kwargs)
        self.planes, self.kernel_size, self.dilation, self.scale, self.se_ratio = (
            planes, kernel_size, dilation, scale, se_ratio)
        self.width = planes // scale
        if self.width < 1:
            raise ValueError(f"{self.name}: {planes} channels cannot make {scale} groups")
        self.conv1 = tf.keras.layers.Dense(self.width * scale, name="conv1")
        self.bn1 = tf.keras.layers.BatchNormalization(name="bn1", **BN)
        self.convs = [tf.keras.layers.Conv2D(self.width, (kernel_size, 1), dilation_rate=(dilation, 1),
                                             padding="same", name=f"convs_{i}") for i in range(scale - 1)]
        self.bns = [tf.keras.layers.BatchNormalization(name=f"bns_{i}", **BN) for i in range(scale - 1)]
        self.conv3 = tf.keras.layers.Dense(planes, name="conv3")
        self.bn3 = tf.keras.layers.BatchNormalization(name="bn3", **BN)
        self.se = SqueezeExcitation(planes, se_ratio, name="se")

    def build(self, input_shape):
        if input_shape[-1] != self.planes:
            raise ValueError(f"{self.name}: input has {input_shape[-1]} channels, the block {self.planes}")
        self.weighted_sum = [self.add_weight(f"weighted_sum_{i}", shape=(i + 2,),
                                             initializer=tf.keras.initializers.Constant(1 / (i + 2)))
                             for i in range(self.scale - 1)]
        super().build(input_shape)

    def call(self, x, training=None):
        out = self.bn1(tf.nn.relu(self.conv1(x)), training=training)
        groups = tf.split(out, self.scale, axis=-1)
        stack = groups[-1][:, :, None, :]  # (batch, frames, slots, width)
        outputs = []
        for i in range(self.scale - 1):
            stack = tf.concat([stack, groups[i][:, :, None, :]], axis=2)
            stack = self.bns[i](tf.nn.relu(self.convs[i](stack)), training=training)
            outputs.append(tf.reduce_sum(stack * self.weighted_sum[i][:, None], axis=2))
        out = tf.concat(outputs + [groups[-1]], axis=-1)
        out = self.bn3(tf.nn.relu(self.conv3(out)), training=training)
        return self.se(out) + x

    def get_config(self):
        return {**super().get_config(), "planes": self.planes, "kernel_size": self.kernel_size,
                "dilation": self.dilation, "scale": self.scale, "se_ratio": self.se_ratio}
