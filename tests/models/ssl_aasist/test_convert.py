"""The official SSL-AASIST checkpoint (SSL_Anti-spoofing Model.state_dict(): fairseq XLS-R front-end + back-end)
into our ssl_aasist model and a bundle: equal to the official model.py's forward on the committed tiny fixture
(scripts/make_fairseq_fixtures.py), bad tensors named with nothing loaded."""
import numpy as np
import pytest

from helpers import ROOT, assert_refused_untouched
from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.porting import StateDict
from tfdeepfake.models.ssl.presets import ssl_preset
from tfdeepfake.models.ssl_aasist import build_ssl_aasist
from tfdeepfake.models.ssl_aasist.convert import (FRONTEND_PREFIX, OFFICIAL_SAMPLES, load_official_state,
                                                  official_frontend_config, read_official_checkpoint)

FIXTURES = ROOT / "tests" / "fixtures" / "ssl_aasist"
CHECKPOINT = str(FIXTURES / "official_tiny.pth")


def official_outputs():
    """The fixture's waveforms (regenerated from their seed, checked against the stored first samples) and the
    official model's bona fide logit (bona fide minus spoof output) on them."""
    outputs = np.load(FIXTURES / "official_tiny.npz")
    waves = (0.1 * np.random.default_rng(int(outputs["seed"])).standard_normal((2, OFFICIAL_SAMPLES))).astype(
        np.float32)
    np.testing.assert_array_equal(waves[:, :32], outputs["head"])
    return waves, outputs["logits"][:, 1] - outputs["logits"][:, 0]


@pytest.fixture(scope="module")
def model():
    """One ssl_aasist model of the fixture's architecture for the module (building it is the slow part); tests
    that load into it or must leave it untouched read the checkpoint afresh."""
    state = read_official_checkpoint(CHECKPOINT)
    return build_ssl_aasist(input_samples=OFFICIAL_SAMPLES, config=official_frontend_config(state).to_dict())


def test_whole_model_matches_the_official_forward(model):
    waves, expected = official_outputs()
    config = model.get_layer("ssl_frontend").backbone.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            config.conv_dim, config.conv_kernel, config.feat_extract_norm, config.do_stable_layer_norm,
            config.conv_bias, config.num_conv_pos_embeddings, config.num_conv_pos_embedding_groups) == (
        32, 2, 16, 64, (8,) * 7, (10, 3, 3, 3, 3, 2, 2), "layer", True, True, 16, 4)
    assigned = load_official_state(model, read_official_checkpoint(CHECKPOINT))
    assert assigned == model.count_params()
    np.testing.assert_allclose(model(waves, training=False).numpy()[:, 0], expected, atol=1e-4)


@pytest.mark.parametrize("change,tensor", [
    ("shape", "ssl_model.model.encoder.layers.1.fc1.weight"),
    ("missing", "ssl_model.model.encoder.pos_conv.0.weight_v"),
    ("extra", "ssl_model.model.encoder.layers.5.fc2.bias"),
    ("missing", "GAT_layer_S.att_weight"),
])
def test_bad_tensors_are_named_and_nothing_is_loaded(model, change, tensor):
    state = read_official_checkpoint(CHECKPOINT)
    watched = [model.get_layer("ssl_frontend").backbone.feature_extractor.convs[0].kernel,
               model.get_layer("LL").kernel]
    assert_refused_untouched(lambda state: load_official_state(model, state), state, tensor, change, watched)


def test_full_size_front_end_is_xls_r_300m():
    """The shapes of the real LA_model.pth's front-end tensors (fairseq XLS-R 300M: seven 512-channel convs with
    bias and layer norm, 24 blocks of 1024 / 4096, positional conv 128 taps in 16 groups) give XLS-R 300M."""
    shapes = {f"feature_extractor.conv_layers.{i}.0.weight": (512, 1 if i == 0 else 512, k)
              for i, k in enumerate((10, 3, 3, 3, 3, 2, 2))}
    shapes.update({"feature_extractor.conv_layers.0.0.bias": (512,),
                   "feature_extractor.conv_layers.0.2.1.weight": (512,), "encoder.layer_norm.weight": (1024,),
                   "encoder.pos_conv.0.weight_v": (1024, 64, 128)})
    shapes.update({f"encoder.layers.{i}.fc1.weight": (4096, 1024) for i in range(24)})
    tensors = {FRONTEND_PREFIX + k: np.broadcast_to(np.float32(0), shape) for k, shape in shapes.items()}
    assert official_frontend_config(StateDict(tensors, "LA_model.pth")) == ssl_preset("xls-r-300m")


def test_a_checkpoint_of_another_layout_is_refused():
    with pytest.raises(CheckpointError, match="not an official SSL-AASIST or Nes2Net-X checkpoint"):
        read_official_checkpoint(str(FIXTURES / "backend.pth"))  # the back-end alone: no front-end tensors


@pytest.mark.slow  # three model builds and a .keras round trip: ~30 s on 2 loaded cores
def test_official_checkpoint_becomes_a_bundle_that_scores(tmp_path):
    from tfdeepfake import Detector
    from tfdeepfake.cli import main

    waves, expected = official_outputs()
    assert main(["convert-checkpoint", CHECKPOINT, "--out", str(tmp_path / "bundle")]) == 0
    detector = Detector.load(str(tmp_path / "bundle"))
    assert detector.bundle.architecture == "ssl_aasist"
    assert detector.bundle.input.window_samples == OFFICIAL_SAMPLES
    for wave, logit in zip(waves, expected):
        assert detector.predict(wave).logit == pytest.approx(logit, abs=1e-4)  # exactly one window
