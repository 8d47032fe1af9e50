"""Composed models go the whole way a user's model goes: saved as a bundle (.keras inside), loaded back by the
Detector, exported by ``tfdeepfake.export`` to SavedModel, TFLite and ONNX, and every export scores the same windows
as the Keras model that was built, within the float32 export bound (1e-4 in a logit).

Cases: ssl × aasist (SSL-AASIST), features (LFCC) × asp_mlp, and ssl × mean_pool over a learned weighting of all
hidden states (its layer weights set unequal, so the weighting is exercised). Slow: three exports per case (tf2onnx
on the SSL graph alone takes minutes on 2 loaded cores); ssl × aasist is ``heavy`` (about 8 minutes, nearly all in
tf2onnx), run by hand with ``pytest -m heavy``."""
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from helpers import TINY, toy_batch
from tfdeepfake import export
from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold, write_bundle
from tfdeepfake.features import FeatureConfig
from tfdeepfake.inference import Detector
from tfdeepfake.models import build_model

SAMPLES = 4000
TINY_SSL = TINY["ssl_aasist"]["config"]
TINY_AASIST = {"projection": 8, "filts": [[1, 4], [4, 4], [4, 8], [8, 8]], "gat_dims": [8, 4], "dropout": 0.0}
CASES = {
    "ssl_aasist": ({"name": "ssl", "config": TINY_SSL}, {"name": "aasist", **TINY_AASIST}),
    "features_asp_mlp": ({"name": "features"}, {"name": "asp_mlp", "attention_dim": 8, "hidden": [8],
                                                "dropout": 0.0}),
    "ssl_weighted_mean_pool": ({"name": "ssl", "config": TINY_SSL, "layer": None}, {"name": "mean_pool",
                                                                                      "dropout": 0.0}),
}
pytestmark = pytest.mark.slow


def build(case):
    """The case's model, seeded; the learned layer weighting, if any, moved off its uniform start."""
    front, back = CASES[case]
    tf.keras.utils.set_random_seed(0)
    model = build_model("composed", FeatureConfig(kind="lfcc", n_mels=20, n_coeffs=20), SAMPLES,
                        frontend=front, backend=back)
    if front.get("layer", -1) is None:
        logits = model.get_layer("ssl_frontend").layer_logits
        logits.assign(np.linspace(-1.5, 1.5, logits.shape[0]).astype("float32"))
    return model


def recorded(waves, seed):
    """``waves`` with a recording's noise floor (-50 dB): log-power features of a noiseless tone are ill-conditioned
    (bins with no energy hold FFT rounding noise, which TFLite's FFT rounds differently), and real audio never
    is noiseless."""
    noise = np.random.default_rng(seed).standard_normal(waves.shape).astype(np.float32)
    return waves + 0.003 * noise * np.abs(waves).max(axis=1, keepdims=True)


@pytest.fixture(scope="module", params=[pytest.param(case, marks=pytest.mark.heavy) if case == "ssl_aasist" else case
                                        for case in sorted(CASES)])
def exported(request, tmp_path_factory):
    """One case built, written as a bundle and exported to every float32 format (parity checked by the export on
    windows of two check files); the built model's logits on six other windows (tones and buzz)."""
    case = request.param
    root = tmp_path_factory.mktemp(case)
    model = build(case)
    bundle = Bundle(case, f"composed {case}", "composed", InputRule(16000, SAMPLES),
                    Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None))
    write_bundle(str(root / "bundle"), model, bundle)
    check = []
    for i, wave in enumerate(recorded(toy_batch(16000, batch=2, seed=1)[0], seed=1)):
        sf.write(root / f"check{i}.wav", wave, 16000, subtype="FLOAT")
        check.append(str(root / f"check{i}.wav"))
    reports = {fmt: export.export_model(str(root / "bundle"), fmt, str(root / "out" / fmt), check_audio=check)
               for fmt in export.FLOAT_FORMATS}
    windows = recorded(toy_batch(SAMPLES, batch=6, seed=2)[0], seed=2)
    return {"case": case, "root": root, "windows": windows, "reports": reports,
            "logits": model(windows, training=False).numpy().reshape(-1)}


def test_the_bundle_reloads_with_the_same_logits(exported):
    detector = Detector.load(str(exported["root"] / "bundle"))
    assert detector.bundle.architecture == "composed" and detector.input_rule.window_samples == SAMPLES
    logits = exported["logits"]
    assert np.ptp(logits) > 1e-3  # the windows score differently, so equality below has teeth
    np.testing.assert_allclose(detector.runner(exported["windows"]), logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fmt", export.FLOAT_FORMATS)
def test_every_format_scores_like_the_keras_model(exported, fmt):
    report = exported["reports"][fmt]
    assert report.parity.passed and report.parity.max_abs_logit_diff <= export.FLOAT_TOLERANCE
    detector = Detector.load(report.path)
    assert detector.model_id == exported["case"] and detector.bundle.calibration.a == 1.3
    np.testing.assert_allclose(detector.runner(exported["windows"]), exported["logits"],
                               atol=export.FLOAT_TOLERANCE, rtol=0)
