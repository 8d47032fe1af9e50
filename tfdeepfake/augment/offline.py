"""Offline augmentation with real tools, for extra TFRecord copies that carry a ``condition`` field.

Codecs run through ffmpeg (G.722, GSM 06.10, Opus, MP3, AAC, A-law, µ-law) and sox (AMR-NB); speed (pitch
moves) and tempo (pitch kept) through sox; rooms through pyroomacoustics. Every condition takes float32 mono
samples at ``rate`` and returns the same rate; codecs also keep the length (encoder delay removed by
cross-correlation). A missing tool raises :class:`ToolMissing` naming what to install.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ..audio import resample


class ToolMissing(RuntimeError):
    """An external program or package that a condition needs is not installed."""


class ToolFailed(RuntimeError):
    """The tool ran but failed; the message carries its error output."""


@dataclass(frozen=True)
class Codec:
    """An ffmpeg (or sox) encoder with the rate it runs at, its options and a container to pass through."""

    tool: str  # ffmpeg | sox
    rate: int
    args: tuple[str, ...]
    container: str


CODECS = {
    "g722": Codec("ffmpeg", 16000, ("-c:a", "g722"), "g722"),
    "gsm": Codec("ffmpeg", 8000, ("-c:a", "libgsm"), "gsm"),
    "opus_6k": Codec("ffmpeg", 16000, ("-c:a", "libopus", "-b:a", "6k"), "ogg"),
    "opus_12k": Codec("ffmpeg", 16000, ("-c:a", "libopus", "-b:a", "12k"), "ogg"),
    "opus_24k": Codec("ffmpeg", 16000, ("-c:a", "libopus", "-b:a", "24k"), "ogg"),
    "mp3_32k": Codec("ffmpeg", 16000, ("-c:a", "libmp3lame", "-b:a", "32k"), "mp3"),
    "aac_32k": Codec("ffmpeg", 16000, ("-c:a", "aac", "-b:a", "32k"), "adts"),
    "alaw": Codec("ffmpeg", 8000, ("-c:a", "pcm_alaw"), "wav"),
    "ulaw": Codec("ffmpeg", 8000, ("-c:a", "pcm_mulaw"), "wav"),
    "amrnb_7k95": Codec("sox", 8000, ("-C", "5"), "amr-nb"),  # mode 5 = 7.95 kbit/s
}
SPEEDS = {"speed_0.9": 0.9, "speed_1.1": 1.1}
TEMPOS = {"tempo_0.9": 0.9, "tempo_1.1": 1.1}
CONDITIONS = (*CODECS, *SPEEDS, *TEMPOS, "room")
INSTALL = {"ffmpeg": "apt-get install ffmpeg", "sox": "apt-get install sox libsox-fmt-all",
           "pyroomacoustics": "pip install pyroomacoustics"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed: {INSTALL[name]}")
    return path


def _run(command: list[str], timeout: float = 120.0) -> None:
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise ToolFailed(f"{command[0]} timed out after {timeout:g} s") from error
    if done.returncode:
        raise ToolFailed(f"{' '.join(command[:3])}...: {done.stderr.decode(errors='replace').strip()[-400:]}")


def _align(decoded: np.ndarray, reference: np.ndarray, max_shift: int) -> np.ndarray:
    """``decoded`` shifted by the lag (0..max_shift) that best matches ``reference``, cut/padded to its length."""
    n = len(reference)
    spectrum = np.fft.rfft(decoded[: n + max_shift], 2 * (n + max_shift)) * \
        np.conj(np.fft.rfft(reference, 2 * (n + max_shift)))
    lag = int(np.argmax(np.fft.irfft(spectrum)[: max_shift + 1]))
    out = decoded[lag: lag + n]
    return np.pad(out, (0, n - len(out))).astype(np.float32)


def codec_roundtrip(samples: np.ndarray, rate: int, name: str) -> np.ndarray:
    """Encode and decode through codec ``name`` (see :data:`CODECS`); same rate and length as the input."""
    codec = CODECS[name]
    narrow = np.clip(resample(np.asarray(samples, np.float32), rate, codec.rate), -1.0, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        source, encoded, decoded = (os.path.join(tmp, f) for f in ("in.wav", f"enc.{codec.container}", "out.wav"))
        sf.write(source, narrow, codec.rate, subtype="PCM_16")
        if codec.tool == "ffmpeg":
            ffmpeg = [_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
            _run(ffmpeg + ["-i", source, "-ar", str(codec.rate), "-ac", "1", *codec.args, "-f", codec.container,
                           encoded])
            raw = ["-f", codec.container] if codec.container in ("g722", "gsm") else []  # headerless streams
            _run(ffmpeg + raw + ["-i", encoded, "-ar", str(codec.rate), "-ac", "1", decoded])
        else:
            sox = _tool("sox")
            _run([sox, source, *codec.args, "-t", codec.container, encoded])
            _run([sox, "-t", codec.container, encoded, "-b", "16", decoded])
        out, _ = sf.read(decoded, dtype="float32")
    out = _align(out, narrow, max_shift=int(0.1 * codec.rate))
    return resample(out, codec.rate, rate)[: len(samples)]


def sox_effect(samples: np.ndarray, rate: int, effect: str, factor: float) -> np.ndarray:
    """sox ``speed`` (resampling: pitch and duration change together) or ``tempo`` (duration only)."""
    sox = _tool("sox")
    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
        sf.write(source, np.clip(samples, -1.0, 1.0), rate, subtype="FLOAT")
        command = [sox, source, target, effect] + (["-s"] if effect == "tempo" else []) + [str(factor)]
        _run(command + (["rate", str(rate)] if effect == "speed" else []))
        out, out_rate = sf.read(target, dtype="float32")
    return resample(out, out_rate, rate)


def room(samples: np.ndarray, rate: int, seed: int) -> np.ndarray:
    """A random shoebox room (3-10 m x 3-8 m x 2.5-4 m, RT60 0.2-0.8 s) with random source and microphone
    positions (image source method); output trimmed to the input length plus the reverberation tail."""
    try:
        import pyroomacoustics as pra
    except ImportError as error:
        raise ToolMissing(f"pyroomacoustics is not installed: {INSTALL['pyroomacoustics']}") from error
    rng = np.random.default_rng(seed)
    size = rng.uniform([3.0, 3.0, 2.5], [10.0, 8.0, 4.0])
    rt60 = rng.uniform(0.2, 0.8)
    absorption, max_order = pra.inverse_sabine(rt60, size)
    shoebox = pra.ShoeBox(size, fs=rate, materials=pra.Material(absorption), max_order=min(max_order, 12))
    margin = 0.5
    shoebox.add_source(rng.uniform(margin, size - margin), signal=np.asarray(samples, np.float64))
    shoebox.add_microphone(rng.uniform(margin, size - margin))
    shoebox.simulate()
    out = shoebox.mic_array.signals[0]
    peak = np.max(np.abs(out))
    scale = np.sqrt(np.mean(np.square(samples)) / max(np.mean(np.square(out[: len(samples)])), 1e-20))
    out = out * scale if peak * scale <= 1.0 else out / peak
    return out[: len(samples) + int(rt60 * rate)].astype(np.float32)


def require(name: str) -> None:
    """Raise :class:`ToolMissing` now (before a long build) when condition ``name`` cannot run here."""
    if name in CODECS:
        _tool(CODECS[name].tool)
    elif name in SPEEDS or name in TEMPOS:
        _tool("sox")
    elif name == "room":
        try:
            import pyroomacoustics  # noqa: F401
        except ImportError as error:
            raise ToolMissing(f"pyroomacoustics is not installed: {INSTALL['pyroomacoustics']}") from error
    else:
        raise ValueError(f"unknown condition {name!r}; choose from {list(CONDITIONS)}")


def apply_condition(samples: np.ndarray, rate: int, name: str, seed: int = 0) -> np.ndarray:
    """Apply the named condition (one of :data:`CONDITIONS`)."""
    if name in CODECS:
        return codec_roundtrip(samples, rate, name)
    if name in SPEEDS:
        return sox_effect(samples, rate, "speed", SPEEDS[name])
    if name in TEMPOS:
        return sox_effect(samples, rate, "tempo", TEMPOS[name])
    if name == "room":
        return room(samples, rate, seed)
    raise ValueError(f"unknown condition {name!r}; choose from {list(CONDITIONS)}")


def augmented_copies(samples: np.ndarray, rate: int, conditions, seed: int = 0):
    """(condition, samples) for each named condition: what a TFRecord build writes as extra copies."""
    for index, name in enumerate(conditions):
        yield name, apply_condition(samples, rate, name, seed + index)
