"""Official AASIST / RawGAT-ST PyTorch checkpoints → our Keras models, without torch.

Names follow the official modules. Tensors the official forward never reads (``bn1`` of the residual blocks —
their first conv reads the block input — RawGAT-ST's ``conv_1`` outside the first block, BatchNorm step counters)
are the only ones allowed to stay unused. The two-class output layer [spoof, bona fide] becomes one logit,
bona fide minus spoof, so its sigmoid is the official softmax probability of bona fide.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from ...errors import CheckpointError
from ..porting import StateDict, assign, batch_norm, conv2d, linear, read_torch_checkpoint

UNUSED = (r".*num_batches_tracked", r"encoder\d?\.\d+\.0\.bn1\..*", r"encoder\d\.[1-9]\.0\.conv_1\..*")


def _block(layer, state: StateDict, name: str, first_conv: str = "conv1") -> list:
    pairs = conv2d(layer.conv1, state, f"{name}.{first_conv}", swap_axes=True)
    pairs += batch_norm(layer.bn2, state, f"{name}.bn2") + conv2d(layer.conv2, state, f"{name}.conv2", swap_axes=True)
    if layer.conv_downsample is not None:
        pairs += conv2d(layer.conv_downsample, state, f"{name}.conv_downsample", swap_axes=True)
    return pairs


def _graph_attention(layer, state: StateDict, name: str) -> list:
    pairs = [(layer.att_weight, state[f"{name}.att_weight"], f"{name}.att_weight")]
    for dense in ("att_proj", "proj_with_att", "proj_without_att"):
        pairs += linear(getattr(layer, dense), state, f"{name}.{dense}")
    return pairs + batch_norm(layer.bn, state, f"{name}.bn")


def _hetero_graph_attention(layer, state: StateDict, name: str) -> list:
    stacked = np.concatenate([state[f"{name}.att_weight{kind}"] for kind in ("11", "22", "12")], axis=1)
    pairs = [(layer.att_weights, stacked, f"{name}.att_weight11/22/12"),
             (layer.att_weightM, state[f"{name}.att_weightM"], f"{name}.att_weightM")]
    for dense in ("proj_type1", "proj_type2", "att_proj", "att_projM", "proj_with_att", "proj_without_att",
                  "proj_with_attM", "proj_without_attM"):
        pairs += linear(getattr(layer, dense), state, f"{name}.{dense}")
    return pairs + batch_norm(layer.bn, state, f"{name}.bn")


def _two_class_to_logit(layer, state: StateDict, name: str) -> list:
    weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]  # (2, in): rows [spoof, bona fide]
    return [(layer.kernel, (weight[1] - weight[0])[:, None], f"{name}.weight"),
            (layer.bias, bias[1:] - bias[:1], f"{name}.bias")]


def aasist_assignments(model: tf.keras.Model, state: StateDict) -> list:
    layer = model.get_layer
    pairs = batch_norm(layer("first_bn"), state, "first_bn")
    for i in range(6):
        pairs += _block(layer(f"encoder_{i}"), state, f"encoder.{i}.0")
    return pairs + graph_back_end_assignments(model, state)


def graph_back_end_assignments(model: tf.keras.Model, state: StateDict) -> list:
    """The graph half (model.graph_back_end) and the logit, shared by AASIST and SSL-AASIST."""
    layer = model.get_layer
    pairs = [(layer("pos_S").embedding, state["pos_S"], "pos_S"),
              (layer("master1").node, state["master1"], "master1"),
              (layer("master2").node, state["master2"], "master2")]
    for name in ("GAT_layer_S", "GAT_layer_T"):
        pairs += _graph_attention(layer(name), state, name)
    for name in ("HtrgGAT_layer_ST11", "HtrgGAT_layer_ST12", "HtrgGAT_layer_ST21", "HtrgGAT_layer_ST22"):
        pairs += _hetero_graph_attention(layer(name), state, name)
    for name in ("pool_S", "pool_T", "pool_hS1", "pool_hT1", "pool_hS2", "pool_hT2"):
        pairs += linear(layer(name).proj, state, f"{name}.proj")
    return pairs + _two_class_to_logit(layer("logit"), state, "out_layer")


def rawgat_st_assignments(model: tf.keras.Model, state: StateDict) -> list:
    layer = model.get_layer
    pairs = batch_norm(layer("first_bn"), state, "first_bn")
    for index in (1, 2):
        for i in range(6):
            pairs += _block(layer(f"encoder{index}_{i}"), state, f"encoder{index}.{i}.0",
                            "conv_1" if i == 0 else "conv1")
    for index in (1, 2, 3):
        pairs += _graph_attention(layer(f"GAT_layer{index}"), state, f"GAT_layer{index}")
        pairs += linear(layer(f"pool{index}").proj, state, f"pool{index}.proj")
    for index in (1, 2):
        projection = layer(f"proj{index}")
        pairs += [(projection.kernel, state[f"proj{index}.weight"].T, f"proj{index}.weight"),
                  (projection.bias, state[f"proj{index}.bias"], f"proj{index}.bias")]
    pairs += linear(layer("proj"), state, "proj")
    return pairs + _two_class_to_logit(layer("logit"), state, "proj_node")


ASSIGNMENTS = {"aasist": aasist_assignments, "rawgat_st": rawgat_st_assignments}


def load_official_checkpoint(model: tf.keras.Model, path: str, architecture: str) -> int:
    """Fill ``model`` (built by build_aasist / build_rawgat_st) from an official ``.pth``; returns the number of
    values assigned. Missing, mis-shaped or foreign tensors raise a CheckpointError naming the file."""
    return load_state(model, StateDict(read_torch_checkpoint(path), path), architecture)


def load_state(model: tf.keras.Model, state: StateDict, architecture: str) -> int:
    """Fill ``model`` from an official state dict already read; nothing is written unless every tensor fits."""
    pairs = ASSIGNMENTS[architecture](model, state)
    state.check_all_used(UNUSED)
    return assign(pairs, state.path)


def from_official_config(model_config: dict) -> tuple[str, int, dict]:
    """(registry name, input samples, builder parameters) of an official ``model_config`` (AASIST .conf) or
    ``model:`` section (RawGAT-ST yaml)."""
    config = dict(model_config)
    samples = int(config.pop("nb_samp", 64600))
    if "gat_dims" in config:
        keys = ("first_conv", "filts", "gat_dims", "pool_ratios", "temperatures")
        return "aasist", samples, {k: config[k] for k in keys if k in config}
    if "out_channels" in config:
        if config.get("in_channels", 1) != 1 or config.get("nb_classes", 2) != 2:
            raise CheckpointError(f"RawGAT-ST config with in_channels={config.get('in_channels')}, "
                                  f"nb_classes={config.get('nb_classes')}: only 1 and 2 are published")
        return "rawgat_st", samples, {k: config[k] for k in ("first_conv", "out_channels", "filts") if k in config}
    raise CheckpointError(f"not an AASIST or RawGAT-ST model config (keys {sorted(config)})")
