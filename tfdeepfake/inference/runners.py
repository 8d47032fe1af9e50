"""Model runners: a Keras model or an export (SavedModel, TFLite, ONNX) as one call, float32 windows [batch, window]
-> one logit each; and the registry of export formats that tfdeepfake.export writes and :func:`load_runner` reads."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..bundle import BundleError, model_window


class KerasRunner:
    """A Keras waveform model as one traced graph over (batch, window) float32."""

    def __init__(self, model):
        import tensorflow as tf

        self.window = model_window(model)
        self.model = model
        self._call = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32),
                                 input_signature=[tf.TensorSpec([None, self.window], tf.float32)])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return self._call(windows).numpy().reshape(-1)


class SavedModelRunner:
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


class TFLiteRunner:
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


class ONNXRunner:
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


@dataclass(frozen=True)
class ExportFormat:
    """An export format: its file suffix (None: a SavedModel folder) and the runner that reads it."""

    suffix: str | None
    runner: type


# every format tfdeepfake exports and runs; tfdeepfake.export writes them, load_runner reads them
FORMATS = {"savedmodel": ExportFormat(None, SavedModelRunner), "tflite": ExportFormat(".tflite", TFLiteRunner),
           "tflite-fp16": ExportFormat(".tflite", TFLiteRunner), "tflite-int8": ExportFormat(".tflite", TFLiteRunner),
           "onnx": ExportFormat(".onnx", ONNXRunner)}
FILE_SUFFIXES = tuple(sorted({f.suffix for f in FORMATS.values() if f.suffix}))


def load_runner(path: str):
    """The runner of an exported model: a SavedModel folder, or a file with one of :data:`FILE_SUFFIXES`."""
    if os.path.isdir(path):
        return SavedModelRunner(path)
    for spec in FORMATS.values():
        if spec.suffix and path.endswith(spec.suffix):
            return spec.runner(path)
    raise BundleError(f"{path}: not an exported model (a SavedModel folder, {' or '.join(FILE_SUFFIXES)})")
