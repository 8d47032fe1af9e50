"""Offline augmentation with real tools, for extra TFRecord copies that carry a ``condition`` field.

Codecs run through ffmpeg (G.722, GSM 06.10, Opus, MP3, AAC, A-law, µ-law) and sox (AMR-NB); speed (pitch
moves) and tempo (pitch kept) through sox; rooms through pyroomacoustics. Every condition takes float32 mono
samples at ``rate`` and returns the same rate; codecs also keep the length (encoder delay removed by
cross-correlation). A missing tool raises :class:`ToolMissing` naming what to install; a tool that runs but
fails (or times out) raises :class:`ToolFailed`.

    for condition, copy in augmented_copies(samples, 16000, ["g722", "opus_12k", "room"], seed=utt_seed):
        write_example(copy, condition=condition)

:func:`g711_roundtrip` is a tool-free numpy G.711 (A-law / µ-law, the ITU segment tables) that the final chain
of :mod:`tfdeepfake.spoofing.chain` uses; it matches ffmpeg's ``pcm_alaw`` / ``pcm_mulaw``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soundfile as sf

from ..audio import resample
from ..errors import TfDeepfakeError


class ToolMissing(TfDeepfakeError, RuntimeError):
    """An external program or package that a condition needs is not installed."""


class ToolFailed(TfDeepfakeError, RuntimeError):
    """The tool ran but failed; the message carries its error output."""


@dataclass(frozen=True)
class Codec:
    """An ffmpeg (or sox) encoder with the rate it runs at, its options and a container to pass through."""

    tool: str  # ffmpeg | sox
    rate: int
    args: tuple[str, ...]
    container: str

    @property
    def encoder(self) -> str:
        """The ffmpeg encoder (``-c:a``) or the sox file type this codec needs."""
        return self.args[self.args.index("-c:a") + 1] if self.tool == "ffmpeg" else self.container


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
DESCRIPTIONS = {
    "g722": "G.722 64 kbit/s ADPCM, 16 kHz (ffmpeg)",
    "gsm": "GSM 06.10 full rate 13 kbit/s, 8 kHz (ffmpeg libgsm)",
    "opus_6k": "Opus 6 kbit/s, 16 kHz (ffmpeg libopus)",
    "opus_12k": "Opus 12 kbit/s, 16 kHz (ffmpeg libopus)",
    "opus_24k": "Opus 24 kbit/s, 16 kHz (ffmpeg libopus)",
    "mp3_32k": "MP3 32 kbit/s, 16 kHz (ffmpeg libmp3lame)",
    "aac_32k": "AAC-LC 32 kbit/s, 16 kHz (ffmpeg native aac)",
    "alaw": "G.711 A-law, 8 kHz (ffmpeg pcm_alaw)",
    "ulaw": "G.711 mu-law, 8 kHz (ffmpeg pcm_mulaw)",
    "amrnb_7k95": "AMR-NB mode 5, 7.95 kbit/s, 8 kHz (sox, libsox-fmt-all)",
    **{name: f"speed x{f:g}: duration / {f:g}, pitch x {f:g} (sox speed)" for name, f in SPEEDS.items()},
    **{name: f"tempo x{f:g}: duration / {f:g}, pitch kept (sox tempo -s)" for name, f in TEMPOS.items()},
    "room": "random shoebox room, RT60 0.2-0.8 s, image sources up to order 12 (pyroomacoustics)",
}
TIMEOUT_SECONDS = 120.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed: {INSTALL[name]}")
    return path


@lru_cache(maxsize=None)
def _ffmpeg_encoders(ffmpeg: str) -> frozenset:
    done = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, timeout=30)
    return frozenset(line.split()[1] for line in done.stdout.decode(errors="replace").splitlines()
                     if len(line.split()) > 1 and line.startswith(" A"))


@lru_cache(maxsize=None)
def _sox_formats(sox: str) -> frozenset:
    done = subprocess.run([sox, "-h"], capture_output=True, timeout=30)
    for line in done.stdout.decode(errors="replace").splitlines():
        if line.startswith("AUDIO FILE FORMATS:"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def _codec_tool(codec: Codec) -> str:
    """Path of the program ``codec`` runs through, after checking it has the encoder / file type."""
    path = _tool(codec.tool)
    if codec.tool == "ffmpeg" and codec.encoder not in _ffmpeg_encoders(path):
        raise ToolMissing(f"{path} has no {codec.encoder} encoder: {INSTALL['ffmpeg']} "
                          "(Debian's ffmpeg includes libopus, libmp3lame and libgsm)")
    if codec.tool == "sox" and codec.encoder not in _sox_formats(path):
        raise ToolMissing(f"{path} cannot write {codec.encoder} files: {INSTALL['sox']}")
    return path


def _pyroomacoustics():
    try:
        import pyroomacoustics
    except ImportError as error:
        raise ToolMissing(f"pyroomacoustics is not installed: {INSTALL['pyroomacoustics']}") from error
    return pyroomacoustics


def _mono(samples) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"needs non-empty mono audio, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("audio contains NaN or Inf")
    return x.astype(np.float32, copy=False)


def _run(command: list[str], timeout: float = TIMEOUT_SECONDS) -> None:
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
    program = _codec_tool(codec)
    samples = _mono(samples)
    narrow = np.clip(resample(samples, rate, codec.rate), -1.0, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        source, encoded, decoded = (os.path.join(tmp, f) for f in ("in.wav", f"enc.{codec.container}", "out.wav"))
        sf.write(source, narrow, codec.rate, subtype="PCM_16")
        if codec.tool == "ffmpeg":
            ffmpeg = [program, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
            _run(ffmpeg + ["-i", source, "-ar", str(codec.rate), "-ac", "1", *codec.args, "-f", codec.container,
                           encoded])
            raw = ["-f", codec.container] if codec.container in ("g722", "gsm") else []  # headerless streams
            _run(ffmpeg + raw + ["-i", encoded, "-ar", str(codec.rate), "-ac", "1", decoded])
        else:
            sox = program
            _run([sox, source, *codec.args, "-t", codec.container, encoded])
            _run([sox, "-t", codec.container, encoded, "-b", "16", decoded])
        out, _ = sf.read(decoded, dtype="float32")
    out = _align(out, narrow, max_shift=int(0.1 * codec.rate))
    out = resample(out, codec.rate, rate)[: len(samples)]
    return np.pad(out, (0, len(samples) - len(out))).astype(np.float32)


def sox_effect(samples: np.ndarray, rate: int, effect: str, factor: float) -> np.ndarray:
    """sox ``speed`` (resampling: pitch and duration change together) or ``tempo`` (duration only)."""
    sox = _tool("sox")
    samples = _mono(samples)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
        sf.write(source, np.clip(samples, -1.0, 1.0), rate, subtype="FLOAT")
        command = [sox, source, target, effect] + (["-s"] if effect == "tempo" else []) + [str(factor)]
        _run(command + (["rate", str(rate)] if effect == "speed" else []))
        out, out_rate = sf.read(target, dtype="float32")
    return resample(out, out_rate, rate).astype(np.float32)


def room(samples: np.ndarray, rate: int, seed: int) -> np.ndarray:
    """A random shoebox room (3-10 m x 3-8 m x 2.5-4 m, RT60 0.2-0.8 s) with random source and microphone
    positions (image source method); output trimmed to the input length plus the reverberation tail."""
    pra = _pyroomacoustics()
    samples = _mono(samples)
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
        _codec_tool(CODECS[name])
    elif name in SPEEDS or name in TEMPOS:
        _tool("sox")
    elif name == "room":
        _pyroomacoustics()
    else:
        raise ValueError(f"unknown condition {name!r}; choose from {list(CONDITIONS)}")


def available(name: str) -> bool:
    """Whether condition ``name`` can run here (:func:`require` without the exception)."""
    try:
        require(name)
    except ToolMissing:
        return False
    return True


def apply_condition(samples: np.ndarray, rate: int, name: str, seed: int = 0) -> np.ndarray:
    """Apply the named condition (one of :data:`CONDITIONS`) to float mono ``samples`` at ``rate``.

    Returns float32 at ``rate``: codecs keep the length, ``speed_f`` / ``tempo_f`` divide it by ``f``, and
    ``room`` adds its reverberation tail. ``seed`` only matters for ``room``. Raises :class:`ToolMissing`,
    :class:`ToolFailed`, or ``ValueError`` for an unknown name or empty / non-finite audio.
    """
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
    """Yield ``(condition, samples)`` for each name in ``conditions``, in order: what a TFRecord build writes
    as extra copies with a ``condition`` field. Condition ``i`` gets seed ``seed + i`` (give each utterance
    its own ``seed``); the check that every tool exists runs before the first copy is made."""
    conditions = list(conditions)
    for name in conditions:
        require(name)
    for index, name in enumerate(conditions):
        yield name, apply_condition(samples, rate, name, seed + index)


# ------------------------------------------------------------------------------ G.711 without tools

def ulaw_to_linear(code: np.ndarray) -> np.ndarray:
    """G.711 mu-law bytes to 16-bit linear PCM (ITU G.711 expansion)."""
    u = ~np.asarray(code, np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def alaw_to_linear(code: np.ndarray) -> np.ndarray:
    """G.711 A-law bytes to 16-bit linear PCM (ITU G.711 expansion)."""
    a = np.asarray(code, np.int32) ^ 0x55
    segment = (a & 0x70) >> 4
    t = ((a & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    t = t << np.maximum(segment - 1, 0)
    return np.where(a & 0x80, t, -t).astype(np.int16)


@lru_cache(maxsize=None)
def _g711_table(law: str) -> np.ndarray:
    """14-bit linear index -> code, each input going to the nearest output level (ffmpeg's pcm_tablegen)."""
    decode, mask = (ulaw_to_linear, 0xFF) if law == "ulaw" else (alaw_to_linear, 0xD5)
    levels = decode(np.arange(128) ^ mask).astype(np.int32)  # magnitudes, rising
    bounds = (levels[:-1] + levels[1:] + 4) >> 3  # first 14-bit magnitude of the next code
    magnitude = np.arange(8192)
    step = np.searchsorted(bounds, magnitude, side="right")  # code index 0..127 per magnitude
    table = np.empty(16384, np.uint8)
    table[8192:] = step ^ mask
    table[8192 - magnitude[1:]] = step[1:] ^ (mask ^ 0x80)
    table[0] = table[1]
    return table


def linear_to_ulaw(pcm: np.ndarray) -> np.ndarray:
    """16-bit linear PCM to G.711 mu-law bytes, rounding to the nearest level (as ffmpeg's pcm_mulaw)."""
    return _g711_table("ulaw")[(np.asarray(pcm, np.int32) + 32768) >> 2]


def linear_to_alaw(pcm: np.ndarray) -> np.ndarray:
    """16-bit linear PCM to G.711 A-law bytes, rounding to the nearest level (as ffmpeg's pcm_alaw)."""
    return _g711_table("alaw")[(np.asarray(pcm, np.int32) + 32768) >> 2]


def g711_roundtrip(samples: np.ndarray, rate: int, law: str = "ulaw") -> np.ndarray:
    """G.711 (``law`` ``"ulaw"`` or ``"alaw"``) in numpy: resample to 8 kHz, 16-bit PCM, encode to 8-bit codes,
    decode, back to ``rate``. Same length; no external tool (ffmpeg's pcm_mulaw / pcm_alaw give the same codes)."""
    if law not in ("ulaw", "alaw"):
        raise ValueError(f"law must be 'ulaw' or 'alaw', not {law!r}")
    samples = _mono(samples)
    narrow = resample(samples, rate, 8000)
    pcm = np.clip(np.round(narrow.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int32)
    decoded = ulaw_to_linear(linear_to_ulaw(pcm)) if law == "ulaw" else alaw_to_linear(linear_to_alaw(pcm))
    out = resample((decoded / 32768.0).astype(np.float32), 8000, rate)[: len(samples)]
    return np.pad(out, (0, len(samples) - len(out))).astype(np.float32)
