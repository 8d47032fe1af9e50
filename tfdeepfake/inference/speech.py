"""Is there speech in a clip at all? A frame-level energy check in the speech band (no verdict without it)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpeechActivity:
    """Frame-level energy check: 20 ms frames, energy in the 300-3400 Hz speech band (dB re full scale).

    A frame is active when its energy is more than ``RISE_DB`` above the clip's floor (the 10th percentile of its
    frames) and above ``ABSOLUTE_DB``; a clip has speech when at least ``MIN_SPEECH_SECONDS`` of frames are
    active. The band keeps hum and rumble below 300 Hz from masking speech; stationary noise, tones and digital
    silence never rise above their own floor. It is an energy check, not a speech classifier: clicks or music
    count as activity. Measured on ../shared/corpora (591 real and synthetic clips): every clip has >= 0.58 s
    active (>= 35% of its frames); white, pink and brown noise, hum, tones and silence have none.
    """

    FRAME_SECONDS = 0.02
    BAND_HZ = (300.0, 3400.0)
    FLOOR_PERCENTILE = 10.0
    RISE_DB = 15.0
    ABSOLUTE_DB = -60.0
    MIN_SPEECH_SECONDS = 0.25

    frame_db: np.ndarray  # per-frame speech-band energy
    active: np.ndarray  # bool per frame
    floor_db: float
    frame_seconds: float

    @property
    def speech_seconds(self) -> float:
        return float(self.active.sum() * self.frame_seconds)

    @property
    def has_speech(self) -> bool:
        return self.speech_seconds >= self.MIN_SPEECH_SECONDS

    def fraction(self, start: float, end: float) -> float:
        """Share of active frames between ``start`` and ``end`` seconds (0 when no frame lies inside)."""
        first, last = int(round(start / self.frame_seconds)), int(round(end / self.frame_seconds))
        inside = self.active[first:max(first + 1, last)]
        return float(inside.mean()) if inside.size else 0.0


class EnergyTrack:
    """Accumulates :class:`SpeechActivity` frame energies block by block (a frame may straddle two blocks)."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.frame = max(1, int(round(SpeechActivity.FRAME_SECONDS * sample_rate)))
        frequencies = np.fft.rfftfreq(self.frame, 1.0 / sample_rate)
        low, high = SpeechActivity.BAND_HZ
        self.band = (frequencies >= low) & (frequencies <= high)
        self.window = np.hanning(self.frame)
        self.scale = 2.0 / (self.frame * np.sum(self.window ** 2))  # one-sided spectrum -> mean power
        self.pending = np.zeros(0, np.float32)
        self.db: list[np.ndarray] = []

    def add(self, samples: np.ndarray) -> None:
        joined = np.concatenate([self.pending, samples])
        count = len(joined) // self.frame
        self.pending = joined[count * self.frame:]
        if count:
            frames = joined[:count * self.frame].reshape(count, self.frame).astype(np.float64) * self.window
            power = self.scale * np.sum(np.abs(np.fft.rfft(frames, axis=1))[:, self.band] ** 2, axis=1)
            self.db.append(10.0 * np.log10(power + 1e-12))

    def finish(self) -> SpeechActivity:
        db = np.concatenate(self.db) if self.db else np.zeros(0)
        floor = float(np.percentile(db, SpeechActivity.FLOOR_PERCENTILE)) if db.size else -120.0
        active = db > max(floor + SpeechActivity.RISE_DB, SpeechActivity.ABSOLUTE_DB)
        return SpeechActivity(db, active, floor, self.frame / self.sample_rate)


def speech_activity(samples: np.ndarray, sample_rate: int) -> SpeechActivity:
    """:class:`SpeechActivity` of a whole mono clip."""
    track = EnergyTrack(sample_rate)
    track.add(np.asarray(samples, np.float32).reshape(-1))
    return track.finish()
