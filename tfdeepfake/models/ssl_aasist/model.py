"""SSL-AASIST's back-end on any (batch, frames, channels) features, and the whole model on our wav2vec 2.0 front-end.

Back-end (official ``model.py`` of TakHemlata/SSL_Anti-spoofing): Linear channels → 128, the (frames, 128) map
max-pooled 3 × 3, BatchNorm + SELU, six residual blocks without pooling, BatchNorm + SELU, a 1 × 1 conv attention
map whose softmax over time pools the spectral nodes and over frequency the temporal nodes, then AASIST's graph
attention, heterogeneous stacking layers and readout. Layout (batch, time, frequency, channels) as in AASIST.
"""
from __future__ import annotations

import tensorflow as tf

from ..aasist.layers import BN, ResidualBlock, register
from ..aasist.model import graph_back_end
from ..common import logit_head
from ..frontends import ssl_frontend

SSL_AASIST = dict(projection=128, filts=((1, 32), (32, 32), (32, 64), (64, 64)), gat_dims=(64, 32),
                  pool_ratios=(0.5, 0.5, 0.5, 0.5), temperatures=(2.0, 2.0, 100.0, 100.0))


@register
class UnpooledResidualBlock(ResidualBlock):
    """AASIST's residual block without its final max pooling (SSL-AASIST keeps every frame and bin)."""

    def call(self, x, training=None):
        return self.residual(x, training)


@register
class AttentivePool(tf.keras.layers.Layer):
    """Sum of (batch, time, freq, channels) over ``axis`` weighted by the softmax of ``weights`` along it."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        x, weights = inputs
        return tf.reduce_sum(x * tf.nn.softmax(weights, axis=self.axis), axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def ssl_aasist_backend(features, projection: int = SSL_AASIST["projection"], filts=SSL_AASIST["filts"],
                       gat_dims=SSL_AASIST["gat_dims"], pool_ratios=SSL_AASIST["pool_ratios"],
                       temperatures=SSL_AASIST["temperatures"], dropout: float = 0.5):
    """The bona fide logit of (batch, frames, channels) front-end features (frames ≥ 3)."""
    x = tf.keras.layers.Dense(projection, name="LL")(features)
    x = tf.keras.layers.Reshape((-1, projection, 1), name="add_channel")(x)
    x = tf.keras.layers.MaxPooling2D((3, 3), name="first_pool")(x)
    x = tf.keras.layers.Activation("selu", name="first_selu")(
        tf.keras.layers.BatchNormalization(name="first_bn", **BN)(x))
    blocks = [filts[0], filts[1], filts[2], filts[3], filts[3], filts[3]]
    for i, (channels_in, channels_out) in enumerate(blocks):
        x = UnpooledResidualBlock(channels_out, downsample=channels_in != channels_out, name=f"encoder_{i}")(x)
    x = tf.keras.layers.Activation("selu", name="first_selu1")(
        tf.keras.layers.BatchNormalization(name="first_bn1", **BN)(x))
    channels = filts[-1][-1]
    w = tf.keras.layers.Conv2D(2 * channels, 1, name="attention_0")(x)
    w = tf.keras.layers.BatchNormalization(name="attention_2", **BN)(tf.keras.layers.Activation("selu")(w))
    w = tf.keras.layers.Conv2D(channels, 1, name="attention_3")(w)

    hidden = graph_back_end(AttentivePool(axis=1, name="pool_time")([x, w]),
                            AttentivePool(axis=2, name="pool_freq")([x, w]), gat_dims, temperatures, pool_ratios)
    return logit_head(hidden, dropout)


def build_ssl_aasist_backend(frames: int, channels: int, name: str = "ssl_aasist_backend", **params):
    """The back-end alone as a model on (batch, frames, channels) features (parity checks, cached features)."""
    features = tf.keras.Input((frames, channels), name="features", dtype="float32")
    return tf.keras.Model(features, ssl_aasist_backend(features, **params), name=name)


def build_ssl_aasist(feature_config=None, input_samples: int = 64600, features_input: bool = False,
                     checkpoint: str | None = None, architecture: str | None = None, config: dict | None = None,
                     trainable_layers: int = -1, projection: int = SSL_AASIST["projection"], filts=SSL_AASIST["filts"],
                     gat_dims=SSL_AASIST["gat_dims"], pool_ratios=SSL_AASIST["pool_ratios"],
                     temperatures=SSL_AASIST["temperatures"], dropout: float = 0.5, name: str = "ssl_aasist"):
    """SSL-AASIST on raw 16 kHz waveforms: the last hidden state of our wav2vec 2.0 / XLS-R front-end (the
    ``ssl_frontend`` layer; ``checkpoint``: a Hugging Face folder or fairseq .pt, ``architecture``: a published
    backbone's name, ``config``: Wav2Vec2Config fields, the last two with random weights) under the back-end,
    fine-tuned whole by default as in the official recipe. ``feature_config`` is unused; the rest are
    :func:`ssl_aasist_backend`'s."""
    if features_input:
        raise ValueError("ssl_aasist reads raw waveforms: set features.where=device (no host features)")
    waveform = tf.keras.Input((input_samples,), name="waveform", dtype="float32")
    hidden = ssl_frontend(waveform, feature_config, features_input, checkpoint=checkpoint, architecture=architecture,
                          config=config, layer=-1, trainable_layers=trainable_layers)
    logit = ssl_aasist_backend(hidden, projection, filts, gat_dims, pool_ratios, temperatures, dropout)
    return tf.keras.Model(waveform, logit, name=name)
