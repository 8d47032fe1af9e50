"""RawGAT-ST with multiplicative graph fusion (the official ``RawGAT_ST_mul`` checkpoint's model).

Sinc front end → two residual encoders → a spectral graph (max over time) and a temporal graph (max over
frequency) → graph attention and pooling each → node projections to 12 nodes, fused by element-wise product →
spectro-temporal graph attention and pooling → one bona fide logit. It shares its layers with AASIST. The node
projections fix the node counts, so the input is 64,600 samples and the filterbank 70 filters, as published.
"""
from __future__ import annotations

import tensorflow as tf

from ..aasist.layers import GraphAttention, GraphPool, MaxAbs, NodeProjection
from ..aasist.model import encoder, sinc_stem

RAWGAT_ST = dict(first_conv=128, out_channels=70, filts=(32, (32, 32), (32, 64), (64, 64)))
FREQ_MASK_WIDTH = 14  # the official recipe's frequency mask: up to 13 of the 70 sinc filters


def build_rawgat_st(feature_config=None, input_samples: int = 64600, features_input: bool = False,
                    first_conv: int = RAWGAT_ST["first_conv"], out_channels: int = RAWGAT_ST["out_channels"],
                    filts=RAWGAT_ST["filts"], freq_mask: bool = False, seed: int | None = None,
                    name: str = "rawgat_st") -> tf.keras.Model:
    """RawGAT-ST on raw 16 kHz waveforms (batch, 64600); ``feature_config`` is not used."""
    if features_input:
        raise ValueError("rawgat_st reads raw waveforms: set features.where=device (no host features)")
    if input_samples != 64600 or out_channels != 70:
        raise ValueError(f"rawgat_st's node projections are fixed for 64600 samples and 70 sinc filters, got "
                         f"{input_samples} samples and {out_channels} filters (set data.crop_samples=64600)")
    _, first, middle, last = filts
    # as published, the first block declares (32, 32): it reads the one-channel image without a projection
    blocks = [first, first, middle, last, last, last]
    waveform = tf.keras.Input((input_samples,), name="waveform", dtype="float32")
    x = sinc_stem(waveform, out_channels, first_conv, freq_mask, FREQ_MASK_WIDTH, seed)

    def branch(index: int, axis: int, ratio: float):
        nodes = MaxAbs(axis=axis, name=f"max_{index}")(encoder(x, blocks, f"encoder{index}"))
        nodes = GraphPool(ratio, min_nodes=2, name=f"pool{index}")(
            GraphAttention(32, name=f"GAT_layer{index}")(nodes))
        return NodeProjection(12, name=f"proj{index}")(nodes)

    fused = tf.keras.layers.Multiply(name="fusion")([branch(1, 1, 0.64), branch(2, 2, 0.81)])
    nodes = GraphPool(0.64, min_nodes=2, name="pool3")(GraphAttention(16, name="GAT_layer3")(fused))
    node_scores = tf.keras.layers.Flatten(name="node_scores")(tf.keras.layers.Dense(1, name="proj")(nodes))
    return tf.keras.Model(waveform, tf.keras.layers.Dense(1, dtype="float32", name="logit")(node_scores),
                          name=name)
