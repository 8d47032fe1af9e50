"""AASIST: sinc front end → residual encoder → spectral and temporal graph attention → two heterogeneous
stacking graph-attention branches with master nodes → readout → one bona fide logit.

The parameters carry the official config's names (``first_conv``, ``filts``, ``gat_dims``, ``pool_ratios``,
``temperatures``), so an official ``model_config`` fills them as it is. The defaults are AASIST's.
"""
from __future__ import annotations

import tensorflow as tf

from ..common import logit_head
from .layers import (BN, GraphAttention, GraphPool, GraphReadout, HeteroGraphAttention, MasterNode, MaxAbs,
                     NodeEmbedding, ResidualBlock, SincFrontEnd)

AASIST = dict(first_conv=128, filts=(70, (1, 32), (32, 32), (32, 64), (64, 64)), gat_dims=(64, 32),
              pool_ratios=(0.5, 0.7, 0.5, 0.5), temperatures=(2.0, 2.0, 100.0, 100.0))
FREQ_MASK_WIDTH = 20  # the official recipe's frequency mask: up to 19 adjacent sinc filters


def sinc_stem(waveform, filters: int, first_conv: int, freq_mask: bool, mask_width: int, seed: int | None):
    """The shared stem: sinc filterbank, |.|, 3 × 3 max pool, BatchNorm over the single channel, SELU."""
    x = SincFrontEnd(filters, first_conv, mask_width=mask_width if freq_mask else 0, seed=seed,
                     name="sinc")(waveform)
    x = tf.keras.layers.BatchNormalization(name="first_bn", **BN)(x)
    return tf.keras.layers.Activation("selu", name="first_selu")(x)


def encoder(x, blocks, name: str):
    """Residual blocks from the official ``(in, out)`` channel pairs; a block projects its input when they
    differ."""
    for i, (channels_in, channels_out) in enumerate(blocks):
        x = ResidualBlock(channels_out, downsample=channels_in != channels_out, name=f"{name}_{i}")(x)
    return x


def graph_back_end(spectral, temporal, gat_dims, temperatures, pool_ratios):
    """AASIST's graph half, shared with SSL-AASIST: spectral nodes (with a learned position embedding) and temporal
    nodes through graph attention and pooling, two heterogeneous stacking branches with a master node each, merged
    by element-wise max and read out (the ``hidden`` layer: the features before the logit)."""
    spectral = GraphPool(pool_ratios[0], name="pool_S")(
        GraphAttention(gat_dims[0], temperatures[0], name="GAT_layer_S")(NodeEmbedding(name="pos_S")(spectral)))
    temporal = GraphPool(pool_ratios[1], name="pool_T")(
        GraphAttention(gat_dims[0], temperatures[1], name="GAT_layer_T")(temporal))
    branches = []
    for branch in (1, 2):
        master = MasterNode(gat_dims[0], name=f"master{branch}")(temporal)
        out_t, out_s, master = HeteroGraphAttention(gat_dims[1], temperatures[2],
                                                    name=f"HtrgGAT_layer_ST{branch}1")([temporal, spectral, master])
        out_s = GraphPool(pool_ratios[2], name=f"pool_hS{branch}")(out_s)
        out_t = GraphPool(pool_ratios[2], name=f"pool_hT{branch}")(out_t)
        aug_t, aug_s, aug_m = HeteroGraphAttention(gat_dims[1], temperatures[2],
                                                   name=f"HtrgGAT_layer_ST{branch}2")([out_t, out_s, master])
        summed = [tf.keras.layers.Add(name=f"{part}{branch}_residual")([a, b])
                  for part, a, b in (("T", out_t, aug_t), ("S", out_s, aug_s), ("master", master, aug_m))]
        branches.append([tf.keras.layers.Dropout(0.2, name=f"drop_way_{part}{branch}")(tensor)
                         for part, tensor in zip(("T", "S", "master"), summed)])
    merged = [tf.keras.layers.Maximum(name=f"{part}_max")([one, two])
              for part, one, two in zip(("T", "S", "master"), *branches)]
    return GraphReadout(name="hidden")(merged)


def build_aasist(feature_config=None, input_samples: int = 64600, features_input: bool = False,
                 first_conv: int = AASIST["first_conv"], filts=AASIST["filts"], gat_dims=AASIST["gat_dims"],
                 pool_ratios=AASIST["pool_ratios"], temperatures=AASIST["temperatures"], freq_mask: bool = False,
                 seed: int | None = None, dropout: float = 0.5, name: str = "aasist") -> tf.keras.Model:
    """AASIST on raw 16 kHz waveforms (batch, input_samples); ``feature_config`` is not used (the sinc front end
    is part of the model). ``freq_mask``: the training-only frequency-mask augmentation, seeded by ``seed``."""
    if features_input:
        raise ValueError("aasist reads raw waveforms: set features.where=device (no host features)")
    filters, *blocks = filts
    blocks = [blocks[0], blocks[1], blocks[2], blocks[3], blocks[3], blocks[3]]
    waveform = tf.keras.Input((input_samples,), name="waveform", dtype="float32")
    x = sinc_stem(waveform, filters, first_conv, freq_mask, FREQ_MASK_WIDTH, seed)
    e = encoder(x, blocks, "encoder")

    hidden = graph_back_end(MaxAbs(axis=1, name="max_time")(e), MaxAbs(axis=2, name="max_freq")(e), gat_dims,
                            temperatures, pool_ratios)
    return tf.keras.Model(waveform, logit_head(hidden, dropout), name=name)
