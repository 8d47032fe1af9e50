"""Streaming detection: the same window scores as file scoring (every length, hop, chunking and input rate),
windows scored as soon as their audio is in, bounded audio held, and the verdict at close equal to predict's."""

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from helpers import CORPORA, fixture_model
from tfdeepfake.audio import NonFiniteAudioError, NoSamplesError
from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold
from tfdeepfake.inference import Detector


CLIP = CORPORA / "librispeech-sample" / "librispeech_test-other" / "1688" / "1688-142285-0000.flac"


def probe_detector(window=1000, hop=300, aggregation="mean-logit"):
    """A detector whose 'logit' is a fixed random projection of the window: any wrong or shifted sample shows."""
    weights = np.random.default_rng(0).standard_normal((window, 1)).astype(np.float32) / np.sqrt(window)
    inputs = tf.keras.Input((window,), name="waveform")
    logit = tf.keras.layers.Dense(1, use_bias=False, weights=[weights])(inputs)
    bundle = Bundle("probe", "random projection", "test", InputRule(16000, window, hop, aggregation),
                    Calibration(1.1, -0.3, fitted_on="test values"), Threshold(0.5, "test value", None),
                    model=tf.keras.Model(inputs, logit))
    return Detector.from_bundle(bundle, batch_windows=4)


def chunks_of(samples, sizes):
    start, i = 0, 0
    while start < len(samples):
        size = sizes[i % len(sizes)]
        yield samples[start:start + size]
        start, i = start + size, i + 1


@pytest.mark.parametrize("length", [1, 457, 999, 1000, 1001, 1300, 1600, 5000, 5017])
@pytest.mark.parametrize("sizes", [[1], [160, 7, 2048], [100000]])
def test_stream_windows_equal_file_windows(length, sizes):
    if sizes == [1] and length > 1600:
        pytest.skip("sample-by-sample only on short clips (time)")
    detector = probe_detector()
    samples = np.random.default_rng(length).uniform(-0.5, 0.5, length).astype(np.float32)
    expected = detector.predict(samples)
    stream = detector.stream(chunks_of(samples, sizes))
    windows = list(stream)
    assert [(w.start, w.end) for w in windows] == [(w.start, w.end) for w in expected.windows]
    np.testing.assert_allclose([w.logit for w in windows], [w.logit for w in expected.windows], atol=1e-5)
    np.testing.assert_allclose([w.spoof_probability for w in windows],
                               [w.spoof_probability for w in expected.windows], atol=1e-6)
    summary = stream.summary
    assert summary.logit == pytest.approx(expected.logit, abs=1e-5)
    assert (summary.decision, summary.flags, summary.duration) == (expected.decision, expected.flags,
                                                                 expected.duration)
    assert summary.speech_seconds == expected.speech_seconds


def test_max_spoof_aggregation_and_decisions_per_window():
    detector = probe_detector(aggregation="max-spoof")
    samples = np.random.default_rng(3).uniform(-1, 1, 4321).astype(np.float32)
    stream = detector.stream(chunks_of(samples, [512]))
    windows = list(stream)
    assert stream.summary.logit == pytest.approx(detector.predict(samples).logit, abs=1e-5)
    assert stream.summary.logit == pytest.approx(min(w.logit for w in windows), abs=1e-12)
    threshold = detector.bundle.threshold
    assert [w.decision for w in windows] == [threshold.decide(w.spoof_probability) for w in windows]
    assert {w.decision for w in windows} == {"spoof", "bonafide"}  # the probe gives both on noise


def test_a_window_is_scored_by_the_chunk_that_completes_it_and_audio_held_stays_bounded():
    detector = probe_detector(window=1000, hop=300)
    scorer = detector.open_stream()
    rng = np.random.default_rng(1)
    assert scorer.feed(rng.uniform(-1, 1, 999)) == []
    first = scorer.feed(rng.uniform(-1, 1, 1))
    assert [(w.start, w.end) for w in first] == [(0.0, 1000 / 16000)] and first[0].latency >= 0
    assert [w.start * 16000 for w in scorer.feed(rng.uniform(-1, 1, 600))] == pytest.approx([300, 600])
    held = []
    for _ in range(2000):  # 2000 chunks of 250 samples: 31 s of audio, 1665 windows
        scorer.feed(rng.uniform(-1, 1, 250))
        held.append(scorer.held_samples)
    assert max(held) <= 1000 + 250
    windows, summary = scorer.close()
    assert summary.duration == pytest.approx((1600 + 2000 * 250) / 16000)
    assert len(scorer.latencies) == 1 + (1600 + 2000 * 250 - 1000) // 300 + len(windows)
    with pytest.raises(RuntimeError, match="closed"):
        scorer.feed(np.zeros(10))


@pytest.mark.skipif(not CLIP.is_file(), reason=f"{CLIP} not found (../shared is absent)")
def test_real_speech_at_44k_streamed_in_20ms_chunks_equals_the_file_scored(tmp_path):
    model, samples = fixture_model("aasist_tiny")
    bundle = Bundle("aasist-tiny", "AASIST tiny fixture", "aasist", InputRule(16000, samples, 6000),
                    Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None), model=model)
    detector = Detector.from_bundle(bundle)
    speech, rate = sf.read(CLIP, dtype="float32")
    import soxr

    resampled = soxr.resample(speech, rate, 44100, quality="VHQ").astype(np.float32)
    path = tmp_path / "speech44k.wav"
    sf.write(path, resampled, 44100, subtype="FLOAT")
    expected = detector.predict(str(path))
    stream = detector.stream(chunks_of(resampled, [882]), sample_rate=44100, name=str(path))
    windows = list(stream)
    assert len(windows) == len(expected.windows) > 5
    np.testing.assert_allclose([w.logit for w in windows], [w.logit for w in expected.windows], atol=1e-5)
    assert stream.summary.logit == pytest.approx(expected.logit, abs=1e-5)
    assert stream.summary.decision == expected.decision and not stream.summary.flags


def test_bad_chunks_name_the_stream():
    detector = probe_detector()
    scorer = detector.open_stream(name="mic")
    with pytest.raises(NonFiniteAudioError, match="mic"):
        scorer.feed(np.array([0.1, np.nan], np.float32))
    with pytest.raises(NoSamplesError, match="empty"):
        detector.open_stream(name="empty").close()
