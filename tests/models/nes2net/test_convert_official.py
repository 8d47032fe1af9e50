"""The official Nes2Net-X detector (Nes2Net_ASVspoof_ITW ``wav2vec2_Nes2Net_no_Res_w_allT.state_dict()``: fairseq
XLS-R under ``ssl_model.model.``, the back-end under ``Nested_Res2Net_TDNN.``) into a composed ssl × nes2net_x
model and a bundle: equal to the official wrapper's forward on the committed tiny fixtures
(scripts/make_nes2net_fixtures.py), its architecture read from the tensors, bad tensors named with nothing loaded."""
import numpy as np
import pytest

from helpers import ROOT, assert_refused_untouched
from tfdeepfake.bundle.sources import _official_ssl_model
from tfdeepfake.models.nes2net.convert import PREFIX, load_official_state, official_backend_architecture
from tfdeepfake.models.porting import StateDict, read_torch_checkpoint
from tfdeepfake.models.ssl_aasist.convert import OFFICIAL_SAMPLES, official_frontend_config

FIXTURES = ROOT / "tests" / "fixtures" / "nes2net"
CHECKPOINTS = {"mean": str(FIXTURES / "official_tiny.pth"), "ASTP": str(FIXTURES / "official_tiny_astp.pth")}


def read(pool_func: str) -> StateDict:
    path = CHECKPOINTS[pool_func]
    return StateDict(read_torch_checkpoint(path), path)


def official_outputs(pool_func: str):
    """The fixture's waveforms (regenerated from their seed, checked against the stored first samples) and the
    official wrapper's bona fide logit (bona fide minus spoof output) on them."""
    outputs = np.load(FIXTURES / "official_tiny.npz")
    waves = (0.1 * np.random.default_rng(int(outputs["seed"])).standard_normal((2, OFFICIAL_SAMPLES))).astype(
        np.float32)
    np.testing.assert_array_equal(waves[:, :32], outputs["head"])
    logits = outputs[f"logits_{pool_func.lower()}"]
    return waves, logits[:, 1] - logits[:, 0]


@pytest.fixture(scope="module")
def converted():
    """pool function -> (architecture, samples, builder parameters, filled model), each built once for the module;
    tests that must leave a model untouched read the checkpoint afresh."""
    return {pool_func: _official_ssl_model(path) for pool_func, path in CHECKPOINTS.items()}


@pytest.mark.parametrize("pool_func", ["mean", "ASTP"])
def test_architecture_is_read_from_the_tensors(pool_func):
    """The fixtures' back-end (4 outer groups of 8 channels, 3 inner scales, SE reduction 2) and tiny XLS-R-layout
    front-end (7 convs, hidden 32, 16 heads, pre-LN) come back from the tensors alone."""
    state = read(pool_func)
    assert official_backend_architecture(state) == dict(Nes_ratio=[4, 3], SE_ratio=2, dilation=2, pool_func=pool_func)
    config = official_frontend_config(state)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            len(config.conv_dim), config.feat_extract_norm, config.do_stable_layer_norm) == (
        32, 2, 16, 64, 7, "layer", True)


def test_full_size_backend_architecture_is_the_official_default():
    """A released checkpoint's back-end shapes (main.py defaults: Nes_ratio 8 8, SE_ratio 1 on 1024 channels:
    7 outer blocks of 128 channels, 7 inner convs of 16) read as that architecture."""
    shapes = {f"Build_in_Res2Nets.{b}.conv1.weight": (128, 128, 1) for b in range(7)}
    shapes.update({f"Build_in_Res2Nets.0.convs.{i}.weight": (16, 16, 3, 1) for i in range(7)})
    shapes.update({"Build_in_Res2Nets.0.se.se.1.weight": (128, 128, 1), "Build_in_Res2Nets.0.se.se.3.weight":
                   (128, 128, 1), "fc.weight": (2, 1024)})
    tensors = {PREFIX + k: np.broadcast_to(np.float32(0), shape) for k, shape in shapes.items()}
    assert official_backend_architecture(StateDict(tensors, "epoch_99.pth")) == dict(
        Nes_ratio=[8, 8], SE_ratio=1, dilation=2, pool_func="mean")


@pytest.mark.parametrize("pool_func", ["mean", "ASTP"])
def test_whole_detector_matches_the_official_forward(converted, pool_func):
    """Every value of the model comes from the file and its logit is the official one."""
    architecture, samples, params, model = converted[pool_func]
    assert (architecture, samples, params["backend"]["pool_func"]) == ("ssl_nes2net_x", OFFICIAL_SAMPLES, pool_func)
    assert load_official_state(model, read(pool_func)) == model.count_params()  # again: the count of what it sets
    waves, expected = official_outputs(pool_func)
    np.testing.assert_allclose(model(waves, training=False).numpy()[:, 0], expected, atol=1e-4)


@pytest.mark.parametrize("change,tensor", [
    ("shape", "Nested_Res2Net_TDNN.Build_in_Res2Nets.1.convs.0.weight"),
    ("extra", "Nested_Res2Net_TDNN.Build_in_Res2Nets.3.conv1.weight"),  # a fifth outer group the model lacks
    ("missing", "Nested_Res2Net_TDNN.bns.2.running_var"),
    ("shape", "ssl_model.model.encoder.layers.1.fc1.weight"),
    ("extra", "ssl_model.model.encoder.layers.5.fc2.bias"),
    ("missing", "ssl_model.model.encoder.pos_conv.0.weight_v"),
])
def test_bad_tensors_are_named_and_nothing_is_loaded(converted, change, tensor):
    model = converted["mean"][3]
    watched = [model.get_layer("ssl_frontend").backbone.feature_extractor.convs[0].kernel,
               model.get_layer("logit").kernel]
    assert_refused_untouched(lambda state: load_official_state(model, state), read("mean"), tensor, change, watched)


@pytest.mark.slow  # a model build of its own: ~4 s on 2 loaded cores; the refusal itself is tested above
def test_convert_checkpoint_refuses_a_mis_shaped_tensor_and_writes_no_bundle(monkeypatch, tmp_path, capsys):
    """The file is read as if one inner conv of the second outer block had the wrong shape (the architecture,
    read from block 0, still builds): the command fails naming it and leaves no bundle folder."""
    from tfdeepfake.cli import main
    from tfdeepfake.models import porting

    tensor = "Nested_Res2Net_TDNN.Build_in_Res2Nets.1.convs.0.weight"
    read_file = porting.read_torch_checkpoint
    monkeypatch.setattr(porting, "read_torch_checkpoint",
                        lambda path: {**read_file(path), tensor: np.zeros((3, 3, 3, 1), np.float32)})
    assert main(["convert-checkpoint", CHECKPOINTS["mean"], "--out", str(tmp_path / "bundle")]) == 1
    assert tensor in capsys.readouterr().err
    assert not (tmp_path / "bundle").exists()


@pytest.mark.slow  # a model build, a .keras round trip and a second build: ~20 s on 2 loaded cores
def test_official_checkpoint_becomes_a_bundle_that_scores(tmp_path):
    from tfdeepfake import Detector
    from tfdeepfake.cli import main

    waves, expected = official_outputs("mean")
    assert main(["convert-checkpoint", CHECKPOINTS["mean"], "--out", str(tmp_path / "bundle")]) == 0
    detector = Detector.load(str(tmp_path / "bundle"))
    assert detector.bundle.architecture == "ssl_nes2net_x"
    assert detector.bundle.input.window_samples == OFFICIAL_SAMPLES
    for wave, logit in zip(waves, expected):
        assert detector.predict(wave).logit == pytest.approx(logit, abs=1e-4)  # exactly one window
