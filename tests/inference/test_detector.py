"""The Detector: the TFRecord evaluation path's scores, exact windows on a long streamed file, the speech check,
error rows for bad files, and SavedModel / TFLite exports read with the bundle beside them."""
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from helpers import CORPORA, fixture_model
from tfdeepfake import evaluate, records
from tfdeepfake.audio import AudioError, NonFiniteAudioError, UndecodableAudioError
from tfdeepfake.bundle import Bundle, BundleError, Calibration, InputRule, Threshold, write_bundle
from tfdeepfake.corpora import Utterance
from tfdeepfake.inference import Detector, speech_activity
from tfdeepfake.pipeline import InputConfig, eval_dataset


LIBRI = CORPORA / "librispeech-sample" / "librispeech_test-other"
CLIPS = [LIBRI / "1688" / "1688-142285-0000.flac", LIBRI / "1998" / "1998-15444-0000.flac",
         CORPORA / "asvspoof2019-la-sample" / "LA_T_1000137.flac"]
SPEECH = CLIPS + [LIBRI / "2033" / "2033-164914-0000.flac", CORPORA / "vits-demo" / "ss_01_vits.flac",
                  CORPORA / "hifigan-demo" / "ss" / "HGAN_V1" / "ss_hgan_v1_1.flac"]
needs_corpora = pytest.mark.skipif(not all(p.is_file() for p in SPEECH),
                                   reason=f"real clips under {CORPORA} not found (../shared is absent)")


@pytest.fixture(scope="module")
def tiny():
    model, samples = fixture_model("aasist_tiny")
    return model, Bundle("aasist-tiny", "AASIST tiny fixture", "aasist", InputRule(16000, samples, 6000),
                         Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None),
                         model=model)


def mean_detector(window, hop, aggregation="mean-logit"):
    """A detector whose 'logit' is the mean sample of each window: the windows it was given can be checked."""
    inputs = tf.keras.Input((window,), name="waveform")
    pooled = tf.keras.layers.GlobalAveragePooling1D()(tf.keras.layers.Reshape((window, 1))(inputs))
    bundle = Bundle("mean", "window mean", "test", InputRule(16000, window, hop, aggregation),
                    model=tf.keras.Model(inputs, pooled))
    return Detector.from_bundle(bundle)


@needs_corpora
def test_predict_equals_the_tfrecord_evaluation_path(tiny, tmp_path):
    model, bundle = tiny
    short = tmp_path / "short.wav"  # 0.56 s: shorter than the 1 s window, so repeat-padded
    speech, _ = sf.read(CLIPS[0], dtype="int16")
    sf.write(short, speech[8000:17000], 16000, subtype="PCM_16")
    paths = [str(p) for p in CLIPS + [short]]
    utterances = [Utterance(f"u{i}", path, "bonafide" if i % 2 else "spoof", "-" if i % 2 else "A04", "s", "eval")
                  for i, path in enumerate(paths)]
    records.build(utterances, {u.utt_id: 0 for u in utterances}, str(tmp_path / "tfrecords"), progress=False,
                  workers=1)
    dataset = eval_dataset(InputConfig(str(tmp_path / "tfrecords"), splits=("eval",), crop_samples=16000,
                                       batch_size=8), windows_hop=6000)
    scores = evaluate.score_dataset(model, dataset)
    expected = dict(zip(scores["utt_id"], scores["score"]))

    detector = Detector.from_bundle(bundle)
    for i, path in enumerate(paths):
        result = detector.predict(path)
        assert abs(result.logit - expected[f"u{i}"]) < 1e-5, path
        info = sf.info(path)
        assert result.duration == info.frames / 16000
        assert len(result.windows) == 1 + max(0, -(-(info.frames - 16000) // 6000))
        assert result.spoof_probability == pytest.approx(1 / (1 + np.exp(1.3 * result.logit + 0.2)), abs=1e-12)
        assert result.decision == ("spoof" if result.spoof_probability >= 0.4 else "bonafide") and not result.flags


def test_windows_hop_and_aggregation_on_a_long_streamed_file(tmp_path):
    window, hop, rate = 12345, 4321, 16000
    n = 10 * 60 * rate + 777  # ten minutes and a bit: 38 MB as float32
    t = np.arange(n) / rate
    pcm = np.round(8000 * np.sin(2 * np.pi * t / 50.0) + 3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = tmp_path / "long.wav"
    sf.write(path, pcm, rate, subtype="PCM_16")
    audio = pcm.astype(np.float64) / 32768

    detector = mean_detector(window, hop)
    tracemalloc.start()
    result = detector.predict(str(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.25 * n * 4, f"peak {peak / 1e6:.1f} MB while the decoded file is {n * 4 / 1e6:.1f} MB"

    starts = np.minimum(np.arange(1 + -(-(n - window) // hop)) * hop, n - window)  # every hop, last at the end
    assert len(result.windows) == len(starts) == 2221
    assert [w.start for w in result.windows] == [s / rate for s in starts]
    assert [w.end for w in result.windows] == [(s + window) / rate for s in starts]
    assert result.windows[-1].end == result.duration == n / rate
    window_means = np.array([audio[s:s + window].mean() for s in starts])
    np.testing.assert_allclose([w.logit for w in result.windows], window_means, atol=1e-6)
    assert result.logit == pytest.approx(window_means.mean(), abs=1e-6)  # mean-logit
    assert result.spoof_probability == pytest.approx(1 / (1 + np.exp(result.logit)), abs=1e-9)  # identity

    as_array = detector.predict(audio[:300000].astype(np.float32))
    assert [w.start for w in as_array.windows] == [s / rate for s in range(0, 300000 - window, hop)] + \
        [(300000 - window) / rate]
    spoofiest = mean_detector(window, hop, "max-spoof").predict(audio[:300000].astype(np.float32))
    assert spoofiest.logit == pytest.approx(min(w.logit for w in as_array.windows), abs=1e-7)
    # an 8 kHz array is resampled to the model's 16 kHz
    assert detector.predict(audio[:8000].astype(np.float32), sample_rate=8000).duration == 1.0


def test_a_short_clip_is_repeat_padded_to_one_window():
    rng = np.random.default_rng(3)
    clip = rng.uniform(-0.5, 0.5, 5000).astype(np.float32)
    result = mean_detector(12345, 4321).predict(clip)
    assert len(result.windows) == 1 and (result.windows[0].start, result.windows[0].end) == (0.0, 5000 / 16000)
    assert result.logit == pytest.approx(np.resize(clip.astype(np.float64), 12345).mean(), abs=1e-7)


@needs_corpora
def test_silence_and_noise_are_flagged_and_speech_is_not(tmp_path):
    rng = np.random.default_rng(0)
    rate, n = 16000, 5 * 16000
    t = np.arange(n) / rate
    quiet = {"digital silence": np.zeros(n), "16-bit dither": rng.integers(-1, 2, n) / 32768,
             "white noise -50 dBFS": 10 ** (-50 / 20) * rng.standard_normal(n),
             "white noise -20 dBFS": 0.1 * rng.standard_normal(n),
             "mains hum": sum(0.1 / k * np.sin(2 * np.pi * 50 * k * t) for k in range(1, 20))}
    for name, samples in quiet.items():
        activity = speech_activity(samples.astype(np.float32), rate)
        assert not activity.has_speech and activity.speech_seconds == 0.0, name
    for path in SPEECH:
        samples, file_rate = sf.read(path, dtype="float32")
        activity = speech_activity(samples, file_rate)
        assert activity.has_speech and activity.speech_seconds > 2 * activity.MIN_SPEECH_SECONDS, path

    detector = mean_detector(16000, 8000)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(3 * rate, np.int16), rate, subtype="PCM_16")
    flagged = detector.predict(str(silence))
    assert flagged.flags == ("no-speech",) and flagged.decision == "undetermined"
    assert flagged.speech_seconds == 0.0 and flagged.spoof_probability is not None
    assert detector.predict(quiet["white noise -50 dBFS"].astype(np.float32)).decision == "undetermined"

    speech, _ = sf.read(CLIPS[0], dtype="float32")  # 15 s of speech, then 5 s of digital silence
    result = detector.predict(np.concatenate([speech, np.zeros(5 * rate, np.float32)]))
    assert result.flags == () and result.decision in ("spoof", "bonafide")
    assert result.windows[-1].speech == 0.0 and max(w.speech for w in result.windows) > 0.5


def test_predict_many_gives_error_rows_and_scores_the_rest(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.wav"
    sf.write(good, (0.3 * np.sin(2 * np.pi * 200 * np.arange(20000) / 16000)).astype(np.float32), 16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + rng.bytes(3000))
    missing = tmp_path / "missing.flac"
    detector = mean_detector(16000, 8000)

    rows = detector.predict_many([good, corrupt, missing, str(good)])
    assert [row.decision == "error" for row in rows] == [False, True, True, False]
    assert rows[0].logit == rows[3].logit and rows[0].duration == 1.25
    assert str(corrupt) in rows[1].error and "not decodable as audio" in rows[1].error
    assert rows[2].error == f"{missing}: file not found" and rows[2].spoof_probability is None
    assert rows[1].to_dict()["error"] == rows[1].error

    with pytest.raises(UndecodableAudioError, match="corrupt.wav"):
        detector.predict(corrupt)
    with pytest.raises(NonFiniteAudioError, match="<array>"):
        detector.predict(np.array([0.1, np.nan, 0.2], np.float32))
    with pytest.raises(AudioError, match="zero samples"):
        detector.predict(np.zeros(0, np.float32))


def small_model(window=16000):
    """A small seeded conv net on waveforms (exports in seconds, unlike AASIST; loading is what is tested)."""
    tf.keras.utils.set_random_seed(5)
    inputs = tf.keras.Input((window,), name="waveform")
    x = tf.keras.layers.Reshape((window, 1))(inputs)
    x = tf.keras.layers.Conv1D(4, 64, strides=16, activation="relu")(x)
    x = tf.keras.layers.GlobalMaxPooling1D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))


def export(model, folder: Path) -> tuple[str, str]:
    """A SavedModel whose serving signature maps waveform [batch, window] -> logit, and its TFLite conversion."""
    window = model.input_shape[1]
    module = tf.Module()
    module.model = model
    serve = tf.function(lambda waveform: {"logit": model(waveform, training=False)},
                        input_signature=[tf.TensorSpec([None, window], tf.float32, name="waveform")])
    saved = str(folder / "saved_model")
    tf.saved_model.save(module, saved, signatures={"serving_default": serve})
    lite = folder / "model.tflite"
    lite.write_bytes(tf.lite.TFLiteConverter.from_saved_model(saved).convert())
    return saved, str(lite)


@needs_corpora
def test_savedmodel_and_tflite_exports_load_with_the_bundle_beside_them(tmp_path):
    model = small_model()
    bundle = Bundle("small", "small conv net", "test", InputRule(16000, 16000, 6000),
                    Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None))
    folder = tmp_path / "export"
    write_bundle(str(folder), model, bundle)  # bundle.json beside the exports
    saved, lite = export(model, folder)
    keras = Detector.load(str(folder)).predict(str(CLIPS[2]))
    for source in (saved, lite):
        detector = Detector.load(source)
        assert detector.bundle.calibration == bundle.calibration and detector.model_id == "small"
        result = detector.predict(str(CLIPS[2]))
        assert len(result.windows) == len(keras.windows) == 6  # 40,006 samples: 0, 6000, ..., 24000, 24006
        np.testing.assert_allclose([w.logit for w in result.windows], [w.logit for w in keras.windows], atol=1e-5)
        assert np.ptp([w.logit for w in result.windows]) > 1e-3  # the windows differ, so the check has teeth
        assert abs(result.spoof_probability - keras.spoof_probability) < 1e-5 and result.decision == keras.decision

    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "m.tflite").write_bytes(Path(lite).read_bytes())
    bare = Detector.load(str(alone / "m.tflite"))  # no bundle.json: stated defaults, window from the model
    assert bare.input_rule == InputRule(16000, 16000, 8000) and bare.bundle.threshold.spoof_probability == 0.5
    assert "no bundle.json beside" in bare.bundle.calibration.fitted_on and bare.model_id == "m.tflite"
    result = bare.predict(str(CLIPS[2]))
    assert result.spoof_probability == pytest.approx(1 / (1 + np.exp(result.logit)), abs=1e-9)

    (alone / "broken.tflite").write_bytes(b"\0" * 64)
    with pytest.raises(BundleError, match="broken.tflite: not a readable TFLite model"):
        Detector.load(str(alone / "broken.tflite"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("data: {}\n")
    with pytest.raises(BundleError, match="run folder without bundle/"):
        Detector.load(str(tmp_path / "run"))
