"""Decode, downmix, resample and validate audio files.

Every bad input raises a subclass of :class:`AudioError` whose message names the file and the cause,
so a corpus build can report it and move on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr


class AudioError(ValueError):
    """A file that cannot be used as audio; ``path`` and ``reason`` say which and why."""

    reason = "bad audio"

    def __init__(self, path, detail: str = ""):
        self.path = str(path)
        self.detail = detail
        message = f"{self.path}: {self.reason}"
        super().__init__(f"{message} ({detail})" if detail else message)


class MissingAudioError(AudioError, FileNotFoundError):
    reason = "file not found"


class EmptyFileError(AudioError):
    reason = "file is empty (0 bytes)"


class NoSamplesError(AudioError):
    reason = "audio has zero samples"


class UndecodableAudioError(AudioError):
    reason = "not decodable as audio"


class NonFiniteAudioError(AudioError):
    reason = "audio contains NaN or Inf samples"


class TooLongAudioError(AudioError):
    reason = "audio is longer than the limit"


@dataclass(frozen=True)
class AudioInfo:
    """What the file was before conversion."""

    path: str
    source_rate: int
    source_channels: int
    source_frames: int
    format: str
    subtype: str

    @property
    def source_seconds(self) -> float:
        return self.source_frames / self.source_rate


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with soxr (VHQ); a no-op when the rates match."""
    if source_rate == target_rate:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="VHQ").astype(np.float32, copy=False)


def load_audio(path, target_rate: int | None = 16000, max_seconds: float | None = None) -> tuple[np.ndarray, AudioInfo]:
    """Read any file libsndfile decodes (WAV int/float, FLAC, OGG, MP3) as mono float32 in [-1, 1].

    ``target_rate=None`` keeps the file's own rate. ``max_seconds`` rejects longer files before decoding them.
    Returns the samples and an :class:`AudioInfo` about the source.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingAudioError(path)
    if os.path.isdir(path):
        raise UndecodableAudioError(path, "is a directory")
    if os.path.getsize(path) == 0:
        raise EmptyFileError(path)
    try:
        with sf.SoundFile(path) as handle:
            info = AudioInfo(path, handle.samplerate, handle.channels, handle.frames, handle.format, handle.subtype)
            if max_seconds is not None and info.source_frames > max_seconds * info.source_rate:
                raise TooLongAudioError(path, f"{info.source_seconds:.2f} s > {max_seconds:g} s")
            data = handle.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise UndecodableAudioError(path, str(error).strip()) from error
    if data.shape[0] == 0:
        raise NoSamplesError(path)
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(samples).all():
        raise NonFiniteAudioError(path, f"{int((~np.isfinite(samples)).sum())} non-finite samples")
    if target_rate is not None:
        samples = resample(samples, info.source_rate, target_rate)
    return np.ascontiguousarray(samples, dtype=np.float32), info


PCM_SCALE = 32768.0  # libsndfile's int16 <-> float convention, so 16-bit sources round-trip exactly


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 PCM with rounding and clipping (the TFRecord storage format)."""
    return np.clip(np.round(samples * PCM_SCALE), -32768, 32767).astype(np.int16)


def from_int16(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM back to float32 in [-1, 1] (inverse of :func:`to_int16` up to rounding)."""
    return pcm.astype(np.float32) / PCM_SCALE
