"""Read foreign checkpoints without running their code, and fill Keras variables from them by name.

- ``read_torch_checkpoint``: a PyTorch ``.pth`` is a zip holding a pickle plus one raw file per tensor storage.
  We unpickle it with a restricted unpickler that knows only the tensor-rebuild globals and refuses anything
  else with an error naming the global, so loading a checkpoint can never execute code.
- ``read_safetensors``: the safetensors format (no code by design).
- ``StateDict`` + ``assign``: name → variable assignment with shape checks; every key of the checkpoint must be
  used or explicitly ignored, so a checkpoint of another architecture cannot load half-way.
"""
from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from typing import Iterable

import numpy as np

from ..errors import CheckpointError

# torch storage class -> numpy dtype of its raw little-endian bytes
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. inside the pickle: only its dtype is needed."""

    def __init__(self, name: str):
        self.name = name
        if name == "BFloat16Storage":
            import ml_dtypes

            self.dtype = np.dtype(ml_dtypes.bfloat16)
        else:
            self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """numpy view of ``storage`` with torch's offset/size/stride (in elements), copied to a compact array."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return np.array(storage[offset])
    needed = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset
    if needed > storage.size:
        raise CheckpointError(f"tensor of shape {size} reaches past its storage ({storage.size} elements)")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride], writeable=False)
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str, path: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.root, self.path = archive, root, path
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and (name in _STORAGE_DTYPES or name == "BFloat16Storage"):
            return _StorageType(name)
        raise CheckpointError(f"{self.path}: refused to load: the pickle asks for the global {module}.{name}, "
                              "which is not a tensor-rebuild function (a checkpoint must hold tensors only)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unexpected persistent id {pid!r} in the pickle")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if key not in self.storages:
            try:
                raw = self.archive.read(f"{self.root}/data/{key}")
            except KeyError as error:
                raise CheckpointError(f"{self.path}: storage {key} is missing from the archive") from error
            array = np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder("<"))
            if array.size < numel:
                raise CheckpointError(f"{self.path}: storage {key} holds {array.size} elements, "
                                      f"the pickle expects {numel}")
            self.storages[key] = array
        return self.storages[key]


def read_torch_checkpoint(path: str) -> dict[str, np.ndarray]:
    """The flat ``{name: numpy array}`` state dict of a zip-format PyTorch checkpoint, never executing code.

    A checkpoint that wraps its state dict (``{"model": {...}}``, ``{"state_dict": {...}}``) is unwrapped, and a
    ``module.`` prefix left by DataParallel is removed.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"{path}: not a zip-format PyTorch checkpoint ({error}); legacy (pre-1.6) files "
                              "must be re-saved with torch.save once") from error
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: expected one data.pkl in the archive, found {len(pickles)}")
        root = pickles[0][: -len("/data.pkl")]
        byteorder = f"{root}/byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
        try:
            state = _RestrictedUnpickler(archive.read(pickles[0]), archive, root, path).load()
        except CheckpointError:
            raise
        except Exception as error:  # truncated or corrupt pickle
            raise CheckpointError(f"{path}: corrupt checkpoint pickle ({type(error).__name__}: {error})") from error
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """``{name: numpy array}`` from a safetensors file."""
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except Exception as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from error


class StateDict:
    """A checkpoint's tensors with the file they came from; remembers which keys were used.

    ``state[name]`` raises a CheckpointError naming the file and the missing tensor; ``check_all_used`` raises
    on tensors neither used nor matched by an ``ignore`` pattern (a checkpoint of another configuration).
    """

    def __init__(self, tensors: dict[str, np.ndarray], path: str):
        self.tensors, self.path, self.used = tensors, path, set()

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise CheckpointError(f"{self.path}: tensor {name!r} is missing from the checkpoint")
        self.used.add(name)
        return self.tensors[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def __iter__(self):
        return iter(self.tensors)

    def keys(self):
        return self.tensors.keys()

    def check_all_used(self, ignore: Iterable[str] = ()) -> None:
        patterns = [re.compile(p) for p in ignore]
        left = sorted(k for k in self.tensors if k not in self.used and not any(p.fullmatch(k) for p in patterns))
        if left:
            raise CheckpointError(f"{self.path}: {len(left)} tensors do not belong to this model, e.g. {left[:3]} "
                                  "(a checkpoint of another architecture or configuration?)")


def assign(pairs: Iterable[tuple], path: str) -> int:
    """Assign ``(variable, value, name)`` triples after checking every shape; returns the number of values.

    All shapes are checked before anything is written, so a mismatch leaves the model untouched.
    """
    pairs = list(pairs)
    for variable, value, name in pairs:
        if tuple(variable.shape) != tuple(value.shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(value.shape)} (in Keras layout), "
                                  f"the model's {variable.name} expects {tuple(variable.shape)}")
    for variable, value, _ in pairs:
        variable.assign(np.asarray(value, dtype=variable.dtype.as_numpy_dtype))
    return sum(int(np.prod(value.shape)) for _, value, _ in pairs)


def linear(layer, state: StateDict, name: str) -> list[tuple]:
    """A torch ``nn.Linear`` onto a Keras Dense (kernel transposed)."""
    pairs = [(layer.kernel, state[f"{name}.weight"].T, f"{name}.weight")]
    if layer.use_bias:
        pairs.append((layer.bias, state[f"{name}.bias"], f"{name}.bias"))
    return pairs


def layer_norm(layer, state: StateDict, name: str) -> list[tuple]:
    return [(layer.gamma, state[f"{name}.weight"], f"{name}.weight"),
            (layer.beta, state[f"{name}.bias"], f"{name}.bias")]


def batch_norm(layer, state: StateDict, name: str) -> list[tuple]:
    """A torch BatchNorm (affine weights and running statistics) onto a Keras BatchNormalization."""
    return layer_norm(layer, state, name) + [
        (layer.moving_mean, state[f"{name}.running_mean"], f"{name}.running_mean"),
        (layer.moving_variance, state[f"{name}.running_var"], f"{name}.running_var")]


def conv2d(layer, state: StateDict, name: str, swap_axes: bool = False) -> list[tuple]:
    """A torch Conv2d (out, in, kh, kw) onto a Keras Conv2D (kh, kw, in, out); ``swap_axes`` when the Keras model
    lays the two spatial axes out the other way round (kw, kh)."""
    weight = state[f"{name}.weight"]
    kernel = weight.transpose(3, 2, 1, 0) if swap_axes else weight.transpose(2, 3, 1, 0)
    pairs = [(layer.kernel, kernel, f"{name}.weight")]
    if layer.use_bias:
        pairs.append((layer.bias, state[f"{name}.bias"], f"{name}.bias"))
    return pairs
