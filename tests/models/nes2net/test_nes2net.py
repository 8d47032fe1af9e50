"""Nes2Net-X back-end: equal to the official PyTorch back-end on the committed tiny fixtures (mean and ASTP
pooling), its full size equal to the official parameter count, strict checkpoint loading, XLA and mixed
bfloat16 training steps, whole-model save and load."""
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.nes2net import build_nes2net_x_backend, load_backend_state
from tfdeepfake.models.porting import StateDict, read_torch_checkpoint

FIXTURES = Path(__file__).parents[2] / "fixtures" / "nes2net"
TINY = dict(Nes_ratio=(4, 3), SE_ratio=2, dilation=2)  # scripts/make_nes2net_fixtures.py's TINY


def official(pool_func: str = "mean", frames=None):
    """Our tiny back-end, the official state dict (not yet loaded) and the official outputs."""
    outputs = np.load(FIXTURES / "outputs.npz")
    model = build_nes2net_x_backend(frames, outputs["features"].shape[-1], pool_func=pool_func, **TINY)
    path = FIXTURES / f"backend_{pool_func.lower()}.pth"
    return model, StateDict(read_torch_checkpoint(str(path)), str(path)), outputs


@pytest.mark.parametrize("pool_func", ["mean", "ASTP"])
def test_backend_matches_official_pytorch(pool_func):
    model, state, outputs = official(pool_func)
    assigned = load_backend_state(model, state)
    official_logits = outputs[f"logits_{pool_func.lower()}"]
    expected = official_logits[:, 1] - official_logits[:, 0]  # bona fide minus spoof
    np.testing.assert_allclose(model(outputs["features"], training=False).numpy()[:, 0], expected, atol=1e-4)
    values = sum(v.size for k, v in state.tensors.items() if not k.endswith("num_batches_tracked"))
    fc_inputs = state.tensors["Nested_Res2Net_TDNN.fc.weight"].shape[1]
    assert assigned == values - (fc_inputs + 1) == model.count_params()  # two output rows → one logit


def test_one_output_head_is_copied_as_the_logit():
    """The singing-voice recipe's one-output fc (the bona fide logit) loads as it is: here the speech fixture's
    two rows folded into one (bona fide minus spoof) by hand must give the official difference."""
    model, state, outputs = official()
    weight, bias = state.tensors["Nested_Res2Net_TDNN.fc.weight"], state.tensors["Nested_Res2Net_TDNN.fc.bias"]
    state.tensors["Nested_Res2Net_TDNN.fc.weight"] = weight[1:] - weight[:1]
    state.tensors["Nested_Res2Net_TDNN.fc.bias"] = bias[1:] - bias[:1]
    load_backend_state(model, state)
    expected = outputs["logits_mean"][:, 1] - outputs["logits_mean"][:, 0]
    np.testing.assert_allclose(model(outputs["features"], training=False).numpy()[:, 0], expected, atol=1e-4)


def test_backend_takes_any_frame_count():
    """Frames None: the loaded model scores a shorter clip as a fixed-length build of the same weights does."""
    model, state, outputs = official()
    load_backend_state(model, state)
    fixed = build_nes2net_x_backend(7, outputs["features"].shape[-1], **TINY)
    fixed.set_weights(model.get_weights())
    short = outputs["features"][:, :7]
    np.testing.assert_allclose(model(short, training=False), fixed(short, training=False), atol=1e-6)


def test_full_size_backend_parameter_count():
    """On XLS-R 300M / WavLM-large's 1024 channels with the official defaults the trainable parameters are the
    official back-end's (counted by the fixture script on the official code: 512,039) less one output row
    (two classes → one logit: 1,024 + 1)."""
    model = build_nes2net_x_backend(None, 1024)
    outputs = np.load(FIXTURES / "outputs.npz")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == outputs["full_size_parameters_mean"] - 1025 == 511014


def test_backend_refuses_bad_tensors_naming_them_and_writes_nothing():
    """A mis-shaped kernel, a block the model does not have, a three-class output: each is refused by name before
    any weight is written; the front-end's ``ssl_model.*`` keys are not the back-end's business."""
    model, state, _ = official()
    before = [w.copy() for w in model.get_weights()]
    path = str(FIXTURES / "backend_mean.pth")
    bad = {"Nested_Res2Net_TDNN.Build_in_Res2Nets.2.convs.1.weight": np.zeros((3, 3, 5, 1), np.float32),  # (5 × 1)
           "Nested_Res2Net_TDNN.Build_in_Res2Nets.9.conv1.weight": np.zeros((1,), np.float32),
           "Nested_Res2Net_TDNN.fc.weight": np.zeros((3, 40), np.float32)}
    for key, value in bad.items():
        state = StateDict({**read_torch_checkpoint(path), key: value,
                           "ssl_model.model.encoder.layers.0.fc1.weight": np.zeros((4, 2), np.float32)}, path)
        with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
            load_backend_state(model, state)
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    state = StateDict({**read_torch_checkpoint(path), "ssl_model.model.encoder.layers.0.fc1.weight": np.zeros(2)},
                      path)
    load_backend_state(model, state)
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_save_and_load_keep_the_outputs(tmp_path):
    model, state, outputs = official("ASTP")
    load_backend_state(model, state)
    model.save(tmp_path / "nes2net_x.keras")
    loaded = tf.keras.models.load_model(tmp_path / "nes2net_x.keras")
    np.testing.assert_array_equal(loaded(outputs["features"], training=False),
                                  model(outputs["features"], training=False))


def _train_step_moves_every_weight(pool_func: str):
    """One XLA-compiled step of a small back-end (3 outer groups, so the nesting sum runs; 2 inner scales) on
    random features: a float32 logit, finite loss and weights, every weight moved."""
    tf.keras.utils.set_random_seed(0)
    model = build_nes2net_x_backend(20, 24, Nes_ratio=(3, 2), SE_ratio=2, pool_func=pool_func)
    model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=True)
    features = np.random.default_rng(0).standard_normal((4, 20, 24)).astype("float32")
    labels = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
    before = [w.numpy() for w in model.trainable_weights]
    loss = model.fit(features, labels, batch_size=4, epochs=1, verbose=0).history["loss"][0]
    after = [w.numpy() for w in model.trainable_weights]
    assert model.output.dtype == tf.float32 and np.isfinite(loss)
    assert all(np.isfinite(w).all() for w in after)
    assert sum(not np.array_equal(a, b) for a, b in zip(before, after)) == len(after)
    return model


@pytest.mark.slow
def test_backend_trains_one_step_compiled():
    _train_step_moves_every_weight("mean")


@pytest.mark.slow
def test_backend_trains_one_step_compiled_in_mixed_bfloat16():
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _train_step_moves_every_weight("ASTP")
        assert model.get_layer("Build_in_Res2Nets_0").compute_dtype == "bfloat16"
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def test_recipe_is_the_official_one():
    from tfdeepfake.config import load_config

    config = load_config("configs/nes2net_x.yaml")
    assert (config.data.batch_size, config.data.crop_samples, config.train.epochs) == (12, 64600, 100)
    assert (config.train.learning_rate, config.train.weight_decay, config.train.final_lr_ratio) == (2.5e-7, 1e-4, 1.0)
    assert config.train.seed == 12345
    assert config.augment.rawboost_p == 1.0 and tuple(config.augment.rawboost_chain) == ("lnl", "isd", "ssi")
