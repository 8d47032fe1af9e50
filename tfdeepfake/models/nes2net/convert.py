"""The official Nes2Net-X state dict (Liu-Tianchi/Nes2Net_ASVspoof_ITW ``wav2vec2_Nes2Net_no_Res_w_allT``, the
back-end under ``Nested_Res2Net_TDNN.``; the singing-voice repository Liu-Tianchi/Nes2Net uses the same names) →
our back-end layers, without torch. The front-end's ``ssl_model.*`` keys are left to the front-end's loader. The
official 1 × 1 Conv1d weights (out, in, 1) become Dense kernels, the weighted-sum parameters (1, 1, 1, slots)
vectors, and ``fc`` the one logit.
"""
from __future__ import annotations

import tensorflow as tf

from ...errors import CheckpointError
from ..aasist.convert import _two_class_to_logit
from ..porting import StateDict, assign, batch_norm, conv2d, linear
from ..ssl.checkpoints import embedded_frontend

PREFIX = "Nested_Res2Net_TDNN."
UNUSED = (r".*num_batches_tracked", r"ssl_model\..*")


def _pointwise(layer, state: StateDict, name: str) -> list:
    """A torch Conv1d with kernel size 1 onto a Dense; any other shape goes through untouched, so the shape
    check of :func:`assign` names the tensor."""
    weight = state[f"{name}.weight"]
    kernel = weight[:, :, 0].T if weight.ndim == 3 and weight.shape[2] == 1 else weight
    return [(layer.kernel, kernel, f"{name}.weight"), (layer.bias, state[f"{name}.bias"], f"{name}.bias")]


def _slot_weights(variable, state: StateDict, name: str) -> tuple:
    value = state[name]
    return variable, value.reshape(-1) if value.shape[:3] == (1, 1, 1) else value, name


def _bottle2neck(block, state: StateDict, name: str) -> list:
    pairs = _pointwise(block.conv1, state, f"{name}.conv1") + batch_norm(block.bn1, state, f"{name}.bn1")
    for i, (conv, bn, weights) in enumerate(zip(block.convs, block.bns, block.weighted_sum)):
        pairs += conv2d(conv, state, f"{name}.convs.{i}") + batch_norm(bn, state, f"{name}.bns.{i}")
        pairs.append(_slot_weights(weights, state, f"{name}.weighted_sum.{i}"))
    pairs += _pointwise(block.conv3, state, f"{name}.conv3") + batch_norm(block.bn3, state, f"{name}.bn3")
    return pairs + _pointwise(block.se.squeeze, state, f"{name}.se.se.1") + _pointwise(
        block.se.excite, state, f"{name}.se.se.3")


def backend_assignments(model: tf.keras.Model, state: StateDict, prefix: str = PREFIX) -> list:
    """(variable, value, key) pairs for every layer of a model built by nes2net_x_backend."""
    pairs = []
    blocks = sorted((layer for layer in model.layers if layer.name.startswith("Build_in_Res2Nets_")),
                    key=lambda layer: int(layer.name.rsplit("_", 1)[1]))
    for i, block in enumerate(blocks):
        pairs += _bottle2neck(block, state, f"{prefix}Build_in_Res2Nets.{i}")
        pairs += batch_norm(model.get_layer(f"bns_{i}"), state, f"{prefix}bns.{i}")
    pairs += batch_norm(model.get_layer("bn"), state, f"{prefix}bn")
    pooling = model.get_layer("pooling")
    if hasattr(pooling, "linear1"):  # ASTP
        pairs += _pointwise(pooling.linear1, state, f"{prefix}pooling.linear1")
        pairs += _pointwise(pooling.linear2, state, f"{prefix}pooling.linear2")
    return pairs + _logit(model.get_layer("logit"), state, f"{prefix}fc")


def _logit(layer, state: StateDict, name: str) -> list:
    """The speech recipe's two-class ``fc`` [spoof, bona fide] as bona fide minus spoof; the singing-voice
    recipe's (Liu-Tianchi/Nes2Net, CtrSVDD) one-output ``fc`` is already the bona fide logit (label 1 = bona
    fide under a BCE-with-logits loss) and is copied."""
    rows = state[f"{name}.weight"].shape[0]
    if rows == 1:
        return linear(layer, state, name)
    if rows == 2:
        return _two_class_to_logit(layer, state, name)
    raise CheckpointError(f"{state.path}: tensor '{name}.weight' has {rows} output rows; the official heads "
                          "have 2 (speech: spoof, bona fide) or 1 (singing voice: the bona fide logit)")


def load_backend_state(model: tf.keras.Model, state: StateDict, prefix: str = PREFIX) -> int:
    """Fill the Nes2Net-X back-end of ``model`` from an official state dict already read; every back-end tensor
    must be used (``ssl_model.*`` and BatchNorm step counters are ignored) and fit before anything is written.
    Returns the number of values assigned."""
    pairs = backend_assignments(model, state, prefix)
    state.check_all_used(UNUSED)
    return assign(pairs, state.path)


def official_backend_architecture(state: StateDict, prefix: str = PREFIX) -> dict:
    """The back-end's builder parameters as the official state dict's tensors tell them (nesting, SE reduction,
    pooling); the dilation leaves no trace in the weights and is the official recipe's 2."""
    outer = 0
    while f"{prefix}Build_in_Res2Nets.{outer}.conv1.weight" in state:
        outer += 1
    if not outer:
        raise CheckpointError(f"{state.path}: no {prefix}Build_in_Res2Nets.* tensors: not a Nes2Net-X checkpoint")
    inner = 0
    while f"{prefix}Build_in_Res2Nets.0.convs.{inner}.weight" in state:
        inner += 1
    planes, squeezed = (state.tensors[f"{prefix}Build_in_Res2Nets.0.se.se.{i}.weight"].shape[0] for i in (3, 1))
    return dict(Nes_ratio=[outer + 1, inner + 1], SE_ratio=planes // squeezed, dilation=2,
                pool_func="ASTP" if f"{prefix}pooling.linear1.weight" in state else "mean")


def load_official_state(model: tf.keras.Model, state: StateDict) -> int:
    """Fill a whole composed ssl × nes2net_x model from the official detector's state dict (fairseq XLS-R under
    ``ssl_model.model.``, the back-end under ``Nested_Res2Net_TDNN.``); nothing is written unless every tensor of
    both halves fits, and every tensor of the file must be used but XLS-R's pretraining-only ones. Returns the
    number of values assigned."""
    pairs, front = embedded_frontend(model, state)
    pairs += backend_assignments(model, state)
    front.check_all_used((r".*num_batches_tracked",))
    return assign(pairs, state.path)
