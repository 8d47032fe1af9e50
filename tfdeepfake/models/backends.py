"""Back-ends: frame features (batch, frames, channels) from any front-end → one bona fide logit (batch, 1).

- ``aasist``: SSL-AASIST's back-end (Tak et al. 2022): projection, residual encoder, graph attention.
- ``nes2net_x``: Nes2Net-X (Liu et al. 2025), nested Res2Net blocks, mean or attentive statistics pooling.
- ``asp_mlp``: channel-wise attentive statistics pooling (ECAPA-TDNN's, Desplanques et al. 2020) then an MLP.
- ``mean_pool``: the mean over frames then the logit (the ``ssl`` classifier's head).

Each builder takes the front-end's Keras tensor and its own parameters (the YAML ``model.backend`` mapping minus
``name``).
"""
from __future__ import annotations

import tensorflow as tf

from .common import AttentiveStatsPool, logit_head
from .nes2net.model import nes2net_x_backend
from .ssl_aasist.model import ssl_aasist_backend


def asp_mlp_backend(features, attention_dim: int = 128, hidden: tuple = (256,), dropout: float = 0.3):
    """Attentive statistics pooling (``attention_dim`` bottleneck), then ReLU layers of ``hidden`` sizes with
    dropout, then the logit."""
    x = AttentiveStatsPool(attention_dim, name="asp")(features)
    for i, units in enumerate(hidden):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"mlp_{i}")(x)
        if dropout:
            x = tf.keras.layers.Dropout(dropout, name=f"mlp_dropout_{i}")(x)
    return logit_head(x)


def mean_pool_backend(features, dropout: float = 0.1):
    """The mean over frames, then dropout and the logit."""
    return logit_head(tf.keras.layers.GlobalAveragePooling1D(name="mean_pool")(features), dropout)


BACKENDS = {"aasist": ssl_aasist_backend, "nes2net_x": nes2net_x_backend, "asp_mlp": asp_mlp_backend, "mean_pool": mean_pool_backend}
