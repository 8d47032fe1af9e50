"""How a recording becomes model windows and how their logits become one score: the one rule that data,
pipeline, training, bundles, the Detector, streaming and exports share.

Mono at a sample rate; windows of a fixed length every hop (default half a window), the last one aligned to the
clip's end; a clip shorter than a window is repeated to fill it (as in training). :func:`window_indices` (numpy)
and :func:`sliding_windows` (TensorFlow, for tf.data) are the two forms of it, tested equal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TfDeepfakeError

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_WINDOW = 64600  # ~4 s at 16 kHz: the ASVspoof models' input
AGGREGATIONS = ("mean-logit", "max-spoof")
SHORT_CLIPS = ("repeat",)


class InputRuleError(TfDeepfakeError, ValueError):
    """An input rule that cannot cut windows (a non-positive length, a hop longer than a window, ...)."""


def window_indices(num_samples: int, window: int, hop: int) -> np.ndarray:
    """Sample indices (num_windows, window) of every window of a clip of ``num_samples`` samples.

    The numpy form of the one windowing rule (:func:`sliding_windows` is the TensorFlow form, tested equal on many
    lengths), so the Detector pays no TensorFlow op per file: ``audio[indices]`` are the windows, repeat padding
    of short clips and the end-aligned last window included; ``indices[:, 0]`` are the window starts.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    span = max(num_samples - window, 0)
    starts = np.minimum(np.arange(1 + (span + hop - 1) // hop) * hop, span)
    return (starts[:, None] + np.arange(window)[None, :]) % num_samples


def aggregate_logits(logits, method: str = "mean-logit") -> float:
    """One logit from a clip's window logits: their mean (``mean-logit``, the evaluation path's rule), or the
    most spoof-like window, i.e. the lowest logit (``max-spoof``)."""
    logits = np.asarray(logits, np.float64).reshape(-1)
    if logits.size == 0:
        raise ValueError("no window logits to aggregate")
    if method == "mean-logit":
        return float(np.mean(logits))
    if method == "max-spoof":
        return float(np.min(logits))
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {method!r}")


@dataclass(frozen=True)
class InputRule:
    """How a recording becomes model windows and how their logits become one score.

    Mono at ``sample_rate``; windows of ``window_samples`` every ``hop_samples`` (default: half a window) with the
    last one aligned to the clip's end; a clip shorter than a window is repeated to fill it (as in training).
    """

    sample_rate: int = DEFAULT_SAMPLE_RATE
    window_samples: int = DEFAULT_WINDOW
    hop_samples: int | None = None
    aggregation: str = "mean-logit"
    short_clips: str = "repeat"

    def __post_init__(self):
        if self.hop_samples is None:
            object.__setattr__(self, "hop_samples", max(1, self.window_samples // 2))
        for key in ("sample_rate", "window_samples", "hop_samples"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputRuleError(f"input.{key}: a positive integer, got {value!r}")
        if self.hop_samples > self.window_samples:
            raise InputRuleError(f"input.hop_samples: {self.hop_samples} > window_samples {self.window_samples} "
                              "would leave parts of the clip unscored")
        if self.aggregation not in AGGREGATIONS:
            raise InputRuleError(f"input.aggregation: one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.short_clips not in SHORT_CLIPS:
            raise InputRuleError(f"input.short_clips: one of {SHORT_CLIPS}, got {self.short_clips!r}")

    def window_indices(self, num_samples: int) -> np.ndarray:
        return window_indices(num_samples, self.window_samples, self.hop_samples)

    def aggregate(self, logits) -> float:
        return aggregate_logits(logits, self.aggregation)

    def describe(self) -> str:
        return (f"mono {self.sample_rate} Hz; windows of {self.window_samples:,} samples "
                f"({self.window_samples / self.sample_rate:.2f} s) every {self.hop_samples:,} samples, the last "
                f"aligned to the clip's end; shorter clips repeated to one window; window logits aggregated by "
                f"{self.aggregation}")


def sliding_windows(wave, length: int, hop: int):
    """The TensorFlow form of :func:`window_indices`, for tf.data: windows (num_windows, length) of ``wave``."""
    import tensorflow as tf

    from .augment.wave import repeat_to_length

    wave = tf.convert_to_tensor(wave)
    span = tf.math.maximum(tf.shape(wave)[0] - length, 0)
    count = 1 + (span + hop - 1) // hop
    starts = tf.math.minimum(tf.range(count) * hop, span)
    return tf.gather(repeat_to_length(wave, length), starts[:, None] + tf.range(length)[None, :])
