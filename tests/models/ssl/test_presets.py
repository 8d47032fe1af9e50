"""Architecture presets of the published backbones: typed, complete, and what the front-end builds from."""
import pytest

from tfdeepfake.models.ssl.presets import SSL_PRESETS, ssl_preset
from tfdeepfake.models.ssl.wavlm import WavLMConfig


def test_every_preset_round_trips_through_config_json_fields():
    for name, config in SSL_PRESETS.items():
        assert WavLMConfig.from_dict(config.to_dict()) == config, name
        assert config.hidden_size % config.num_attention_heads == 0, name


def test_families_and_arrangements():
    assert ssl_preset("xls-r-300m") == ssl_preset("mms-300m") == ssl_preset("wav2vec2-large-lv60")
    assert ssl_preset("xls-r-1b") == ssl_preset("mms-1b")
    assert ssl_preset("xls-r-1b").hidden_size == 1280 and ssl_preset("xls-r-1b").num_hidden_layers == 48
    assert not ssl_preset("wav2vec2-large").do_stable_layer_norm  # LS-960 large: group norm, post-LN
    assert ssl_preset("hubert-large").do_stable_layer_norm and ssl_preset("hubert-large").model_type == "hubert"
    assert [n for n, c in SSL_PRESETS.items() if c.relative_position_bias] == ["wavlm-base", "wavlm-large"]


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="xls-r-300m"):
        ssl_preset("xlsr")
