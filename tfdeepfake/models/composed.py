"""A detector composed from YAML: ``model.frontend`` × ``model.backend``, each a mapping with a ``name`` from its
registry (:data:`~.frontends.FRONTENDS`, :data:`~.backends.BACKENDS`) and that builder's parameters::

    model:
      name: composed
      frontend: {name: ssl, checkpoint: checkpoints/wav2vec2-xls-r-300m, trainable_layers: -1}
      backend: {name: aasist}

Overrides reach every parameter (``model.frontend.layer=8``, ``model.backend.name=asp_mlp``).
"""
from __future__ import annotations

import inspect

import tensorflow as tf

from .backends import BACKENDS
from .frontends import FRONTENDS


def _split(section: str, spec, registry: dict, fixed: int):
    """(name, builder, params) of one ``model.<section>`` mapping, every key checked against the builder."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"model.{section} must be a mapping with a name, one of {sorted(registry)}; got {spec!r}")
    params = dict(spec)
    name = params.pop("name")
    if name not in registry:
        raise ValueError(f"model.{section}.name {name!r} is not registered; registered: {sorted(registry)}")
    builder = registry[name]
    accepted = list(inspect.signature(builder).parameters)[fixed:]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"model.{section}.{unknown[0]} is not a parameter of the {name} {section}; "
                         f"accepted: {accepted}")
    return name, builder, params


def build_composed(feature_config, input_samples: int, features_input: bool = False, frontend: dict | None = None,
                   backend: dict | None = None, name: str | None = None) -> tf.keras.Model:
    """The model ``frontend`` → ``backend`` on waveforms (batch, input_samples), or on host features (batch, frames,
    bins) when ``features_input`` (only the ``features`` front-end takes those)."""
    front_name, front, front_params = _split("frontend", frontend, FRONTENDS, 3)
    back_name, back, back_params = _split("backend", backend, BACKENDS, 1)
    if features_input:
        shape = (feature_config.num_frames(input_samples), feature_config.num_bins())
        inputs = tf.keras.Input(shape, name="features", dtype="float32")
    else:
        inputs = tf.keras.Input((input_samples,), name="waveform", dtype="float32")
    frames = front(inputs, feature_config, features_input, **front_params)
    return tf.keras.Model(inputs, back(frames, **back_params), name=name or f"{front_name}_{back_name}")
