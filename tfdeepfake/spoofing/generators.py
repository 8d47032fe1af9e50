"""Offline spoof generators ("attacks") for a demo anti-spoofing corpus.

Every generator is a :class:`Generator` registered under a system id in :data:`GENERATORS` and called the
same way::

    fake = GENERATORS["world"](source, 16000, seed=7)            # copy-synthesis of a real utterance
    fake = GENERATORS["tts_espeak"](None, 16000, text="Hello.", seed=7)   # text-to-speech

Copy-synthesis systems return float32 audio of exactly ``len(source)`` samples at ``sample_rate``; TTS
systems return float32 audio at ``sample_rate`` whose length follows the text. All randomness comes from a
``numpy.random.Generator`` built from ``seed`` (or passed as ``rng``), so a (system id, input, seed) triple
always gives the same output.

A missing tool raises :class:`GeneratorUnavailable` naming what to install; a tool that runs but gives no
usable audio raises :class:`GeneratorFailed`. Both derive from :class:`GeneratorError`, so a corpus build can
``except GeneratorError`` per clip and carry on. :func:`available_generators` says up front what will run.

Systems
-------
``griffinlim_mel``   80-band mel power spectrogram -> NNLS linear magnitude -> Griffin-Lim (librosa).
``world``            WORLD analysis (DIO + StoneMask, CheapTrick, D4C) and resynthesis (pyworld).
``world_mod``        WORLD with a mild f0 scaling and spectral-envelope frequency warp (drawn from the seed).
``lpc``              Frame-wise LPC source-filter resynthesis: pulse train at the estimated f0 + noise.
``phase_random``     STFT magnitude kept, phase replaced by uniform random phase.
``phase_vocoder``    Phase-vocoder time stretch by a factor r and back by 1/r (phasiness, transient smear).
``lyra_3200``        Lyra v2 neural codec round trip at 3.2 kbit/s (also ``lyra_6000``, ``lyra_9200``; TFLite).
``hifigan_v3_fp16``  HiFi-GAN V3 vocoder on the source's log-mel spectrogram (also ``hifigan_v3_dr``; TFLite).
``tts_espeak``       espeak-ng (Debian package espeak-ng).
``tts_flite``        Flite (Debian package flite).
``tts_festival``     Festival ``text2wave`` (Debian packages festival + festvox-kallpc16k).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

from . import neural, tts
from .errors import (
    GeneratorError,
    GeneratorFailed,
    GeneratorInputError,
    GeneratorUnavailable,
)

__all__ = [
    "GENERATORS",
    "Generator",
    "GeneratorError",
    "GeneratorFailed",
    "GeneratorInputError",
    "GeneratorUnavailable",
    "available_generators",
    "generate",
    "get_generator",
    "unavailable_generators",
]

MIN_SOURCE_SECONDS = 0.1
MAX_TEXT_CHARS = 2000
SILENCE_RMS = 1e-5  # about -100 dBFS: anything quieter counts as no output

SynthFunction = Callable[..., np.ndarray]


# --------------------------------------------------------------------------------------------------------
# The generator wrapper and registry
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generator:
    """A named spoof system with the common call signature.

    ``synthesize(source, sample_rate, rng, text, **options)`` does the work; ``check()`` returns ``None`` when
    it can run here, else ``(missing tool, install command)``; ``missing()`` says the same in words.
    """

    system_id: str
    kind: str  # "copy-synthesis" or "tts"
    description: str
    synthesize: SynthFunction = field(repr=False)
    check: Callable[[], tuple[str, str] | None] = field(repr=False, default=lambda: None)

    @property
    def needs_source(self) -> bool:
        return self.kind == "copy-synthesis"

    @property
    def needs_text(self) -> bool:
        return self.kind == "tts"

    def missing(self) -> str | None:
        """``None`` when every tool is present, else what is missing and the install command."""
        problem = self.check()
        return None if problem is None else f"{problem[0]} is not available (install with: {problem[1]})"

    def available(self) -> bool:
        return self.missing() is None

    def __call__(self, source: np.ndarray | None = None, sample_rate: int = 16000, *, text: str | None = None,
                 seed: int | None = 0, rng: np.random.Generator | None = None, **options) -> np.ndarray:
        """Make one spoofed clip.

        ``source``: mono float audio at ``sample_rate`` (required for copy-synthesis, ignored by TTS).
        ``text``: what to say (required for TTS, ignored by copy-synthesis).
        ``seed`` / ``rng``: all randomness; ``rng`` wins when both are given.
        ``options``: system-specific keyword arguments (see each ``*_resynthesis`` / ``*_tts`` function).
        Returns float32 mono audio at ``sample_rate``.
        """
        sample_rate = int(sample_rate)
        if sample_rate < 8000:
            raise GeneratorInputError(self.system_id, f"sample_rate {sample_rate} Hz is below 8000 Hz")
        if rng is None:
            rng = np.random.default_rng(seed)
        if self.needs_source:
            source = _check_source(self.system_id, source, sample_rate)
        else:
            source = None
        if self.needs_text:
            text = _check_text(self.system_id, text)
        problem = self.check()
        if problem is not None:
            raise GeneratorUnavailable(self.system_id, *problem)
        try:
            out = self.synthesize(source, sample_rate, rng, text, system_id=self.system_id, **options)
        except GeneratorError:
            raise
        except (ValueError, FloatingPointError, ArithmeticError, RuntimeError) as error:
            raise GeneratorFailed(self.system_id, f"{type(error).__name__}: {error}") from error
        out = np.asarray(out, dtype=np.float32).reshape(-1)
        if source is not None:
            out = _fit_length(out, len(source))
        return _check_output(self.system_id, out)


def _check_source(system_id: str, source, sample_rate: int) -> np.ndarray:
    if source is None:
        raise GeneratorInputError(system_id, "needs source audio (copy-synthesis of a real utterance)")
    samples = np.asarray(source)
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise GeneratorInputError(system_id, f"source must be mono 1-D audio, got shape {samples.shape}")
    if not np.issubdtype(samples.dtype, np.floating):
        raise GeneratorInputError(system_id, f"source must be float audio in [-1, 1], got {samples.dtype}")
    if len(samples) < MIN_SOURCE_SECONDS * sample_rate:
        raise GeneratorInputError(system_id, f"source is {len(samples)} samples, shorter than {MIN_SOURCE_SECONDS} s")
    if not np.isfinite(samples).all():
        raise GeneratorInputError(system_id, "source contains NaN or Inf")
    if np.sqrt(np.mean(np.square(samples, dtype=np.float64))) < SILENCE_RMS:
        raise GeneratorInputError(system_id, "source is silent")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _check_text(system_id: str, text) -> str:
    if not isinstance(text, str) or not any(ch.isalnum() for ch in text):
        raise GeneratorInputError(system_id, "needs a non-empty text to speak")
    if len(text) > MAX_TEXT_CHARS:
        raise GeneratorInputError(system_id, f"text has {len(text)} characters, more than {MAX_TEXT_CHARS}")
    return " ".join(text.split())


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def _check_output(system_id: str, out: np.ndarray) -> np.ndarray:
    if out.size == 0:
        raise GeneratorFailed(system_id, "produced no samples")
    if not np.isfinite(out).all():
        raise GeneratorFailed(system_id, "produced NaN or Inf samples")
    if np.sqrt(np.mean(np.square(out, dtype=np.float64))) < SILENCE_RMS:
        raise GeneratorFailed(system_id, "produced silence")
    return np.ascontiguousarray(out, dtype=np.float32)


def _module_missing(module: str, pip_name: str) -> Callable[[], tuple[str, str] | None]:
    def check() -> tuple[str, str] | None:
        if importlib.util.find_spec(module) is None:
            return (f"Python package {pip_name}", f"pip install {pip_name}")
        return None

    return check


# --------------------------------------------------------------------------------------------------------
# Copy-synthesis systems (source, sample_rate, rng, text, **options) -> float32
# --------------------------------------------------------------------------------------------------------

def _stft_sizes(sample_rate: int) -> tuple[int, int]:
    """n_fft ~ 32 ms (power of two) and a quarter-frame hop."""
    n_fft = 1 << int(np.round(np.log2(0.032 * sample_rate)))
    return n_fft, n_fft // 4


def griffinlim_mel_resynthesis(source, sample_rate, rng, text=None, *, n_mels: int = 80, n_iter: int = 32,
                               momentum: float = 0.99, mel_noise_db: float = 0.0,
                               system_id: str = "griffinlim_mel") -> np.ndarray:
    """Mel power spectrogram (``n_mels`` bands, optional Gaussian noise of ``mel_noise_db`` dB std to mimic an
    acoustic model's prediction error) inverted to a linear magnitude by NNLS, then ``n_iter`` Griffin-Lim
    iterations from a random phase drawn from ``rng``."""
    import librosa

    n_fft, hop = _stft_sizes(sample_rate)
    power = np.abs(librosa.stft(source, n_fft=n_fft, hop_length=hop)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0,
                                         fmax=sample_rate / 2)
    if mel_noise_db:
        mel = mel * 10.0 ** (rng.normal(0.0, mel_noise_db, size=mel.shape) / 10.0)
    magnitude = librosa.feature.inverse.mel_to_stft(mel, sr=sample_rate, n_fft=n_fft, power=2.0, fmin=0.0,
                                                    fmax=sample_rate / 2)
    return librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=hop, n_fft=n_fft, momentum=momentum,
                              init="random", random_state=rng, length=len(source))


def _warp_envelope(envelope: np.ndarray, alpha: float) -> np.ndarray:
    """Scale the frequency axis of a spectral envelope by ``alpha`` (> 1 raises formants)."""
    bins = np.arange(envelope.shape[1], dtype=np.float64)
    warped = np.empty_like(envelope)
    for i, frame in enumerate(envelope):
        warped[i] = np.interp(bins / alpha, bins, frame)
    return warped


def world_resynthesis(source, sample_rate, rng, text=None, *, f0_scale: float = 1.0, envelope_warp: float = 1.0,
                      f0_method: str = "dio", frame_period: float = 5.0, f0_floor: float = 60.0,
                      f0_ceil: float = 500.0, system_id: str = "world") -> np.ndarray:
    """WORLD analysis/resynthesis. ``f0_scale`` multiplies f0; ``envelope_warp`` scales the spectral
    envelope's frequency axis; ``f0_method`` is ``"dio"`` (fast, DIO + StoneMask) or ``"harvest"``."""
    try:
        import pyworld
    except ImportError as error:
        raise GeneratorUnavailable(system_id, "pyworld", "pip install pyworld") from error
    x = source.astype(np.float64)
    if f0_method == "harvest":
        f0, times = pyworld.harvest(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=frame_period)
    elif f0_method == "dio":
        f0, times = pyworld.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=frame_period)
        f0 = pyworld.stonemask(x, f0, times, sample_rate)
    else:
        raise GeneratorInputError(system_id, f"f0_method must be 'dio' or 'harvest', not {f0_method!r}")
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate, f0_floor=f0_floor)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    if f0_scale != 1.0:
        f0 = f0 * f0_scale
    if envelope_warp != 1.0:
        envelope = _warp_envelope(envelope, envelope_warp)
    return pyworld.synthesize(f0, envelope, aperiodicity, sample_rate, frame_period)


def world_modified_resynthesis(source, sample_rate, rng, text=None, *, f0_scale: float | None = None,
                               envelope_warp: float | None = None, system_id: str = "world_mod",
                               **options) -> np.ndarray:
    """WORLD with a mild modification: f0 scaled by 4-12 % and the envelope warped by 3-8 % (up or down,
    drawn from ``rng``) unless given."""
    if f0_scale is None:
        f0_scale = float(1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.12))
    if envelope_warp is None:
        envelope_warp = float(1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.03, 0.08))
    return world_resynthesis(source, sample_rate, rng, text, f0_scale=f0_scale, envelope_warp=envelope_warp,
                             system_id=system_id, **options)


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    n = 1 + max(0, (len(x) - length)) // hop
    return np.lib.stride_tricks.sliding_window_view(x, length)[::hop][:n]


def estimate_f0(samples: np.ndarray, sample_rate: int, hop: int, *, f0_min: float = 60.0, f0_max: float = 400.0,
                threshold: float = 0.25, gate_db: float = 35.0) -> tuple[np.ndarray, np.ndarray]:
    """Frame-wise f0 (Hz) and voicing strength in [0, 1] by YIN (cumulative-mean-normalised difference).

    Frames are centred at ``k * hop`` for ``k = 0 .. len(samples) // hop``; a frame is voiced when its YIN dip
    is below ``threshold`` and its energy is within ``gate_db`` of the loud frames. Unvoiced frames get f0 0.
    Pure numpy/scipy and deterministic.
    """
    from scipy.signal import butter, sosfiltfilt

    x = samples.astype(np.float64)
    if len(x) > 30:
        x = sosfiltfilt(butter(4, 50.0, "highpass", fs=sample_rate, output="sos"), x)
    tau_max = int(sample_rate / f0_min) + 1
    w = tau_max  # integration window: one longest period
    total = w + tau_max
    padded = np.pad(x, (w // 2 + tau_max // 2, w // 2 + tau_max + hop + total))  # frame k centred on k*hop
    n_frames = len(samples) // hop + 1
    frames = _frames(padded, total, hop)[:n_frames]
    n_fft = 1 << int(np.ceil(np.log2(total + w)))
    cross = np.fft.irfft(np.fft.rfft(frames, n_fft, axis=1) * np.conj(np.fft.rfft(frames[:, :w], n_fft, axis=1)),
                         n_fft, axis=1)[:, :tau_max + 1]  # r(tau) = sum_{j<w} x[j] x[j+tau]
    csum = np.cumsum(np.pad(frames ** 2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(tau_max + 1)
    e0 = csum[:, w] - csum[:, 0]
    diff = e0[:, None] + (csum[:, w + lags] - csum[:, lags]) - 2.0 * cross
    running = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, tau_max + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(running, 1e-12)
    lo = max(int(sample_rate / f0_max), 2)
    seg = cmnd[:, lo:]
    rows = np.arange(len(seg))
    below = seg < threshold
    idx = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(seg, axis=1))
    for _ in range(seg.shape[1]):  # slide down to the local minimum of the first dip
        nxt = np.minimum(idx + 1, seg.shape[1] - 1)
        step = seg[rows, nxt] < seg[rows, idx]
        if not step.any():
            break
        idx = np.where(step, nxt, idx)
    value = seg[rows, idx]
    lag = (idx + lo).astype(np.float64)
    inner = (idx > 0) & (idx < seg.shape[1] - 1)  # parabolic interpolation for a sub-sample lag
    a = seg[rows, np.maximum(idx - 1, 0)]
    c = seg[rows, np.minimum(idx + 1, seg.shape[1] - 1)]
    denom = a - 2.0 * value + c
    ok = inner & (denom > 1e-12)
    lag[ok] += np.clip(0.5 * (a[ok] - c[ok]) / denom[ok], -0.5, 0.5)
    energy_db = 10.0 * np.log10(np.maximum(e0 / w, 1e-20))
    loud = energy_db > np.percentile(energy_db, 95) - gate_db
    voiced = (value < threshold) & loud
    f0 = np.where(voiced, sample_rate / lag, 0.0)
    strength = np.clip(1.0 - value / threshold, 0.0, 1.0) * voiced
    return f0, strength


def lpc_resynthesis(source, sample_rate, rng, text=None, *, order: int | None = None, frame_seconds: float = 0.02,
                    pre_emphasis: float = 0.97, noise_mix: float = 0.05, f0_scale: float = 1.0,
                    system_id: str = "lpc") -> np.ndarray:
    """Source-filter resynthesis: per 20 ms frame (50 % overlap, Hann) an order ``sr/1000 + 4`` LPC all-pole
    filter (Burg) driven by a unit-power pulse train at the estimated f0 (times ``f0_scale``) mixed with
    ``noise_mix`` white noise in voiced frames and pure noise elsewhere; gain from the prediction error;
    overlap-add and de-emphasis."""
    import librosa
    from scipy.signal import lfilter

    order = int(order or sample_rate // 1000 + 4)
    hop = int(round(frame_seconds * sample_rate / 2))
    length = 2 * hop
    x = source.astype(np.float64)
    x = lfilter([1.0, -pre_emphasis], [1.0], x) if pre_emphasis else x
    f0, strength = estimate_f0(source, sample_rate, hop)
    n_frames = len(f0)
    # per-sample f0 and voicing by linear interpolation between frame centres
    centres = np.arange(n_frames) * hop
    t = np.arange(len(x) + length)
    f0_track = np.interp(t, centres, np.where(f0 > 0, f0, 0.0)) * f0_scale
    voicing = np.interp(t, centres, strength)
    voiced_samples = (np.interp(t, centres, (f0 > 0).astype(float)) > 0.5)
    # pulse train: a pulse each time the accumulated phase wraps; amplitude sqrt(period) for unit power
    phase = np.cumsum(np.where(voiced_samples, f0_track, 0.0) / sample_rate)
    pulses = np.zeros_like(phase)
    wraps = np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1
    pulses[wraps] = np.sqrt(sample_rate / np.maximum(f0_track[wraps], 1.0))
    noise = rng.standard_normal(len(t))
    mix = np.where(voiced_samples, np.sqrt(1 - noise_mix) * np.sqrt(np.maximum(voicing, 0.3)), 0.0)
    excitation = mix * pulses + np.sqrt(1 - mix ** 2) * noise
    # frame-wise analysis and overlap-add synthesis
    window = np.hanning(length + 1)[:-1]  # periodic Hann: sums to 1 at 50 % overlap
    padded_x = np.pad(x, (hop, length))
    out = np.zeros(len(x) + 2 * length)
    dither = 1e-7 * rng.standard_normal(length)
    warm = length  # filter warm-up before each frame so the all-pole state has settled
    exc = np.pad(excitation, (hop + warm, 0))
    for k in range(n_frames):
        start = k * hop  # frame k spans [k*hop - hop, k*hop + hop) in source time, centred on k*hop
        frame = padded_x[start:start + length]
        if len(frame) < length:
            break
        frame = frame * window + dither
        try:
            a = librosa.lpc(frame, order=order)
        except (FloatingPointError, ValueError):
            continue
        if not np.isfinite(a).all():
            continue
        residual = lfilter(a, [1.0], frame)
        gain = np.sqrt(np.mean(residual ** 2) / np.mean(window ** 2))
        segment = exc[start:start + warm + length]
        synth = lfilter([gain], a, segment)[warm:]
        out[start:start + length] += synth * window
    y = out[hop:hop + len(x)]
    if pre_emphasis:
        y = lfilter([1.0], [1.0, -pre_emphasis], y)
    return y


def phase_random_resynthesis(source, sample_rate, rng, text=None, *, strength: float = 1.0,
                             system_id: str = "phase_random") -> np.ndarray:
    """Keep the STFT magnitude and replace the phase: ``strength`` 1 gives uniform random phase, smaller
    values add uniform phase noise of +/- ``strength * pi`` to the original phase."""
    import librosa

    n_fft, hop = _stft_sizes(sample_rate)
    spec = librosa.stft(source, n_fft=n_fft, hop_length=hop)
    noise = rng.uniform(-np.pi, np.pi, size=spec.shape)
    phase = noise if strength >= 1.0 else np.angle(spec) + strength * noise
    return librosa.istft(np.abs(spec) * np.exp(1j * phase), hop_length=hop, n_fft=n_fft, length=len(source))


def phase_vocoder_resynthesis(source, sample_rate, rng, text=None, *, rate: float | None = None,
                              semitones: float = 0.0, system_id: str = "phase_vocoder") -> np.ndarray:
    """Phase-vocoder time stretch by ``rate`` (drawn in [1.2, 1.5] or its inverse) and back by ``1/rate``,
    so duration and pitch are kept but phase coherence is lost; ``semitones`` additionally pitch-shifts."""
    import librosa

    from ..audio import resample

    if rate is None:
        rate = float(rng.uniform(1.2, 1.5))
        rate = rate if rng.random() < 0.5 else 1.0 / rate
    n_fft, hop = _stft_sizes(sample_rate)
    spec = librosa.stft(source, n_fft=n_fft, hop_length=hop)
    there = librosa.phase_vocoder(spec, rate=rate, hop_length=hop, n_fft=n_fft)
    pitch_ratio = 2.0 ** (semitones / 12.0)
    back = librosa.phase_vocoder(there, rate=1.0 / (rate * pitch_ratio), hop_length=hop, n_fft=n_fft)
    y = librosa.istft(back, hop_length=hop, n_fft=n_fft)
    if semitones:
        # stretched by pitch_ratio: resampling by 1/pitch_ratio restores the duration and shifts the pitch
        y = resample(y.astype(np.float32), int(round(sample_rate * pitch_ratio)), sample_rate)
    return y


# --------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------

_PYWORLD = _module_missing("pyworld", "pyworld")

GENERATORS: dict[str, Generator] = {
    g.system_id: g
    for g in (
        Generator("griffinlim_mel", "copy-synthesis", "80-band mel spectrogram inverted by NNLS + Griffin-Lim",
                  griffinlim_mel_resynthesis),
        Generator("world", "copy-synthesis", "WORLD vocoder analysis/resynthesis (pyworld)", world_resynthesis,
                  _PYWORLD),
        Generator("world_mod", "copy-synthesis", "WORLD with mild f0 scaling and spectral-envelope warp",
                  world_modified_resynthesis, _PYWORLD),
        Generator("lpc", "copy-synthesis", "frame-wise LPC source-filter resynthesis, pulse train + noise",
                  lpc_resynthesis),
        Generator("phase_random", "copy-synthesis", "STFT magnitude with random phase", phase_random_resynthesis),
        Generator("phase_vocoder", "copy-synthesis", "phase-vocoder stretch by r and back by 1/r",
                  phase_vocoder_resynthesis),
        *(Generator(f"lyra_{bitrate}", "copy-synthesis",
                    f"Lyra v2 neural codec round trip at {bitrate} bit/s ({codebooks} codebooks, TFLite)",
                    partial(neural.lyra_resynthesis, bitrate=bitrate), neural.lyra_missing)
          for bitrate, codebooks in neural.LYRA_QUANTIZERS.items()),
        Generator("hifigan_v3_fp16", "copy-synthesis", "HiFi-GAN V3 vocoder on the log-mel spectrogram "
                  "(LJSpeech, float16 TFLite)", partial(neural.hifigan_resynthesis, variant="fp16"),
                  partial(neural.hifigan_missing, "fp16")),
        Generator("hifigan_v3_dr", "copy-synthesis", "HiFi-GAN V3 vocoder on the log-mel spectrogram "
                  "(LJSpeech, dynamic-range int8 TFLite)", partial(neural.hifigan_resynthesis, variant="dr"),
                  partial(neural.hifigan_missing, "dr")),
        Generator("tts_espeak", "tts", "espeak-ng formant TTS", tts.espeak_tts, tts.espeak_missing),
        Generator("tts_flite", "tts", "Flite TTS", tts.flite_tts, tts.flite_missing),
        Generator("tts_festival", "tts", "Festival text2wave TTS", tts.festival_tts, tts.festival_missing),
    )
}


def get_generator(system_id: str) -> Generator:
    """The registered generator; ``KeyError`` listing the known ids otherwise."""
    try:
        return GENERATORS[system_id]
    except KeyError:
        raise KeyError(f"unknown spoof system {system_id!r}; known: {', '.join(GENERATORS)}") from None


def available_generators(kind: str | None = None) -> dict[str, bool]:
    """``{system_id: can run here}`` for every registered generator (optionally only one ``kind``)."""
    return {sid: g.available() for sid, g in GENERATORS.items() if kind is None or g.kind == kind}


def unavailable_generators() -> dict[str, str]:
    """``{system_id: what is missing and how to install it}`` for generators that cannot run here."""
    return {sid: why for sid, g in GENERATORS.items() if (why := g.missing()) is not None}


def generate(system_id: str, source: np.ndarray | None = None, sample_rate: int = 16000, *, text: str | None = None,
             seed: int | None = 0, **options) -> np.ndarray:
    """Shorthand for ``get_generator(system_id)(source, sample_rate, text=text, seed=seed, **options)``."""
    return get_generator(system_id)(source, sample_rate, text=text, seed=seed, **options)
