"""Write the WavLM / Wav2Vec2 parity fixtures: tiny random PyTorch models and their outputs on fixed inputs.

    python3 -m venv --system-site-packages /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0
    /tmp/torchenv/bin/python scripts/make_ssl_fixtures.py

torch is needed here only; the tests load the safetensors into our TensorFlow models without it.
Outputs: tests/fixtures/ssl/NAME/{config.json, model.safetensors, outputs.npz}; wavlm_base_bin/ holds
wavlm_base's weights as pytorch_model.bin; wav2vec2_base (group norm, post-LN), wav2vec2_large (layer norm,
stable pre-LN) and hubert_base are bare backbones with every hidden state, for our shared tf-keras port.
"""
from pathlib import Path

import numpy as np
import torch
import transformers

from torch_fixtures import perturb

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ssl"
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=[16, 16, 16],
            conv_stride=[5, 2, 2], conv_kernel=[10, 3, 3], num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4, hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
            feat_proj_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0)
WAVLM = dict(num_buckets=32, max_bucket_distance=64)


def inputs():
    rng = np.random.default_rng(0)
    waves = (0.1 * rng.standard_normal((2, 4000))).astype(np.float32)
    mask = np.ones((2, 4000), np.int64)
    waves[1, 3000:], mask[1, 3000:] = 0.0, 0
    return waves, mask


def save(name, model, outputs):
    folder = OUT / name
    model.save_pretrained(folder, safe_serialization=True)
    np.savez_compressed(folder / "outputs.npz", **{k: v.detach().numpy() for k, v in outputs.items()})
    print(name, sorted(outputs), sum(p.numel() for p in model.parameters()), "parameters")


BASE = dict(feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
LARGE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
BACKBONES = (("wavlm_base", transformers.WavLMModel, transformers.WavLMConfig, dict(**WAVLM, **BASE)),
             ("wavlm_large", transformers.WavLMModel, transformers.WavLMConfig, dict(**WAVLM, **LARGE)),
             ("wav2vec2_base", transformers.Wav2Vec2Model, transformers.Wav2Vec2Config, BASE),
             ("wav2vec2_large", transformers.Wav2Vec2Model, transformers.Wav2Vec2Config, LARGE),
             ("hubert_base", transformers.HubertModel, transformers.HubertConfig, BASE))


def main():
    torch.manual_seed(0)
    waves, mask = inputs()
    x, m = torch.from_numpy(waves), torch.from_numpy(mask)
    for name, model_class, config_class, extra in BACKBONES:
        model = perturb(model_class(config_class(**TINY, **extra)), 1)
        with torch.no_grad():
            plain = model(x, output_hidden_states=True)
            masked = model(x, attention_mask=m, output_hidden_states=True)
        outputs = {"input_values": x, "attention_mask": m, "last_hidden_state": plain.last_hidden_state,
                   "masked_last_hidden_state": masked.last_hidden_state}
        outputs.update({f"hidden_state_{i}": h for i, h in enumerate(plain.hidden_states)})
        save(name, model, outputs)
        if name == "wavlm_base":  # the same weights as pytorch_model.bin (read by the restricted unpickler)
            model.save_pretrained(OUT / "wavlm_base_bin", safe_serialization=False)
    config = transformers.WavLMConfig(**TINY, **WAVLM, tdnn_dim=[16, 16, 24], tdnn_kernel=[5, 3, 1],
                                      tdnn_dilation=[1, 2, 1], xvector_output_dim=12, num_labels=3,
                                      use_weighted_layer_sum=True)
    model = perturb(transformers.WavLMForXVector(config), 2)
    with torch.no_grad():
        result = model(x)
    save("wavlm_xvector", model, {"input_values": x, "embeddings": result.embeddings, "logits": result.logits})
    config = transformers.Wav2Vec2Config(**TINY, num_labels=2, classifier_proj_size=8)
    model = perturb(transformers.Wav2Vec2ForSequenceClassification(config), 3)
    with torch.no_grad():
        result = model(x, output_hidden_states=True)
    save("wav2vec2_seqcls", model, {"input_values": x, "logits": result.logits,
                                    "last_hidden_state": result.hidden_states[-1]})


if __name__ == "__main__":
    main()
