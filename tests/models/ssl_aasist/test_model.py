"""SSL-AASIST: the back-end equals the official PyTorch back-end on the committed fixture; the whole model (tiny
random Wav2Vec2 front-end) trains a step."""
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.porting import StateDict, read_torch_checkpoint
from tfdeepfake.models.registry import build_model
from tfdeepfake.models.ssl_aasist import build_ssl_aasist_backend, load_backend_state

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ssl_aasist"
TINY_WAV2VEC2 = dict(hidden_size=24, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=8,
                     num_conv_pos_embedding_groups=2, mask_time_prob=0.0)  # fairseq runs XLS-R unmasked


def official_backend():
    outputs = np.load(FIXTURES / "outputs.npz")
    model = build_ssl_aasist_backend(*outputs["features"].shape[1:])
    state = StateDict(read_torch_checkpoint(str(FIXTURES / "backend.pth")), str(FIXTURES / "backend.pth"))
    return model, state, outputs


def test_backend_matches_official_pytorch():
    model, state, outputs = official_backend()
    assigned = load_backend_state(model, state)
    expected = outputs["logits"][:, 1] - outputs["logits"][:, 0]  # bona fide minus spoof
    logits = model(outputs["features"], training=False).numpy()[:, 0]
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    values = {k: v.size for k, v in state.tensors.items() if not k.endswith("num_batches_tracked")}
    never_read = sum(size for k, size in values.items() if ".bn1." in k)  # the official forward skips bn1
    assert assigned == sum(values.values()) - never_read - 161  # two output rows (2 × 160 + 2) → one logit
    assert model.count_params() == assigned


def test_backend_refuses_a_foreign_tensor():
    model, state, _ = official_backend()
    state.tensors["encoder.9.0.conv1.weight"] = np.zeros((1,), np.float32)
    with pytest.raises(CheckpointError, match="do not belong"):
        load_backend_state(model, state)


def test_full_size_backend_parameter_count():
    """On XLS-R 300M's 1024 channels the trainable parameters are the official back-end's (counted by the fixture
    script on the official code) less bn1's (never read) and one output row (two classes → one logit)."""
    model = build_ssl_aasist_backend(201, 1024)
    outputs = np.load(FIXTURES / "outputs.npz")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == outputs["full_size_parameters"] - outputs["full_size_bn1_parameters"] - 161


@pytest.mark.slow
def test_whole_model_trains_one_step_compiled():
    tf.keras.utils.set_random_seed(0)
    model = build_model("ssl_aasist", None, 4000, config=TINY_WAV2VEC2)
    model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=True)
    waves = np.random.default_rng(0).standard_normal((2, 4000)).astype("float32")
    history = model.fit(waves, np.array([[1.0], [0.0]], "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_recipe_is_the_official_one():
    from tfdeepfake.config import load_config

    config = load_config("configs/ssl_aasist.yaml")
    assert config.model.name == "ssl_aasist"
    assert (config.data.batch_size, config.data.crop_samples, config.train.epochs) == (14, 64600, 100)
    assert (config.train.learning_rate, config.train.weight_decay, config.train.final_lr_ratio) == (1e-6, 1e-4, 1.0)
    assert config.augment.rawboost_p == 1.0 and tuple(config.augment.rawboost_chain) == ("lnl", "isd")


@pytest.mark.slow
def test_backend_trains_one_step_compiled_in_mixed_bfloat16():
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        tf.keras.utils.set_random_seed(0)
        model = build_ssl_aasist_backend(12, 16, dropout=0.0)
        assert model.get_layer("GAT_layer_S").compute_dtype == "bfloat16"
        model.compile(tf.keras.optimizers.Adam(1e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True),
                      jit_compile=True)
        features = np.random.default_rng(0).standard_normal((4, 12, 16)).astype("float32")
        labels = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
        before = [w.numpy() for w in model.trainable_weights]
        loss = model.fit(features, labels, epochs=1, verbose=0).history["loss"][0]
        after = [w.numpy() for w in model.trainable_weights]
        assert model.output.dtype == tf.float32 and np.isfinite(loss)
        assert all(np.isfinite(w).all() for w in after)
        assert sum(not np.array_equal(a, b) for a, b in zip(before, after)) == len(after)  # every weight moved
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def test_demo_recipe_builds_its_model():
    from tfdeepfake.config import load_config

    config = load_config("configs/ssl_aasist_demo.yaml")
    model = build_model(config.model.name, config.features, 8000, **config.model.params)
    logits = model(np.zeros((1, 8000), "float32"), training=False)
    assert logits.shape == (1, 1) and np.isfinite(logits.numpy()).all()
