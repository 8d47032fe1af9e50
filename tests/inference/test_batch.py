"""The batch scorer: windows of many files packed into shared model calls give the per-file Detector's results
(≤ 1e-5), in input order, with error rows for bad files and the rest scored."""
import numpy as np
import pytest
import soundfile as sf

from helpers import CORPORA, fixture_model
from tfdeepfake.audio import load_audio
from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold
from tfdeepfake.inference import Detector
from tfdeepfake.inference.batch import batch_predictions

LIBRI = CORPORA / "librispeech-sample" / "librispeech_test-other"
CLIPS = [LIBRI / "1688" / "1688-142285-0000.flac", CORPORA / "vits-demo" / "ss_01_vits.flac",  # 22.05 kHz
         LIBRI / "1998" / "1998-15444-0000.flac", CORPORA / "hifigan-demo" / "ss" / "HGAN_V1" / "ss_hgan_v1_1.flac"]
needs_corpora = pytest.mark.skipif(not all(p.is_file() for p in CLIPS),
                                   reason=f"real clips under {CORPORA} not found (../shared is absent)")


@pytest.fixture(scope="module")
def detector():
    model, samples = fixture_model("aasist_tiny")
    bundle = Bundle("aasist-tiny", "AASIST tiny fixture", "aasist", InputRule(16000, samples, 6000),
                    Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None), model=model)
    return Detector.from_bundle(bundle)


@needs_corpora
@pytest.mark.parametrize("batch_windows", [1, 5, 64])
def test_batched_scores_equal_the_per_file_path_in_input_order(detector, tmp_path, batch_windows):
    short = tmp_path / "short.wav"  # 0.3 s: repeat-padded to one window
    speech, _ = sf.read(CLIPS[0], dtype="float32")
    sf.write(short, speech[8000:12800], 16000)
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"not audio at all" * 10)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(24000, np.float32), 16000)
    paths = [str(CLIPS[0]), str(broken), str(short), str(CLIPS[1]), str(silence), str(CLIPS[2]), str(CLIPS[3])]
    expected = list(detector.predictions(paths))
    got = list(batch_predictions(detector, paths, batch_windows=batch_windows, workers=2, lookahead=3))
    assert [p.source for p in got] == paths
    assert got[1].decision == "error" and "broken.flac" in got[1].error and got[1].logit is None
    assert got[4].flags == ("no-speech",) and got[4].decision == "undetermined"
    for want, have in zip(expected, got):
        assert (have.decision, have.flags, have.error) == (want.decision, want.flags, want.error)
        if want.ok:
            assert have.duration == want.duration
            assert [(w.start, w.end) for w in have.windows] == [(w.start, w.end) for w in want.windows]
            np.testing.assert_allclose([w.logit for w in have.windows], [w.logit for w in want.windows], atol=1e-5)
            np.testing.assert_allclose([w.speech for w in have.windows], [w.speech for w in want.windows])
            assert abs(have.logit - want.logit) <= 1e-5
            assert abs(have.spoof_probability - want.spoof_probability) <= 1e-5
    assert sum(len(p.windows) for p in got) > 20  # several files' windows really share batches


def test_model_calls_are_packed_across_files(detector, tmp_path):
    calls = []
    runner = detector.runner

    class Counting:
        window = runner.window

        def __call__(self, windows):
            calls.append(len(windows))
            return runner(windows)

    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):  # each 1.2 s: two windows of 16000 samples at hop 6000 (start 0 and end-aligned)
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(19200)).astype(np.float32), 16000)
        paths.append(str(path))
    counting = Detector(detector.bundle, Counting(), detector.batch_windows)
    results = list(batch_predictions(counting, paths, batch_windows=5, lookahead=2))
    assert [len(p.windows) for p in results] == [2] * 6
    assert calls == [5, 5, 2]


def test_bad_settings_are_refused(detector):
    with pytest.raises(ValueError, match="batch_windows"):
        list(batch_predictions(detector, [], batch_windows=0))


@needs_corpora
def test_long_recordings_are_scored_streamed_in_their_turn(detector, monkeypatch):
    """Files longer than LONG_SECONDS are not held whole: Detector.predict streams them, and the rows keep their
    order and equal the per-file ones."""
    from tfdeepfake.inference import batch

    seconds = {str(p): sf.info(p).duration for p in CLIPS}
    monkeypatch.setattr(batch, "LONG_SECONDS", sorted(seconds.values())[1] + 0.01)  # the two longest are long
    streamed, predict = [], Detector.predict
    monkeypatch.setattr(Detector, "predict", lambda self, path, **k: streamed.append(str(path)) or
                        predict(self, path, **k))
    paths = [str(p) for p in CLIPS]
    rows = list(batch_predictions(detector, paths, batch_windows=4))
    monkeypatch.setattr(Detector, "predict", predict)
    expected = list(detector.predictions(paths))
    assert [r.source for r in rows] == paths
    assert sorted(streamed) == sorted(p for p in paths if seconds[p] > batch.LONG_SECONDS) and len(streamed) == 2
    for got, want in zip(rows, expected):
        assert got.logit == pytest.approx(want.logit, abs=1e-5)


@needs_corpora
def test_first_window_only_scores_the_official_window(detector, tmp_path, monkeypatch):
    """The official evaluation rule: one window per file, its first window_samples samples (a shorter clip repeated
    to fill them, as np.resize repeats), and the rest of the file is not decoded."""
    from tfdeepfake.inference import batch

    window = detector.input_rule.window_samples
    short = tmp_path / "short.wav"
    speech, _ = sf.read(CLIPS[0], dtype="float32")
    sf.write(short, speech[8000:12800], 16000)
    paths = [str(CLIPS[0]), str(short), str(CLIPS[1]), str(CLIPS[2])]  # CLIPS[1]: 22.05 kHz, resampled first
    monkeypatch.setattr(batch, "LONG_SECONDS", 1.0)  # the long-file path is not taken: only a window is read
    rows = list(batch_predictions(detector, paths, batch_windows=3, first_window_only=True))
    assert [r.source for r in rows] == paths
    for path, row in zip(paths, rows):
        audio, _ = load_audio(path, 16000)
        scored = min(len(audio), window)
        assert [(w.start, w.end) for w in row.windows] == [(0.0, scored / 16000)]
        assert row.duration == scored / 16000
        official = np.resize(audio[:window], window)[None]
        assert row.logit == pytest.approx(float(detector.runner(official)[0]), abs=1e-5)
    assert len(speech) > 2 * window  # the long clip really was cut
