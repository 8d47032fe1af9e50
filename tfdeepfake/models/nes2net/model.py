"""Nes2Net-X's back-end on any (batch, frames, channels) features: official Nested_Res2Net_TDNN.

The channels are cut into ``Nes_ratio[0]`` groups. Group 0 enters the first inner block (:class:`Bottle2neck`,
``Nes_ratio[1]`` scales); each later group is added to the previous block's output before its own block; every
block's output goes through ReLU and BatchNorm and is kept. The kept outputs and the last group, untouched,
are concatenated back to the input width (no dimensionality reduction), then BatchNorm, ReLU, pooling over frames
(``pool_func``: the mean, or channel-wise attentive statistics ``ASTP``) and the output layer. There is no dropout.

The official two-class output [spoof, bona fide] (the score it writes is column 1, bona fide) becomes one logit,
bona fide minus spoof; its sigmoid is the official softmax probability of bona fide. The frame count may be None:
nothing depends on it.
"""
from __future__ import annotations

import tensorflow as tf

from ..aasist.layers import BN
from ..common import AttentiveStatsPool, logit_head
from .layers import Bottle2neck, ChannelSplit

# official defaults (main.py of Liu-Tianchi/Nes2Net_ASVspoof_ITW and the README's training command)
NES2NET_X = dict(Nes_ratio=(8, 8), SE_ratio=1, dilation=2, pool_func="mean")
POOL_FUNCS = ("mean", "ASTP")


def nes2net_x_backend(features, Nes_ratio=NES2NET_X["Nes_ratio"], SE_ratio: int = NES2NET_X["SE_ratio"],
                      dilation: int = NES2NET_X["dilation"], pool_func: str = NES2NET_X["pool_func"]):
    """The bona fide logit (batch, 1) of (batch, frames, channels) front-end features; ``channels`` must be a
    multiple of ``Nes_ratio[0]``. Parameters keep the official argument names: ``Nes_ratio`` (outer groups, inner
    scales), ``SE_ratio`` (squeeze-excitation reduction; the official flag is a one-element list),
    ``dilation`` of the inner (3 × 1) convs, ``pool_func`` 'mean' or 'ASTP'."""
    if pool_func not in POOL_FUNCS:
        raise ValueError(f"pool_func must be one of {POOL_FUNCS}, got {pool_func!r}")
    groups, scale = (int(n) for n in Nes_ratio)
    if groups < 2 or scale < 2:
        raise ValueError(f"Nes_ratio needs at least 2 outer groups and 2 inner scales (as the official code), "
                         f"got {list(Nes_ratio)}")
    channels = features.shape[-1]
    if channels is None or channels % groups:
        raise ValueError(f"Nes2Net-X needs a channel count divisible by Nes_ratio[0]={groups}, got {channels}")
    parts = ChannelSplit(groups, name="split")(features)
    kept, x = [], parts[0]
    for i in range(groups - 1):
        if i:
            x = tf.keras.layers.Add(name=f"nest_add_{i}")([x, parts[i]])
        x = Bottle2neck(channels // groups, 3, dilation, scale, SE_ratio, name=f"Build_in_Res2Nets_{i}")(x)
        x = tf.keras.layers.BatchNormalization(name=f"bns_{i}", **BN)(tf.keras.layers.ReLU(name=f"relu_{i}")(x))
        kept.append(x)
    x = tf.keras.layers.Concatenate(name="nest_concat")(kept + [parts[-1]])
    x = tf.keras.layers.ReLU(name="relu")(tf.keras.layers.BatchNormalization(name="bn", **BN)(x))
    if pool_func == "mean":
        pooled = tf.keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    else:
        pooled = AttentiveStatsPool(128, name="pooling")(x)
    return logit_head(pooled)


def build_nes2net_x_backend(frames: int | None, channels: int, name: str = "nes2net_x_backend", **architecture):
    """The back-end alone as a model on (batch, frames, channels) features (parity checks, cached features);
    ``frames`` may be None (any length)."""
    features = tf.keras.Input((frames, channels), name="features", dtype="float32")
    return tf.keras.Model(features, nes2net_x_backend(features, **architecture), name=name)
