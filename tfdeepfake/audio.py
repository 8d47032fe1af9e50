"""Decode, downmix, resample and validate audio files.

libsndfile reads what it can (WAV, FLAC, Ogg Vorbis/Opus, MP3); ffmpeg decodes the rest (M4A/AAC, WebM, the
audio track of MP4/MKV/MOV). Both feed one downmix/resample/validation path, whole-file (:func:`load_audio`) or
in bounded-memory blocks (:func:`stream_audio`). Every bad input raises a subclass of :class:`AudioError` whose
message names the file and the cause, so a corpus build can report it and move on.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import soundfile as sf
import soxr

from . import storage
from .errors import TfDeepfakeError

# what a folder walk picks up: libsndfile's formats and the containers this module hands to ffmpeg
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".m4a", ".aac",
                  ".mp4", ".webm", ".mkv", ".mka", ".mov", ".wma", ".amr", ".3gp")


class AudioError(TfDeepfakeError, ValueError):
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


class NoAudioStreamError(UndecodableAudioError):
    """A media file that ffmpeg opens but that holds no audio stream (e.g. a silent screen recording)."""

    reason = "no audio stream"


class FfmpegMissingError(UndecodableAudioError):
    """libsndfile cannot read the file and ffmpeg/ffprobe, which could, are not installed."""

    reason = "ffmpeg is needed to decode this format"


class NonFiniteAudioError(AudioError):
    reason = "audio contains NaN or Inf samples"


class TooLongAudioError(AudioError):
    reason = "audio is longer than the limit"


class RemoteReadError(AudioError):
    """A URL (gs://, s3://, ...) that could not be fetched: no access, no network, a broken transfer."""

    reason = "cannot be read from its storage"


@dataclass(frozen=True)
class AudioInfo:
    """What the file was before conversion.

    ``format``/``subtype`` are libsndfile's names ("FLAC", "PCM_16") when ``decoder`` is "libsndfile", ffprobe's
    container and codec names ("mov,mp4,m4a,3gp,3g2,mj2", "aac") when it is "ffmpeg". ``source_frames`` is exact
    for libsndfile and for :func:`load_audio`'s ffmpeg decode; :func:`probe_audio` and :func:`stream_audio`
    estimate it for ffmpeg formats from the container's duration (codec padding makes it differ by < 2,000 frames).
    """

    path: str
    source_rate: int
    source_channels: int
    source_frames: int
    format: str
    subtype: str
    decoder: str = "libsndfile"

    @property
    def source_seconds(self) -> float:
        return self.source_frames / self.source_rate


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with soxr (VHQ); a no-op when the rates match."""
    if source_rate == target_rate:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="VHQ").astype(np.float32, copy=False)


def _resample_stream(source_rate: int, target_rate: int) -> soxr.ResampleStream | None:
    """The streaming form of :func:`resample` (same filter: block-wise output equals the one-shot output)."""
    if source_rate == target_rate:
        return None
    return soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="VHQ")


def _checked_path(path) -> str:
    """The path as a string, after the checks every reader makes before decoding."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingAudioError(path)
    if os.path.isdir(path):
        raise UndecodableAudioError(path, "is a directory")
    if os.path.getsize(path) == 0:
        raise EmptyFileError(path)
    return path


@contextmanager
def local_copy(path) -> Iterator[str]:
    """``path`` itself, or for a URL a temporary local copy (fetched with tf.io.gfile) removed afterwards.

    The decoders read local files only; an :class:`AudioError` raised inside the block names the URL, not the
    copy, so failure rows and messages point at the real file.
    """
    path = os.fspath(path)
    if not storage.is_url(path):
        yield path
        return
    import tensorflow as tf

    handle, local = tempfile.mkstemp(prefix="tfdeepfake-", suffix=os.path.splitext(path)[1])
    os.close(handle)
    try:
        try:
            tf.io.gfile.copy(path, local, overwrite=True)
        except tf.errors.NotFoundError as error:
            raise MissingAudioError(path) from error
        except tf.errors.OpError as error:
            raise RemoteReadError(path, storage.first_line(error.message)) from error
        try:
            yield local
        except AudioError as error:
            raise type(error)(path, error.detail.replace(local, path)) from error
    finally:
        os.remove(local)


def _open_soundfile(path: str) -> tuple[sf.SoundFile | None, str]:
    """A libsndfile handle, or ``(None, libsndfile's error)`` when it cannot read the file (ffmpeg then tries)."""
    try:
        return sf.SoundFile(path), ""
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        return None, str(error).strip()


def _soundfile_info(path: str, handle: sf.SoundFile) -> AudioInfo:
    return AudioInfo(path, handle.samplerate, handle.channels, handle.frames, handle.format, handle.subtype)


def downmix(frames: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 to mono by the channel mean (not ffmpeg's -ac 1, which sums stereo at 0.707)."""
    return frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]


def require_finite(path: str, samples: np.ndarray, first_frame: int = 0, rate: int | None = None) -> None:
    """:class:`NonFiniteAudioError` if any sample is NaN/Inf; with ``rate``, the message says where it starts."""
    bad = ~np.isfinite(samples)
    if bad.any():
        where = f" from {(first_frame + int(np.argmax(bad))) / rate:.3f} s" if rate else ""
        raise NonFiniteAudioError(path, f"{int(bad.sum())} non-finite samples{where}")


# ---- ffmpeg / ffprobe --------------------------------------------------------------------------------------

def _tool(name: str, path: str, sndfile_error: str) -> str:
    """Absolute path of ffmpeg or ffprobe, or :class:`FfmpegMissingError` naming the file and its format."""
    found = shutil.which(name)
    if found is None:
        kind = os.path.splitext(path)[1] or "this"
        raise FfmpegMissingError(path, f"libsndfile cannot read it ({sndfile_error}); {name} is not on PATH, "
                                       f"install ffmpeg (e.g. apt-get install ffmpeg) to read {kind} files")
    return found


def _input_args(path: str) -> list[str]:
    """ffmpeg input arguments for a local file: ``file:`` so no name is read as a protocol or option, and no
    other protocol is allowed (a playlist cannot make ffmpeg fetch URLs). Arguments go straight to exec, no shell."""
    return ["-protocol_whitelist", "file", "-i", "file:" + os.path.abspath(path)]


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _probe_ffmpeg(path: str, sndfile_error: str, count_packets: bool = False) -> AudioInfo:
    """Rate, channels and duration of the first audio stream from ffprobe (demuxing only, no decoding).

    A container without a duration (browser MediaRecorder WebM) gets one from its last packet when
    ``count_packets`` is set, else ``source_frames`` is 0 (unknown).
    """
    ffprobe = _tool("ffprobe", path, sndfile_error)
    command = [ffprobe, "-v", "error", "-show_entries",
               "stream=codec_type,codec_name,sample_rate,channels,duration:stream_tags=DURATION"
               ":format=format_name,duration",
               "-of", "json", *_input_args(path)]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    try:
        report = json.loads(result.stdout) if result.returncode == 0 else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):
        raise UndecodableAudioError(path, f"libsndfile: {sndfile_error}; ffprobe: {_last_line(result.stderr)}")
    streams = report.get("streams") or []
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        found = ", ".join(f"{s.get('codec_type', '?')} ({s.get('codec_name', '?')})" for s in streams)
        raise NoAudioStreamError(path, f"streams: {found}" if found else "the container holds no streams")
    stream = audio[0]
    rate, channels = int(stream.get("sample_rate") or 0), int(stream.get("channels") or 0)
    if rate <= 0 or channels <= 0:
        raise UndecodableAudioError(path, f"ffprobe: audio stream {stream.get('codec_name', '?')} has rate {rate} "
                                          f"and {channels} channels")
    # the stream's own duration, else Matroska's per-track tag, else the container's (may be the video's)
    seconds = (_float(stream.get("duration")) or _clock_seconds(stream.get("tags", {}).get("DURATION"))
               or _float(report.get("format", {}).get("duration")))
    if seconds is None and count_packets:
        seconds = _last_packet_end(ffprobe, path)
    frames = int(round(seconds * rate)) if seconds else 0
    return AudioInfo(path, rate, channels, frames, report.get("format", {}).get("format_name", "?"),
                     stream.get("codec_name", "?"), "ffmpeg")


def _float(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _clock_seconds(text) -> float | None:
    """Seconds from Matroska's "HH:MM:SS.fffffffff" duration tag, or None."""
    try:
        hours, minutes, seconds = str(text).split(":")
        return _float(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    except ValueError:
        return None


def _last_packet_end(ffprobe: str, path: str) -> float | None:
    """End time of the first audio stream's last packet: demuxes the file without decoding it."""
    command = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time,duration_time",
               "-of", "csv=p=0", *_input_args(path)]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    end = None
    for line in result.stdout.decode("ascii", "replace").splitlines():
        fields = [_float(field) for field in line.split(",")[:2]]
        if fields and fields[0] is not None:
            end = max(end or 0.0, fields[0] + (fields[1] if len(fields) > 1 and fields[1] else 0.0))
    return end


def _decode_command(path: str, info: AudioInfo, sndfile_error: str, seconds: float | None = None) -> list[str]:
    """ffmpeg decoding the first audio stream to interleaved float32 at the stream's own rate and channel count
    on stdout; downmix and resampling stay in this module so both decoders give the same numbers."""
    limit = ["-t", f"{seconds:.6f}"] if seconds is not None else []
    return [_tool("ffmpeg", path, sndfile_error), "-nostdin", "-v", "error", *_input_args(path), *limit,
            "-map", "0:a:0", "-ac", str(info.source_channels), "-ar", str(info.source_rate),
            "-f", "f32le", "-c:a", "pcm_f32le", "pipe:1"]


def _ffmpeg_frames(path: str, info: AudioInfo, command: list[str], block_seconds: float) -> Iterator[np.ndarray]:
    """(frames, channels) float32 blocks of about ``block_seconds`` read from an ffmpeg pipe.

    ffmpeg's messages go to a temporary file, not a pipe, so a chatty decoder cannot block on a full pipe.
    """
    frame_bytes = 4 * info.source_channels
    block_bytes = max(1, round(block_seconds * info.source_rate)) * frame_bytes
    with tempfile.TemporaryFile() as messages:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=messages)
        try:
            while chunk := process.stdout.read(block_bytes):
                usable = len(chunk) // frame_bytes * frame_bytes
                yield np.frombuffer(chunk, np.float32, usable // 4).reshape(-1, info.source_channels)
            if process.wait() != 0:
                messages.seek(0)
                raise UndecodableAudioError(path, f"ffmpeg: {_last_line(messages.read())}")
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()


def _decode_ffmpeg(path: str, sndfile_error: str, max_seconds: float | None) -> tuple[np.ndarray, AudioInfo]:
    """The whole first audio stream as (frames, channels) float32, and its info with the decoded frame count."""
    info = _probe_ffmpeg(path, sndfile_error)
    if max_seconds is not None and info.source_frames > max_seconds * info.source_rate:
        raise TooLongAudioError(path, f"{info.source_seconds:.2f} s > {max_seconds:g} s")
    # A container without a duration is decoded only a little past the limit: enough to tell "too long".
    seconds = max_seconds + 1.0 if max_seconds is not None else None
    command = _decode_command(path, info, sndfile_error, seconds)
    blocks = list(_ffmpeg_frames(path, info, command, block_seconds=10.0))
    data = np.concatenate(blocks) if blocks else np.zeros((0, info.source_channels), np.float32)
    if max_seconds is not None and info.source_frames == 0 and data.shape[0] > max_seconds * info.source_rate:
        raise TooLongAudioError(path, f"more than {max_seconds:g} s (the container states no duration)")
    return data, AudioInfo(path, info.source_rate, info.source_channels, data.shape[0], info.format, info.subtype,
                           "ffmpeg")


# ---- public readers ----------------------------------------------------------------------------------------

def probe_audio(path) -> AudioInfo:
    """Rate, channels, length and format of a file without decoding it (libsndfile's header, else ffprobe).

    For ffmpeg formats the length comes from the container; a WebM without one (as browsers record it) is
    measured from its last packet, which reads the file but decodes nothing.
    """
    path = _checked_path(path)
    handle, sndfile_error = _open_soundfile(path)
    if handle is None:
        return _probe_ffmpeg(path, sndfile_error, count_packets=True)
    with handle:
        return _soundfile_info(path, handle)


def load_audio(path, target_rate: int | None = 16000, max_seconds: float | None = None) -> tuple[np.ndarray, AudioInfo]:
    """Read an audio file (or a video's first audio track) as mono float32 in [-1, 1].

    libsndfile formats (WAV int/float, FLAC, Ogg Vorbis/Opus, MP3) are read directly, anything else through
    ffmpeg (M4A/AAC, WebM/Opus, MP4, MKV, MOV, ...). ``target_rate=None`` keeps the file's own rate.
    ``max_seconds`` rejects longer files before decoding them (one without a stated duration, as browsers
    record WebM, after decoding one second past the limit). Returns the samples and an :class:`AudioInfo`
    about the source. ``path`` may be a URL (gs://, ...): the file is fetched to a temporary copy first.
    """
    if storage.is_url(path):
        with local_copy(path) as local:
            samples, info = load_audio(local, target_rate, max_seconds)
        return samples, replace(info, path=os.fspath(path))
    path = _checked_path(path)
    handle, sndfile_error = _open_soundfile(path)
    if handle is None:
        data, info = _decode_ffmpeg(path, sndfile_error, max_seconds)
    else:
        try:
            with handle:
                info = _soundfile_info(path, handle)
                if max_seconds is not None and info.source_frames > max_seconds * info.source_rate:
                    raise TooLongAudioError(path, f"{info.source_seconds:.2f} s > {max_seconds:g} s")
                data = handle.read(dtype="float32", always_2d=True)
        except AudioError:
            raise
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise UndecodableAudioError(path, str(error).strip()) from error
    if data.shape[0] == 0:
        raise NoSamplesError(path)
    samples = downmix(data)
    require_finite(path, samples)
    if target_rate is not None:
        samples = resample(samples, info.source_rate, target_rate)
    return np.require(samples, np.float32, "CW"), info


class AudioStream:
    """Iterator of float32 mono blocks from :func:`stream_audio`; ``info`` describes the source.

    Use it in a ``with`` block (or call :meth:`close`) when stopping early, so an ffmpeg decoder is not left
    running. Errors found while decoding (NaN/Inf, zero samples, ffmpeg failing) are raised by the iteration,
    after the blocks before them.
    """

    def __init__(self, info: AudioInfo, blocks: Iterator[np.ndarray]):
        self.info = info
        self._blocks = blocks

    def __iter__(self) -> AudioStream:
        return self

    def __next__(self) -> np.ndarray:
        return next(self._blocks)

    def close(self) -> None:
        self._blocks.close()

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stream_audio(path, target_rate: int | None = 16000, block_seconds: float = 10.0) -> AudioStream:
    """Decode a file in bounded memory as mono float32 blocks of ``block_seconds`` at ``target_rate``.

    Meant for recordings too long to hold whole (an hour is 230 MB as float32 at 16 kHz). Every block has
    ``round(block_seconds * rate)`` samples except the last; their concatenation equals :func:`load_audio`'s
    output (same decoders, downmix and soxr filter, run as a stream). The file is checked and probed now, so a
    missing or undecodable file raises here; decoding starts with the first block.
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    path = _checked_path(path)
    handle, sndfile_error = _open_soundfile(path)
    if handle is None:
        info = _probe_ffmpeg(path, sndfile_error)
        reader = _ffmpeg_frames(path, info, _decode_command(path, info, sndfile_error), block_seconds)
    else:
        with handle:
            info = _soundfile_info(path, handle)
        reader = _soundfile_frames(path, block_seconds)
    rate = info.source_rate if target_rate is None else target_rate
    return AudioStream(info, _mono_blocks(path, info, reader, rate, max(1, round(block_seconds * rate))))


def _soundfile_frames(path: str, block_seconds: float) -> Iterator[np.ndarray]:
    """(frames, channels) float32 blocks of about ``block_seconds`` straight from libsndfile."""
    try:
        with sf.SoundFile(path) as handle:
            yield from handle.blocks(max(1, round(block_seconds * handle.samplerate)), dtype="float32",
                                     always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise UndecodableAudioError(path, str(error).strip()) from error


def _mono_blocks(path: str, info: AudioInfo, frames: Iterator[np.ndarray], rate: int,
                 block: int) -> Iterator[np.ndarray]:
    """Downmix, validate and resample decoded blocks, re-cut into blocks of exactly ``block`` samples."""
    resampler = _resample_stream(info.source_rate, rate)
    pending: list[np.ndarray] = []
    held = read = 0
    try:
        for data in frames:
            samples = downmix(data)
            require_finite(path, samples, read, info.source_rate)
            read += len(samples)
            if resampler is not None:
                samples = resampler.resample_chunk(samples)
            pending.append(samples)
            held += len(samples)
            while held >= block:
                joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield np.require(joined[:block], np.float32, "CW")  # "W": pipe bytes are read-only
                pending, held = [joined[block:]], held - block
        if read == 0:
            raise NoSamplesError(path)
        if resampler is not None:
            pending.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        tail = np.concatenate(pending)
        for start in range(0, len(tail), block):
            yield np.require(tail[start:start + block], np.float32, "CW")
    finally:
        frames.close()


PCM_SCALE = 32768.0  # libsndfile's int16 <-> float convention, so 16-bit sources round-trip exactly


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 PCM with rounding and clipping (the TFRecord storage format)."""
    return np.clip(np.round(samples * PCM_SCALE), -32768, 32767).astype(np.int16)


def from_int16(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM back to float32 in [-1, 1] (inverse of :func:`to_int16` up to rounding)."""
    return pcm.astype(np.float32) / PCM_SCALE
