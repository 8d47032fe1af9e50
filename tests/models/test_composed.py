"""Front-end × back-end composition: every pair builds and trains end to end, SSL-AASIST is exactly the
``ssl × aasist`` composition, attentive statistics pooling computes what it says, and YAML mistakes are named."""
import numpy as np
import pytest
import tensorflow as tf

from helpers import TINY, toy_batch
from tfdeepfake.config import ConfigError, load_config
from tfdeepfake.features import FeatureConfig
from tfdeepfake.models import build_model
from tfdeepfake.models.backends import BACKENDS
from tfdeepfake.models.common import AttentiveStatsPool
from tfdeepfake.models.frontends import FRONTENDS

TINY_SSL = TINY["ssl_aasist"]["config"]
TINY_AASIST = {"projection": 8, "filts": [[1, 4], [4, 4], [4, 8], [8, 8]], "gat_dims": [8, 4], "dropout": 0.0}
FRONTS = {"ssl": {"config": TINY_SSL}, "sinc": {"filters": 24, "kernel_size": 16}, "features": {}}
BACKS = {"aasist": TINY_AASIST, "asp_mlp": {"attention_dim": 8, "hidden": [8], "dropout": 0.0},
         "nes2net_x": {"Nes_ratio": [4, 2]}, "mean_pool": {"dropout": 0.0}}
PAIRS = [(f, b) for f in FRONTS for b in BACKS if (f, b) != ("sinc", "aasist")]  # 2,666 sinc frames: too slow here
FEATURES = FeatureConfig(kind="lfcc", n_mels=20, n_coeffs=20)


def composed(front, back, samples=4000, **front_params):
    tf.keras.utils.set_random_seed(0)
    return build_model("composed", FEATURES, samples, frontend={"name": front, **FRONTS[front], **front_params},
                       backend={"name": back, **BACKS[back]})


def test_registries_cover_the_pairs():
    assert set(FRONTS) == set(FRONTENDS) and set(BACKS) == set(BACKENDS)


@pytest.mark.parametrize("front,back", PAIRS)
def test_every_pair_gives_a_logit_and_trains_both_halves(front, back):
    model = composed(front, back)
    waves, labels = toy_batch(4000, batch=2)
    with tf.GradientTape() as tape:
        logits = model(waves, training=True)
        loss = tf.keras.losses.binary_crossentropy(labels[:, None], logits, from_logits=True)
    assert logits.shape == (2, 1) and np.isfinite(logits.numpy()).all()
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)
    layers = {w.name.split("/")[0] for w in model.trainable_weights}
    touched = {w.name.split("/")[0] for w, g in zip(model.trainable_weights, grads) if np.abs(g).max() > 0}
    assert touched == layers  # the loss reaches every trainable layer of both halves


def test_a_frozen_ssl_frontend_trains_only_the_backend():
    model = composed("ssl", "mean_pool", trainable_layers=0, layer=None)
    frontend = model.get_layer("ssl_frontend")
    assert [w.name for w in frontend.trainable_weights] == [frontend.layer_logits.name]  # only the layer weights
    assert len(frontend.non_trainable_weights) > 10


def test_ssl_aasist_is_the_ssl_by_aasist_composition():
    recipe = build_model("ssl_aasist", None, 4000, config=TINY_SSL, dropout=0.0,
                         **{k: v for k, v in TINY_AASIST.items() if k != "dropout"})
    model = composed("ssl", "aasist")
    assert [w.shape for w in model.weights] == [w.shape for w in recipe.weights]
    model.set_weights(recipe.get_weights())
    waves = toy_batch(4000, batch=2)[0]
    np.testing.assert_allclose(model(waves, training=False), recipe(waves, training=False), atol=1e-6)


def test_attentive_statistics_pooling_is_the_weighted_mean_and_deviation():
    frames = np.random.default_rng(1).standard_normal((2, 7, 3)).astype("float32")
    layer = AttentiveStatsPool(4)
    pooled = layer(frames).numpy()
    hidden = np.tanh(frames @ layer.linear1.kernel.numpy() + layer.linear1.bias.numpy())
    scores = hidden @ layer.linear2.kernel.numpy() + layer.linear2.bias.numpy()  # one weight per frame and channel
    weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    mean = (weights * frames).sum(axis=1)
    deviation = np.sqrt((weights * (frames - mean[:, None]) ** 2).sum(axis=1))
    np.testing.assert_allclose(pooled, np.concatenate([mean, deviation], axis=1), atol=1e-5)


def test_yaml_composes_and_overrides_reach_each_half(tmp_path):
    recipe = tmp_path / "composed.yaml"
    recipe.write_text("model:\n  name: composed\n  frontend: {name: features}\n  backend: {name: mean_pool}\n")
    config = load_config(str(recipe), ["model.backend.name=asp_mlp", "model.backend.hidden=[4]"])
    assert config.model.label == "features_asp_mlp"
    model = build_model(config.model.name, FEATURES, 4000, **config.model.builder_params())
    assert model.get_layer("mlp_0").units == 4


@pytest.mark.parametrize("model,message", [
    ({"name": "composed", "frontend": {"name": "ssl"}}, "needs both model.frontend and model.backend"),
    ({"name": "lcnn", "backend": {"name": "mean_pool"}}, "set model.name: composed"),
])
def test_config_refuses_half_a_composition(tmp_path, model, message):
    import yaml

    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump({"model": model}))
    with pytest.raises(ConfigError, match=message):
        load_config(str(recipe))


@pytest.mark.parametrize("frontend,backend,message", [
    ({"name": "mfcc"}, {"name": "mean_pool"}, r"model.frontend.name 'mfcc' is not registered"),
    ({"name": "features", "layer": 3}, {"name": "mean_pool"}, r"model.frontend.layer is not a parameter"),
    ({"name": "features"}, {"name": "mean_pool", "width": 2}, r"model.backend.width is not a parameter"),
    ({"name": "ssl"}, {"name": "mean_pool"}, "exactly one of checkpoint"),
    ({"name": "features"}, "mean_pool", "must be a mapping with a name"),
])
def test_composition_mistakes_are_named(frontend, backend, message):
    with pytest.raises(ValueError, match=message):
        build_model("composed", FEATURES, 4000, frontend=frontend, backend=backend)


def test_only_the_features_frontend_takes_host_features():
    model = build_model("composed", FEATURES, 4000, features_input=True, frontend={"name": "features"},
                        backend={"name": "mean_pool"})
    assert model.input_shape == (None, FEATURES.num_frames(4000), FEATURES.num_bins())
    with pytest.raises(ValueError, match="reads raw waveforms"):
        build_model("composed", FEATURES, 4000, features_input=True, frontend={"name": "sinc"},
                    backend={"name": "mean_pool"})


@pytest.mark.slow
@pytest.mark.parametrize("front,back", [("ssl", "asp_mlp"), ("features", "mean_pool")])  # ssl × aasist: ssl_aasist tests
def test_pairs_train_a_compiled_step_in_mixed_bfloat16(front, back):
    """The TPU proxy: one XLA-compiled step under the mixed bfloat16 policy, the logit still float32."""
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = composed(front, back)
        model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True),
                      jit_compile=True)
        waves, labels = toy_batch(4000, batch=2)
        loss = model.fit(waves, labels[:, None], epochs=1, verbose=0).history["loss"][0]
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(loss) and model.output.dtype == tf.float32


def test_the_nes2net_x_recipe_composes_the_official_backend_on_xls_r():
    """The shipped recipe with its XLS-R checkpoint swapped for a tiny random front-end (wide enough for the
    official 8 × 8 nesting) builds and scores; the rest is the official recipe."""
    tiny = dict(TINY_SSL, hidden_size=64)
    config = load_config("nes2net_x", ["model.frontend.checkpoint=null", f"model.frontend.config={tiny}"])
    assert config.model.backend == {"name": "nes2net_x", "Nes_ratio": [8, 8], "SE_ratio": 1, "dilation": 2,
                                    "pool_func": "mean"}
    assert (config.data.batch_size, config.train.learning_rate, config.train.seed) == (12, 2.5e-7, 12345)
    model = build_model(config.model.name, FEATURES, 4000, **config.model.builder_params())
    assert model.name == "ssl_nes2net_x" and model(toy_batch(4000, batch=2)[0]).shape == (2, 1)
