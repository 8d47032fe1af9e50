"""Score audio as it arrives: each window of the model's input rule is scored as soon as its last sample is in.

    scorer = detector.open_stream(sample_rate=48000)
    for chunk in microphone_chunks():          # any sizes
        for window in scorer.feed(chunk):      # windows completed by this chunk, scored now
            print(window.start, window.spoof_probability, window.decision, window.latency)
    windows, summary = scorer.close()          # the end-aligned last window, then the whole-recording verdict

Windows are the file rule's (:meth:`tfdeepfake.bundle.InputRule.window_indices`): one every hop while audio
comes, and at close the window aligned to the end (or the repeated clip when it is shorter than one window), so
a stream and :meth:`Detector.predict` on the same audio give the same window scores. Audio held: at most one
window plus one chunk; the speech-activity track adds 4 bytes per 20 ms frame (0.7 MB an hour).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import audio as audio_io
from .results import Prediction
from .speech import EnergyTrack


@dataclass(frozen=True)
class LiveWindow:
    """One scored window of a stream: its span (seconds from the stream's start), logit, calibrated P(spoof),
    the decision against the model's threshold, and ``latency``: seconds from the arrival of the chunk that
    completed the window to its score."""

    start: float
    end: float
    logit: float
    spoof_probability: float
    decision: str
    latency: float

    def to_dict(self) -> dict:
        return asdict(self)


class StreamScorer:
    """Push-style streaming scorer of one :class:`tfdeepfake.inference.Detector` (see the module docstring)."""

    def __init__(self, detector, sample_rate: int | None = None, name: str = "<stream>"):
        self.detector, self.name = detector, name
        rule = detector.input_rule
        self.rule, self.rate = rule, rule.sample_rate
        self.source_rate = int(sample_rate or self.rate)
        if self.source_rate < 1:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self._resampler = audio_io._resample_stream(self.source_rate, self.rate)
        self._energy = EnergyTrack(self.rate)
        self._buffer = np.zeros(0, np.float32)
        self._offset = 0  # global index of the buffer's first sample
        self._total = 0  # samples received (at the model's rate)
        self._next = 0  # start of the next regular window
        self._count = 0
        self._logit_sum, self._logit_min = 0.0, np.inf
        self._latencies: list[float] = []
        self._closed = False

    @property
    def latencies(self) -> list[float]:
        """The latency of every window scored so far (seconds)."""
        return list(self._latencies)

    @property
    def received_samples(self) -> int:
        """Samples received so far, at the model's rate."""
        return self._total

    @property
    def held_samples(self) -> int:
        """Samples of audio held now (bounded by one window plus one chunk)."""
        return len(self._buffer)

    def _score(self, starts: list[int], windows: np.ndarray, arrived: float) -> list[LiveWindow]:
        logits = np.asarray(self.detector.runner(windows), np.float64).reshape(-1)
        done = time.perf_counter()
        bundle = self.detector.bundle
        probabilities = bundle.calibration.spoof_probability(logits)
        out = []
        for start, logit, probability in zip(starts, logits, probabilities):
            end = min(start + self.rule.window_samples, max(self._total, 1))
            out.append(LiveWindow(start / self.rate, end / self.rate, float(logit), float(probability),
                                  bundle.threshold.decide(float(probability)), done - arrived))
            self._latencies.append(done - arrived)
        self._count += len(logits)
        self._logit_sum += float(logits.sum())
        self._logit_min = min(self._logit_min, float(logits.min()))
        return out

    def _drop_before(self, keep_from: int) -> None:
        cut = max(0, keep_from - self._offset)
        if cut:
            self._buffer = self._buffer[cut:]
            self._offset += cut

    def _add(self, samples: np.ndarray) -> None:
        self._energy.add(samples)
        self._buffer = np.concatenate([self._buffer, samples])
        self._total += len(samples)

    def feed(self, chunk, arrived: float | None = None) -> list[LiveWindow]:
        """Add a chunk (mono samples at the stream's rate, or (frames, channels)); the windows it completes,
        scored in one model call."""
        if self._closed:
            raise RuntimeError(f"{self.name}: the stream is closed")
        arrived = time.perf_counter() if arrived is None else arrived
        samples = np.asarray(chunk, np.float32)
        if samples.ndim == 2:
            samples = audio_io.downmix(samples)
        if samples.ndim != 1:
            raise audio_io.UndecodableAudioError(self.name, f"expected mono samples or (frames, channels), got "
                                                            f"shape {np.shape(chunk)}")
        audio_io.require_finite(self.name, samples)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._add(samples)
        return self._regular_windows(arrived)

    def _regular_windows(self, arrived: float) -> list[LiveWindow]:
        """Score every regular window the audio received so far completes; drop what no window needs."""
        window, hop = self.rule.window_samples, self.rule.hop_samples
        starts = []
        while self._next + window <= self._total:
            starts.append(self._next)
            self._next += hop
        out = []
        offsets = np.arange(window)
        for first in range(0, len(starts), self.detector.batch_windows):
            group = starts[first:first + self.detector.batch_windows]
            windows = np.stack([self._buffer[s - self._offset + offsets] for s in group])
            out.extend(self._score(group, windows, arrived))
        # keep what the next regular window or an end-aligned last window may still need
        self._drop_before(min(self._next, self._total - window))
        return out

    def close(self, arrived: float | None = None):
        """End the stream: ``(windows, summary)`` — the end-aligned last window (when the regular ones did not
        end exactly at the end) and the recording's :class:`tfdeepfake.inference.Prediction` (no per-window
        track: the windows were given as they came)."""
        if self._closed:
            raise RuntimeError(f"{self.name}: the stream is closed already")
        arrived = time.perf_counter() if arrived is None else arrived
        out = []
        if self._resampler is not None:
            self._add(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            out = self._regular_windows(arrived)
        self._closed = True
        if self._total == 0:
            raise audio_io.NoSamplesError(self.name)
        window = self.rule.window_samples
        if self._total < window:  # one window: the clip repeated to fill it, as predict does
            indices = self.rule.window_indices(self._total)
            out = self._score([0], self._buffer[indices[:1]], arrived)
        elif self._count == 0 or self._next - self.rule.hop_samples != self._total - window:
            last = self._total - window
            out += self._score([last], self._buffer[None, last - self._offset:last - self._offset + window],
                              arrived)
        self._buffer = np.zeros(0, np.float32)
        bundle = self.detector.bundle
        logit = self._logit_sum / self._count if self.rule.aggregation == "mean-logit" else self._logit_min
        probability = float(bundle.calibration.spoof_probability(logit)[0])
        activity = self._energy.finish()
        flags = () if activity.has_speech else ("no-speech",)
        decision = bundle.threshold.decide(probability) if not flags else "undetermined"
        summary = Prediction(self.name, bundle.model_id, decision, probability, bundle.threshold.spoof_probability,
                             logit, self._total / self.rate, (), flags, activity.speech_seconds)
        return out, summary


class Stream:
    """Iterates the :class:`LiveWindow` s of an iterable of chunks; ``summary`` holds the verdict once it ends."""

    def __init__(self, detector, chunks, sample_rate: int | None = None, name: str = "<stream>"):
        self.scorer = StreamScorer(detector, sample_rate, name)
        self.chunks = chunks
        self.summary = None

    def __iter__(self):
        for chunk in self.chunks:
            yield from self.scorer.feed(chunk)
        windows, self.summary = self.scorer.close()
        yield from windows
