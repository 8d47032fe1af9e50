"""Front ends against librosa, static shapes, and FrontEnd layer == function."""
import numpy as np
import pytest
import tensorflow as tf

librosa = pytest.importorskip("librosa")
import scipy.fft  # noqa: E402  (librosa dependency)

from tfdeepfake.features import (FeatureConfig, FrontEnd, delta, linear_filterbank, make_frontend,  # noqa: E402
                                 mel_filterbank)

SR = 16000


def rel_err(a, b):
    """max|a-b| / max|b|: relative to the reference's scale, robust to near-zero entries."""
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def generated_signal(seconds=1.5):
    """Chirp + harmonics + a little noise: speech-like broadband content without any corpus."""
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(0)
    chirp = np.sin(2 * np.pi * (100 * t + 1500 * t ** 2))
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    return (0.3 * chirp + 0.1 * harmonics * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)


@pytest.fixture(scope="module")
def speech(shared_dir):
    from tfdeepfake.audio import load_audio

    files = sorted((shared_dir / "corpora" / "librispeech-sample").rglob("*.flac"))
    if not files:
        pytest.skip("no LibriSpeech sample files")
    samples, _ = load_audio(files[0], target_rate=SR)
    return samples[: 3 * SR]


def librosa_reference(y, cfg: FeatureConfig):
    """The same feature computed with librosa/scipy, laid out (frames, bins)."""
    kw = dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length, pad_mode=cfg.pad_mode)
    db = dict(amin=cfg.log_floor, top_db=cfg.top_db)
    if cfg.kind == "stft":
        return (np.abs(librosa.stft(y, **kw)) ** cfg.power).T
    if cfg.kind == "logspec":
        return librosa.power_to_db(np.abs(librosa.stft(y, **kw)) ** 2, **db).T
    if cfg.kind in ("logmel", "mfcc"):
        mel = librosa.feature.melspectrogram(y=y, sr=cfg.sample_rate, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                             fmax=cfg.fmax, htk=cfg.htk, **kw)
        logmel = librosa.power_to_db(mel, **db)
        if cfg.kind == "logmel":
            return logmel.T
        coeffs = librosa.feature.mfcc(S=logmel, n_mfcc=cfg.n_coeffs)
    else:
        fb = linear_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        power = np.abs(librosa.stft(y, **kw)) ** 2
        coeffs = scipy.fft.dct(librosa.power_to_db(fb @ power, **db), axis=0, norm="ortho")[: cfg.n_coeffs]
    if cfg.deltas:
        coeffs = np.concatenate([coeffs, librosa.feature.delta(coeffs, width=cfg.delta_width),
                                 librosa.feature.delta(coeffs, width=cfg.delta_width, order=2)])
    return coeffs.T


CONFIGS = {
    "stft-power": FeatureConfig(kind="stft"),
    "stft-magnitude-reflect": FeatureConfig(kind="stft", power=1.0, win_length=400, pad_mode="reflect"),
    "logspec": FeatureConfig(kind="logspec", n_fft=400),
    "logmel": FeatureConfig(kind="logmel", win_length=400, fmin=20.0, fmax=7600.0),
    "logmel-htk-reflect": FeatureConfig(kind="logmel", n_mels=64, htk=True, pad_mode="reflect", top_db=80.0),
    "mfcc": FeatureConfig(kind="mfcc", win_length=400, n_mels=40, top_db=80.0),
    "mfcc-deltas": FeatureConfig(kind="mfcc", deltas=True, delta_width=9),
    "lfcc": FeatureConfig.lfcc_baseline(),
}
DB_KINDS = ("logspec", "logmel")
REL_TOLERANCE = 1e-3
DB_TOLERANCE = 10 * np.log10(1 + REL_TOLERANCE)  # 0.0043 dB == relative power error 1e-3
# dB values are compared within 80 dB (librosa's top_db) of the clip's peak: further down, float32 FFT
# rounding (about 1e-7 of the frame energy) dominates and reaches 0.17 dB at 127 dB below the peak.
DB_RANGE = 80.0


def check_parity(y, cfg):
    ours = make_frontend(cfg)(tf.constant(y)).numpy()
    ref = librosa_reference(y, cfg)
    assert ours.shape == ref.shape == (cfg.num_frames(len(y)), cfg.num_bins())
    if cfg.kind in DB_KINDS:
        audible = ref > ref.max() - DB_RANGE
        err = float(np.max(np.abs(ours - ref)[audible]))
        assert err <= DB_TOLERANCE, f"{cfg.kind}: {err} dB"
    else:
        err = rel_err(ours, ref)
        assert err <= REL_TOLERANCE, f"{cfg.kind}: relative error {err}"
    print(f"{cfg.kind}: error {err:.3g}{' dB' if cfg.kind in DB_KINDS else ' (relative)'}")
    return err


@pytest.mark.parametrize("name", CONFIGS)
def test_parity_generated(name):
    check_parity(generated_signal(), CONFIGS[name])


@pytest.mark.parametrize("name", CONFIGS)
def test_parity_speech(speech, name):
    check_parity(speech, CONFIGS[name])


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("fmax", [None, 4000.0])
def test_mel_filterbank_matches_librosa(htk, fmax):
    ours = mel_filterbank(SR, 512, 80, 30.0, fmax, htk)
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=80, fmin=30.0, fmax=fmax, htk=htk)
    assert rel_err(ours, ref) <= 1e-5


@pytest.mark.parametrize("width", [3, 9])
@pytest.mark.parametrize("order", [1, 2])
def test_delta_matches_librosa(width, order):
    x = np.random.default_rng(1).standard_normal((30, 5)).astype(np.float32)
    ref = librosa.feature.delta(x, width=width, order=order, axis=0)
    assert np.max(np.abs(delta(tf.constant(x), width, order).numpy() - ref)) <= 1e-4


def test_reflect_padding_differs_from_constant():
    y = generated_signal(0.5)
    const = make_frontend(FeatureConfig(kind="stft"))(y).numpy()
    refl = make_frontend(FeatureConfig(kind="stft", pad_mode="reflect"))(y).numpy()
    assert not np.allclose(const[0], refl[0]) and np.allclose(const[5:-5], refl[5:-5])


@pytest.mark.parametrize("name", CONFIGS)
def test_static_shapes_and_layer(name):
    cfg = CONFIGS[name]
    batch = np.stack([generated_signal(1.0), generated_signal(1.0)[::-1].copy()])
    fn = tf.function(make_frontend(cfg))
    traced = fn.get_concrete_function(tf.TensorSpec([None, batch.shape[1]], tf.float32))
    assert traced.structured_outputs.shape.as_list() == [None, cfg.num_frames(batch.shape[1]), cfg.num_bins()]
    out = fn(batch)
    assert out.dtype == tf.float32
    layer = FrontEnd(cfg)
    # Eager layer vs traced function: equal up to float32 re-association by the graph optimiser.
    assert rel_err(layer(batch).numpy(), out.numpy()) <= 1e-6
    assert tuple(layer.compute_output_shape((None, batch.shape[1]))) == (None,) + tuple(out.shape[1:])
    assert FrontEnd.from_config(layer.get_config()).config == cfg


def test_frontend_in_dataset_map():
    cfg = CONFIGS["logmel"]
    waves = np.stack([generated_signal(1.0)] * 3)
    ds = tf.data.Dataset.from_tensor_slices(waves).map(make_frontend(cfg)).batch(3)
    assert ds.element_spec.shape.as_list() == [None, cfg.num_frames(waves.shape[1]), cfg.num_bins()]
    np.testing.assert_allclose(next(iter(ds)).numpy(), make_frontend(cfg)(waves).numpy(), atol=1e-4)


def test_keras_model_with_frontend():
    cfg = FeatureConfig(kind="mfcc", where="device")
    inputs = tf.keras.Input(shape=(SR,))
    model = tf.keras.Model(inputs, FrontEnd(cfg)(inputs))
    assert model.output_shape == (None, cfg.num_frames(SR), cfg.num_bins())


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("win_length", [None, 400])
def test_gather_framing_equals_dynamic_length_path(pad_mode, win_length):
    """A static sample count frames by one fused gather, a dynamic one by tf.pad + tf.signal.frame: same result."""
    from tfdeepfake.features import stft

    y = np.stack([generated_signal(0.7), generated_signal(0.7)[::-1].copy()])
    kw = dict(n_fft=512, hop_length=160, win_length=win_length, pad_mode=pad_mode)
    static = stft(y, **kw).numpy()
    dynamic = tf.function(lambda x: stft(x, **kw), input_signature=[tf.TensorSpec([None, None], tf.float32)])(y)
    np.testing.assert_allclose(static, dynamic.numpy(), rtol=1e-5, atol=1e-5 * static.max())


def test_reflect_padding_longer_than_the_clip_reflects_repeatedly():
    """A clip shorter than n_fft//2 with reflect padding: numpy's repeated reflection, which tf.pad cannot do."""
    from tfdeepfake.features import hann_window, stft

    y = generated_signal(0.01)  # 160 samples, pad 256
    padded = np.pad(y.astype(np.float64), 256, mode="reflect")
    frames = np.stack([padded[t * 160:t * 160 + 512] for t in range(1 + len(y) // 160)]) * hann_window(512, 512)
    expected = np.abs(np.fft.rfft(frames)) ** 2
    assert rel_err(stft(y, pad_mode="reflect").numpy(), expected) <= 1e-5


@pytest.mark.parametrize("power", [2.0, 1.0])
@pytest.mark.parametrize("win_length", [None, 400])
def test_portable_graph_stft_equals_the_fused_fft(power, win_length):
    """The export form (DFT as two real matmuls, no XLA) gives the fused FFT's values, and no complex op is
    traced inside the block."""
    from tfdeepfake.features import portable_graph, stft

    y = np.stack([generated_signal(0.7), generated_signal(0.7)[::-1].copy()])
    kw = dict(n_fft=512, hop_length=160, win_length=win_length, power=power)
    fused = stft(y, **kw).numpy()
    with portable_graph():
        traced = tf.function(lambda x: stft(x, **kw)).get_concrete_function(tf.TensorSpec(y.shape, tf.float32))
    ops = {op.type for op in traced.graph.get_operations()}
    assert not ops & {"RFFT", "ComplexAbs", "Real", "Imag"} and "BatchMatMulV2" in ops
    np.testing.assert_allclose(traced(tf.constant(y, tf.float32)).numpy(), fused, rtol=1e-4, atol=1e-5 * fused.max())
    assert "RFFT" in {op.type for op in tf.function(lambda x: stft(x, **kw)).get_concrete_function(
        tf.TensorSpec(y.shape, tf.float32)).graph.get_operations()}  # outside the block: the fused FFT again
