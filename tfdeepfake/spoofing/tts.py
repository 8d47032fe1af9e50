"""Text-to-speech spoof systems that shell out to classic offline engines.

Each engine writes a temporary WAV which is read back as mono float32 and resampled (soxr) to the requested
rate. Voice parameters (voice, speed, pitch, duration stretch) are drawn from the numpy Generator unless
given as options, so a system id plus a seed always gives the same audio.

Debian packages: ``espeak-ng``; ``flite``; ``festival`` plus a voice such as ``festvox-kallpc16k``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import resample
from .errors import GeneratorFailed, GeneratorUnavailable

TTS_TIMEOUT_S = 120.0

ESPEAK_VOICES = ("en-us", "en-gb", "en-us+m3", "en-us+f2", "en-gb+m5", "en-us+f4", "en-gb+f3", "en-us+m7")
FLITE_VOICES = ("slt", "rms", "awb", "kal16", "kal")  # awb_time is a talking clock only
FESTIVAL_VOICE_DIRS = ("/usr/share/festival/voices", "/usr/lib/festival/voices")


def _require(system_id: str, executable: str, package: str) -> str:
    path = shutil.which(executable)
    if path is None:
        raise GeneratorUnavailable(system_id, executable, f"apt-get install {package}")
    return path


def _festival_voices() -> list[str]:
    """Installed festival voice names (directories under voices/<language>/), English ones only when any."""
    found: dict[str, list[str]] = {}
    for root in FESTIVAL_VOICE_DIRS:
        if os.path.isdir(root):
            for language in sorted(os.listdir(root)):
                folder = os.path.join(root, language)
                if os.path.isdir(folder):
                    found.setdefault(language, []).extend(
                        sorted(v for v in os.listdir(folder) if os.path.isdir(os.path.join(folder, v))))
    english = sorted(set(found.get("english", [])))
    return english or sorted({v for voices in found.values() for v in voices})


def _flite_voices(executable: str) -> list[str]:
    try:
        out = subprocess.run([executable, "-lv"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    listed = out.split(":", 1)[-1].split()
    return [v for v in FLITE_VOICES if v in listed]


def espeak_missing() -> tuple[str, str] | None:
    """``None`` when espeak-ng can run, else ``(missing tool, install command)``."""
    return None if shutil.which("espeak-ng") else ("espeak-ng", "apt-get install espeak-ng")


def flite_missing() -> tuple[str, str] | None:
    return None if shutil.which("flite") else ("flite", "apt-get install flite")


def festival_missing() -> tuple[str, str] | None:
    if not shutil.which("text2wave"):
        return ("festival (text2wave)", "apt-get install festival festvox-kallpc16k")
    if not _festival_voices():
        return ("a festival voice", "apt-get install festvox-kallpc16k")
    return None


def _run_engine(system_id: str, command: list[str], wav: Path, sample_rate: int) -> np.ndarray:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TTS_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise GeneratorFailed(system_id, f"{command[0]} timed out after {TTS_TIMEOUT_S:g} s") from error
    except OSError as error:
        raise GeneratorFailed(system_id, f"cannot run {command[0]}: {error}") from error
    if done.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
        detail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise GeneratorFailed(system_id, f"{os.path.basename(command[0])} exited {done.returncode}, no audio: {' | '.join(detail)}")
    try:
        data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise GeneratorFailed(system_id, f"unreadable WAV from {command[0]}: {error}") from error
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(samples), int(rate), sample_rate)


def _with_text_file(text: str, run):
    with tempfile.TemporaryDirectory(prefix="tfdeepfake-tts-") as tmp:
        text_path = Path(tmp) / "text.txt"
        text_path.write_text(text.strip() + "\n", encoding="utf-8")
        return run(text_path, Path(tmp) / "out.wav")


def espeak_tts(source, sample_rate, rng, text, *, voice: str | None = None, speed: int | None = None,
               pitch: int | None = None, system_id: str = "tts_espeak") -> np.ndarray:
    """espeak-ng formant synthesis; ``speed`` in words per minute, ``pitch`` 0-99."""
    exe = _require(system_id, "espeak-ng", "espeak-ng")
    voice = voice or str(rng.choice(ESPEAK_VOICES))
    speed = int(speed if speed is not None else rng.integers(140, 186))
    pitch = int(pitch if pitch is not None else rng.integers(35, 66))
    return _with_text_file(text, lambda txt, wav: _run_engine(
        system_id, [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), "-f", str(txt)], wav, sample_rate))


def flite_tts(source, sample_rate, rng, text, *, voice: str | None = None, duration_stretch: float | None = None,
              system_id: str = "tts_flite") -> np.ndarray:
    """Flite (CMU) diphone/clustergen synthesis with one of its built-in voices."""
    exe = _require(system_id, "flite", "flite")
    if voice is None:
        voices = _flite_voices(exe) or ["kal"]
        voice = str(rng.choice(voices))
    stretch = float(duration_stretch if duration_stretch is not None else rng.uniform(0.9, 1.15))
    return _with_text_file(text, lambda txt, wav: _run_engine(
        system_id, [exe, "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}", "-f", str(txt), "-o", str(wav)],
        wav, sample_rate))


def festival_tts(source, sample_rate, rng, text, *, voice: str | None = None, duration_stretch: float | None = None,
                 system_id: str = "tts_festival") -> np.ndarray:
    """Festival via ``text2wave`` with an installed voice (e.g. kal_diphone)."""
    exe = _require(system_id, "text2wave", "festival festvox-kallpc16k")
    voices = _festival_voices()
    if not voices:
        raise GeneratorUnavailable(system_id, "a festival voice", "apt-get install festvox-kallpc16k")
    voice = voice or str(rng.choice(voices))
    stretch = float(duration_stretch if duration_stretch is not None else rng.uniform(0.9, 1.15))
    evals = ["-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})"]
    return _with_text_file(text, lambda txt, wav: _run_engine(
        system_id, [exe, str(txt), "-o", str(wav), *evals], wav, sample_rate))
