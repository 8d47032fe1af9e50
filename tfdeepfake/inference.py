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
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import audio as audio_io
from .bundle import (CARD_FILE, META_FILE, MODEL_FILE, Bundle, BundleError, Calibration, InputRule, Threshold,
                     bundle_from_preset, model_window, read_bundle)

BLOCK_SECONDS = 10.0  # decoding block of a streamed file
BATCH_WINDOWS = 16  # windows per model call


# ---------------------------------------------------------------- speech activity


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


class _EnergyTrack:
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
    track = _EnergyTrack(sample_rate)
    track.add(np.asarray(samples, np.float32).reshape(-1))
    return track.finish()


# ---------------------------------------------------------------- results


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


# ---------------------------------------------------------------- model runners


class _KerasRunner:
    """A Keras waveform model as one traced graph over (batch, window) float32."""

    def __init__(self, model):
        import tensorflow as tf

        self.window = model_window(model)
        self.model = model
        self._call = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32),
                                 input_signature=[tf.TensorSpec([None, self.window], tf.float32)])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return self._call(windows).numpy().reshape(-1)


class _SavedModelRunner:
    """A SavedModel's ``serving_default`` signature: one float32 input [batch, window] -> one logit output."""

    def __init__(self, path: str):
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(path)
        except Exception as error:  # TF raises several types for a broken SavedModel
            raise BundleError(f"{path}: cannot be loaded as a SavedModel ({type(error).__name__}: {error})") \
                from error
        signature = loaded.signatures.get("serving_default")
        if signature is None:
            raise BundleError(f"{path}: no 'serving_default' signature (export one mapping waveform "
                              "[batch, window] -> logit)")
        inputs = signature.structured_input_signature[1]
        if len(inputs) != 1:
            raise BundleError(f"{path}: serving_default takes {sorted(inputs)}; expected one waveform input")
        (self.input_name, spec), = inputs.items()
        if spec.shape.rank != 2 or spec.dtype != tf.float32:
            raise BundleError(f"{path}: serving_default input {self.input_name!r} is {spec.dtype.name} "
                              f"{spec.shape}; expected float32 [batch, window]")
        outputs = signature.structured_outputs
        names = sorted(outputs) if isinstance(outputs, dict) else []
        if len(names) != 1 and "logit" not in names:
            raise BundleError(f"{path}: serving_default outputs {names}; expected one logit")
        self.output_name = "logit" if "logit" in names else names[0]
        self.window = spec.shape[1]
        self._loaded, self._signature = loaded, signature  # the signature needs its object kept alive

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        result = self._signature(**{self.input_name: tf.constant(windows, tf.float32)})
        return np.asarray(result[self.output_name], np.float32).reshape(-1)


class _TFLiteRunner:
    """A .tflite model through the TF Lite interpreter.

    An export of ours is called through its ``serving_default`` signature (named ``waveform`` -> ``logit``
    tensors, batch resized per call); any other single-input, single-output model directly, a dynamic batch
    resized per call and a fixed one looped.
    """

    def __init__(self, path: str):
        import tensorflow as tf

        with warnings.catch_warnings():  # tf.lite.Interpreter's notice about ai_edge_litert
            warnings.simplefilter("ignore", UserWarning)
            try:
                self.interpreter = tf.lite.Interpreter(model_path=path, num_threads=os.cpu_count())
            except (ValueError, RuntimeError) as error:
                raise BundleError(f"{path}: not a readable TFLite model ({error})") from error
        signature = self.interpreter.get_signature_list().get("serving_default", {})
        self.signature = None
        if signature.get("inputs") == ["waveform"] and "logit" in signature.get("outputs", []):
            self.signature = self.interpreter.get_signature_runner("serving_default")
            self.input = self.signature.get_input_details()["waveform"]
        else:
            inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
            if len(inputs) != 1 or len(outputs) != 1:
                raise BundleError(f"{path}: {len(inputs)} inputs and {len(outputs)} outputs; expected one waveform "
                                  "input [batch, window] and one logit output (or a tfdeepfake export)")
            self.input, self.output = inputs[0], outputs[0]
        shape = list(self.input.get("shape_signature", self.input["shape"]))
        if len(shape) != 2 or self.input["dtype"] != np.float32:
            raise BundleError(f"{path}: input {self.input['name']} is {self.input['dtype'].__name__} {shape}; "
                              "expected float32 [batch, window]")
        self.window = int(shape[1]) if shape[1] > 0 else None
        self.dynamic_batch = shape[0] == -1
        self.allocated = None

    def _run(self, windows: np.ndarray) -> np.ndarray:
        if self.signature is not None:  # resizes and allocates when the shape changes
            return np.array(self.signature(waveform=windows)["logit"], np.float32).reshape(-1)
        if self.allocated != windows.shape:
            if self.dynamic_batch or self.allocated is None:
                self.interpreter.resize_tensor_input(self.input["index"], list(windows.shape))
            self.interpreter.allocate_tensors()
            self.allocated = windows.shape
        self.interpreter.set_tensor(self.input["index"], windows)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output["index"]), np.float32).reshape(-1)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.ascontiguousarray(windows, np.float32)
        if self.dynamic_batch:
            return self._run(windows)
        return np.concatenate([self._run(windows[i:i + 1]) for i in range(len(windows))])


class _ONNXRunner:
    """An .onnx model through onnxruntime (the ``onnx`` extra): input [batch, window] -> its ``logit`` output."""

    def __init__(self, path: str):
        try:
            import onnxruntime
        except ImportError as error:
            raise BundleError(f"{path}: running ONNX models needs onnxruntime: pip install 'tfdeepfake[onnx]'") \
                from error
        try:
            self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: not a readable ONNX model ({type(error).__name__}: {error})") from error
        inputs, outputs = self.session.get_inputs(), [o.name for o in self.session.get_outputs()]
        if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].type != "tensor(float)":
            raise BundleError(f"{path}: inputs {[(i.name, i.type, i.shape) for i in inputs]}; expected one float32 "
                              "waveform [batch, window]")
        if "logit" not in outputs and len(outputs) != 1:
            raise BundleError(f"{path}: outputs {outputs}; expected a 'logit' output")
        self.input_name, self.output_name = inputs[0].name, "logit" if "logit" in outputs else outputs[0]
        window = inputs[0].shape[1]
        self.window = window if isinstance(window, int) and window > 0 else None

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        result = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(windows, np.float32)})
        return np.asarray(result[0], np.float32).reshape(-1)


def load_runner(path: str):
    """The runner of an exported model: a SavedModel folder, a ``.tflite`` or an ``.onnx`` file."""
    if os.path.isdir(path):
        return _SavedModelRunner(path)
    if path.endswith(".tflite"):
        return _TFLiteRunner(path)
    if path.endswith(".onnx"):
        return _ONNXRunner(path)
    raise BundleError(f"{path}: not an exported model (a SavedModel folder, .tflite or .onnx)")


# ---------------------------------------------------------------- windows of a stream


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


# ---------------------------------------------------------------- the detector


def _metadata_beside(path: str) -> str | None:
    """An export's metadata: bundle.json inside a SavedModel folder, ``<file>.bundle.json`` beside a file (as
    tfdeepfake export writes them), else a bundle.json in the folder holding the export."""
    candidates = ([os.path.join(path, META_FILE)] if os.path.isdir(path) else [f"{path}.bundle.json"]) + \
        [os.path.join(os.path.dirname(os.path.abspath(path)), META_FILE)]
    return next((c for c in candidates if os.path.isfile(c)), None)


def _exported_bundle(path: str, window: int | None) -> Bundle:
    """The metadata of an exported model: its bundle.json when one lies beside it, else stated defaults."""
    meta = _metadata_beside(path)
    if meta is not None:
        return read_bundle(meta, check_model=False)  # the Detector checks its window against the model's
    if window is None:
        raise BundleError(f"{path}: the model's window length is dynamic and no {META_FILE} lies beside it to "
                          "state input.window_samples")
    note = f"no {META_FILE} beside {path}"
    return Bundle(model_id=os.path.basename(os.path.normpath(path)), name=os.path.basename(os.path.normpath(path)),
                  architecture="unknown", input=InputRule(16000, int(window)),
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
        return cls(bundle, _KerasRunner(bundle.load_model()), batch_windows)

    @classmethod
    def load(cls, source, batch_windows: int = BATCH_WINDOWS) -> Detector:
        """A preset name, a run dir (its ``bundle/``), a bundle dir, a SavedModel dir, a ``.tflite`` or ``.onnx`` file."""
        from .models.presets import PRESETS

        text = os.fspath(source)
        if text in PRESETS and not os.path.exists(text):
            return cls.from_bundle(bundle_from_preset(text), batch_windows)
        if not os.path.exists(text):
            raise BundleError(f"{text}: neither a file or folder nor a preset name (presets: {sorted(PRESETS)})")
        if os.path.isfile(text):
            if text.endswith((".tflite", ".onnx")):
                runner = load_runner(text)
                return cls(_exported_bundle(text, runner.window), runner, batch_windows)
            if os.path.basename(text) == META_FILE:
                return cls.from_bundle(read_bundle(text), batch_windows)
            raise BundleError(f"{text}: not a model file tfdeepfake loads (.tflite, .onnx, or a bundle/SavedModel "
                              "folder)")
        if os.path.isfile(os.path.join(text, "saved_model.pb")):
            runner = _SavedModelRunner(text)
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
        windower, energy = _Windower(self.input_rule, self.batch_windows), _EnergyTrack(self.input_rule.sample_rate)
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
