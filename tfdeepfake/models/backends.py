"""Back-ends: frame features (batch, frames, channels) from any front-end → one bona fide logit (batch, 1).

- ``aasist``: SSL-AASIST's back-end (Tak et al. 2022): projection, residual encoder, graph attention.
- ``nes2net_x``: Nes2Net-X (Liu et al. 2025), nested Res2Net blocks, mean or attentive statistics pooling.
- ``asp_mlp``: attentive statistics pooling (Okabe et al. 2018) then an MLP.
- ``mean_pool``: the mean over frames then the logit (the ``ssl`` classifier's head).

Each builder takes the front-end's Keras tensor and its own parameters (the YAML ``model.backend`` mapping minus
``name``).
"""
from __future__ import annotations

import tensorflow as tf

from .common import logit_head
from .nes2net.model import nes2net_x_backend
from .ssl_aasist.model import ssl_aasist_backend

register = tf.keras.utils.register_keras_serializable(package="tfdeepfake.backends")


@register
class AttentiveStatisticsPooling(tf.keras.layers.Layer):
    """Attention-weighted mean and standard deviation over frames: (batch, frames, channels) → (batch, 2 channels).

    Each frame's weight is the softmax over frames of ``v · tanh(W h + b)`` (Okabe et al., Interspeech 2018).
    """

    def __init__(self, attention_dim: int = 128, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.attention_dim, self.epsilon = attention_dim, epsilon
        self.hidden = tf.keras.layers.Dense(attention_dim, activation="tanh", name="attention_hidden")
        self.score = tf.keras.layers.Dense(1, name="attention_score")

    def call(self, frames):
        weights = tf.nn.softmax(self.score(self.hidden(frames)), axis=1)  # (batch, frames, 1)
        mean = tf.reduce_sum(weights * frames, axis=1)
        variance = tf.reduce_sum(weights * tf.square(frames), axis=1) - tf.square(mean)
        return tf.concat([mean, tf.sqrt(tf.maximum(variance, self.epsilon))], axis=-1)

    def get_config(self):
        return {**super().get_config(), "attention_dim": self.attention_dim, "epsilon": self.epsilon}


def asp_mlp_backend(features, attention_dim: int = 128, hidden: tuple = (256,), dropout: float = 0.3):
    """Attentive statistics pooling, then ReLU layers of ``hidden`` sizes with dropout, then the logit."""
    x = AttentiveStatisticsPooling(attention_dim, name="asp")(features)
    for i, units in enumerate(hidden):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"mlp_{i}")(x)
        if dropout:
            x = tf.keras.layers.Dropout(dropout, name=f"mlp_dropout_{i}")(x)
    return logit_head(x)


def mean_pool_backend(features, dropout: float = 0.1):
    """The mean over frames, then dropout and the logit."""
    return logit_head(tf.keras.layers.GlobalAveragePooling1D(name="mean_pool")(features), dropout)


BACKENDS = {"aasist": ssl_aasist_backend, "nes2net_x": nes2net_x_backend, "asp_mlp": asp_mlp_backend, "mean_pool": mean_pool_backend}
