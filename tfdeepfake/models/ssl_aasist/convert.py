"""The official SSL-AASIST checkpoint (TakHemlata/SSL_Anti-spoofing ``Model.state_dict()``, e.g. LA_model.pth)
→ our ssl_aasist model, without torch: the back-end keys onto our back-end layers, the fairseq XLS-R under
``ssl_model.model.`` onto the ``ssl_frontend`` layer's backbone (:mod:`tfdeepfake.models.ssl.fairseq`).
AASIST's layer converters serve for the shared graph layers; ``bn1`` of the residual blocks is never read by the
official forward (its first conv reads the block input), so it stays unused.
"""
from __future__ import annotations

import tensorflow as tf

from ...errors import CheckpointError
from ..aasist.convert import _block, graph_back_end_assignments
from ..porting import StateDict, assign, batch_norm, conv2d, linear, read_torch_checkpoint
from ..ssl.checkpoints import WHOLE_MODEL_PREFIX, embedded_frontend
from ..ssl.fairseq import config_from_tensors
from ..ssl.wavlm import WavLMConfig

NEVER_READ = (r".*num_batches_tracked", r"encoder\.\d+\.0\.bn1\..*")
UNUSED = NEVER_READ + (r"ssl_model\..*",)  # the back-end alone
FRONTEND_PREFIX = WHOLE_MODEL_PREFIX
OFFICIAL_SAMPLES = 64600  # the official input rule: 4 s windows (nb_samp of main_SSL_LA.py)


def backend_assignments(model: tf.keras.Model, state: StateDict) -> list:
    """(variable, value, key) pairs for every back-end layer of a model built by ssl_aasist_backend."""
    layer = model.get_layer
    pairs = linear(layer("LL"), state, "LL") + batch_norm(layer("first_bn"), state, "first_bn")
    for i in range(6):
        pairs += _block(layer(f"encoder_{i}"), state, f"encoder.{i}.0")
    pairs += batch_norm(layer("first_bn1"), state, "first_bn1") + batch_norm(layer("attention_2"), state, "attention.2")
    for index in (0, 3):
        pairs += conv2d(layer(f"attention_{index}"), state, f"attention.{index}", swap_axes=True)
    return pairs + graph_back_end_assignments(model, state)


def load_backend_state(model: tf.keras.Model, state: StateDict) -> int:
    """Fill the back-end of ``model`` from an official state dict already read (``ssl_model.*`` keys are left to
    the front-end's loader); nothing is written unless every back-end tensor fits. Returns the values assigned."""
    pairs = backend_assignments(model, state)
    state.check_all_used(UNUSED)
    return assign(pairs, state.path)


def official_frontend_config(state: StateDict) -> WavLMConfig:
    """The front-end's architecture from the official state dict's tensors (XLS-R 300M's where they cannot tell)."""
    return config_from_tensors(state.tensors, state.path, FRONTEND_PREFIX)


def official_assignments(model: tf.keras.Model, state: StateDict) -> list:
    """(variable, value, tensor name) for every weight of a built ssl_aasist model (its ``ssl_frontend`` layer and
    back-end) from the official state dict; every tensor of the file must be used but XLS-R's pretraining-only
    ones and those the official forward never reads."""
    pairs, front = embedded_frontend(model, state, FRONTEND_PREFIX)
    pairs += backend_assignments(model, state)
    front.check_all_used(NEVER_READ)
    return pairs


def load_official_state(model: tf.keras.Model, state: StateDict) -> int:
    """Fill a whole ssl_aasist model from the official state dict already read; nothing is written unless every
    tensor of both halves fits. Returns the number of values assigned."""
    return assign(official_assignments(model, state), state.path)


def check_official_layout(state: StateDict) -> StateDict:
    """``state`` itself, after checking it has the official SSL-AASIST layout (back-end and fairseq front-end)."""
    if "LL.weight" not in state or not any(key.startswith(FRONTEND_PREFIX) for key in state):
        raise CheckpointError(f"{state.path}: not an official SSL-AASIST or Nes2Net-X checkpoint (no LL.weight and "
                              f"{FRONTEND_PREFIX}* tensors); AASIST and RawGAT-ST checkpoints need their config")
    return state


def read_official_checkpoint(path: str) -> StateDict:
    """The official checkpoint's tensors (restricted unpickler, no torch), checked to have the official layout."""
    return check_official_layout(StateDict(read_torch_checkpoint(path), path))
