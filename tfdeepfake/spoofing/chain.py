"""The final chain every corpus clip goes through, bona fide or spoofed, so trivial cues do not separate them.

Steps, in order (all pure numpy except the optional G.722 codec, which uses ffmpeg):

1. resample to ``target_rate`` (soxr) and remove DC;
2. loudness-normalise (so every codec pass sees the same level);
3. ``codec_passes`` encode/decode round trips through ``codec`` (``"g722"`` via ffmpeg at 16 kHz, or
   ``"mulaw"``: G.711 mu-law at 8 kHz in numpy; both from :mod:`tfdeepfake.augment.offline`);
4. trim leading/trailing silence (frames more than ``top_db`` below the loudest frame);
5. pad ``pad_seconds`` of silence (zeros, or noise at ``noise_floor_dbfs``) at both ends;
6. loudness-normalise again: active-speech RMS (``level="active_rms"``) or peak (``level="peak"``) to
   ``target_dbfs``; with ``crest_limit_db`` a smooth limiter holds peaks at most that far above the target
   (vocoded and synthetic speech is peakier than recorded speech: an easy cue otherwise); a clip whose peak would pass ``peak_ceiling_dbfs`` is scaled down to it (rare at the
   default -26 dBFS active RMS, and reported by :func:`final_chain_report`).

Use the same :class:`FinalChain` settings (and the same ``codec_passes`` for real and fake clips of a given
condition) for the whole corpus.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..audio import resample
from ..augment import offline
from .errors import CodecUnavailable, GeneratorFailed, GeneratorInputError

CHAIN_ID = "final_chain"
CODECS = ("g722", "mulaw")
FRAME_SECONDS = 0.02
HOP_SECONDS = 0.005
FLOOR_DBFS = -100.0


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_seconds: float = FRAME_SECONDS,
                    hop_seconds: float = HOP_SECONDS) -> tuple[np.ndarray, int, int]:
    """RMS level in dBFS of frames starting at ``k * hop``; returns (levels, frame length, hop)."""
    length = max(1, int(round(frame_seconds * sample_rate)))
    hop = max(1, int(round(hop_seconds * sample_rate)))
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < length:
        x = np.pad(x, (0, length - len(x)))
    power = np.square(x)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, len(x) - length + 1, hop)
    mean_power = (csum[starts + length] - csum[starts]) / length
    return 10.0 * np.log10(np.maximum(mean_power, 10 ** (FLOOR_DBFS / 10))), length, hop


def active_mask(samples: np.ndarray, sample_rate: int, *, active_range_db: float = 30.0,
                floor_dbfs: float = -70.0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Frames counted as active speech: within ``active_range_db`` of the loudest frame and above
    ``floor_dbfs``. Returns (mask, levels, frame length, hop)."""
    levels, length, hop = frame_levels_db(samples, sample_rate)
    mask = (levels > levels.max() - active_range_db) & (levels > floor_dbfs)
    return mask, levels, length, hop


def active_rms_dbfs(samples: np.ndarray, sample_rate: int, *, active_range_db: float = 30.0) -> float:
    """RMS level (dBFS, full scale = 1.0) over the active-speech frames only; -100 for silence."""
    mask, levels, _, _ = active_mask(samples, sample_rate, active_range_db=active_range_db)
    if not mask.any():
        return FLOOR_DBFS
    return float(10.0 * np.log10(np.mean(10.0 ** (levels[mask] / 10.0))))


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    return float(20.0 * np.log10(max(peak, 10 ** (FLOOR_DBFS / 20))))


def trim_silence(samples: np.ndarray, sample_rate: int, *, top_db: float = 40.0,
                 floor_dbfs: float = -70.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut leading and trailing frames more than ``top_db`` below the loudest frame (or below
    ``floor_dbfs``). Returns the trimmed audio and the kept ``(start, end)`` sample interval."""
    levels, length, hop = frame_levels_db(samples, sample_rate)
    keep = (levels > levels.max() - top_db) & (levels > floor_dbfs)
    if not keep.any():
        return samples[:0], (0, 0)
    first, last = np.flatnonzero(keep)[[0, -1]]
    start, end = int(first * hop), int(min(len(samples), last * hop + length))
    return samples[start:end], (start, end)


def normalise_level(samples: np.ndarray, sample_rate: int, target_dbfs: float = -26.0, level: str = "active_rms",
                    *, active_range_db: float = 30.0) -> np.ndarray:
    """Scale so the active-speech RMS (``level="rms"``: the whole clip's RMS; ``"peak"``: the peak) is ``target_dbfs``."""
    if level == "active_rms":
        current = active_rms_dbfs(samples, sample_rate, active_range_db=active_range_db)
    elif level == "rms":
        current = 10.0 * np.log10(max(float(np.mean(np.square(samples, dtype=np.float64))), 1e-20))
    elif level == "peak":
        current = peak_dbfs(samples)
    else:
        raise ValueError(f"level must be 'active_rms', 'rms' or 'peak', not {level!r}")
    if current <= FLOOR_DBFS:
        return samples
    return (samples * 10.0 ** ((target_dbfs - current) / 20.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- codecs


def soft_limit(samples: np.ndarray, sample_rate: int, ceiling: float, window_seconds: float = 0.005) -> np.ndarray:
    """Smooth look-around limiter: |output| <= ``ceiling``, gain changes spread over ``window_seconds``.

    The gain is ceiling / (max |x| within +-window), then averaged over half that span; every sample in the
    average saw the sample's own peak, so the bound holds exactly while the gain has no clicks.
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    width = max(1, int(window_seconds * sample_rate))
    envelope = maximum_filter1d(np.abs(samples), size=2 * width + 1)
    gain = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    return (samples * uniform_filter1d(gain, size=width)).astype(np.float32)


def mulaw_roundtrip(samples: np.ndarray, sample_rate: int, mu: int = 255) -> np.ndarray:
    """G.711 mu-law at 8 kHz in numpy (:func:`tfdeepfake.augment.offline.g711_roundtrip`, the same codes as
    ffmpeg's pcm_mulaw): band-limit to 4 kHz, 8-bit segmented companding, back to ``sample_rate``."""
    if mu != 255:
        raise GeneratorInputError(CHAIN_ID, f"G.711 mu-law has mu = 255, not {mu}")
    return offline.g711_roundtrip(samples, sample_rate, "ulaw")


def g722_roundtrip(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """G.722 (64 kbit/s ADPCM, 16 kHz) encode + decode through ffmpeg; same length out as in."""
    try:
        return offline.codec_roundtrip(samples, sample_rate, "g722")
    except offline.ToolMissing as error:
        raise CodecUnavailable(CHAIN_ID, "ffmpeg (G.722 codec)", "apt-get install ffmpeg") from error
    except offline.ToolFailed as error:
        raise GeneratorFailed(CHAIN_ID, f"ffmpeg G.722 round trip failed: {error}") from error


def codec_roundtrip(samples: np.ndarray, sample_rate: int, codec: str = "g722") -> np.ndarray:
    if codec == "g722":
        return g722_roundtrip(samples, sample_rate)
    if codec == "mulaw":
        return mulaw_roundtrip(samples, sample_rate)
    raise GeneratorInputError(CHAIN_ID, f"codec must be one of {CODECS}, not {codec!r}")


# ----------------------------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class FinalChain:
    """Settings of the final chain; ``chain(samples, sample_rate, seed=...)`` applies it.

    Keep one instance for a whole corpus and store ``asdict(chain)`` in its metadata.
    """

    target_rate: int = 16000
    codec_passes: int = 0
    codec: str = "g722"
    target_dbfs: float = -26.0
    level: str = "active_rms"
    top_db: float = 40.0
    pad_seconds: float | tuple = 0.1
    noise_floor_dbfs: float | None = None
    peak_ceiling_dbfs: float = -1.0
    remove_dc: bool = True
    crest_limit_db: float | None = 10.0

    def __call__(self, samples: np.ndarray, sample_rate: int, *, seed: int | None = 0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        return final_chain(samples, sample_rate, seed=seed, rng=rng, **asdict(self))

    def settings(self) -> dict:
        return asdict(self)


def final_chain_report(samples: np.ndarray, sample_rate: int, *, target_rate: int = 16000, codec_passes: int = 0,
                       codec: str = "g722", target_dbfs: float = -26.0, level: str = "active_rms",
                       top_db: float = 40.0, pad_seconds: float | tuple = 0.1, noise_floor_dbfs: float | None = None,
                       peak_ceiling_dbfs: float = -1.0, remove_dc: bool = True, crest_limit_db: float | None = 10.0,
                       seed: int | None = 0, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """:func:`final_chain` plus a dict of what happened (trimmed samples, gain, whether the ceiling hit)."""
    x = np.asarray(samples)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1 or x.size == 0 or not np.issubdtype(x.dtype, np.floating):
        raise GeneratorInputError(CHAIN_ID, f"needs non-empty mono float audio, got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise GeneratorInputError(CHAIN_ID, "audio contains NaN or Inf")
    if codec_passes < 0:
        raise GeneratorInputError(CHAIN_ID, f"codec_passes must be >= 0, not {codec_passes}")
    if codec not in CODECS:
        raise GeneratorInputError(CHAIN_ID, f"codec must be one of {CODECS}, not {codec!r}")
    if rng is None:
        rng = np.random.default_rng(seed)
    x = resample(x.astype(np.float32), int(sample_rate), int(target_rate)).astype(np.float32)
    if remove_dc:
        x = x - np.float32(x.mean())
    if active_rms_dbfs(x, target_rate) <= FLOOR_DBFS:
        raise GeneratorInputError(CHAIN_ID, "audio is silent")
    x = normalise_level(x, target_rate, target_dbfs, level)
    for _ in range(int(codec_passes)):
        x = codec_roundtrip(x, target_rate, codec)
    x, (start, end) = trim_silence(x, target_rate, top_db=top_db)
    if x.size == 0:
        raise GeneratorFailed(CHAIN_ID, "nothing left after trimming silence")
    # a (low, high) range draws each side's padding: real and fake then share one random distribution
    lead, tail = (rng.uniform(*pad_seconds, size=2) if isinstance(pad_seconds, (tuple, list))
                  else (pad_seconds, pad_seconds))
    pad = (int(round(lead * target_rate)), int(round(tail * target_rate)))
    x = np.pad(x, pad).astype(np.float32)
    if noise_floor_dbfs is not None:
        x = x + (10.0 ** (noise_floor_dbfs / 20.0) * rng.standard_normal(len(x))).astype(np.float32)
    before = active_rms_dbfs(x, target_rate) if level == "active_rms" else peak_dbfs(x)
    x = normalise_level(x, target_rate, target_dbfs, level)
    if crest_limit_db is not None:  # vocoders and TTS are peakier than speech: equalise the crest factor
        # alternate limiting and re-levelling until both hold: level at the target, peaks at the limit
        ceiling = 10.0 ** ((target_dbfs + crest_limit_db) / 20.0)
        for _ in range(12):
            x = normalise_level(soft_limit(x, target_rate, ceiling), target_rate, target_dbfs, level)
    ceiling = 10.0 ** (peak_ceiling_dbfs / 20.0)
    peak = float(np.max(np.abs(x)))
    limited = peak > ceiling
    if limited:
        x = x * np.float32(ceiling / peak)
    report = {
        "chain": CHAIN_ID,
        "target_rate": int(target_rate),
        "codec": codec if codec_passes else None,
        "codec_passes": int(codec_passes),
        "kept_interval": (start, end),
        "pad_samples": pad,  # (lead, tail)
        "gain_db": float(target_dbfs - before),
        "peak_limited": bool(limited),
        "active_rms_dbfs": active_rms_dbfs(x, target_rate),
        "peak_dbfs": peak_dbfs(x),
        "seconds": len(x) / target_rate,
    }
    return np.ascontiguousarray(x, dtype=np.float32), report


def final_chain(samples: np.ndarray, sample_rate: int, *, target_rate: int = 16000, codec_passes: int = 0,
                codec: str = "g722", target_dbfs: float = -26.0, level: str = "active_rms", top_db: float = 40.0,
                pad_seconds: float | tuple = 0.1, noise_floor_dbfs: float | None = None, peak_ceiling_dbfs: float = -1.0,
                remove_dc: bool = True, crest_limit_db: float | None = 10.0, seed: int | None = 0,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply the final chain (see the module docstring); returns float32 mono audio at ``target_rate``."""
    out, _ = final_chain_report(samples, sample_rate, target_rate=target_rate, codec_passes=codec_passes,
                                codec=codec, target_dbfs=target_dbfs, level=level, top_db=top_db,
                                pad_seconds=pad_seconds, noise_floor_dbfs=noise_floor_dbfs,
                                peak_ceiling_dbfs=peak_ceiling_dbfs, remove_dc=remove_dc,
                                crest_limit_db=crest_limit_db, seed=seed, rng=rng)
    return out
