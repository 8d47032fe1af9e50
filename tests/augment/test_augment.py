"""Waveform and feature augmentation: physics checks, label bookkeeping, seeding and static shapes."""
import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.augment import spec, wave
from tfdeepfake.input_rule import sliding_windows

SR = 16000
N = SR  # one second


def speechlike(n=N, seed=0):
    """Harmonics with a moving pitch and envelope, plus a little noise, peak about 0.5."""
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    f0 = 120 + 30 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30))
    x = voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.05 * rng.standard_normal(n)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def snr_db(clean, noisy):
    clean, noisy = np.asarray(clean, np.float64), np.asarray(noisy, np.float64)
    return 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))


SEED = tf.constant([1, 2], tf.int64)
OTHER = tf.constant([3, 4], tf.int64)
BANK = tf.constant(np.random.default_rng(5).standard_normal((3, 5000)).astype(np.float32))

WAVE_AUGMENTS = {
    "white": lambda x, s: wave.add_noise(x, s, noise="white"),
    "coloured": lambda x, s: wave.add_noise(x, s, noise="coloured"),
    "bank": lambda x, s: wave.add_noise(x, s, noise="bank", bank=BANK),
    "gain": lambda x, s: wave.random_gain(x, s),
    "telephony": lambda x, s: wave.telephony(x, s, SR),
    "lnl": wave.lnl_convolutive_noise,
    "isd": wave.isd_additive_noise,
    "ssi": wave.ssi_additive_noise,
    "rawboost-series": lambda x, s: wave.rawboost(x, s),
    "rawboost-parallel": lambda x, s: wave.rawboost(x, s, chain=("lnl", "isd"), parallel=True),
    "crop": lambda x, s: wave.random_crop(x, s, 12000),
}


@pytest.mark.parametrize("noise", ["white", "coloured", "bank"])
@pytest.mark.parametrize("target", [0.0, 12.0, 30.0])
def test_noise_snr(noise, target):
    x = speechlike()
    y = wave.add_noise(x, SEED, snr_db=(target, target), noise=noise, bank=BANK)
    assert abs(snr_db(x, y.numpy()) - target) < 0.5


def test_noise_snr_drawn_in_range():
    x = speechlike()
    snrs = [snr_db(x, wave.add_noise(x, tf.constant([i, 7]), snr_db=(5.0, 20.0)).numpy()) for i in range(8)]
    assert min(snrs) > 4.5 and max(snrs) < 20.5 and np.ptp(snrs) > 1.0


def test_coloured_noise_slope():
    noise = wave.coloured_noise(SEED, 2 ** 16, 2.0).numpy()
    power = np.abs(np.fft.rfft(noise)) ** 2
    low, high = power[100:200].mean(), power[1000:2000].mean()
    assert 10 * np.log10(low / high) == pytest.approx(20.0, abs=3.0)  # 1/f^2: 20 dB per decade


def test_gain_in_db_range():
    x = speechlike()
    y = wave.random_gain(x, SEED, gain_db=(-6.0, 6.0)).numpy()
    gain = 20 * np.log10(np.max(np.abs(y)) / np.max(np.abs(x)))
    assert -6.0 <= gain <= 6.0
    np.testing.assert_allclose(y / x, y[0] / x[0], rtol=1e-5)


@pytest.mark.parametrize("law", ["none", "mulaw", "alaw"])
def test_telephony_band_limited(law):
    x = speechlike() + 0.05 * np.random.default_rng(2).standard_normal(N).astype(np.float32)
    y = wave.telephony(x, SEED, SR, companding=(law,)).numpy()
    assert y.shape == x.shape
    power = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(N, 1 / SR)
    assert power[freqs > 3600].sum() < 0.01 * power.sum()
    assert power[freqs < 200].sum() < 0.01 * power.sum()
    # Without companding the channel is exactly the band-pass applied twice (before decimation, after interpolation).
    reference = wave.band_limit(wave.band_limit(x, SR), SR).numpy()
    assert snr_db(reference, y) > (80 if law == "none" else 25)


@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_companding_round_trip(law):
    x = tf.constant(np.linspace(-1, 1, 10001, dtype=np.float32))
    np.testing.assert_allclose(wave.companding_roundtrip(x, law, bits=None).numpy(), x.numpy(), atol=1e-5)
    s = speechlike()
    assert snr_db(s, wave.companding_roundtrip(s, law, bits=8).numpy()) > 30.0  # G.711 is about 38 dB


def test_rawboost_properties():
    x = speechlike()
    for name in ("lnl", "isd"):
        y = wave.RAWBOOST[name](x, SEED).numpy()
        assert y.shape == x.shape and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0 + 1e-6
    changed = np.mean(wave.isd_additive_noise(x, SEED).numpy() != x)
    assert changed <= 0.10 + 1e-6
    y = wave.ssi_additive_noise(x, SEED).numpy()
    assert 10.0 - 0.5 <= snr_db(x, y) <= 40.0 + 0.5
    lnl = wave.lnl_convolutive_noise(x, SEED).numpy()
    assert abs(np.mean(lnl)) < 1e-4 and not np.allclose(lnl, x)


def test_notch_kernels_match_band_stop_design():
    """Each RawBoost notch equals scipy.signal.firwin(taps, [f1, f2], window='hamming'), the published design."""
    firwin = pytest.importorskip("scipy.signal").firwin
    cfg = wave.RawBoostConfig(n_bands=1, min_freq=2000, max_freq=2000, min_bandwidth=400, max_bandwidth=400,
                              min_coeffs=101, max_coeffs=101)
    kernel = wave._notch_kernels(SEED, cfg).numpy()[0]
    np.testing.assert_allclose(kernel, firwin(101, [1800, 2200], window="hamming", fs=SR), atol=1e-6)
    response = np.abs(wave._notch_response(SEED, 4096, (0.0, 0.0), cfg).numpy())
    freqs = np.fft.rfftfreq(4096, 1 / SR)
    assert np.max(response) == pytest.approx(1.0) and response[np.argmin(np.abs(freqs - 2000))] < 0.1


@pytest.mark.parametrize("name", WAVE_AUGMENTS)
def test_wave_seeding_and_static_shapes(name):
    fn = WAVE_AUGMENTS[name]
    x = speechlike()
    a, b, c = fn(x, SEED).numpy(), fn(x, SEED).numpy(), fn(x, OTHER).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    traced = tf.function(fn).get_concrete_function(tf.TensorSpec([N], tf.float32), tf.TensorSpec([2], tf.int64))
    assert traced.structured_outputs.shape.as_list() == list(a.shape)


def test_probability_zero_is_identity():
    x = speechlike()
    for y in (wave.add_noise(x, SEED, p=0.0), wave.random_gain(x, SEED, p=0.0), wave.telephony(x, SEED, p=0.0),
              wave.rawboost(x, SEED, p=0.0)):
        np.testing.assert_array_equal(y.numpy(), x)


def test_augment_in_dataset_map():
    waves = tf.data.Dataset.from_tensor_slices(np.stack([speechlike(seed=i) for i in range(4)]))
    seeds = tf.data.Dataset.random(seed=0).batch(2)
    ds = tf.data.Dataset.zip((waves, seeds)).map(lambda x, s: wave.rawboost(wave.add_noise(x, s), s))
    assert ds.element_spec.shape.as_list() == [N]
    assert len(list(ds)) == 4


def test_random_crop_and_pad():
    x = np.arange(1, 1001, dtype=np.float32)
    for i in range(5):
        y = wave.random_crop(x, tf.constant([i, 0]), 300).numpy()
        assert y.shape == (300,) and np.all(np.diff(y) == 1)  # a contiguous excerpt
    short = wave.random_crop(x[:7], SEED, 20).numpy()
    np.testing.assert_array_equal(short, np.tile(x[:7], 3)[:20])
    np.testing.assert_array_equal(wave.random_crop(x, SEED, 1000).numpy(), x)
    np.testing.assert_array_equal(wave.random_crop(np.zeros(0, np.float32), SEED, 5).numpy(), np.zeros(5))


def test_random_crop_static_shape_from_dynamic_length():
    traced = tf.function(lambda x, s: wave.random_crop(x, s, 64600)).get_concrete_function(
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int64))
    assert traced.structured_outputs.shape.as_list() == [64600]


def test_first_window_and_sliding_windows():
    x = np.arange(1, 1001, dtype=np.float32)
    np.testing.assert_array_equal(wave.first_window(x, 300).numpy(), x[:300])
    np.testing.assert_array_equal(wave.first_window(x[:4], 10).numpy(), np.tile(x[:4], 3)[:10])
    windows = sliding_windows(x, 300, 200).numpy()
    assert windows.shape == (5, 300)
    np.testing.assert_array_equal(windows[:, 0], [1, 201, 401, 601, 701])  # last aligned to the end
    np.testing.assert_array_equal(windows[-1], x[-300:])
    np.testing.assert_array_equal(np.unique(windows), x)  # whole clip covered
    np.testing.assert_array_equal(sliding_windows(x[:50], 300, 200).numpy(), [np.tile(x[:50], 6)])


# ----------------------------------------------------------------------------- spec

B, T, F = 6, 50, 20


def batch():
    """Example i is constant i+1, so mixed values reveal the mixing weights."""
    return tf.constant(np.broadcast_to(np.arange(1, B + 1, dtype=np.float32)[:, None, None], (B, T, F)).copy())


def test_spec_augment_masks():
    x = tf.ones([B, T, F])
    y = spec.spec_augment(x, SEED, time_masks=2, max_time_width=10, freq_masks=2, max_freq_width=5).numpy()
    zero_frames = np.all(y == 0, axis=2).sum(axis=1)
    zero_bins = np.all(y == 0, axis=1).sum(axis=1)
    assert np.all(zero_frames <= 20) and np.all(zero_bins <= 10) and (y == 0).any()
    masked = y == 0
    # every zero lies in a fully masked frame or a fully masked bin
    assert np.all(masked == (np.all(masked, axis=2, keepdims=True) | np.all(masked, axis=1, keepdims=True)))
    np.testing.assert_array_equal(spec.spec_augment(x, SEED, p=0.0).numpy(), x.numpy())


def recover(mixed_labels):
    """Own weight and partner index per example from one-hot-of-index labels mixed by two examples."""
    own = np.diag(mixed_labels)
    partner = np.where(own[:, None] < 1.0 - 1e-6, np.argsort(-mixed_labels * (1 - np.eye(B)), axis=1)[:, :1],
                       np.arange(B)[:, None])[:, 0]
    return own, partner


def test_mixup_labels_and_proportion():
    x = batch()
    y, soft = spec.mixup(x, tf.range(B), SEED, alpha=0.4, num_classes=B)
    soft = soft.numpy()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    own, partner = recover(soft)
    expected = own * (np.arange(B) + 1) + (1 - own) * (partner + 1)
    np.testing.assert_allclose(y.numpy()[:, 0, 0], expected, rtol=1e-5)
    assert np.all(np.ptp(y.numpy(), axis=(1, 2)) < 1e-5)


def test_cutmix_labels_match_spliced_frames():
    x = batch()
    y, soft = spec.cutmix(x, tf.range(B), SEED, alpha=1.0, num_classes=B)
    y, soft = y.numpy(), soft.numpy()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    for i in range(B):
        own_frames = np.mean(y[i, :, 0] == i + 1)
        assert soft[i, i] == pytest.approx(own_frames if soft[i, i] < 1 else 1.0, abs=1e-6)
        spliced = np.nonzero(y[i, :, 0] != i + 1)[0]
        if spliced.size:
            assert np.all(np.diff(spliced) == 1)  # one contiguous span


def test_mix_binary_and_soft_labels():
    x = batch()
    labels = tf.constant([0, 1, 0, 1, 1, 0], tf.float32)
    for fn in (spec.mixup, spec.cutmix):
        _, soft = fn(x, labels, SEED)
        assert soft.shape == (B,) and np.all((soft.numpy() >= 0) & (soft.numpy() <= 1))
        _, soft2 = fn(x, tf.one_hot([0, 1, 0, 1, 1, 0], 2), SEED)
        np.testing.assert_allclose(soft2.numpy()[:, 1], soft.numpy(), atol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda x, y, s: (spec.spec_augment(x, s), y),
    lambda x, y, s: spec.mixup(x, y, s, num_classes=B),
    lambda x, y, s: spec.cutmix(x, y, s, num_classes=B),
])
def test_spec_seeding_and_static_shapes(fn):
    x = batch() + tf.random.stateless_normal([B, T, F], [0, 0])
    a, b, c = fn(x, tf.range(B), SEED), fn(x, tf.range(B), SEED), fn(x, tf.range(B), OTHER)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())
    traced = tf.function(fn).get_concrete_function(
        tf.TensorSpec([None, T, F], tf.float32), tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int64))
    assert traced.structured_outputs[0].shape.as_list() == [None, T, F]


def test_noise_bank_rows_white_and_coloured():
    white = wave.noise_bank(SEED, 4, 32768, "white").numpy()
    assert white.shape == (4, 32768) and abs(white.mean()) < 0.02 and abs(white.std() - 1.0) < 0.02
    assert not np.allclose(white[0], white[1])
    coloured = wave.noise_bank(SEED, 3, 32768, "coloured", beta=(0.0, 2.0)).numpy()
    freqs = np.fft.rfftfreq(32768)[1:2000]
    slopes = []
    for row in coloured:  # log-log slope of the power spectrum is -beta: 0, -1, -2
        power = np.abs(np.fft.rfft(row))[1:2000] ** 2
        slopes.append(np.polyfit(np.log(freqs), np.log(power), 1)[0])
    np.testing.assert_allclose(slopes, [0.0, -1.0, -2.0], atol=0.15)
    np.testing.assert_array_equal(wave.noise_bank(SEED, 4, 32768, "white").numpy(), white)


def test_bank_excerpts_are_contiguous_slices_or_loops():
    ramp = tf.constant(np.arange(3 * 1000, dtype=np.float32).reshape(3, 1000))
    for i in range(20):
        part = wave._bank_excerpt(ramp, tf.constant([i, 1]), 400).numpy()
        assert part[0] // 1000 == part[-1] // 1000 and np.all(np.diff(part) == 1)  # one row, no wrap
        looped = wave._bank_excerpt(ramp, tf.constant([i, 2]), 2500).numpy()
        row = looped[0] // 1000
        np.testing.assert_array_equal((looped - 1000 * row) % 1000, (looped[0] - 1000 * row + np.arange(2500)) % 1000)


def test_noise_bank_from_folder(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    sf.write(tmp_path / "a.wav", 0.3 * rng.standard_normal(8000), 8000)  # resampled to 16 kHz: 16,000 samples
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "b.flac", 0.01 * rng.standard_normal(6000), 16000)
    bank = wave.noise_bank_from_folder(str(tmp_path), 16000, 10000)
    assert bank.shape == (3, 10000) and bank.dtype == np.float32
    joined = bank.reshape(-1)
    np.testing.assert_allclose([np.sqrt(np.mean(joined[:16000] ** 2)), np.sqrt(np.mean(joined[16000:22000] ** 2))],
                               [1.0, 1.0], rtol=1e-4)  # each recording at unit RMS, in file order
    np.testing.assert_array_equal(joined[22000:], joined[:8000])  # the join repeats to fill the last row
    (tmp_path / "sub" / "broken.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(ValueError, match="broken.wav"):
        wave.noise_bank_from_folder(str(tmp_path), 16000, 10000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        wave.noise_bank_from_folder(str(tmp_path / "empty"), 16000, 10000)
    with pytest.raises(FileNotFoundError, match="missing"):
        wave.noise_bank_from_folder(str(tmp_path / "missing"), 16000, 10000)
