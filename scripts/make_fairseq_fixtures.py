"""Write the fairseq-checkpoint and official SSL-AASIST parity fixtures: tiny random transformers PyTorch models saved
in fairseq's checkpoint layout, and their outputs.

    /opt/torchenv/bin/pip install --no-deps omegaconf==2.0.6      # fairseq pins omegaconf < 2.1
    git -C /work/.mirror/TakHemlata+SSL_Anti-spoofing/repo show HEAD:model.py > /tmp/ssl_aasist_model.py
    /opt/torchenv/bin/python scripts/make_fairseq_fixtures.py --src /tmp/ssl_aasist_model.py

fairseq itself does not install on Python 3.11, so its networks are stood in for by transformers' PyTorch
``Wav2Vec2Model`` / ``HubertModel`` (the same computation; transformers converts fairseq checkpoints into them) and
its checkpoint by what ``fairseq.checkpoint_utils`` pickles: ``{"args", "cfg", "model", "optimizer_history",
"extra_state", "task_state", "last_optimizer_state"}``, with fairseq's parameter names (renamed here from
transformers' by a table written from fairseq's ``wav2vec2.py`` / ``hubert.py``, independent of the loader's),
weight-norm tensors as ``weight_g`` / ``weight_v`` (fairseq uses ``nn.utils.weight_norm``) and random
pretraining-only tensors (quantizer, ``project_q``, ``final_proj``, ``mask_emb``, ``label_embs_concat``). ``cfg`` is
a real omegaconf DictConfig built from dataclasses that stand under fairseq's module names (as hydra builds it), a
plain dict (fairseq's newer ``OmegaConf.to_container``), or None with an argparse ``args`` (older files).

Outputs:
- tests/fixtures/fairseq/NAME.pt + NAME.npz (input, last hidden state, every hidden state), NAME one of
  wav2vec2_base_args (group norm, post-LN; args), xlsr_cfg (layer norm, pre-LN, conv bias; DictConfig),
  xlsr_dict (the same weights; plain-dict cfg), hubert_base_cfg (DictConfig);
- tests/fixtures/ssl/{wav2vec2_base,hubert_base}_bin/: the Hugging Face fixtures' weights as pytorch_model.bin;
- tests/fixtures/ssl_aasist/official_tiny.pth + official_tiny.npz: the OFFICIAL SSL_Anti-spoofing ``Model``
  (``--src`` model.py, every back-end line official) on a tiny XLS-R-layout front-end, its ``state_dict()`` with the
  front-end under ``ssl_model.model.`` in fairseq names; the waveforms' seed and first samples, and the two-class
  logits in eval mode.
"""
import argparse
import collections
import dataclasses
import enum
import re
import sys
import types
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np
import omegaconf
import torch
import transformers

from torch_fixtures import load_official, perturb, randomise_batch_norms

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            conv_dim=[16, 16, 16], conv_stride=[5, 2, 2], conv_kernel=[10, 3, 3], num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4, hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
            feat_proj_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0)
BASE = dict(feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
LARGE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
# the official model on XLS-R 300M's layout (seven convs, its strides and kernels, 16 heads, pre-LN), tiny widths
TINY_XLSR = dict(TINY, **LARGE, num_attention_heads=16, conv_dim=[8] * 7, conv_stride=[5, 2, 2, 2, 2, 2, 2],
                 conv_kernel=[10, 3, 3, 3, 3, 2, 2])


def module(name):
    """A stand-in module (and its parents) under ``name`` so classes defined here pickle under fairseq's names."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:end]), types.ModuleType(".".join(parts[:end])))
    return sys.modules[name]


def fairseq_class(cls, module_name):
    cls.__module__ = module_name
    setattr(module(module_name), cls.__name__, cls)
    return cls


class LogFormat(enum.Enum):  # an enum-typed setting, pickled as a member of a fairseq enum class
    json = "json"
    tqdm = "tqdm"


fairseq_class(LogFormat, "fairseq.dataclass.constants")


@dataclasses.dataclass
class CommonConfig:
    fp16: bool = False
    log_format: Optional[LogFormat] = LogFormat.json
    seed: int = 1


fairseq_class(CommonConfig, "fairseq.dataclass.configs")


@dataclasses.dataclass
class Wav2Vec2Config:
    _name: Optional[str] = "wav2vec2"
    extractor_mode: str = "default"
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    conv_feature_layers: str = "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"
    conv_bias: bool = False
    conv_pos: int = 128
    conv_pos_groups: int = 16
    dropout: float = 0.1
    mask_prob: float = 0.65
    latent_temp: Tuple[float, float, float] = (2.0, 0.5, 0.999995)
    final_dim: int = 0


fairseq_class(Wav2Vec2Config, "fairseq.models.wav2vec.wav2vec2")


@dataclasses.dataclass
class HubertConfig(Wav2Vec2Config):
    _name: Optional[str] = "hubert"
    label_rate: float = 50.0
    skip_masked: bool = False


fairseq_class(HubertConfig, "fairseq.models.hubert.hubert")


@dataclasses.dataclass
class FairseqConfig:
    common: CommonConfig = dataclasses.field(default_factory=CommonConfig)
    model: Any = None
    task: Any = None


fairseq_class(FairseqConfig, "fairseq.dataclass.configs")

# transformers name -> fairseq name, from fairseq's module tree (ConvFeatureExtractionModel's Sequential blocks,
# TransformerEncoder, TransformerSentenceEncoderLayer)
RENAMES = (
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"feature_projection\.layer_norm\.", "layer_norm."),
    (r"feature_projection\.projection\.", "post_extract_proj."),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0", "encoder.pos_conv.0.weight_g"),
    (r"encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1", "encoder.pos_conv.0.weight_v"),
    (r"encoder\.pos_conv_embed\.conv\.", "encoder.pos_conv.0."),
    (r"encoder\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
    (r"encoder\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
    (r"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
)


def fairseq_state(model, feat_extract_norm, family, generator):
    """The model's parameters under fairseq's names, plus random pretraining-only tensors of that family."""
    norm = r"feature_extractor.conv_layers.\1.2.1." if feat_extract_norm == "layer" else \
        r"feature_extractor.conv_layers.\1.2."
    rules = RENAMES + ((r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.", norm),)
    state = collections.OrderedDict()
    for name, value in model.state_dict().items():
        for pattern, replacement in rules:
            if re.match(pattern, name):
                name = re.sub(pattern, replacement, name, count=1)
                break
        state[name] = value.detach().clone()
    hidden, conv = model.config.hidden_size, model.config.conv_dim[-1]
    random = lambda *shape: torch.randn(*shape, generator=generator)  # noqa: E731
    state["mask_emb"] = random(hidden)
    state["final_proj.weight"], state["final_proj.bias"] = random(8, hidden), random(8)
    if family == "hubert":
        state["label_embs_concat"] = random(5, 8)
    else:
        state["quantizer.vars"] = random(1, 2 * 4, 4)
        state["quantizer.weight_proj.weight"], state["quantizer.weight_proj.bias"] = random(8, conv), random(8)
        state["project_q.weight"], state["project_q.bias"] = random(8, 8), random(8)
    return state


def model_fields(config, family):
    layers = " + ".join(f"[({d}, {k}, {s})]" for d, k, s in zip(config.conv_dim, config.conv_kernel,
                                                                 config.conv_stride))
    return dict(_name=family, encoder_layers=config.num_hidden_layers, encoder_embed_dim=config.hidden_size,
                encoder_ffn_embed_dim=config.intermediate_size, encoder_attention_heads=config.num_attention_heads,
                extractor_mode="layer_norm" if config.feat_extract_norm == "layer" else "default",
                layer_norm_first=config.do_stable_layer_norm, conv_feature_layers=layers, conv_bias=config.conv_bias,
                conv_pos=config.num_conv_pos_embeddings, conv_pos_groups=config.num_conv_pos_embedding_groups)


def checkpoint(model, family, cfg_kind, generator):
    """What fairseq's trainer pickles, with ``cfg`` as a DictConfig / plain dict, or ``args`` alone."""
    fields = model_fields(model.config, family)
    config_class = HubertConfig if family == "hubert" else Wav2Vec2Config
    task = {"_name": "audio_pretraining", "normalize": family != "hubert", "labels": None}
    cfg = omegaconf.OmegaConf.structured(FairseqConfig(model=config_class(**fields), task=task))
    args = None
    if cfg_kind == "dict":
        cfg = omegaconf.OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    elif cfg_kind == "args":
        fields = {("arch" if k == "_name" else k): v for k, v in fields.items()}
        args, cfg = argparse.Namespace(task="audio_pretraining", lr=[5e-4], seed=1, **fields), None
    return {"args": args, "cfg": cfg, "model": fairseq_state(model, model.config.feat_extract_norm, family, generator),
            "criterion": None,
            "optimizer_history": [{"criterion_name": "Wav2vecCriterion", "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {"best": np.float64(3.25)}, "num_updates": 10}],
            "task_state": {}, "extra_state": {"metrics": collections.OrderedDict(), "previous_training_time": 1.5,
                                              "val_loss": np.float32(3.25), "seen": {1, 2}},
            "last_optimizer_state": {"state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros(3)}},
                                     "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.98), "params": [0]}]}}


def save_outputs(path, model, waves):
    with torch.no_grad():
        result = model(waves, output_hidden_states=True)
    outputs = {"input_values": waves, "last_hidden_state": result.last_hidden_state}
    outputs.update({f"hidden_state_{i}": h for i, h in enumerate(result.hidden_states)})
    np.savez_compressed(path, **{k: v.numpy() for k, v in outputs.items()})


LAYOUTS = (("wav2vec2_base_args", "wav2vec2", BASE, ("args",)),
           ("xlsr", "wav2vec2", LARGE, ("cfg", "dict")),
           ("hubert_base_cfg", "hubert", BASE, ("cfg",)))


def fairseq_fixtures(out):
    out.mkdir(parents=True, exist_ok=True)
    waves = torch.from_numpy((0.1 * np.random.default_rng(0).standard_normal((1, 2000))).astype(np.float32))
    for seed, (name, family, layout, kinds) in enumerate(LAYOUTS):
        classes = (transformers.HubertModel, transformers.HubertConfig) if family == "hubert" else (
            transformers.Wav2Vec2Model, transformers.Wav2Vec2Config)
        model = perturb(classes[0](classes[1](**TINY, **layout)), seed + 1)
        for kind in kinds:
            stem = name if len(kinds) == 1 else f"{name}_{kind}"
            torch.save(checkpoint(model, family, kind, torch.Generator().manual_seed(seed)), out / f"{stem}.pt")
        save_outputs(out / f"{name}.npz", model, waves)
        print(name, kinds, sum(p.numel() for p in model.parameters()), "parameters")


def bin_fixtures(ssl):
    """The Hugging Face wav2vec2 / HuBERT fixtures' weights again as pytorch_model.bin."""
    for name, model_class in (("wav2vec2_base", transformers.Wav2Vec2Model), ("hubert_base", transformers.HubertModel)):
        model_class.from_pretrained(ssl / name).save_pretrained(ssl / f"{name}_bin", safe_serialization=False)


class TinyXLSR(torch.nn.Module):
    """Stands in for the official SSLModel (fairseq XLS-R): ``model`` is transformers' Wav2Vec2Model, whose last
    hidden state is fairseq's ``model(x, mask=False, features_only=True)['x']``."""

    def __init__(self, device):
        super().__init__()
        self.model = perturb(transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**TINY_XLSR)), 7)
        self.out_dim = self.model.config.hidden_size

    def extract_feat(self, waveform):
        return self.model(waveform).last_hidden_state


def official_waveforms(seed):
    """Two 4 s windows (the official input length) of noise; the tests regenerate them from the seed (the stored
    first samples check that they do) instead of storing 0.5 MB."""
    return (0.1 * np.random.default_rng(seed).standard_normal((2, 64600))).astype(np.float32)


def official_fixture(src, out, seed=0):
    official = load_official(src, "ssl_aasist_official", TinyXLSR)
    torch.manual_seed(seed)
    model = randomise_batch_norms(official.Model(None, "cpu"))
    with torch.no_grad():  # so the logit depends visibly on the front-end: at the default scale, swapping one
        model.LL.weight.mul_(20.0)  # layer's q and k projections moves it by < 1e-5, at 20x by ~1e-2
    model.eval()
    waves = torch.from_numpy(official_waveforms(seed + 1))
    with torch.no_grad():
        logits = model(waves)
    front = fairseq_state(model.ssl_model.model, "layer", "wav2vec2", torch.Generator().manual_seed(seed))
    state = collections.OrderedDict((k, v) for k, v in model.state_dict().items() if not k.startswith("ssl_model."))
    state.update((f"ssl_model.model.{k}", v) for k, v in front.items())
    out.mkdir(parents=True, exist_ok=True)
    torch.save(state, out / "official_tiny.pth")
    np.savez(out / "official_tiny.npz", seed=seed + 1, head=waves.numpy()[:, :32], logits=logits.numpy())
    print("official SSL-AASIST", sum(p.numel() for p in model.parameters()), "parameters; logits",
          logits.numpy().tolist())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the official SSL_Anti-spoofing model.py")
    args = parser.parse_args()
    print("omegaconf", omegaconf.__version__)
    fairseq_fixtures(FIXTURES / "fairseq")
    bin_fixtures(FIXTURES / "ssl")
    official_fixture(args.src, FIXTURES / "ssl_aasist")


if __name__ == "__main__":
    main()
