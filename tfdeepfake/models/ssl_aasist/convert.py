"""The official SSL-AASIST back-end state dict (TakHemlata/SSL_Anti-spoofing ``Model`` minus ``ssl_model.*``)
→ our back-end layers, without torch. AASIST's layer converters serve for the shared graph layers; ``bn1`` of the
residual blocks is never read by the official forward (its first conv reads the block input), so it stays unused.
"""
from __future__ import annotations

import tensorflow as tf

from ..aasist.convert import _block, graph_back_end_assignments
from ..porting import StateDict, assign, batch_norm, conv2d, linear

UNUSED = (r".*num_batches_tracked", r"encoder\.\d+\.0\.bn1\..*", r"ssl_model\..*")


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
