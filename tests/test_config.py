"""Typed configs: every recipe in configs/ loads, overrides convert types, bad keys are named."""
from pathlib import Path

import pytest

from tfdeepfake.config import CONFIG_DIR, ConfigError, ExperimentConfig, load_config, to_dict, from_dict


@pytest.mark.parametrize("path", sorted(Path(CONFIG_DIR).glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_loads(path):
    config = load_config(str(path))
    assert isinstance(config, ExperimentConfig)
    assert from_dict(ExperimentConfig, to_dict(config)) == config  # round trip


def test_overrides_are_typed():
    config = load_config(None, ["train.epochs=3", "train.learning_rate=1e-4", "data.train_folds=[0, 1]",
                                "model.params.width=0.25", "features.fmax=null", "augment.noise_snr_db=[1, 2]"])
    assert config.train.epochs == 3 and config.train.learning_rate == 1e-4
    assert config.data.train_folds == (0, 1)
    assert config.model.params["width"] == 0.25
    assert config.augment.noise_snr_db == (1.0, 2.0)


@pytest.mark.parametrize("override,message", [
    ("train.epoch=3", "train.epoch"),
    ("trian.epochs=3", "trian"),
    ("train.epochs=three", "train.epochs"),
    ("train.epochs=true", "train.epochs"),
    ("data.train_splits=train", "data.train_splits"),
    ("features.kind=wavelet", "kind"),
    ("epochs", "section.key=value"),
])
def test_bad_keys_and_types_are_named(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(None, [override])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml.*aasist"):
        load_config(str(tmp_path / "nope.yaml"))


def test_shipped_recipes_load_by_name():
    assert load_config("aasist") == load_config(str(CONFIG_DIR / "aasist.yaml"))
    assert load_config("aasist").model.params["preset"] == "aasist"
