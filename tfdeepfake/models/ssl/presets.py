"""Architecture presets of the published WavLM / wav2vec 2.0 / HuBERT checkpoints (hyper-parameters only, no
weights): the config.json fields that differ from the defaults, as typed :class:`WavLMConfig` values."""
from __future__ import annotations

from .wavlm import WavLMConfig

_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
             feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
              feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
_ONE_B = dict(_LARGE, hidden_size=1280, num_hidden_layers=48, intermediate_size=5120)
_TWO_B = dict(_LARGE, hidden_size=1920, num_hidden_layers=48, intermediate_size=7680)

SSL_PRESETS: dict[str, WavLMConfig] = {name: WavLMConfig.from_dict({"model_type": family, **fields}) for name, family,
                                       fields in (
    ("wav2vec2-base", "wav2vec2", _BASE),
    ("wav2vec2-large", "wav2vec2", dict(_LARGE, feat_extract_norm="group", do_stable_layer_norm=False,
                                        conv_bias=False)),
    ("wav2vec2-large-lv60", "wav2vec2", _LARGE),
    ("xls-r-300m", "wav2vec2", _LARGE),
    ("xls-r-1b", "wav2vec2", _ONE_B),
    ("xls-r-2b", "wav2vec2", _TWO_B),
    ("mms-300m", "wav2vec2", _LARGE),
    ("mms-1b", "wav2vec2", _ONE_B),
    ("hubert-base", "hubert", _BASE),
    ("hubert-large", "hubert", _LARGE),
    ("wavlm-base", "wavlm", _BASE),
    ("wavlm-large", "wavlm", _LARGE),
)}


def ssl_preset(name: str) -> WavLMConfig:
    """The architecture of a published backbone by name (see ``SSL_PRESETS``)."""
    if name not in SSL_PRESETS:
        raise ValueError(f"unknown SSL preset {name!r}; known: {', '.join(SSL_PRESETS)}")
    return SSL_PRESETS[name]
