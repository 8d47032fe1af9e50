"""PyTorch half of scripts/ssl_fullsize_report.py (run in /opt/torchenv): transformers' parameter counts for every
preset (meta device, nothing allocated) and, for the presets asked, a random-weight checkpoint plus its hidden
states on one 4 s waveform and the forward time.

    /opt/torchenv/bin/python scripts/ssl_fullsize_torch.py PRESETS.json OUT_DIR NAME [NAME ...]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers

CLASSES = {"wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
           "hubert": (transformers.HubertConfig, transformers.HubertModel),
           "wavlm": (transformers.WavLMConfig, transformers.WavLMModel)}
FOLDED_GAIN = ("pos_conv_embed.conv.parametrizations.weight.original0", "pos_conv_embed.conv.weight_g")


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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
