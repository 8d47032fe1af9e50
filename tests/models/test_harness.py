"""One harness for every registered model: saved whole (.keras), reloaded in a fresh Python process that imports
only tfdeepfake, same outputs (within 1e-5); no Lambda layer in the saved config; every tfdeepfake layer inside
registered, with a config that rebuilds it.

Each model in ``BUILDERS`` is built in its tiny test config (tests/helpers.py: TINY) for waveform input and for
host-feature input (models that take waveforms only must refuse features), plus the TF Wav2Vec2 backbone of the
ssl classifier and the scoring model of a trained TripletModel. All are saved first; one subprocess then reloads
them all and writes their outputs, so the fresh-process cost is paid once.
"""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, SAMPLES, TINY, toy_batch
from tfdeepfake.features import FeatureConfig, make_frontend
from tfdeepfake.models import BUILDERS, build_model
from tfdeepfake.models.triplet import TripletModel

WAV2VEC2 = {"backbone": "wav2vec2", "checkpoint": str(ROOT / "tests" / "fixtures" / "ssl" / "wav2vec2_seqcls"),
            "dropout": 0.0}
CASES = [(name, host) for name in sorted(BUILDERS) for host in (False, True)] + [("ssl-wav2vec2", False),
                                                                                  ("triplet-lcnn", False)]
FRONT_END = ("lcnn", "resnet", "efficientnet", "conformer", "contextnet", "composed", "triplet-lcnn")  # the rest read waves
TOLERANCE = 1e-5

RELOAD = textwrap.dedent("""
    import json
    import sys
    import numpy as np
    import tfdeepfake.models  # registers every tfdeepfake layer; nothing else is imported
    import tensorflow as tf

    folder = sys.argv[1]
    inputs = np.load(f"{folder}/inputs.npz")
    outputs, errors = {}, {}
    for case in inputs.files:
        try:
            model = tf.keras.models.load_model(f"{folder}/{case}.keras")
            outputs[case] = model(inputs[case], training=False).numpy()
        except Exception as error:  # reported by that case's test
            errors[case] = f"{type(error).__name__}: {error}"
    np.savez(f"{folder}/reloaded.npz", **outputs)
    with open(f"{folder}/errors.json", "w") as handle:
        json.dump(errors, handle)
""")


def case_id(case):
    name, host = case
    return f"{name}-{'features' if host else 'waveform'}"


def feature_config(name):
    return FeatureConfig.lfcc_baseline() if name == "lcnn" else FeatureConfig(kind="logmel", n_mels=32)


def build(name, host):
    """(model to save, its inputs, the tfdeepfake layers to check) of one case; ValueError when the model refuses
    host features."""
    tf.keras.utils.set_random_seed(0)
    if name == "ssl-wav2vec2":
        model = build_model("ssl", FeatureConfig(), 8000, **WAV2VEC2)
        return model, toy_batch(8000, batch=2)[0], own_layers(model)
    if name == "triplet-lcnn":
        triplet = trained_triplet()
        return triplet.base, toy_batch(8000, batch=2)[0], own_layers(triplet.base) + [triplet.head]
    samples = SAMPLES.get(name, 8000)
    model = build_model(name, feature_config(name), samples, host, **TINY[name])
    waves = toy_batch(samples, batch=2)[0]
    return model, make_frontend(feature_config(name))(waves).numpy() if host else waves, own_layers(model)


def trained_triplet():
    """An LCNN trained one epoch inside a TripletModel on [clean, augmented] pairs."""
    base = build_model("lcnn", feature_config("lcnn"), 8000, **TINY["lcnn"])
    model = TripletModel(base, dim=8)
    model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    waves, labels = toy_batch(8000, batch=8)
    noisy = waves + 0.01 * np.random.default_rng(1).standard_normal(waves.shape).astype(np.float32)
    model.fit(np.stack([waves, noisy], axis=1), labels, batch_size=8, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case built, run and saved; then one fresh process reloads them all. Per case: its tfdeepfake layers,
    its output, the saved config, the reloaded output; or the refusal of host features."""
    folder = tmp_path_factory.mktemp("saved")
    results, inputs = {}, {}
    for case in CASES:
        key = case_id(case)
        try:
            model, batch, layers = build(*case)
        except ValueError as error:
            results[key] = {"refused": str(error)}
            continue
        model.save(folder / f"{key}.keras")
        with zipfile.ZipFile(folder / f"{key}.keras") as archive:
            config = json.loads(archive.read("config.json"))
        inputs[key] = batch
        results[key] = {"layers": layers, "output": model(batch, training=False).numpy(), "config": config}
    np.savez(folder / "inputs.npz", **inputs)
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}  # tfdeepfake sets it
    done = subprocess.run([sys.executable, "-c", RELOAD, str(folder)], cwd=folder, capture_output=True, text=True,
                          timeout=600, env=dict(env, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr[-4000:]
    with np.load(folder / "reloaded.npz") as reloaded:
        for key in reloaded.files:
            results[key]["reloaded"] = reloaded[key]
    for key, error in json.loads((folder / "errors.json").read_text()).items():
        results[key]["reload_error"] = error
    return results


def class_names(config):
    """Every ``class_name`` in a saved Keras config, nested models and layer arguments included."""
    if isinstance(config, dict):
        return [config.get("class_name")] + [n for value in config.values() for n in class_names(value)]
    if isinstance(config, list):
        return [n for value in config for n in class_names(value)]
    return []


def own_layers(model):
    """The layers defined by tfdeepfake anywhere inside ``model`` (sub-layers of custom layers included)."""
    found = {id(layer): layer for layer in model.submodules
             if isinstance(layer, tf.keras.layers.Layer) and type(layer).__module__.startswith("tfdeepfake")}
    return list(found.values())


def settings(layer):
    """A layer's plain attributes (numbers, strings, config dataclasses): what its constructor arguments set."""
    return {key: value for key, value in vars(layer).items() if not key.startswith("_")
            and key not in ("built", "stop_training")
            and (isinstance(value, (bool, int, float, str)) or dataclasses.is_dataclass(value))}


def normalised(config):
    """``config`` as JSON would store it, None entries dropped (absent and None mean the same to a constructor;
    transformers writes ``attn_implementation: None`` only into configs it loaded from a checkpoint)."""
    if isinstance(config, dict):
        return {key: normalised(value) for key, value in config.items() if value is not None}
    if isinstance(config, (list, tuple)):
        return [normalised(value) for value in config]
    return config


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_model_saves_and_reloads_whole_in_a_fresh_process(saved, case):
    name, host = case
    result = saved[case_id(case)]
    if "refused" in result:
        assert host and "waveforms" in result["refused"], result["refused"]
        return
    error = result.get("reload_error")
    assert error is None, error
    assert result["reloaded"].shape == result["output"].shape == (2, 1)
    np.testing.assert_allclose(result["reloaded"], result["output"], atol=TOLERANCE, rtol=0)
    names = class_names(result["config"])
    assert "Lambda" not in names and "__lambda__" not in names
    assert ("FrontEnd" in names) == (not host and name in FRONT_END), "features are computed in the model"
    for layer in result["layers"]:
        cls = type(layer)
        registered = tf.keras.utils.get_registered_name(cls)
        assert registered.startswith("tfdeepfake") and tf.keras.utils.get_registered_object(registered) is cls, cls
        rebuilt = cls.from_config(layer.get_config())
        assert normalised(rebuilt.get_config()) == normalised(layer.get_config()), cls
        assert settings(rebuilt) == settings(layer), cls
