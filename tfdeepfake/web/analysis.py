"""What the web app does with one recording, without the web: limits, the Detector's verdict, and one figure.

    result = analyse("call.m4a", Detector.load("aasist-l"), Limits(max_bytes=50_000_000, max_seconds=300))
    result.verdict          # Prediction.to_dict() plus latency_seconds: what the page shows and the JSON holds
    result.figure           # spectrogram with the per-window P(spoof) track and the threshold over it

Scoring is ``Detector.predict`` on the file itself; the figure's spectrogram comes from audio.py's decoder at the
model's rate (what the model hears) and matplotlib's STFT. Nothing here knows a model or computes a feature the
detector uses, so the page shows exactly what ``tfdeepfake predict`` would print.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace

import numpy as np

from .. import audio as audio_io
from ..errors import TfDeepfakeError

DEFAULT_MAX_MB = 50.0
DEFAULT_MAX_SECONDS = 300.0
TRACK_GID = "spoof-probability"  # gid of the figure's per-window line (window centres -> P(spoof))
SPECTROGRAM_FFT = 512  # 32 ms at 16 kHz, 3/4 overlap (8 ms hop)
DYNAMIC_RANGE_DB = 80.0


class FileTooLargeError(audio_io.AudioError):
    reason = "file is larger than the upload limit"


class LimitError(TfDeepfakeError, ValueError):
    """A size or duration limit that is not a positive finite number."""


@dataclass(frozen=True)
class Limits:
    """What one request may bring: file size in bytes and decoded duration in seconds."""

    max_bytes: int = int(DEFAULT_MAX_MB * 1e6)
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self):
        for key in ("max_bytes", "max_seconds"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise LimitError(f"{key}: a positive number, got {value!r}")

    @classmethod
    def from_megabytes(cls, max_mb: float = DEFAULT_MAX_MB, max_seconds: float = DEFAULT_MAX_SECONDS) -> Limits:
        if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or not math.isfinite(max_mb) \
                or max_mb <= 0:
            raise LimitError(f"max_mb: a positive number, got {max_mb!r}")
        return cls(max(1, int(max_mb * 1e6)), float(max_seconds))

    def describe(self) -> str:
        return f"up to {self.max_bytes / 1e6:g} MB and {self.max_seconds:g} s"


@dataclass(frozen=True)
class Analysis:
    """The Detector's prediction on one file, the time it took, and the figure of where the score rises."""

    prediction: object  # tfdeepfake.inference.Prediction
    latency_seconds: float
    figure: object  # matplotlib.figure.Figure

    @property
    def verdict(self) -> dict:
        """``Prediction.to_dict()`` (with every window) plus the scoring latency: the downloadable result."""
        return {**self.prediction.to_dict(windows=True), "latency_seconds": self.latency_seconds}


def check_size(path: str, limits: Limits) -> None:
    """:class:`FileTooLargeError` when the file exceeds ``limits.max_bytes`` (checked before any decoding)."""
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > limits.max_bytes:
        raise FileTooLargeError(path, f"{size / 1e6:.1f} MB > {limits.max_bytes / 1e6:g} MB")


def analyse(path, detector, limits: Limits = Limits(), name: str | None = None) -> Analysis:
    """Check the limits, decode the file for the figure, score it with ``detector.predict`` and draw the figure.

    ``name`` is how the result names the file (an upload's original name rather than the server's temporary
    path); it defaults to the path. Bad input raises the :class:`tfdeepfake.audio.AudioError` the decoder or the
    limits give: too large (:class:`FileTooLargeError`), too long (``TooLongAudioError``), undecodable, empty, ...
    """
    path = os.fspath(path)
    check_size(path, limits)
    rate = detector.input_rule.sample_rate
    samples, _ = audio_io.load_audio(path, target_rate=rate, max_seconds=limits.max_seconds)
    started = time.perf_counter()
    prediction = detector.predict(path)
    latency = time.perf_counter() - started
    prediction = replace(prediction, source=name or path)
    return Analysis(prediction, latency, figure(samples, rate, prediction))


def figure(samples: np.ndarray, sample_rate: int, prediction):
    """Spectrogram (dB, matplotlib's STFT) with each window's calibrated P(spoof) over time on a second axis.

    Each window is drawn as a bar over the span it covers (red at or above the threshold, green below) and the
    line through the window centres carries gid :data:`TRACK_GID`; the dashed line is the threshold.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    duration = len(samples) / sample_rate
    fig = Figure(figsize=(11, 4.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    nfft = min(SPECTROGRAM_FFT, max(16, len(samples)))
    with np.errstate(divide="ignore"):  # digital silence: log of zero power, drawn at the bottom of the range
        spectrum, _, _, image = ax.specgram(samples, NFFT=nfft, Fs=sample_rate,
                                            noverlap=nfft * 3 // 4,
                                            cmap="magma", scale="dB", mode="psd")
    peak = 10.0 * np.log10(max(float(np.max(spectrum)), 1e-20))
    image.set_clim(peak - DYNAMIC_RANGE_DB, peak)
    fig.colorbar(image, ax=ax, pad=0.07, fraction=0.035).set_label("power (dB)")
    ax.set_xlim(0.0, duration)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}"))

    track = ax.twinx()
    threshold = prediction.threshold
    for window in prediction.windows:
        colour = "#ff4d4d" if window.spoof_probability >= threshold else "#3ddc84"
        track.hlines(window.spoof_probability, window.start, window.end, colors=colour, linewidth=5, alpha=0.75)
    centres = [(w.start + w.end) / 2 for w in prediction.windows]
    probabilities = [w.spoof_probability for w in prediction.windows]
    track.plot(centres, probabilities, "o-", color="#00e5ff", linewidth=2, markersize=6,
               markeredgecolor="black", gid=TRACK_GID)
    track.axhline(threshold, color="white", linestyle="--", linewidth=1.5)
    track.set_ylim(-0.02, 1.02)
    track.set_xlim(0.0, duration)
    track.set_ylabel("P(spoof) per window")
    track.legend(handles=[Line2D([], [], color="#00e5ff", marker="o", markeredgecolor="black",
                                 label="P(spoof) at window centre"),
                          Line2D([], [], color="#ff4d4d", linewidth=5, label="window at/above threshold"),
                          Line2D([], [], color="#3ddc84", linewidth=5, label="window below threshold"),
                          Line2D([], [], color="white", linestyle="--",
                                 label=f"threshold {threshold:.4f}")],
                 loc="upper right", fontsize=8, framealpha=0.85, facecolor="#222222", labelcolor="white")
    overall = "—" if prediction.spoof_probability is None else f"{prediction.spoof_probability:.4f}"
    flags = f"  [{', '.join(prediction.flags)}]" if prediction.flags else ""
    ax.set_title(f"{os.path.basename(prediction.source)}: {prediction.decision} (P(spoof) {overall}, "
                 f"{prediction.model_id}){flags}", fontsize=11)
    return fig


def summary_markdown(analysis: Analysis, load_seconds: float | None = None) -> str:
    """The verdict as the page shows it: the decision, then a table of the numbers behind it."""
    p = analysis.prediction
    headline = {"spoof": "SPOOF", "bonafide": "BONA FIDE", "undetermined": "UNDETERMINED"}.get(p.decision,
                                                                                             p.decision.upper())
    probability = "—" if p.spoof_probability is None else f"{p.spoof_probability:.4f}"
    load = f" (first use: model loaded in {load_seconds:.2f} s)" if load_seconds else ""
    speech = "—" if p.speech_seconds is None else f"{p.speech_seconds:.2f} s"
    rows = [("file", f"`{os.path.basename(p.source)}`"), ("model", f"`{p.model_id}`"),
            ("verdict", p.decision), ("calibrated P(spoof)", probability),
            ("threshold", f"{p.threshold:.4f} (spoof if P(spoof) ≥ threshold)"),
            ("duration", f"{p.duration:.2f} s"), ("latency", f"{analysis.latency_seconds:.2f} s{load}"),
            ("windows", str(len(p.windows))), ("active speech", speech),
            ("flags", ", ".join(p.flags) if p.flags else "none")]
    note = ("\n\nNo speech was found, so the score means nothing and no verdict is given."
            if "no-speech" in p.flags else "")
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"### {headline} — P(spoof) {probability}\n\n| | value |\n|---|---|\n{table}{note}"


def error_markdown(error: Exception, path: str | None = None, name: str | None = None) -> str:
    """An error as the page shows it; the server's temporary path is replaced by the file's own name."""
    text = str(error)
    if path and name:
        text = text.replace(os.path.abspath(path), name).replace(path, name)
    return f"### Could not analyse this file\n\n{text}"
