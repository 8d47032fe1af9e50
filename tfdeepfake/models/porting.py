"""Read foreign checkpoints without running their code, and fill Keras variables from them by name.

- ``read_torch_checkpoint``: a PyTorch ``.pth`` is a zip holding a pickle plus one raw file per tensor storage.
  We unpickle it with a restricted unpickler that knows only the tensor-rebuild globals and refuses anything
  else with an error naming the global, so loading a checkpoint can never execute code.
- ``read_torch_pickle``: the whole pickled object of such a file. A training checkpoint that carries its
  configuration (argparse Namespace, omegaconf DictConfig, enum members, ...) is read with those classes replaced
  by inert :class:`PickledRecord` s that only collect their pickled state: nothing of theirs is imported or run.
- ``read_safetensors``: the safetensors format (no code by design).
- ``StateDict`` + ``assign``: name → variable assignment with shape checks; every key of the checkpoint must be
  used or explicitly ignored, so a checkpoint of another architecture cannot load half-way.
"""
from __future__ import annotations

import _compat_pickle
import builtins
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


class PickledRecord:
    """An inert stand-in for an instance of a configuration class in a pickle (``global_name``): it keeps what
    the pickle gives it (constructor ``args``, ``state``, ``items`` / ``list`` for SETITEMS / APPENDS) and runs
    nothing. The class itself is the stand-in for a referenced type (an omegaconf ``ref_type``, an enum class)."""

    global_name = ""

    def __new__(cls, *args, **kwargs):
        record = object.__new__(cls)
        record.args, record.kwargs, record.state, record.items, record.list = args, kwargs, None, {}, []
        return record

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.list.append(value)

    def extend(self, values):
        self.list.extend(values)

    def __repr__(self):
        return f"<record {self.global_name} args={self.args!r} state={self.state!r}>"


# pickled configuration kinds read as records: module -> names (None: any global of the package)
CONFIG_RECORDS = {
    "argparse": {"Namespace"}, "collections": {"defaultdict"}, "enum": None, "typing": None, "omegaconf": None,
    "operator": {"getitem"}, "_operator": {"getitem"}, "_codecs": {"encode"},  # typing aliases, bytes in protocol 2
    "numpy": {"dtype"}, "numpy.core.multiarray": {"scalar"}, "numpy._core.multiarray": {"scalar"},
}
# builtins whose call cannot do harm (containers, the plain types an omegaconf node names as its ref_type)
_SAFE_BUILTINS = {name: getattr(builtins, name) for name in ("set", "frozenset", "list", "dict", "tuple", "int",
                                                             "float", "str", "bool")}


def _record_type(module: str, name: str) -> type:
    return type(name, (PickledRecord,), {"global_name": f"{module}.{name}", "__module__": __name__})


def _is_config_global(module: str, name: str, config_modules: tuple) -> bool:
    """Whether ``module.name`` is a configuration kind: a listed name of its module, or any global of a listed
    package (``None``) or of ``config_modules``, submodules included."""
    for package, names in (*CONFIG_RECORDS.items(), *((m, None) for m in config_modules)):
        if names is None and (module == package or module.startswith(package + ".")):
            return True
        if names is not None and module == package and name in names:
            return True
    return False


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str, path: str, records: bool,
                 config_modules: tuple):
        super().__init__(io.BytesIO(data))
        self.archive, self.root, self.path = archive, root, path
        self.records, self.config_modules = records, config_modules
        self.storages: dict[str, np.ndarray] = {}
        self.record_types: dict[tuple, type] = {}

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol 2 names Python 2 builtins (long, unicode)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and (name in _STORAGE_DTYPES or name == "BFloat16Storage"):
            return _StorageType(name)
        if self.records and module == "builtins" and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if self.records and _is_config_global(module, name, self.config_modules):
            return self.record_types.setdefault((module, name), _record_type(module, name))
        kind = "a tensor-rebuild function or configuration class" if self.records else "a tensor-rebuild function"
        raise CheckpointError(f"{self.path}: refused to load: the pickle asks for the global {module}.{name}, "
                              f"which is not {kind} (a checkpoint must hold tensors and settings only)")

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


def read_torch_pickle(path: str, records: bool = False, config_modules: tuple = ()):
    """The object pickled in a zip-format PyTorch file, tensors as numpy arrays, never executing code.

    Only tensor-rebuild globals are known; with ``records`` also the configuration kinds of ``CONFIG_RECORDS``
    and any global under ``config_modules`` (e.g. ``("fairseq",)``), as inert :class:`PickledRecord` s, and the
    harmless builtin containers and types. Any other global is refused with a CheckpointError naming it.
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
            return _RestrictedUnpickler(archive.read(pickles[0]), archive, root, path, records,
                                        config_modules).load()
        except CheckpointError:
            raise
        except Exception as error:  # truncated or corrupt pickle
            raise CheckpointError(f"{path}: corrupt checkpoint pickle ({type(error).__name__}: {error})") from error


def read_torch_checkpoint(path: str) -> dict[str, np.ndarray]:
    """The flat ``{name: numpy array}`` state dict of a zip-format PyTorch checkpoint, never executing code.

    A checkpoint that wraps its state dict (``{"model": {...}}``, ``{"state_dict": {...}}``) is unwrapped, and a
    ``module.`` prefix left by DataParallel is removed.
    """
    state = read_torch_pickle(path)
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

    def source_name(self, name: str) -> str:
        """How the file names the tensor that ``state[name]`` reads (the same name here; see FairseqState)."""
        return name

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
    lays the two spatial axes out the other way round (kw, kh). A tensor of another rank goes through untouched,
    so the shape check of :func:`assign` names it."""
    weight = state[f"{name}.weight"]
    kernel = weight if weight.ndim != 4 else weight.transpose(3, 2, 1, 0) if swap_axes else weight.transpose(2, 3, 1, 0)
    pairs = [(layer.kernel, kernel, f"{name}.weight")]
    if layer.use_bias:
        pairs.append((layer.bias, state[f"{name}.bias"], f"{name}.bias"))
    return pairs
