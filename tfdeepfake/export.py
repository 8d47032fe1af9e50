"""Export a detector to SavedModel, TFLite (float32, float16, dynamic-range int8) or ONNX, with a parity check.

    tfdeepfake export aasist-l --format tflite --out exports/aasist-l.tflite
    export_model("runs/demo", "onnx", "exports/demo.onnx", check_audio=["call.wav"])

Every format has one serving signature: ``waveform`` float32 [batch, window] -> ``logit`` float32 [batch]
(higher = bona fide) and ``spoof_probability`` float32 [batch] (the bundle's calibration). Features are inside the
graph; the window length is static, and cutting a recording into windows (and aggregating their logits) stays
with the :class:`~tfdeepfake.inference.Detector` on the host. The bundle's metadata goes with the export — inside
a SavedModel folder, beside a file as ``<file>.bundle.json`` (+ ``<file>.model_card.md``) — so
``Detector.load(path)`` and ``tfdeepfake predict --model path`` run it without the training code.

Parity: the exported model and the Keras model score the same windows (``check_audio`` files cut by the bundle's
rule; without any, seeded synthetic signals, and the report says so). A float32 export further than
``FLOAT_TOLERANCE`` from Keras in any logit is an error and is not kept; quantized exports report their logit
correlation, largest difference and decision agreement instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np

from .bundle import CARD_FILE, META_FILE, Bundle, provenance, render_card
from .bundle.schema import finite_json
from .inference.runners import FORMATS as EXPORT_FORMATS
from .storage import sha256_file
from .errors import TfDeepfakeError

FORMATS = tuple(EXPORT_FORMATS)
FLOAT_FORMATS = ("savedmodel", "tflite", "onnx")
FLOAT_TOLERANCE = 1e-4
ONNX_OPSET = 17
SIGNATURE = "serving_default"
INPUT_NAME, OUTPUT_NAMES = "waveform", ("logit", "spoof_probability")
CHECK_WINDOWS = 8  # windows taken from each check file (evenly spread)


class ExportError(TfDeepfakeError, RuntimeError):
    """A model that cannot be exported in a format, or an export that fails its parity check."""


@dataclass(frozen=True)
class Parity:
    """How the export's logits compare with the Keras model's on the same windows."""

    windows: int
    audio: str  # what the windows came from
    max_abs_logit_diff: float
    max_abs_probability_diff: float
    correlation: float
    decision_agreement: float  # share of windows on the same side of the threshold
    tolerance: float | None  # the float32 bound; None for quantized formats

    @property
    def passed(self) -> bool:
        return self.tolerance is None or self.max_abs_logit_diff <= self.tolerance


@dataclass(frozen=True)
class ExportReport:
    format: str
    path: str
    metadata: str
    bytes: int
    seconds: float
    parity: Parity

    def to_dict(self) -> dict:
        return {**asdict(self), "parity": {**asdict(self.parity), "passed": self.parity.passed}}


# ---------------------------------------------------------------- the serving graph


def serving_function(model, bundle: Bundle):
    """The one serving signature as a tf.function over ``model`` (a Keras waveform model)."""
    import tensorflow as tf

    a, b = float(bundle.calibration.a), float(bundle.calibration.b)
    window = bundle.input.window_samples

    @tf.function(input_signature=[tf.TensorSpec([None, window], tf.float32, name=INPUT_NAME)])
    def serve(waveform):
        logit = tf.reshape(tf.cast(model(waveform, training=False), tf.float32), [-1])
        return {"logit": logit, "spoof_probability": tf.math.sigmoid(-(a * logit + b))}

    return serve


def _save_savedmodel(model, bundle: Bundle, out_dir: str) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.model = model
    module.serve = serving_function(model, bundle)
    tf.saved_model.save(module, out_dir, signatures={SIGNATURE: module.serve})


_OP_PATTERNS = (r"'(tf\.[A-Za-z0-9_]+)'", r"\b(tf\.[A-Za-z0-9_]+)\b", r"Unsupported ops?: *([A-Za-z0-9_, ]+)",
                r"op type '?([A-Za-z0-9_]+)'? is not supported", r"No ONNX function found for ([A-Za-z0-9_:]+)")


def _named_ops(text: str) -> list[str]:
    """Op names a converter's message mentions (for an error that names what could not convert)."""
    found = []
    for pattern in _OP_PATTERNS:
        for match in re.findall(pattern, text):
            for name in re.split(r"[,\s]+", match):
                if name and name not in found:
                    found.append(name)
    return found


def _conversion_error(fmt: str, model_id: str, error: Exception, log: str = "") -> ExportError:
    ops = _named_ops(f"{error}\n{log}")
    what = f"unsupported op(s) {', '.join(ops[:8])}" if ops else f"{type(error).__name__}: {str(error)[:600]}"
    return ExportError(f"{model_id}: cannot export to {fmt} ({what}); the other formats are unaffected")


def _convert_tflite(saved_model_dir: str, fmt: str, out_path: str, model_id: str) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if fmt != "tflite":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # weights to int8 (dynamic range) ...
    if fmt == "tflite-fp16":
        converter.target_spec.supported_types = [tf.float16]  # ... or to float16
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # ConverterError, or a ValueError from the MLIR passes
        raise _conversion_error(fmt, model_id, error) from error
    with open(out_path, "wb") as handle:
        handle.write(flatbuffer)


def _convert_onnx(model, bundle: Bundle, out_path: str) -> None:
    """tf2onnx's Keras path (it folds the layers' captured constants, which its function path leaves as inputs),
    then the serving outputs appended as ONNX nodes: ``logit`` [batch] and the calibrated ``spoof_probability``."""
    try:
        import onnx
        import tf2onnx
    except ImportError as error:
        raise ExportError("ONNX export needs tf2onnx and onnxruntime: pip install 'tfdeepfake[onnx]'") from error
    import logging

    import tensorflow as tf

    spec = tf.TensorSpec([None, bundle.input.window_samples], tf.float32, name=INPUT_NAME)
    log = _ListHandler()
    logger = logging.getLogger("tf2onnx")
    logger.addHandler(log)
    from .features import portable_graph

    try:
        with portable_graph():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=[spec], opset=ONNX_OPSET)
    except Exception as error:  # tf2onnx raises many types
        raise _conversion_error("onnx", bundle.model_id, error, "\n".join(log.lines)) from error
    finally:
        logger.removeHandler(log)
    unsupported = [line for line in log.lines if "is not supported" in line or "No ONNX function" in line]
    if unsupported:
        raise _conversion_error("onnx", bundle.model_id, RuntimeError("; ".join(unsupported)))
    graph, helper = proto.graph, onnx.helper
    raw = "serving/raw_logit"  # the model's (batch, 1) output, renamed: its name may already be "logit"
    for node in graph.node:
        node.output[:] = [raw if name == graph.output[0].name else name for name in node.output]
        node.input[:] = [raw if name == graph.output[0].name else name for name in node.input]
    graph.initializer.extend([
        onnx.numpy_helper.from_array(np.array([1], np.int64), "serving/axis"),
        onnx.numpy_helper.from_array(np.array(bundle.calibration.a, np.float32), "serving/a"),
        onnx.numpy_helper.from_array(np.array(bundle.calibration.b, np.float32), "serving/b")])
    graph.node.extend([
        helper.make_node("Squeeze", [raw, "serving/axis"], ["logit"], name="serving/logit"),
        helper.make_node("Mul", ["logit", "serving/a"], ["serving/a_logit"], name="serving/mul"),
        helper.make_node("Add", ["serving/a_logit", "serving/b"], ["serving/llr"], name="serving/add"),
        helper.make_node("Neg", ["serving/llr"], ["serving/minus_llr"], name="serving/neg"),
        helper.make_node("Sigmoid", ["serving/minus_llr"], ["spoof_probability"], name="serving/p_spoof")])
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch"])
                         for name in OUTPUT_NAMES])
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(proto)
    onnx.save(proto, out_path)


class _ListHandler:
    """A logging handler that keeps the converter's messages (they name the ops it could not convert)."""

    level = 0

    def __init__(self):
        self.lines: list[str] = []

    def handle(self, record) -> None:
        self.lines.append(record.getMessage())


# ---------------------------------------------------------------- parity


def _check_windows(bundle: Bundle, check_audio, seed: int = 0) -> tuple[np.ndarray, str]:
    """Windows (n, window) cut by the bundle's rule from ``check_audio`` files, else seeded synthetic signals."""
    from . import audio as audio_io

    rule = bundle.input
    if check_audio:
        windows = []
        for path in check_audio:
            samples, _ = audio_io.load_audio(os.fspath(path), target_rate=rule.sample_rate)
            cut = samples[rule.window_indices(len(samples))]
            pick = np.unique(np.linspace(0, len(cut) - 1, min(CHECK_WINDOWS, len(cut))).round().astype(int))
            windows.append(cut[pick])
        return np.concatenate(windows).astype(np.float32), f"{len(check_audio)} file(s): " + ", ".join(
            os.path.basename(os.fspath(p)) for p in list(check_audio)[:4]) + (" ..." if len(check_audio) > 4 else "")
    rng = np.random.default_rng(seed)
    t = np.arange(rule.window_samples) / rule.sample_rate
    chirp = 0.3 * np.sin(2 * np.pi * (100 + 1500 * t / t[-1]) * t)
    windows = [0.1 * rng.standard_normal(rule.window_samples), chirp,
               chirp + 0.02 * rng.standard_normal(rule.window_samples),
               0.05 * np.cumsum(rng.standard_normal(rule.window_samples)) / np.sqrt(rule.window_samples)]
    return np.stack(windows).astype(np.float32), "4 seeded synthetic windows (noise, chirps; seed 0): pass " \
                                                  "check_audio / --check-audio for real speech"


def parity(reference_logits, exported_logits, bundle: Bundle, audio: str, tolerance: float | None) -> Parity:
    """Compare two logit vectors of the same windows under the bundle's calibration and threshold."""
    ref, out = np.asarray(reference_logits, np.float64), np.asarray(exported_logits, np.float64)
    p_ref, p_out = bundle.calibration.spoof_probability(ref), bundle.calibration.spoof_probability(out)
    cut = bundle.threshold.spoof_probability
    correlation = float(np.corrcoef(ref, out)[0, 1]) if ref.size > 1 and ref.std() > 0 and out.std() > 0 else \
        float("nan")
    return Parity(int(ref.size), audio, float(np.max(np.abs(ref - out))), float(np.max(np.abs(p_ref - p_out))),
                  correlation, float(np.mean((p_ref >= cut) == (p_out >= cut))), tolerance)


# ---------------------------------------------------------------- metadata


def metadata_path(path: str) -> str:
    """Where an export's bundle.json goes: inside a SavedModel folder, beside a file as ``<file>.bundle.json``."""
    return os.path.join(path, META_FILE) if not os.path.splitext(path)[1] else f"{path}.bundle.json"


def _write_metadata(bundle: Bundle, fmt: str, path: str, check: Parity, source_sha: str | None) -> str:
    meta = metadata_path(path)
    sha = None if fmt == "savedmodel" else sha256_file(path)
    versions = _converter_versions(fmt)
    exported = replace(bundle, model_sha256=sha, model_file=os.path.basename(path), model_format=fmt, provenance={
        **bundle.provenance, "export": {**provenance(), "format": fmt, "file": os.path.basename(path),
                                        "from_keras_sha256": source_sha, "converters": versions,
                                        "signature": _signature_text(bundle),
                                        "parity": {**asdict(check), "passed": check.passed}}})
    data = exported.to_json()
    with open(meta + ".partial", "w", encoding="utf-8") as handle:
        handle.write(json.dumps(finite_json(data), indent=1) + "\n")
    os.replace(meta + ".partial", meta)
    card = os.path.join(path, CARD_FILE) if fmt == "savedmodel" else f"{path}.{CARD_FILE}"
    with open(card, "w", encoding="utf-8") as handle:
        handle.write(render_card(exported) + _export_section(fmt, path, check))
    return meta


def _signature_text(bundle: Bundle) -> str:
    return (f"{SIGNATURE}: {INPUT_NAME} float32 [batch, {bundle.input.window_samples}] -> logit float32 [batch], "
            "spoof_probability float32 [batch]")


def _converter_versions(fmt: str) -> dict:
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__}
    if fmt == "onnx":
        import onnxruntime
        import tf2onnx

        versions.update({"tf2onnx": tf2onnx.__version__, "onnxruntime": onnxruntime.__version__,
                         "opset": ONNX_OPSET})
    return versions


def _export_section(fmt: str, path: str, check: Parity) -> str:
    bound = f"bound {check.tolerance:g}" if check.tolerance is not None else "quantized: no bound"
    return (f"\n## Export\n\n{fmt} at `{os.path.basename(path)}`. Parity with the Keras model on {check.windows} "
            f"windows ({check.audio}): max |Δ logit| {check.max_abs_logit_diff:.3g} ({bound}), max |Δ P(spoof)| "
            f"{check.max_abs_probability_diff:.3g}, correlation {check.correlation:.6f}, same decision on "
            f"{100 * check.decision_agreement:.1f}% of windows.\n")


# ---------------------------------------------------------------- entry point


def default_path(out: str, fmt: str) -> str:
    """``out`` itself for a file name with the format's suffix (or a SavedModel folder), else a file inside."""
    if fmt == "savedmodel":
        return out
    suffix = EXPORT_FORMATS[fmt].suffix
    return out if out.endswith(suffix) else os.path.join(out, f"model{'-' + fmt[7:] if fmt[7:] else ''}{suffix}")


def export_model(source, fmt: str, out: str, check_audio=None, seed: int = 0) -> ExportReport:
    """Export ``source`` (a preset name, bundle or run folder — anything ``Detector.load`` reads as Keras — or a
    :class:`~tfdeepfake.bundle.Bundle` holding its model) to ``fmt`` at ``out``, check it against the Keras model
    and write its metadata; returns what was done.

    A float32 export that misses ``FLOAT_TOLERANCE`` raises :class:`ExportError` and leaves nothing at ``out``.
    """
    from .inference import Detector, KerasRunner, load_runner

    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    detector = Detector.from_bundle(source) if isinstance(source, Bundle) else Detector.load(source)
    if not isinstance(detector.runner, KerasRunner):
        raise ExportError(f"{source}: already an exported model; export from a preset, a bundle or a run")
    bundle, model = detector.bundle, detector.runner.model
    path = default_path(os.fspath(out), fmt)
    if os.path.exists(path) and fmt == "savedmodel" and os.listdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ExportError(f"{path}: exists and is not a SavedModel folder; choose an empty or new --out")
    windows, audio = _check_windows(bundle, check_audio, seed)
    reference = detector.runner(windows)
    started = time.perf_counter()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        saved_model = os.path.join(staging, "saved_model")
        if fmt != "onnx":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _save_savedmodel(model, bundle, saved_model)
        staged = saved_model if fmt == "savedmodel" else os.path.join(staging, os.path.basename(path))
        if fmt.startswith("tflite"):
            _convert_tflite(saved_model, fmt, staged, bundle.model_id)
        elif fmt == "onnx":
            _convert_onnx(model, bundle, staged)
        seconds = time.perf_counter() - started
        exported = load_runner(staged)(windows)
        check = parity(reference, exported, bundle, audio, FLOAT_TOLERANCE if fmt in FLOAT_FORMATS else None)
        if not check.passed:
            raise ExportError(f"{bundle.model_id}: the {fmt} export differs from the Keras model by "
                              f"{check.max_abs_logit_diff:.3g} in a logit (bound {FLOAT_TOLERANCE:g}) on {audio}; "
                              "nothing was written")
        if fmt == "savedmodel" and os.path.exists(path):
            shutil.rmtree(path)
        os.replace(staged, path)
        meta = _write_metadata(bundle, fmt, path, check, bundle.model_sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names) \
        if os.path.isdir(path) else os.path.getsize(path)
    return ExportReport(fmt, path, meta, int(size), seconds, check)
