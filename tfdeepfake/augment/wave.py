"""In-graph waveform augmentation and cropping with core TensorFlow ops.

All random draws are stateless and derived from a ``seed`` tensor of shape [2], so the same seed gives
the same output in eager mode, in ``tf.function`` and in ``tf.data`` (pass e.g. the seed from
``Dataset.random(...).batch(2)`` zipped with the data). Augmentations take one waveform of shape
``(samples,)``, keep its shape, and apply with probability ``p``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..audio import AUDIO_SUFFIXES, load_audio
from ..corpora.base import find_audio


def _seeds(seed, n: int):
    """``n`` independent seeds of shape [2] from one."""
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), n))


def _uniform(seed, low, high, shape=()):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high, dtype=tf.float32)


def _apply_with_probability(wave, augmented, seed, p: float):
    if p >= 1.0:  # no draw and no full-length select
        return augmented
    return tf.where(_uniform(seed, 0.0, 1.0) < p, augmented, wave)


def _length(wave):
    """Static sample count when known, else a scalar tensor."""
    return wave.shape[-1] if wave.shape[-1] is not None else tf.shape(wave)[-1]


def _power(x):
    return tf.math.reduce_mean(tf.math.square(x))


def _scale_to_snr(signal, noise, snr_db):
    """Noise rescaled so that 10*log10(P_signal / P_noise) == snr_db."""
    ratio = _power(signal) / tf.math.maximum(_power(noise), 1e-20) / tf.math.pow(10.0, snr_db / 10.0)
    return noise * tf.math.sqrt(ratio)


def _normalise_if_clipping(x):
    """Divide by the peak only when it exceeds 1 (RawBoost's normWav(x, 0))."""
    peak = tf.math.reduce_max(tf.math.abs(x))
    return tf.where(peak > 1.0, x / tf.math.maximum(peak, 1e-20), x)


# ----------------------------------------------------------------------------- noise and gain

def coloured_noise(seed, length, beta):
    """Gaussian noise with a 1/f**beta power spectrum (beta 0 = white, 1 = pink, 2 = brown), zero mean."""
    white = tf.random.stateless_normal([length], seed)
    spectrum = tf.signal.rfft(white)
    bins = tf.cast(tf.range(tf.shape(spectrum)[0]), tf.float32)
    weights = tf.where(bins > 0, tf.math.pow(tf.math.maximum(bins, 1.0), -beta / 2.0), 0.0)
    return tf.signal.irfft(spectrum * tf.complex(weights, 0.0), fft_length=[length])


def noise_bank(seed, rows: int, samples: int, noise: str = "white", beta=(1.0, 2.0)):
    """A (rows, samples) bank of synthetic noise for ``add_noise(noise='bank')``: white Gaussian rows, or
    coloured rows with 1/f**beta exponents spread evenly over ``beta``.

    Made once per pipeline and cut at random offsets per clip, which costs a slice instead of fresh Gaussian
    draws (``stateless_normal`` was the largest single cost of a noisy training pipeline on CPU).
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), rows)
    if noise == "white":
        return tf.stack([tf.random.stateless_normal([samples], seeds[i]) for i in range(rows)])
    if noise == "coloured":
        betas = [beta[0] + (beta[1] - beta[0]) * i / max(rows - 1, 1) for i in range(rows)]
        return tf.stack([coloured_noise(seeds[i], samples, float(b)) for i, b in enumerate(betas)])
    raise ValueError(f"a synthetic noise bank is 'white' or 'coloured', got {noise!r}")


def _bank_excerpt(bank, seed, length):
    """``length`` samples of a random row of ``bank`` from a random offset; a row shorter than that is looped."""
    row_seed, offset_seed = _seeds(seed, 2)
    row = tf.random.stateless_uniform([], row_seed, 0, tf.shape(bank)[0], dtype=tf.int32)
    bank_len = tf.shape(bank)[1]

    def sliced():
        offset = tf.random.stateless_uniform([], offset_seed, 0, bank_len - length + 1, dtype=tf.int32)
        return bank[row, offset:offset + length]

    def looped():
        offset = tf.random.stateless_uniform([], offset_seed, 0, bank_len, dtype=tf.int32)
        return repeat_to_length(bank[row], length + bank_len)[offset:offset + length]

    return tf.cond(bank_len >= length, sliced, looped)


def add_noise(wave, seed, snr_db=(5.0, 20.0), noise: str = "white", beta=(1.0, 2.0), bank=None, p: float = 1.0):
    """Add noise at an SNR drawn uniformly from ``snr_db``.

    ``noise``: 'white'; 'coloured' (1/f**beta with beta uniform in ``beta``); or 'bank', a random excerpt of a
    random row of ``bank`` (num_recordings, bank_samples), looped when shorter than the wave (see
    :func:`noise_bank` and :func:`noise_bank_from_folder`).
    """
    wave = tf.convert_to_tensor(wave, tf.float32)
    coin, snr_seed, noise_seed, pick_seed = _seeds(seed, 4)
    length = _length(wave)
    if noise == "white":
        source = tf.random.stateless_normal([length], noise_seed)
    elif noise == "coloured":
        source = coloured_noise(noise_seed, length, _uniform(noise_seed, beta[0], beta[1]))
    elif noise == "bank":
        if bank is None:
            raise ValueError("noise='bank' needs a bank tensor of shape (num_recordings, samples)")
        source = _bank_excerpt(tf.convert_to_tensor(bank, tf.float32), pick_seed, length)
    else:
        raise ValueError(f"noise must be 'white', 'coloured' or 'bank', got {noise!r}")
    noisy = wave + _scale_to_snr(wave, source, _uniform(snr_seed, snr_db[0], snr_db[1]))
    return _apply_with_probability(wave, noisy, coin, p)


def noise_bank_from_folder(folder: str, sample_rate: int, row_samples: int) -> np.ndarray:
    """Noise recordings for ``add_noise(noise='bank')``: every audio file below ``folder``, resampled to
    ``sample_rate``, each scaled to unit RMS, joined and cut into rows of ``row_samples`` (the join is repeated
    to fill the last row). A bad file raises :class:`tfdeepfake.audio.AudioError` naming it."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"noise folder {folder!r} does not exist")
    paths = find_audio(folder)
    if not paths:
        raise ValueError(f"noise folder {folder!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    pieces = []
    for path in paths:
        samples, _ = load_audio(path, sample_rate)
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        if rms > 0:
            pieces.append(samples / rms)
    if not pieces:
        raise ValueError(f"every recording in noise folder {folder!r} is silent")
    joined = np.concatenate(pieces).astype(np.float32)
    rows = max(1, -(-len(joined) // row_samples))
    return np.resize(joined, rows * row_samples).reshape(rows, row_samples)


def random_gain(wave, seed, gain_db=(-6.0, 6.0), p: float = 1.0):
    """Multiply by a gain drawn uniformly in dB from ``gain_db``."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    coin, gain_seed = _seeds(seed, 2)
    gained = wave * tf.math.pow(10.0, _uniform(gain_seed, gain_db[0], gain_db[1]) / 20.0)
    return _apply_with_probability(wave, gained, coin, p)


# ----------------------------------------------------------------------------- telephony channel

def mu_law_encode(x, mu: float = 255.0):
    """µ-law compression of [-1, 1] to [-1, 1] (G.711 curve, continuous)."""
    return tf.math.sign(x) * tf.math.log1p(mu * tf.math.abs(x)) / math.log1p(mu)


def mu_law_decode(y, mu: float = 255.0):
    """Inverse of :func:`mu_law_encode`."""
    return tf.math.sign(y) * tf.math.expm1(tf.math.abs(y) * math.log1p(mu)) / mu


def a_law_encode(x, a: float = 87.6):
    """A-law compression of [-1, 1] to [-1, 1] (G.711 curve, continuous)."""
    ax = tf.math.abs(x)
    denominator = 1.0 + math.log(a)
    small = a * ax / denominator
    large = (1.0 + tf.math.log(tf.math.maximum(a * ax, 1.0))) / denominator
    return tf.math.sign(x) * tf.where(ax < 1.0 / a, small, large)


def a_law_decode(y, a: float = 87.6):
    """Inverse of :func:`a_law_encode`."""
    ay = tf.math.abs(y)
    denominator = 1.0 + math.log(a)
    small = ay * denominator / a
    large = tf.math.exp(ay * denominator - 1.0) / a
    return tf.math.sign(y) * tf.where(ay < 1.0 / denominator, small, large)


def quantize(y, bits: int = 8):
    """Uniform quantisation of [-1, 1] to 2**bits levels."""
    steps = 2.0 ** bits - 1.0
    return tf.math.round((tf.clip_by_value(y, -1.0, 1.0) + 1.0) * (steps / 2.0)) * (2.0 / steps) - 1.0


def companding_roundtrip(x, law: str = "mulaw", bits: int | None = 8):
    """Compress with ``law`` ('mulaw' or 'alaw'), quantise to ``bits`` (None = no quantisation), expand."""
    encode, decode = {"mulaw": (mu_law_encode, mu_law_decode), "alaw": (a_law_encode, a_law_decode)}[law]
    y = encode(tf.clip_by_value(x, -1.0, 1.0))
    return decode(quantize(y, bits) if bits else y)


def band_limit(wave, sample_rate: int, low: float = 300.0, high: float = 3400.0, taper: float = 100.0):
    """Zero-phase band-pass in the frequency domain: flat in [low, high], raised-cosine tapers of ``taper`` Hz
    outside, exactly zero below ``low - taper`` and above ``high + taper``."""
    length = _length(wave)
    spectrum = tf.signal.rfft(wave)
    freqs = tf.cast(tf.range(tf.shape(spectrum)[-1]), tf.float32) * (sample_rate / tf.cast(length, tf.float32))
    rise = tf.clip_by_value((freqs - (low - taper)) / taper, 0.0, 1.0)
    fall = tf.clip_by_value(((high + taper) - freqs) / taper, 0.0, 1.0)
    mask = (0.5 - 0.5 * tf.math.cos(math.pi * rise)) * (0.5 - 0.5 * tf.math.cos(math.pi * fall))
    return tf.signal.irfft(spectrum * tf.complex(mask, 0.0), fft_length=[length])


def telephony(wave, seed, sample_rate: int = 16000, companding=("none", "mulaw", "alaw"), bits: int = 8,
              p: float = 1.0):
    """Narrow-band telephone channel: 300-3400 Hz band-pass, decimation to 8 kHz, companding with a law drawn
    uniformly from ``companding`` ('none', 'mulaw', 'alaw') and ``bits`` quantisation, interpolation back."""
    if sample_rate % 8000:
        raise ValueError(f"telephony needs a sample rate that is a multiple of 8 kHz, got {sample_rate}")
    wave = tf.convert_to_tensor(wave, tf.float32)
    coin, law_seed = _seeds(seed, 2)
    factor = sample_rate // 8000
    length = _length(wave)
    narrow = band_limit(wave, sample_rate)[::factor]
    candidates = [narrow if law == "none" else companding_roundtrip(narrow, law, bits) for law in companding]
    law = tf.random.stateless_uniform([], law_seed, 0, len(candidates), dtype=tf.int32)
    narrow = tf.gather(tf.stack(candidates), law)
    # Zero-stuffing then the same band-pass removes the spectral images (and quantisation noise above 3.4 kHz).
    stuffed = tf.concat([narrow[:, None] * float(factor), tf.zeros([tf.shape(narrow)[0], factor - 1])], axis=1)
    upsampled = tf.reshape(stuffed, [-1])[:length]
    channel = tf.ensure_shape(band_limit(upsampled, sample_rate), wave.shape)
    return _apply_with_probability(wave, channel, coin, p)


# ----------------------------------------------------------------------------- RawBoost

@dataclass(frozen=True)
class RawBoostConfig:
    """RawBoost parameters (Tak et al., ICASSP 2022); defaults are the published ones for 16 kHz."""

    n_bands: int = 5
    min_freq: float = 20.0
    max_freq: float = 8000.0
    min_bandwidth: float = 100.0
    max_bandwidth: float = 1000.0
    min_coeffs: int = 10
    max_coeffs: int = 100
    min_gain_db: float = 0.0
    max_gain_db: float = 0.0
    min_bias_nonlinear_db: float = 5.0
    max_bias_nonlinear_db: float = 20.0
    nonlinear_orders: int = 5
    max_impulse_percent: int = 10
    impulse_gain: float = 2.0
    min_snr_db: float = 10.0
    max_snr_db: float = 40.0
    sample_rate: int = 16000

    @property
    def kernel_length(self) -> int:
        """Longest single notch filter (odd)."""
        return self.max_coeffs | 1

    @property
    def cascade_length(self) -> int:
        """Longest cascade of ``n_bands`` notch filters."""
        return self.n_bands * (self.kernel_length - 1) + 1


def _notch_kernels(seed, config: RawBoostConfig):
    """``n_bands`` random Hamming-windowed FIR band-stop filters (n_bands, kernel_length), zero-padded after their
    random odd length; centre frequency, bandwidth and length uniform in the configured ranges; unit gain at DC."""
    fc_seed, bw_seed, len_seed = _seeds(seed, 3)
    shape = [config.n_bands, 1]
    centre = _uniform(fc_seed, config.min_freq, config.max_freq, shape)
    bandwidth = _uniform(bw_seed, config.min_bandwidth, config.max_bandwidth, shape)
    nyquist = config.sample_rate / 2.0
    f1 = tf.clip_by_value(centre - bandwidth / 2.0, 0.0, nyquist) / config.sample_rate
    f2 = tf.clip_by_value(centre + bandwidth / 2.0, 0.0, nyquist) / config.sample_rate
    taps = tf.random.stateless_uniform(shape, len_seed, config.min_coeffs, config.max_coeffs + 1, dtype=tf.int32)
    taps = tf.cast(tf.bitwise.bitwise_or(taps, 1), tf.float32)
    m = tf.range(config.kernel_length, dtype=tf.float32)[None, :]
    n = m - (taps - 1.0) / 2.0

    def lowpass(cutoff):  # 2 fc sinc(2 fc n)
        x = 2.0 * cutoff * n
        safe = tf.where(tf.math.equal(x, 0.0), 1.0, x)
        return 2.0 * cutoff * tf.where(tf.math.equal(x, 0.0), 1.0, tf.math.sin(math.pi * safe) / (math.pi * safe))

    impulse = tf.cast(tf.math.equal(n, 0.0), tf.float32)
    window = 0.54 - 0.46 * tf.math.cos(2.0 * math.pi * m / (taps - 1.0))
    kernel = tf.where(m < taps, (impulse - lowpass(f2) + lowpass(f1)) * window, 0.0)
    return kernel / tf.math.reduce_sum(kernel, axis=1, keepdims=True)


def _notch_response(seed, fft_length: int, gain_db, config: RawBoostConfig):
    """Frequency response (fft_length//2+1,) of a random notch cascade, peak magnitude scaled to ``gain_db``."""
    kernel_seed, gain_seed = _seeds(seed, 2)
    responses = tf.signal.rfft(_notch_kernels(kernel_seed, config), fft_length=[fft_length])
    response = responses[0]
    for band in range(1, config.n_bands):
        response *= responses[band]
    gain = tf.math.pow(10.0, _uniform(gain_seed, gain_db[0], gain_db[1]) / 20.0)
    peak = tf.math.maximum(tf.math.reduce_max(tf.math.abs(response)), 1e-20)
    return response * tf.complex(gain / peak, 0.0)


def _fft_length(wave, config: RawBoostConfig):
    """FFT length for linear (not circular) filtering of ``wave`` by a notch cascade."""
    return _length(wave) + config.cascade_length - 1


def lnl_convolutive_noise(wave, seed, config: RawBoostConfig = RawBoostConfig()):
    """RawBoost 1, linear and non-linear convolutive noise: sum over j = 1..orders of x**j through its own random
    notch cascade (gains for j >= 2 lowered by the non-linear bias), mean removed, peak-normalised if above 1."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    length, fft_length = _length(wave), _fft_length(wave, config)
    linear = (config.min_gain_db, config.max_gain_db)
    nonlinear = (config.min_gain_db - config.min_bias_nonlinear_db, config.max_gain_db - config.max_bias_nonlinear_db)
    total = 0.0
    for order, order_seed in enumerate(_seeds(seed, config.nonlinear_orders), start=1):
        response = _notch_response(order_seed, fft_length, linear if order == 1 else nonlinear, config)
        total += tf.signal.rfft(tf.math.pow(wave, float(order)), fft_length=[fft_length]) * response
    y = tf.signal.irfft(total, fft_length=[fft_length])[:length]
    return _normalise_if_clipping(y - tf.math.reduce_mean(y))


def isd_additive_noise(wave, seed, config: RawBoostConfig = RawBoostConfig()):
    """RawBoost 2, impulsive signal-dependent noise: a random P% (P uniform in 0..max_percent) of samples get
    x += impulse_gain * x * (2u-1)(2v-1); peak-normalised if above 1."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    percent_seed, pick_seed, u_seed, v_seed = _seeds(seed, 4)
    length = _length(wave)
    percent = tf.random.stateless_uniform([], percent_seed, 0, config.max_impulse_percent + 1, dtype=tf.int32)
    count = tf.cast(tf.cast(length, tf.float32) * tf.cast(percent, tf.float32) / 100.0, tf.int32)
    # Exactly `count` samples: those whose random key is below the count-th smallest key.
    keys = tf.random.stateless_uniform([length], pick_seed)
    threshold = tf.gather(tf.concat([tf.sort(keys), [2.0]], axis=0), count)
    factor = (2.0 * tf.random.stateless_uniform([length], u_seed) - 1.0) * (
        2.0 * tf.random.stateless_uniform([length], v_seed) - 1.0)
    return _normalise_if_clipping(wave + tf.where(keys < threshold, config.impulse_gain * wave * factor, 0.0))


def ssi_additive_noise(wave, seed, config: RawBoostConfig = RawBoostConfig()):
    """RawBoost 3, stationary signal-independent noise: white noise through a random notch cascade, added at an
    SNR uniform in [min_snr_db, max_snr_db]."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    noise_seed, filter_seed, snr_seed = _seeds(seed, 3)
    length, fft_length = _length(wave), _fft_length(wave, config)
    response = _notch_response(filter_seed, fft_length, (config.min_gain_db, config.max_gain_db), config)
    white = tf.random.stateless_normal([length], noise_seed)
    coloured = tf.signal.irfft(tf.signal.rfft(white, fft_length=[fft_length]) * response, fft_length=[fft_length])
    return wave + _scale_to_snr(wave, coloured[:length], _uniform(snr_seed, config.min_snr_db, config.max_snr_db))


RAWBOOST = {"lnl": lnl_convolutive_noise, "isd": isd_additive_noise, "ssi": ssi_additive_noise}


def rawboost(wave, seed, chain=("lnl", "isd", "ssi"), parallel: bool = False,
             config: RawBoostConfig = RawBoostConfig(), p: float = 1.0):
    """RawBoost with the algorithms in ``chain`` ('lnl', 'isd', 'ssi') applied in series (published algos 4-7,
    or 1-3 for one name) or, with ``parallel``, each to the input and averaged (algo 8 for ('lnl', 'isd'))."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    coin, *step_seeds = _seeds(seed, len(chain) + 1)
    if parallel:
        boosted = _normalise_if_clipping(
            tf.math.add_n([RAWBOOST[name](wave, s, config) for name, s in zip(chain, step_seeds)]) / len(chain))
    else:
        boosted = wave
        for name, step_seed in zip(chain, step_seeds):
            boosted = RAWBOOST[name](boosted, step_seed, config)
    return _apply_with_probability(wave, boosted, coin, p)


# ----------------------------------------------------------------------------- crops

def repeat_to_length(wave, length: int):
    """The wave repeated (tiled, not gathered) to at least ``length`` samples; an empty wave becomes zeros.

    Any dtype: crop int16 PCM before converting it.
    """
    wave = tf.convert_to_tensor(wave)
    n = tf.shape(wave)[0]
    wave = tf.cond(n > 0, lambda: wave, lambda: tf.zeros([1], wave.dtype))
    n = tf.shape(wave)[0]
    return tf.cond(n >= length, lambda: wave, lambda: tf.tile(wave, [(length + n - 1) // n]))


def random_crop(wave, seed, length: int):
    """Training crop: ``length`` samples from a uniform random offset; shorter clips are repeated from the start."""
    wave = tf.convert_to_tensor(wave)
    span = tf.math.maximum(tf.shape(wave)[0] - length, 0)
    offset = tf.random.stateless_uniform([], seed, 0, span + 1, dtype=tf.int32)
    return tf.ensure_shape(repeat_to_length(wave, length)[offset:offset + length], [length])


def first_window(wave, length: int):
    """Evaluation crop: the first ``length`` samples; shorter clips are repeated to fill."""
    return tf.ensure_shape(repeat_to_length(wave, length)[:length], [length])
