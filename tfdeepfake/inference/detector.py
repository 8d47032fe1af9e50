"""The Detector: load a model (preset, bundle, run, SavedModel, TFLite, ONNX) and score recordings with it.

    detector = Detector.load("aasist")                  # or runs/demo, runs/demo/bundle, export/saved_model, x.tflite, x.onnx
    result = detector.predict("call.wav")               # or an array with sample_rate=
    result.decision, result.spoof_probability, result.windows

A recording is cut into the bundle's windows (the TFRecord evaluation path's rule, :class:`bundle.InputRule`),
the windows go through the model in batches while the file streams in blocks (bounded memory for any length),
the window logits are aggregated, calibrated to P(spoof) and compared with the bundle's threshold. A clip whose
speech-band energy never rises clearly above its own floor is flagged ``no-speech`` and gets no verdict.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from .. import audio as audio_io
from ..bundle import (CARD_FILE, KERAS, META_FILE, MODEL_FILE, Bundle, BundleError, Calibration, InputRule,
                      Threshold, bundle_from_preset, check_model_file, read_bundle)
from .results import Prediction, score_windows
from .runners import FILE_SUFFIXES, FORMATS, KerasRunner, SavedModelRunner, load_runner
from .speech import EnergyTrack

BLOCK_SECONDS = 10.0  # decoding block of a streamed file
BATCH_WINDOWS = 16  # windows per model call


class _Windower:
    """Cuts a stream of blocks into the rule's windows, holding at most ``batch * hop + window + block`` samples.

    Full batches are cut from segments of ``(batch - 1) * hop + window`` samples, whose windows under the rule
    are exactly the regular ones; the rest of the stream (at least one window long) is cut by the same rule at
    the end, which adds the end-aligned last window. Starts are global sample indices.
    """

    def __init__(self, rule: InputRule, batch: int):
        self.rule, self.batch = rule, batch
        self.step = batch * rule.hop_samples
        self.buffer = np.zeros(0, np.float32)
        self.offset = 0

    def _cut(self, segment: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        indices = self.rule.window_indices(len(segment))
        for first in range(0, len(indices), self.batch):
            chunk = indices[first:first + self.batch]
            yield self.offset + chunk[:, 0].astype(np.int64), segment[chunk]

    def add(self, block: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.buffer = np.concatenate([self.buffer, block])
        window = self.rule.window_samples
        while len(self.buffer) >= self.step + window:
            yield from self._cut(self.buffer[:self.step - self.rule.hop_samples + window])
            self.buffer = self.buffer[self.step:]
            self.offset += self.step

    def finish(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._cut(self.buffer)


def export_metadata(path: str) -> str | None:
    """An export's metadata: bundle.json inside a SavedModel folder, ``<file>.bundle.json`` beside a file (as
    tfdeepfake export writes them), else a bundle.json in the folder holding the export."""
    candidates = ([os.path.join(path, META_FILE)] if os.path.isdir(path) else [f"{path}.bundle.json"]) + \
        [os.path.join(os.path.dirname(os.path.abspath(path)), META_FILE)]
    return next((c for c in candidates if os.path.isfile(c)), None)


def _exported_bundle(path: str, window: int | None) -> Bundle:
    """The metadata of an exported model: its bundle.json when one lies beside it, else stated defaults."""
    meta = export_metadata(path)
    if meta is not None:
        return read_bundle(meta, check_model=False)  # the Detector checks its window against the model's
    if window is None:
        raise BundleError(f"{path}: the model's window length is dynamic and no {META_FILE} lies beside it to "
                          "state input.window_samples")
    note = f"no {META_FILE} beside {path}"
    return Bundle(model_id=os.path.basename(os.path.normpath(path)), name=os.path.basename(os.path.normpath(path)),
                  architecture="unknown", input=InputRule(window_samples=int(window)),
                  calibration=Calibration(fitted_on=f"identity: {note}"),
                  threshold=Threshold(0.5, f"argmax (P(spoof) 0.5): {note}", 0.0), provenance={"note": note})


class Detector:
    """A bundle and its model, ready to score files or arrays (see the module docstring)."""

    def __init__(self, bundle: Bundle, runner, batch_windows: int = BATCH_WINDOWS):
        if runner.window is not None and runner.window != bundle.input.window_samples:
            raise BundleError(f"{bundle.path or bundle.model_id}: the model reads {runner.window} samples, the "
                              f"bundle says input.window_samples {bundle.input.window_samples}")
        if batch_windows < 1:
            raise ValueError(f"batch_windows must be >= 1, got {batch_windows}")
        self.bundle, self.runner, self.batch_windows = bundle, runner, batch_windows

    @classmethod
    def from_bundle(cls, bundle: Bundle, batch_windows: int = BATCH_WINDOWS) -> Detector:
        """The bundle's model with its runner: Keras, or the export a bundle folder holds (sha256 checked)."""
        if bundle.model_format == KERAS or bundle.model is not None:
            return cls(bundle, KerasRunner(bundle.load_model()), batch_windows)
        if bundle.model_format not in FORMATS:
            raise BundleError(f"{bundle.path}: {META_FILE} model.format {bundle.model_format!r}: one of "
                              f"{', '.join([KERAS, *FORMATS])}")
        if bundle.path is None:
            raise BundleError(f"bundle {bundle.model_id!r}: a {bundle.model_format} export needs its folder")
        if bundle.model_sha256 is not None:
            check_model_file(bundle.model_path, bundle.model_sha256)
        return cls(bundle, load_runner(bundle.model_path), batch_windows)

    @classmethod
    def load(cls, source, batch_windows: int = BATCH_WINDOWS) -> Detector:
        """A preset name, a run dir (its ``bundle/``), a bundle dir, a SavedModel dir, a ``.tflite`` or ``.onnx`` file."""
        from ..models.presets import PRESETS

        text = os.fspath(source)
        if text in PRESETS and not os.path.exists(text):
            return cls.from_bundle(bundle_from_preset(text), batch_windows)
        if not os.path.exists(text):
            raise BundleError(f"{text}: neither a file or folder nor a preset name (presets: {sorted(PRESETS)})")
        if os.path.isfile(text):
            if text.endswith(FILE_SUFFIXES):
                runner = load_runner(text)
                return cls(_exported_bundle(text, runner.window), runner, batch_windows)
            if os.path.basename(text) == META_FILE:
                return cls.from_bundle(read_bundle(text), batch_windows)
            raise BundleError(f"{text}: not a model file tfdeepfake loads (.tflite, .onnx, or a bundle/SavedModel "
                              "folder)")
        if os.path.isfile(os.path.join(text, "saved_model.pb")):
            runner = SavedModelRunner(text)
            return cls(_exported_bundle(text, runner.window), runner, batch_windows)
        if os.path.isfile(os.path.join(text, META_FILE)):
            return cls.from_bundle(read_bundle(text), batch_windows)
        if os.path.isfile(os.path.join(text, "bundle", META_FILE)):
            return cls.from_bundle(read_bundle(os.path.join(text, "bundle")), batch_windows)
        if os.path.isfile(os.path.join(text, "config.yaml")):
            raise BundleError(f"{text}: a run folder without bundle/ (runs before bundles existed); train it again "
                              "or write one with tfdeepfake.training.write_run_bundle")
        raise BundleError(f"{text}: no {META_FILE} + {MODEL_FILE} (bundle), bundle/ (run), saved_model.pb "
                          f"(SavedModel) inside; a bundle holds {MODEL_FILE}, {META_FILE} and {CARD_FILE}")

    @property
    def model_id(self) -> str:
        return self.bundle.model_id

    @property
    def input_rule(self) -> InputRule:
        return self.bundle.input

    def _blocks(self, source, sample_rate):
        """(name, iterator of mono float32 blocks at the rule's rate) for a path or an array."""
        rate = self.input_rule.sample_rate
        if isinstance(source, (str, os.PathLike)):
            if sample_rate is not None:
                raise ValueError("sample_rate is for arrays; a file's own rate is read from the file")
            stream = audio_io.stream_audio(source, target_rate=rate, block_seconds=BLOCK_SECONDS)
            return os.fspath(source), stream
        name = "<array>"
        samples = np.asarray(source, dtype=np.float32)
        if samples.ndim == 2:
            samples = audio_io.downmix(samples)  # (frames, channels), as soundfile returns them
        if samples.ndim != 1:
            raise audio_io.UndecodableAudioError(name, f"expected mono samples or (frames, channels), got shape "
                                                       f"{np.shape(source)}")
        if samples.size == 0:
            raise audio_io.NoSamplesError(name)
        audio_io.require_finite(name, samples)
        samples = audio_io.resample(samples, sample_rate or rate, rate)
        block = int(BLOCK_SECONDS * rate)
        return name, (samples[i:i + block] for i in range(0, len(samples), block))

    def predict(self, source, sample_rate: int | None = None) -> Prediction:
        """Score a file (any format audio.py reads) or a mono array (at ``sample_rate``, default the model's).

        Bad input raises the typed :class:`tfdeepfake.audio.AudioError` naming the file.
        """
        name, blocks = self._blocks(source, sample_rate)
        windower, energy = _Windower(self.input_rule, self.batch_windows), EnergyTrack(self.input_rule.sample_rate)
        starts, logits, total = [], [], 0
        try:
            for block in blocks:
                total += len(block)
                energy.add(block)
                for first, windows in windower.add(block):
                    starts.append(first)
                    logits.append(self.runner(windows))
        finally:
            if hasattr(blocks, "close"):
                blocks.close()
        for first, windows in windower.finish():
            starts.append(first)
            logits.append(self.runner(windows))
        return score_windows(self.bundle, name, np.concatenate(starts), np.concatenate(logits), total,
                             energy.finish())

    def predictions(self, paths: Iterable) -> Iterator[Prediction]:
        """:meth:`predict` for each path, as it goes; a file that cannot be read gives an error row and the rest
        go on."""
        for path in paths:
            try:
                yield self.predict(path)
            except audio_io.AudioError as error:
                yield Prediction(os.fspath(path), self.model_id, "error", None,
                                 self.bundle.threshold.spoof_probability, None, None, error=str(error))

    def predict_many(self, paths: Iterable) -> list[Prediction]:
        """All of :meth:`predictions` as a list."""
        return list(self.predictions(paths))

    def open_stream(self, sample_rate: int | None = None, name: str = "<stream>"):
        """A push-style :class:`tfdeepfake.stream.StreamScorer`: ``feed(chunk)`` returns the windows each chunk
        completes, scored at once; ``close()`` the last window and the verdict."""
        from .stream import StreamScorer

        return StreamScorer(self, sample_rate, name)

    def stream(self, chunks: Iterable, sample_rate: int | None = None, name: str = "<stream>"):
        """Score an iterable of chunks as they arrive: iterate the returned :class:`tfdeepfake.stream.Stream`
        for :class:`tfdeepfake.stream.LiveWindow` s; its ``summary`` is the verdict once the chunks end. The
        window scores equal :meth:`predict`'s on the same audio."""
        from .stream import Stream

        return Stream(self, chunks, sample_rate, name)

    def with_input(self, hop_seconds: float | None = None, aggregation: str | None = None) -> Detector:
        """The same model with another window hop or aggregation (``mean-logit`` | ``max-spoof``)."""
        rule = self.input_rule
        changes = {}
        if hop_seconds is not None:
            changes["hop_samples"] = max(1, round(hop_seconds * rule.sample_rate))
        if aggregation is not None:
            changes["aggregation"] = aggregation
        bundle = replace(self.bundle, input=replace(rule, **changes))
        return Detector(bundle, self.runner, self.batch_windows)
