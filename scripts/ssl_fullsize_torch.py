"""PyTorch halves of the full-size SSL reports (run in /opt/torchenv; tfdeepfake never imports torch).

Backbones (scripts/ssl_fullsize_report.py): transformers' parameter counts for every preset (meta device, nothing
allocated) and, for the presets asked, a random-weight checkpoint plus its hidden states on one 4 s waveform and
the forward time.

    /opt/torchenv/bin/python scripts/ssl_fullsize_torch.py PRESETS.json OUT_DIR NAME [NAME ...]

SSL-AASIST (benchmarks/ssl_aasist_report.py): the official ``Model`` of TakHemlata/SSL_Anti-spoofing, its
model.py imported from --src (kept outside this repository), with transformers' Wav2Vec2Model in place of fairseq's
XLS-R (fairseq does not install on Python 3.11; only its import and ``SSLModel``, which loads a fairseq checkpoint,
are replaced). fairseq's ``model(x, mask=False, features_only=True)['x']`` is the encoder output after the final
LayerNorm of a layer-norm-first (XLS-R) model, which is transformers' ``last_hidden_state`` of the stable-layer-norm
Wav2Vec2Model.

    ssl_fullsize_torch.py ssl-aasist prepare --src model.py --fields FIELDS.json --out DIR --seed 0 [--threads 2]
        writes DIR/xlsr (config.json + model.safetensors), DIR/backend.pth (the back-end state dict),
        DIR/torch_outputs.npz (waveform, last hidden state, two-class logits); prints one JSON line (parameter
        counts, FLOPs), then times one batch-1 forward per 'forward' line read on stdin (one JSON line each).
    ssl_fullsize_torch.py ssl-aasist train-memory --src model.py --fields FIELDS.json --seed 0
        one Adam step (the official optimiser, loss and lr) on 2 x 64,600 samples, the whole model trainable;
        prints peak resident memory (VmHWM) after the imports and after the step.
"""
import argparse
import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import transformers

CLASSES = {"wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
           "hubert": (transformers.HubertConfig, transformers.HubertModel),
           "wavlm": (transformers.WavLMConfig, transformers.WavLMModel)}
FOLDED_GAIN = ("pos_conv_embed.conv.parametrizations.weight.original0", "pos_conv_embed.conv.weight_g")
SAMPLES = 64600  # SSL_Anti-spoofing's 4 s cut
# SSL_Anti-spoofing runs XLS-R with mask=False; our port has no dropout or layer drop in the backbone, so the
# reference drops them too and both sides compute the same training step (the back-end keeps its dropouts)
NO_MASK_NO_DROPOUT = dict(mask_time_prob=0.0, mask_feature_prob=0.0, hidden_dropout=0.0, attention_dropout=0.0,
                          activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0)


def build(fields):
    config_class, model_class = CLASSES[fields["model_type"]]
    return model_class(config_class(**{k: v for k, v in fields.items() if k != "model_type"}))


def main(presets_path, out, forward):
    presets, out, results = json.loads(Path(presets_path).read_text()), Path(out), {}
    for name, fields in presets.items():
        with torch.device("meta"):
            model = build(fields)
        # masked_spec_embed is the pre-training mask vector, unused at inference (our port has none); the
        # positional conv's weight-norm gain is folded into our kernel on loading, so it is no parameter of ours
        results[name] = {"parameters": sum(p.numel() for n, p in model.named_parameters()
                                           if n != "masked_spec_embed" and not n.endswith(FOLDED_GAIN))}
    waveform = np.random.default_rng(0).standard_normal((1, 64000)).astype(np.float32) * 0.1
    for name in forward:
        torch.manual_seed(0)
        model = build(presets[name]).eval()
        model.save_pretrained(out / name, safe_serialization=True)
        with torch.no_grad():
            model(torch.from_numpy(waveform), output_hidden_states=True)  # warm-up
            start = time.perf_counter()
            states = model(torch.from_numpy(waveform), output_hidden_states=True).hidden_states
            results[name]["torch_seconds"] = time.perf_counter() - start
        np.savez(out / name / "hidden_states.npz", waveform=waveform, *[s.numpy() for s in states])
    (out / "torch.json").write_text(json.dumps(results, indent=1))


# ------------------------------------------------------------------------------------------------ SSL-AASIST


def official_ssl_aasist(src, fields):
    """The official SSL-AASIST ``Model`` on transformers' Wav2Vec2Model of ``fields`` (config.json fields)."""
    sys.modules.setdefault("fairseq", types.ModuleType("fairseq"))  # imported at the top, used only by SSLModel
    spec = importlib.util.spec_from_file_location("ssl_aasist_official", src)
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)

    class TransformersXLSR(torch.nn.Module):
        """SSLModel's interface: ``extract_feat`` = fairseq's features_only 'x' = transformers' last_hidden_state."""

        def __init__(self, device):
            super().__init__()
            self.model = build({**fields, **NO_MASK_NO_DROPOUT})
            self.out_dim = fields["hidden_size"]

        def extract_feat(self, waveform):
            return self.model(waveform).last_hidden_state

    official.SSLModel = TransformersXLSR
    return official.Model(None, "cpu")


def randomise_batch_norms(model, generator):
    """Random running statistics and affine terms, so eval-mode BatchNorm is exercised by the parity check."""
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            with torch.no_grad():
                module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) * 1.5 + 0.5)
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.4 - 0.2)


def waveform(seed, batch=1):
    """The seeded input: 0.1 x N(0, 1), (batch, 64,600) float32 (the TF side reads it from torch_outputs.npz)."""
    return (0.1 * np.random.default_rng(seed).standard_normal((batch, SAMPLES))).astype(np.float32)


def parameter_counts(model):
    """Parameter (and BatchNorm buffer) counts, split as the TF side needs them to account for every difference."""
    named = dict(model.named_parameters())
    count = lambda keep: int(sum(p.numel() for n, p in named.items() if keep(n)))  # noqa: E731
    buffers = {n: b for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")}
    return {"total": count(lambda n: True),
            "ssl": count(lambda n: n.startswith("ssl_model.")),
            "backend": count(lambda n: not n.startswith("ssl_model.")),
            "masked_spec_embed": count(lambda n: n.endswith("masked_spec_embed")),
            "weight_norm_gain": count(lambda n: n.endswith(FOLDED_GAIN)),
            "bn1": count(lambda n: ".bn1." in n),
            "out_layer": count(lambda n: n.startswith("out_layer.")),
            "batch_norm_buffers": int(sum(b.numel() for n, b in buffers.items() if ".bn1." not in n)),
            "bn1_buffers": int(sum(b.numel() for n, b in buffers.items() if ".bn1." in n))}


def forward_flops(model, x):
    """FLOPs of one forward by torch.utils.flop_counter (matmuls, convolutions, attention; 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def prepare(args, fields):
    torch.manual_seed(args.seed)
    model = official_ssl_aasist(args.src, fields).eval()
    randomise_batch_norms(model, torch.Generator().manual_seed(args.seed + 1))
    out = Path(args.out)
    model.ssl_model.model.save_pretrained(out / "xlsr", safe_serialization=True)
    torch.save({k: v for k, v in model.state_dict().items() if not k.startswith("ssl_model.")}, out / "backend.pth")
    x = torch.from_numpy(waveform(args.seed))
    with torch.no_grad():
        hidden, logits = model.ssl_model.extract_feat(x), model(x)
    np.savez(out / "torch_outputs.npz", waveform=x.numpy(), last_hidden_state=hidden.numpy(), logits=logits.numpy())
    print(json.dumps({"parameters": parameter_counts(model), "flops": forward_flops(model, x),
                      "torch": torch.__version__, "transformers": transformers.__version__,
                      "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
                      "attention": model.ssl_model.model.config._attn_implementation}), flush=True)
    for line in sys.stdin:  # the report interleaves these with its own forwards
        if line.strip() != "forward":
            break
        with torch.no_grad():
            start = time.perf_counter()
            model(x)
            print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


def vm_hwm_mb():
    """This process's peak resident memory so far (VmHWM), in MB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


def train_memory(args, fields):
    baseline = vm_hwm_mb()
    torch.manual_seed(args.seed)
    model = official_ssl_aasist(args.src, fields).train()
    # main_SSL_LA.py: Adam(lr, weight_decay), cross-entropy weighted 0.1 spoof / 0.9 bona fide
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-6, weight_decay=1e-4)
    built = vm_hwm_mb()
    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.1, 0.9]))(
        model(torch.from_numpy(waveform(args.seed, batch=2))), torch.tensor([1, 0]))
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    print(json.dumps({"framework": "torch", "baseline_mb": baseline, "built_mb": built, "peak_mb": vm_hwm_mb(),
                      "loss": float(loss.detach()), "threads": torch.get_num_threads()}), flush=True)


def ssl_aasist(argv):
    parser = argparse.ArgumentParser(prog="ssl_fullsize_torch.py ssl-aasist")
    parser.add_argument("mode", choices=("prepare", "train-memory"))
    parser.add_argument("--src", required=True, help="the official SSL_Anti-spoofing model.py")
    parser.add_argument("--fields", required=True, help="JSON of the backbone's config.json fields")
    parser.add_argument("--out", help="output folder (prepare)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    fields = json.loads(Path(args.fields).read_text())
    (prepare if args.mode == "prepare" else train_memory)(args, fields)


if __name__ == "__main__":
    if sys.argv[1:2] == ["ssl-aasist"]:
        ssl_aasist(sys.argv[2:])
    else:
        main(sys.argv[1], sys.argv[2], sys.argv[3:])
