"""The web page's live microphone mode: Gradio's int16 chunks scored as Detector.stream scores the same samples,
the drawn track carries exactly those scores, and the page has the live tab wired to the streaming microphone."""

import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold
from tfdeepfake.inference import Detector
from tfdeepfake.web.live import TRACK_GID, LiveSession, pcm_to_float


def probe_detector(window=1600, hop=800):
    """A detector whose logit is a fixed random projection of the window: any wrong sample changes the score."""
    weights = np.random.default_rng(1).standard_normal((window, 1)).astype(np.float32) / np.sqrt(window) * 20
    inputs = tf.keras.Input((window,), name="waveform")
    logit = tf.keras.layers.Dense(1, use_bias=False, weights=[weights])(inputs)
    bundle = Bundle("probe", "random projection", "test", InputRule(16000, window, hop, "mean-logit"),
                    Calibration(1.0, 0.0, fitted_on="test values"), Threshold(0.5, "test value", None),
                    model=tf.keras.Model(inputs, logit))
    return Detector.from_bundle(bundle, batch_windows=4)


def test_pcm_to_float_scales_int16_and_keeps_float():
    assert pcm_to_float(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert pcm_to_float(np.array([0.25], np.float64)).dtype == np.float32


@pytest.mark.parametrize("rate", [16000, 48000])
def test_live_session_scores_equal_detector_stream(rate):
    detector = probe_detector()
    pcm = (np.random.default_rng(2).uniform(-0.5, 0.5, rate * 1) * 32767).astype(np.int16)
    chunk = rate // 2 + 37  # browser chunks of about half a second
    live = LiveSession(detector)
    for start in range(0, len(pcm), chunk):
        live.feed(rate, pcm[start:start + chunk])
    summary = live.close()
    expected = list(detector.stream([pcm_to_float(pcm)], sample_rate=rate))
    expected_windows = [item for item in expected if hasattr(item, "latency")]
    assert len(live.windows) == len(expected_windows) >= 2
    for got, want in zip(live.windows, expected_windows):
        assert (got.start, got.end) == (want.start, want.end)
        assert abs(got.logit - want.logit) <= 1e-5
    assert summary.decision in ("bonafide", "spoof", "undetermined")
    line = [artist for artist in live.figure().axes[0].lines if artist.get_gid() == TRACK_GID][0]
    np.testing.assert_allclose(line.get_ydata(), [w.spoof_probability for w in live.windows])
    assert "Verdict" in live.markdown()


def test_live_session_refuses_a_rate_change():
    live = LiveSession(probe_detector())
    live.feed(16000, np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="rate changed from 16000 to 48000"):
        live.feed(48000, np.zeros(100, np.int16))


def test_page_has_the_streaming_microphone(tiny_bundle):
    pytest.importorskip("gradio")
    from tfdeepfake.web.app import ModelCatalog, build_app

    app = build_app(ModelCatalog([str(tiny_bundle)]))
    components = {c.get("props", {}).get("elem_id"): c for c in app.config["components"]}
    assert components["live-mic"]["props"]["streaming"] is True
    assert "live-track" in components
