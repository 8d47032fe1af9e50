"""Load Hugging Face and fairseq speech checkpoints into TensorFlow without torch.

- WavLM / wav2vec 2.0 / HuBERT: ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``, read by the
  restricted unpickler of :mod:`tfdeepfake.models.porting`: no torch, no code run) mapped onto
  :mod:`tfdeepfake.models.ssl.wavlm`; a fairseq ``.pt`` file (:mod:`tfdeepfake.models.ssl.fairseq`) through the
  same mapping.
- Wav2Vec2: transformers' own TF classes, which read PyTorch safetensors without torch (4.54.1).
A local folder always works; a hub name is downloaded first into the one cache (users with internet).
"""
from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from ...errors import CheckpointError
from ..porting import StateDict, assign, layer_norm, linear, read_safetensors, read_torch_checkpoint
from ...weights import hub_snapshot
from .fairseq import FairseqState, read_fairseq_checkpoint
from .wavlm import WavLMConfig, WavLMForXVector, WavLMModel

WEIGHTS = "model.safetensors"
TORCH_WEIGHTS = "pytorch_model.bin"
REQUIRED = f"config.json + {WEIGHTS} (or {TORCH_WEIGHTS})"


def read_checkpoint(folder: str) -> tuple[dict, StateDict]:
    """(config.json as dict, the tensors) of a checkpoint folder: model.safetensors, else pytorch_model.bin."""
    weights = os.path.join(folder, WEIGHTS)
    if os.path.isfile(weights):
        tensors = read_safetensors(weights)
    elif os.path.isfile(os.path.join(folder, TORCH_WEIGHTS)):
        weights = os.path.join(folder, TORCH_WEIGHTS)
        tensors = read_torch_checkpoint(weights)
    else:
        raise CheckpointError(f"{folder}: neither {WEIGHTS} nor {TORCH_WEIGHTS} found")
    config = os.path.join(folder, "config.json")
    if not os.path.isfile(config):
        raise CheckpointError(f"{config}: not found")
    with open(config) as handle:
        return json.load(handle), StateDict(tensors, weights)


def positional_kernel(state, name: str) -> np.ndarray:
    """The positional conv kernel with weight norm (dim=2) folded in, as (kernel, in/groups, out)."""
    if f"{name}.weight_g" in state:
        g, v = state[f"{name}.weight_g"], state[f"{name}.weight_v"]
    elif f"{name}.parametrizations.weight.original0" in state:
        g, v = state[f"{name}.parametrizations.weight.original0"], state[f"{name}.parametrizations.weight.original1"]
    else:
        return state[f"{name}.weight"].transpose(2, 1, 0)
    weight = g * v / np.linalg.norm(v, axis=(0, 1), keepdims=True)
    return weight.transpose(2, 1, 0)


def wavlm_assignments(model: WavLMModel, state: dict, prefix: str = "") -> list:
    """(variable, value) pairs mapping transformers' WavLM / Wav2Vec2 / HuBERT parameter names onto ``model``."""
    config, p = model.config, prefix
    pairs = []
    for i, (conv, norm) in enumerate(zip(model.feature_extractor.convs, model.feature_extractor.norms)):
        base = f"{p}feature_extractor.conv_layers.{i}"
        pairs.append((conv.kernel, state[f"{base}.conv.weight"].transpose(2, 1, 0), f"{base}.conv.weight"))
        if config.conv_bias:
            pairs.append((conv.bias, state[f"{base}.conv.bias"], f"{base}.conv.bias"))
        if norm is not None:
            pairs += layer_norm(norm, state, f"{base}.layer_norm")
    if model.projection_norm is not None:
        pairs += layer_norm(model.projection_norm, state, f"{p}feature_projection.layer_norm")
    pairs += linear(model.projection, state, f"{p}feature_projection.projection")
    conv = model.pos_conv_embed.conv
    pairs += [(conv.kernel, positional_kernel(state, f"{p}encoder.pos_conv_embed.conv"),
               f"{p}encoder.pos_conv_embed.conv.weight"),
              (conv.bias, state[f"{p}encoder.pos_conv_embed.conv.bias"], f"{p}encoder.pos_conv_embed.conv.bias")]
    pairs += layer_norm(model.encoder_norm, state, f"{p}encoder.layer_norm")
    for i, layer in enumerate(model.encoder_layers):
        base = f"{p}encoder.layers.{i}"
        attention = layer.attention
        for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
            pairs += linear(getattr(attention, projection), state, f"{base}.attention.{projection}")
        if attention.gated:
            pairs += linear(attention.gru_rel_pos_linear, state, f"{base}.attention.gru_rel_pos_linear")
            pairs.append((attention.gru_rel_pos_const, state[f"{base}.attention.gru_rel_pos_const"],
                          f"{base}.attention.gru_rel_pos_const"))
        if attention.has_relative_position_bias:
            pairs.append((attention.rel_attn_embed, state[f"{base}.attention.rel_attn_embed.weight"],
                          f"{base}.attention.rel_attn_embed.weight"))
        pairs += layer_norm(layer.layer_norm, state, f"{base}.layer_norm")
        pairs += layer_norm(layer.final_layer_norm, state, f"{base}.final_layer_norm")
        pairs += linear(layer.intermediate_dense, state, f"{base}.feed_forward.intermediate_dense")
        pairs += linear(layer.output_dense, state, f"{base}.feed_forward.output_dense")
    return pairs


def xvector_assignments(model: WavLMForXVector, state: dict) -> list:
    head, config = model.head, model.head.config
    pairs = wavlm_assignments(model.wavlm, state, "wavlm.") + linear(head.projector, state, "projector")
    for i, (layer, dim, kernel) in enumerate(zip(head.tdnn, config.tdnn_dim, config.tdnn_kernel)):
        weight = state[f"tdnn.{i}.kernel.weight"]  # (out, kernel * in), laid out as (out, kernel, in)
        pairs += [(layer.kernel, weight.reshape(dim, kernel, -1).transpose(1, 2, 0), f"tdnn.{i}.kernel.weight"),
                  (layer.bias, state[f"tdnn.{i}.kernel.bias"], f"tdnn.{i}.kernel.bias")]
    pairs += linear(head.feature_extractor, state, "feature_extractor") + linear(head.classifier, state,
                                                                                   "classifier")
    if config.use_weighted_layer_sum:
        pairs.append((head.layer_weights, state["layer_weights"], "layer_weights"))
    return pairs


def read_backbone_checkpoint(path_or_name: str) -> tuple[WavLMConfig, StateDict]:
    """(architecture, tensors) of a WavLM / wav2vec 2.0 / HuBERT Hugging Face folder or hub name, or of a fairseq
    wav2vec 2.0 / XLS-R / HuBERT ``.pt`` file."""
    if os.path.isfile(path_or_name) or path_or_name.endswith(".pt"):
        return read_fairseq_checkpoint(path_or_name)
    config_dict, state = read_checkpoint(hub_snapshot(path_or_name, REQUIRED))
    try:
        return WavLMConfig.from_dict(config_dict), state
    except ValueError as error:
        raise CheckpointError(f"{path_or_name}: config.json: {error}") from error


def backbone_assignments(model: WavLMModel, state: StateDict) -> list:
    """(variable, value, name in the file) of a checkpoint's backbone tensors: bare, or under a task model's
    ``wavlm.`` / ``wav2vec2.`` / ``hubert.`` prefix."""
    family = model.config.model_type
    prefix = f"{family}." if any(k.startswith(f"{family}.") for k in state) else ""
    return [(variable, value, state.source_name(name))
            for variable, value, name in wavlm_assignments(model, state, prefix)]


WHOLE_MODEL_PREFIX = "ssl_model.model."  # SSL_Anti-spoofing / Nes2Net: Model.ssl_model (SSLModel) .model (fairseq's)


def embedded_frontend(model, state: StateDict, prefix: str = WHOLE_MODEL_PREFIX) -> tuple[list, FairseqState]:
    """(variable, value, tensor name) for the ``ssl_frontend`` layer of ``model`` from a whole detector's state dict
    holding fairseq's model under ``prefix``, and the fairseq view whose ``check_all_used`` then covers the file."""
    backbone = model.get_layer("ssl_frontend").backbone
    front = FairseqState(state.tensors, state.path, backbone.config.feat_extract_norm, prefix, state.used)
    return backbone_assignments(backbone, front), front


def fill_backbone(model: WavLMModel, state: StateDict) -> None:
    """Assign a checkpoint's backbone tensors to a built ``model``; every tensor is shape-checked before any is
    assigned. A Hugging Face task model's head is left alone; a fairseq file must be used whole but for its
    pretraining-only tensors."""
    pairs = backbone_assignments(model, state)
    if isinstance(state, FairseqState):
        state.check_all_used()
    assign(pairs, state.path)


def load_ssl_backbone(path_or_name: str, name: str = "ssl_backbone") -> WavLMModel:
    """A WavLM, wav2vec 2.0 or HuBERT backbone (the config.json's ``model_type``, or a fairseq ``.pt`` file's
    model) with its checkpoint's weights."""
    config, state = read_backbone_checkpoint(path_or_name)
    model = WavLMModel(config, name=name)
    model(tf.zeros([1, 16000]))
    fill_backbone(model, state)
    return model


def load_wavlm(path_or_name: str, name: str = "wavlm") -> WavLMModel:
    """A WavLM backbone from a checkpoint folder or hub name (WavLMModel or a task model's ``wavlm.`` weights)."""
    return load_ssl_backbone(path_or_name, name)


def load_wavlm_xvector(path_or_name: str) -> WavLMForXVector:
    """WavLMForXVector (e.g. microsoft/wavlm-base-sv) with its TDNN / embedding / classifier weights."""
    config_dict, state = read_checkpoint(hub_snapshot(path_or_name, REQUIRED))
    config = WavLMConfig.from_dict(config_dict)
    model = WavLMForXVector(config, num_labels=state["classifier.weight"].shape[0], name="wavlm_xvector")
    model(tf.zeros([1, 16000]))
    assign(xvector_assignments(model, state), state.path)
    return model


def load_wav2vec2(path_or_name: str, task: str = "model"):
    """transformers' TF Wav2Vec2 (``model`` or ``sequence_classification``) from TF weights, or from PyTorch
    safetensors without torch (``from_pt``)."""
    import transformers

    classes = {"model": transformers.TFWav2Vec2Model,
               "sequence_classification": transformers.TFWav2Vec2ForSequenceClassification}
    if task not in classes:
        raise ValueError(f"task must be one of {sorted(classes)}, got {task!r}")
    folder = hub_snapshot(path_or_name, REQUIRED)
    # PyTorch-format safetensors load through transformers' numpy path (from_pt=False); only a lone
    # pytorch_model.bin needs from_pt, which imports torch
    native = any(os.path.isfile(os.path.join(folder, f)) for f in ("tf_model.h5", WEIGHTS))
    return classes[task].from_pretrained(folder, from_pt=not native)
