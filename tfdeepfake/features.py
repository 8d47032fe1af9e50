"""Speech front ends (STFT, log-mel, MFCC, LFCC, log spectrogram) in core TensorFlow ops.

Every front end maps waveforms of shape ``(..., samples)`` with a static sample count to
``(..., frames, bins)`` float32 with static shape, so the same function can run in
``tf.data.Dataset.map`` on the host or inside a model as :class:`FrontEnd` on the device.
Conventions follow librosa (centred frames, periodic Hann window, Slaney mel filters,
``power_to_db``, orthonormal DCT-II, Savitzky-Golay deltas) so features match librosa numerically.
"""
from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import asdict

import numpy as np
import tensorflow as tf

from .config import KINDS, FeatureConfig  # noqa: F401  (public here too: where the front ends are)

# ----------------------------------------------------------------------------- numpy constants

def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` zero-padded to ``n_fft`` at the centre (librosa.filters.get_window + pad_center)."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    lpad = (n_fft - win_length) // 2
    return np.pad(window, (lpad, n_fft - win_length - lpad))


def hz_to_mel(hz, htk: bool = False):
    """Hertz to mel, Slaney (linear below 1 kHz, log above) or HTK formula, as librosa."""
    hz = np.asanyarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, hz / f_sp)


def mel_to_hz(mel, htk: bool = False):
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asanyarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def _triangles(fft_freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Triangular filters (n_filters, n_bins) with peak 1 from ``n_filters + 2`` edge frequencies."""
    fdiff = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    return np.maximum(0.0, np.minimum(lower, upper))


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, slaney_norm: bool = True) -> np.ndarray:
    """Mel filterbank (n_mels, n_fft//2+1) float32, equal to librosa.filters.mel(norm='slaney' or None)."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    weights = _triangles(fft_freqs, edges)
    if slaney_norm:
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def linear_filterbank(sample_rate: int, n_fft: int, n_filters: int, fmin: float = 0.0,
                      fmax: float | None = None) -> np.ndarray:
    """Linearly spaced triangular filters (n_filters, n_fft//2+1) with unit peaks, as in the ASVspoof LFCC baselines."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    return _triangles(fft_freqs, np.linspace(fmin, fmax, n_filters + 2)).astype(np.float32)


def dct_matrix(n_inputs: int, n_outputs: int) -> np.ndarray:
    """Orthonormal DCT-II as an (n_inputs, n_outputs) matrix, so ``x @ D`` equals scipy.fft.dct(x, norm='ortho')[:n_outputs]."""
    n = np.arange(n_inputs)[:, None]
    k = np.arange(n_outputs)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_inputs)) * np.sqrt(2.0 / n_inputs)
    basis[:, 0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def savgol_derivative_coeffs(width: int, order: int) -> np.ndarray:
    """Savitzky-Golay weights for the ``order``-th derivative of a degree-``order`` fit over ``width`` points (librosa.feature.delta)."""
    k = np.arange(width, dtype=np.float64) - width // 2
    vander = k[:, None] ** np.arange(order + 1)[None, :]
    return (math.factorial(order) * np.linalg.pinv(vander)[order]).astype(np.float32)


def _banded(filters: np.ndarray) -> tuple[int, int, np.ndarray]:
    """First and last+1 frequency bin any filter touches, and the (bins, filters) matrix restricted to them.

    The band is only narrowed when it drops over 10% of the bins: below that the slice's copy costs more than it saves.
    """
    used = np.nonzero(filters.any(axis=0))[0]
    lo, hi = int(used[0]), int(used[-1]) + 1
    if hi - lo > 0.9 * filters.shape[1]:
        lo, hi = 0, filters.shape[1]
    return lo, hi, np.ascontiguousarray(filters[:, lo:hi].T)


# ----------------------------------------------------------------------------- TensorFlow ops

def frame_gather_map(num_samples: int, n_fft: int, hop_length: int, win_length: int, pad_mode: str):
    """Centred framing as a gather: source indices (frames, win_length) and per-sample weights.

    Frame ``t`` reads the samples ``t*hop - n_fft//2 + lpad + j`` of the unpadded wave. Constant padding is a
    zero weight (indices clamped); reflect padding folds the index back (numpy's repeated reflection). The
    weights carry the window, so framing, padding and windowing are one gather and one multiply.
    """
    frames = 1 + num_samples // hop_length
    lpad = (n_fft - win_length) // 2
    source = np.arange(frames)[:, None] * hop_length + np.arange(win_length)[None, :] + lpad - n_fft // 2
    window = hann_window(win_length, win_length)[None, :]
    inside = (source >= 0) & (source < num_samples)
    if pad_mode == "constant":
        return np.clip(source, 0, num_samples - 1).astype(np.int32), (window * inside).astype(np.float32)
    period = 2 * (num_samples - 1)
    folded = np.mod(source, period) if period else np.zeros_like(source)
    folded = np.minimum(folded, period - folded)
    return folded.astype(np.int32), np.broadcast_to(window, source.shape).astype(np.float32)


_portable = threading.local()


@contextlib.contextmanager
def portable_graph():
    """Trace the STFT with plain ops inside this block: no XLA clusters and no complex tensors (the DFT as two
    real matmuls), forms every converter knows (tf2onnx has no general RFFT). Same values up to float rounding;
    the fused FFT stays the default because it is several times faster on CPU."""
    previous = getattr(_portable, "active", False)
    _portable.active = True
    try:
        yield
    finally:
        _portable.active = previous


def portable() -> bool:
    """Whether :func:`portable_graph` is active (layers with a converter-friendly form check it while tracing)."""
    return getattr(_portable, "active", False)


@tf.function(jit_compile=True)
def _windowed_frames(wave, indices, weights):
    """Gather + window fused by XLA: one pass writing the frames (plain tf.gather is 7x slower on CPU)."""
    return tf.gather(wave, indices, axis=-1) * weights


@tf.function(jit_compile=True)
def _spectral_power(spectrum, power):
    """|X|**power fused by XLA into one pass over the complex spectrum (3-5x faster than unfused ops on CPU)."""
    squared = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    return squared if power == 2.0 else tf.math.pow(squared, power / 2.0)


def stft(wave, n_fft: int = 512, hop_length: int = 160, win_length: int | None = None, pad_mode: str = "constant",
         power: float = 2.0):
    """|STFT|**power, shape (..., 1 + samples//hop, n_fft//2+1), like librosa.stft(center=True) with a periodic Hann window.

    With a static sample count, framing is one XLA-fused gather (see :func:`frame_gather_map`); a dynamic
    count takes tf.pad + tf.signal.frame. Only the window's non-zero span is framed; rfft zero-pads to n_fft.
    """
    win_length = n_fft if win_length is None else win_length
    wave = tf.convert_to_tensor(wave, tf.float32)
    num_samples = wave.shape[-1]
    plain = portable()
    if num_samples is not None:
        indices, weights = frame_gather_map(num_samples, n_fft, hop_length, win_length, pad_mode)
        frames = (tf.gather(wave, indices, axis=-1) * weights) if plain else \
            _windowed_frames(wave, indices, weights)
    else:
        pad = n_fft // 2
        padded = tf.pad(wave, [[0, 0]] * (wave.shape.rank - 1) + [[pad, pad]], mode=pad_mode.upper())
        lpad = (n_fft - win_length) // 2
        frames = tf.signal.frame(padded[..., lpad:], win_length, hop_length, pad_end=False)
        num_frames = 1 + tf.shape(wave)[-1] // hop_length
        frames = frames[..., :num_frames, :] * hann_window(win_length, win_length).astype(np.float32)
    if plain:
        return _dft_power(frames, n_fft, float(power))
    return _spectral_power(tf.signal.rfft(frames, fft_length=[n_fft]), float(power))


def _dft_power(frames, n_fft: int, power: float):
    """|rfft(frames, n_fft)|**power as two real matmuls (frames shorter than n_fft are zero-padded, as rfft)."""
    length = frames.shape[-1]
    angle = 2.0 * np.pi * np.outer(np.arange(length), np.arange(n_fft // 2 + 1)) / n_fft
    real = tf.linalg.matmul(frames, tf.constant(np.cos(angle), tf.float32))
    imag = tf.linalg.matmul(frames, tf.constant(np.sin(angle), tf.float32))
    squared = tf.math.square(real) + tf.math.square(imag)
    return squared if power == 2.0 else tf.math.pow(squared, power / 2.0)


def power_to_db(power, floor: float = 1e-10, top_db: float | None = None):
    """10*log10(max(power, floor)), clipped to ``top_db`` below each example's maximum (librosa.power_to_db, ref=1)."""
    db = (10.0 / math.log(10.0)) * tf.math.log(tf.math.maximum(power, floor))
    if top_db is not None:
        db = tf.math.maximum(db, tf.math.reduce_max(db, axis=[-2, -1], keepdims=True) - top_db)
    return db


def apply_filterbank(spectrum, lo: int, hi: int, weights):
    """Project (..., frames, bins) onto filters given as the dense (hi-lo, filters) band of a filterbank.

    Measured on 2 CPU cores, (32, 401, 257) power spectra, 80-128 filters: dense matmul 11-15 ms,
    tf.sparse matmul 12-16 ms, dense matmul on the touched band only 10 ms when fmax = sr/4.
    """
    return tf.linalg.matmul(spectrum[..., lo:hi], weights)


def delta(features, width: int = 3, order: int = 1):
    """Derivative along frames of (..., frames, coeffs), equal to librosa.feature.delta(axis=-2, mode='interp').

    With a degree-``order`` fit the 'interp' edges equal the first/last full-window value, so a valid
    filter followed by edge replication reproduces librosa exactly. Needs frames >= width.
    """
    coeffs = savgol_derivative_coeffs(width, order)
    num_frames = features.shape[-2]
    if num_frames is not None and num_frames < width:
        raise ValueError(f"delta needs at least {width} frames, got {num_frames}")
    valid_len = tf.shape(features)[-2] - width + 1
    valid = tf.add_n([float(c) * features[..., k:k + valid_len, :] for k, c in enumerate(coeffs) if c != 0.0])
    half = width // 2
    head = tf.repeat(valid[..., :1, :], half, axis=-2)
    tail = tf.repeat(valid[..., -1:, :], half, axis=-2)
    out = tf.concat([head, valid, tail], axis=-2)
    return tf.ensure_shape(out, features.shape)


def make_frontend(config: FeatureConfig):
    """Build ``fn(wave) -> features`` for ``config``; numpy constants (window, filters, DCT) are made once here."""
    spec_kwargs = dict(n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
                       pad_mode=config.pad_mode)
    to_db = dict(floor=config.log_floor, top_db=config.top_db)

    if config.kind == "stft":
        return lambda wave: stft(wave, power=config.power, **spec_kwargs)
    if config.kind == "logspec":
        return lambda wave: power_to_db(stft(wave, **spec_kwargs), **to_db)

    if config.kind == "lfcc":
        filters = linear_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    else:
        filters = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax, config.htk)
    lo, hi, weights = _banded(filters)

    def filterbank_db(wave):
        return power_to_db(apply_filterbank(stft(wave, **spec_kwargs), lo, hi, weights), **to_db)

    if config.kind == "logmel":
        return filterbank_db

    dct = dct_matrix(config.n_mels, config.n_coeffs)

    def cepstrum(wave):
        coeffs = tf.linalg.matmul(filterbank_db(wave), dct)
        if not config.deltas:
            return coeffs
        return tf.concat([coeffs, delta(coeffs, config.delta_width, 1), delta(coeffs, config.delta_width, 2)], axis=-1)

    return cepstrum


@tf.keras.utils.register_keras_serializable(package="tfdeepfake")
class FrontEnd(tf.keras.layers.Layer):
    """Keras layer computing :func:`make_frontend` features in float32 on the model's device.

    Registered, its config the FeatureConfig as a dict: a model holding it saves and reloads whole (.keras).
    """

    def __init__(self, config: FeatureConfig | dict, **kwargs):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.config = config if isinstance(config, FeatureConfig) else FeatureConfig(**config)
        self._frontend = make_frontend(self.config)

    def call(self, inputs):
        return self._frontend(inputs)

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        frames = None if input_shape[-1] is None else self.config.num_frames(input_shape[-1])
        return input_shape[:-1].concatenate([frames, self.config.num_bins()])

    def get_config(self):
        return {**super().get_config(), "config": asdict(self.config)}
