"""What scoring a recording gives: each window's score and the recording's verdict, by one rule for every scorer."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..bundle import Bundle
from .speech import SpeechActivity


@dataclass(frozen=True)
class WindowScore:
    """One window: where it lies in the clip (seconds), its logit, calibrated P(spoof) and active-speech share."""

    start: float
    end: float
    logit: float
    spoof_probability: float
    speech: float


@dataclass(frozen=True)
class Prediction:
    """The verdict on one recording.

    ``decision`` is 'spoof' or 'bonafide' (calibrated P(spoof) against ``threshold``), 'undetermined' when a flag
    says the score means nothing (``no-speech``), or 'error' when the input could not be read (``error`` holds the
    AudioError's text; the numbers are then None).
    """

    source: str
    model_id: str
    decision: str
    spoof_probability: float | None
    threshold: float
    logit: float | None
    duration: float | None
    windows: tuple[WindowScore, ...] = ()
    flags: tuple[str, ...] = ()
    speech_seconds: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, windows: bool = True) -> dict:
        data = asdict(self)
        data["flags"] = list(self.flags)
        data["windows"] = [asdict(w) for w in self.windows] if windows else len(self.windows)
        return data


def score_windows(bundle: Bundle, source: str, starts, logits, samples: int, activity: SpeechActivity) -> Prediction:
    """A recording's :class:`Prediction` from its window logits: each window's span, calibrated P(spoof) and
    speech share; the bundle's aggregation, calibration and threshold; no verdict for a clip without speech.

    The one rule for every scorer (the Detector, the Beam pipeline): ``starts`` are the windows' first samples,
    ``samples`` the clip's length at the rule's rate.
    """
    rule, calibration, threshold = bundle.input, bundle.calibration, bundle.threshold
    rate = rule.sample_rate
    starts, logits = np.asarray(starts, np.int64), np.asarray(logits, np.float64).reshape(-1)
    window_p = calibration.spoof_probability(logits)
    ends = np.minimum(starts + rule.window_samples, samples)
    windows = tuple(WindowScore(float(s / rate), float(e / rate), float(l), float(p),
                                activity.fraction(s / rate, e / rate))
                    for s, e, l, p in zip(starts, ends, logits, window_p))
    logit = rule.aggregate(logits)
    probability = float(calibration.spoof_probability(logit)[0])
    flags = () if activity.has_speech else ("no-speech",)
    decision = threshold.decide(probability) if not flags else "undetermined"
    return Prediction(source, bundle.model_id, decision, probability, threshold.spoof_probability, logit,
                      samples / rate, windows, flags, activity.speech_seconds)
