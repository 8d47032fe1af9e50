"""fairseq wav2vec 2.0 / XLS-R / HuBERT checkpoints (``.pt``, e.g. SSL_Anti-spoofing's ``xlsr2_300m.pt``) without
torch, without fairseq and without running pickled code.

A fairseq checkpoint pickles ``{"args": argparse.Namespace | None, "cfg": omegaconf DictConfig | dict | None,
"model": state dict, ...}``. :func:`read_fairseq_checkpoint` reads it with the restricted unpickler, the
configuration classes (argparse, omegaconf, enums, fairseq's own dataclasses) as inert records; the model section
of ``cfg`` (or the flat ``args`` of older files) gives the architecture as a :class:`WavLMConfig`, and
:class:`FairseqState` shows the fairseq tensors under transformers' parameter names, so the one Hugging Face
mapping (``checkpoints.wavlm_assignments``) fills our backbone. Pretraining-only tensors (quantizer, target
projections, mask embedding, HuBERT label embeddings) are known and left out; any other tensor is an error.
"""
from __future__ import annotations

import ast
import re

import numpy as np

from ...errors import CheckpointError
from ..porting import PickledRecord, StateDict, read_torch_pickle
from .wavlm import WavLMConfig

CONFIG_MODULES = ("fairseq",)  # fairseq's config dataclasses and enum types, pickled as references
PRETRAINING_ONLY = (r"quantizer\..*", r"input_quantizer\..*", r"project_q\..*", r"project_inp\..*",
                    r"final_proj\..*", r"target_glu\..*", r"mask_emb", r"label_embs_concat")
# fairseq's Wav2Vec2Config / HubertConfig defaults of the fields that shape the network (older ``args`` files
# leave out what their architecture function filled in)
DEFAULTS = dict(extractor_mode="default", encoder_layers=12, encoder_embed_dim=768, encoder_ffn_embed_dim=3072,
                encoder_attention_heads=12, activation_fn="gelu", layer_norm_first=False, conv_bias=False,
                conv_feature_layers="[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2", conv_pos=128,
                conv_pos_groups=16, pos_conv_depth=1, layer_type="transformer", conv_pos_batch_norm=False)
ACTIVATIONS = {"gelu": "gelu", "gelu_accurate": "gelu_new", "relu": "relu"}  # fairseq name -> transformers name
FAMILIES = ("wav2vec2", "hubert")
# transformers name prefix -> fairseq name prefix ({0}: the layer index); names not listed are the same in both
_RENAMES = (
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", "feature_extractor.conv_layers.{0}.0."),
    (r"feature_projection\.layer_norm\.", "layer_norm."),
    (r"feature_projection\.projection\.", "post_extract_proj."),
    (r"encoder\.pos_conv_embed\.conv\.", "encoder.pos_conv.0."),
    (r"encoder\.layers\.(\d+)\.attention\.", "encoder.layers.{0}.self_attn."),
    (r"encoder\.layers\.(\d+)\.layer_norm\.", "encoder.layers.{0}.self_attn_layer_norm."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", "encoder.layers.{0}.fc1."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", "encoder.layers.{0}.fc2."),
)
_CONV_NORM = r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\."
# the conv block's norm: Sequential(conv, dropout, GroupNorm, GELU) in "default" mode, its LayerNorm wrapped in
# Sequential(TransposeLast, LayerNorm, TransposeLast) in "layer_norm" mode
_CONV_NORM_FAIRSEQ = {"group": "feature_extractor.conv_layers.{0}.2.",
                      "layer": "feature_extractor.conv_layers.{0}.2.1."}


class FairseqState(StateDict):
    """A fairseq model's tensors as transformers names them (``state["encoder.layers.0.attention.q_proj.weight"]``
    reads ``encoder.layers.0.self_attn.q_proj.weight``); used tensors, errors and :meth:`check_all_used` name the
    fairseq tensors. ``prefix``: where the model sits in a larger state dict (``ssl_model.model.`` in
    SSL-AASIST); ``used``: a set shared with a StateDict over the same tensors."""

    def __init__(self, tensors: dict, path: str, feat_extract_norm: str, prefix: str = "", used: set | None = None):
        super().__init__(tensors, path)
        self.prefix = prefix
        self.used = self.used if used is None else used
        self.renames = [(re.compile(hf), fairseq) for hf, fairseq in _RENAMES]
        self.renames.append((re.compile(_CONV_NORM), _CONV_NORM_FAIRSEQ[feat_extract_norm]))

    def source_name(self, name: str) -> str:
        for pattern, template in self.renames:
            match = pattern.match(name)
            if match:
                return self.prefix + template.format(*match.groups()) + name[match.end():]
        return self.prefix + name

    def __getitem__(self, name: str) -> np.ndarray:
        return super().__getitem__(self.source_name(name))

    def __contains__(self, name: str) -> bool:
        return self.source_name(name) in self.tensors

    def check_all_used(self, ignore=()) -> None:
        """Every tensor used, but the pretraining-only ones and those matching ``ignore``."""
        super().check_all_used((*ignore, *(re.escape(self.prefix) + p for p in PRETRAINING_ONLY)))


def plain(value):
    """A pickled configuration as plain Python: omegaconf DictConfig / ListConfig / value nodes, argparse
    Namespaces and enum members (records) become dicts, lists and their values."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if not isinstance(value, PickledRecord):
        return value
    name, state = value.global_name, value.state if isinstance(value.state, dict) else {}
    if name.startswith("omegaconf.") and name.endswith(("DictConfig", "ListConfig")):
        return plain(state.get("_content"))  # None, or a "???" / "${...}" string, stays as it is
    if name.startswith("omegaconf.nodes."):
        return plain(state.get("_val"))
    if name == "argparse.Namespace":
        return plain(state)
    if len(value.args) == 1 and value.state is None:  # an enum member, pickled as EnumClass(value)
        return plain(value.args[0])
    return value


def conv_layers(text: str, where: str = "conv_feature_layers") -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` ("[(512, 10, 5)] + [(512, 3, 2)] * 4 + ...", which fairseq evals) read
    without eval: lists of (dim, kernel, stride) tuples of ints, joined by ``+`` and repeated by ``* n``."""
    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [value(item) for item in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Mult) and max(n for n in (left, right) if isinstance(n, int)) > 64:
                raise ValueError("a repeat count over 64")
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unexpected {ast.dump(node)[:60]}")

    try:
        layers = value(ast.parse(text, mode="eval").body)
        if not (isinstance(layers, list) and layers and all(
                isinstance(layer, tuple) and len(layer) == 3 and all(isinstance(n, int) and n > 0 for n in layer)
                for layer in layers)):
            raise ValueError("expected a non-empty list of (dim, kernel, stride) tuples of positive ints")
    except (SyntaxError, TypeError, ValueError) as error:
        raise CheckpointError(f"{where} = {text!r}: {error}") from error
    return layers


def fairseq_config(checkpoint: dict, path: str) -> WavLMConfig:
    """The backbone architecture of a fairseq checkpoint: ``cfg["model"]`` (newer files) or ``args`` (older)."""
    cfg, args = plain(checkpoint.get("cfg")), plain(checkpoint.get("args"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model, where = cfg["model"], "cfg.model"
        family = model.get("_name")
    elif isinstance(args, dict):
        model, where = args, "args"
        family = model.get("arch")
    else:
        raise CheckpointError(f"{path}: neither cfg.model nor args found: not a fairseq checkpoint")
    if family not in FAMILIES:
        raise CheckpointError(f"{path}: {where} describes the model {family!r}; only the pretrained {FAMILIES} "
                              "models are supported (not fine-tuned CTC models or other families)")
    fields = {**DEFAULTS, **{k: model[k] for k in DEFAULTS if model.get(k) is not None}}
    for key, allowed in (("layer_type", ("transformer",)), ("pos_conv_depth", (1,)),
                         ("conv_pos_batch_norm", (False,)), ("extractor_mode", ("default", "layer_norm")),
                         ("activation_fn", tuple(ACTIVATIONS))):
        if fields[key] not in allowed:
            raise CheckpointError(f"{path}: {where}.{key} = {fields[key]!r} is not supported (only {allowed})")
    for key in ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
                "conv_pos", "conv_pos_groups"):
        if type(fields[key]) is not int:
            raise CheckpointError(f"{path}: {where}.{key} = {fields[key]!r} is not an int")
    layers = conv_layers(str(fields["conv_feature_layers"]), f"{path}: {where}.conv_feature_layers")
    return WavLMConfig.from_dict(dict(
        model_type=family, hidden_size=fields["encoder_embed_dim"], num_hidden_layers=fields["encoder_layers"],
        num_attention_heads=fields["encoder_attention_heads"], intermediate_size=fields["encoder_ffn_embed_dim"],
        hidden_act=ACTIVATIONS[fields["activation_fn"]], do_stable_layer_norm=bool(fields["layer_norm_first"]),
        feat_extract_norm="layer" if fields["extractor_mode"] == "layer_norm" else "group",
        conv_bias=bool(fields["conv_bias"]), conv_dim=tuple(d for d, _, _ in layers),
        conv_kernel=tuple(k for _, k, _ in layers), conv_stride=tuple(s for _, _, s in layers),
        num_conv_pos_embeddings=fields["conv_pos"], num_conv_pos_embedding_groups=fields["conv_pos_groups"]))


def read_fairseq_checkpoint(path: str) -> tuple[WavLMConfig, FairseqState]:
    """(architecture, tensors under transformers' names) of a fairseq wav2vec 2.0 / XLS-R / HuBERT ``.pt``."""
    checkpoint = read_torch_pickle(path, records=True, config_modules=CONFIG_MODULES)
    model = checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not (isinstance(model, dict) and model and all(isinstance(v, np.ndarray) for v in model.values())):
        raise CheckpointError(f"{path}: no 'model' state dict of tensors: not a fairseq checkpoint")
    config = fairseq_config(checkpoint, path)
    return config, FairseqState(dict(model), path, config.feat_extract_norm)


def config_from_tensors(tensors: dict, path: str, prefix: str = "") -> WavLMConfig:
    """The architecture of a wav2vec 2.0 model in fairseq names under ``prefix``, as far as its tensor shapes tell
    (conv dims and kernels, conv bias, extractor norm, widths, depth, positional conv); the rest is XLS-R 300M's
    (strides of seven conv layers, 16 heads, pre-LN, GELU) — the model SSL_Anti-spoofing fine-tunes."""
    def shape(name):
        if prefix + name not in tensors:
            raise CheckpointError(f"{path}: tensor {prefix + name!r} is missing from the checkpoint")
        return tensors[prefix + name].shape

    convs = []
    while f"{prefix}feature_extractor.conv_layers.{len(convs)}.0.weight" in tensors:
        convs.append(shape(f"feature_extractor.conv_layers.{len(convs)}.0.weight"))  # (out, in, kernel)
    if len(convs) != 7:
        raise CheckpointError(f"{path}: {len(convs)} conv layers under {prefix}feature_extractor; the strides of "
                              "only XLS-R's seven are known")
    layers = 0
    while f"{prefix}encoder.layers.{layers}.fc1.weight" in tensors:
        layers += 1
    hidden = shape("encoder.layer_norm.weight")[0]
    positional = shape("encoder.pos_conv.0.weight_v")  # (out, in / groups, kernel)
    return WavLMConfig.from_dict(dict(
        model_type="wav2vec2", hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=16,
        intermediate_size=shape("encoder.layers.0.fc1.weight")[0], do_stable_layer_norm=True,
        feat_extract_norm="layer" if f"{prefix}feature_extractor.conv_layers.0.2.1.weight" in tensors else "group",
        conv_bias=f"{prefix}feature_extractor.conv_layers.0.0.bias" in tensors,
        conv_dim=tuple(c[0] for c in convs), conv_kernel=tuple(c[2] for c in convs), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=positional[2], num_conv_pos_embedding_groups=hidden // positional[1]))

