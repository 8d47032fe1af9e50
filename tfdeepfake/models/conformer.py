"""Conformer and ContextNet encoders of the audio-classification-models package with a binary head.

The package is always built with ``pretrain=False`` semantics (its own loader downloads at build time): we
build the encoder, then load LibriSpeech encoder weights ourselves from a local file or a URL (through the
one weights resolver and cache, tfdeepfake/weights.py; offline a URL fails fast with a clear error).

The package's encoders do not survive ``model.save`` / ``load_model``: ``ConformerEncoder.get_config`` merges
every sub-layer's config into one flat dict (its keys are no constructor arguments, so rebuilding raises), its
constructor pops ``subsampling["type"]`` from the caller's dict, and neither class is registered. The subclasses
here take the same arguments, keep them for ``get_config`` and are registered, so the models save whole; their
layers and weights are the package's own (same names, same ``save_weights`` files).
"""
from __future__ import annotations

import copy

import tensorflow as tf

from .common import Standardise, logit_head, model_inputs
from ..weights import fetch

try:  # the optional 'conformer' extra: tfdeepfake.models imports without it
    import audio_classification_models as acm
except ModuleNotFoundError:
    acm = None

# the package's published LibriSpeech-pretrained encoders (users with internet)
PRETRAINED = {
    "conformer": "https://github.com/awsaf49/audio_classification_models/releases/download/v1.0.8/conformer-encoder.h5",
    "contextnet": "https://github.com/awsaf49/audio_classification_models/releases/download/v1.0.8/contextnet.h5",
}


class SaveableEncoder:
    """Mixin for the package's encoders: the constructor keyword arguments are the config (a deep copy goes to
    the package, which mutates them), serialised by Keras (plain lists and dicts; a regularizer object becomes its
    config, which the package's layers accept). Name, trainable and dtype are read back from the layer."""

    def __init__(self, **options):
        super().__init__(**copy.deepcopy(options))
        # a copy of its own: Keras wraps the lists and dicts it stores in place, the caller's among them
        self.options = copy.deepcopy({key: value for key, value in options.items()
                                      if key not in ("name", "trainable", "dtype")})

    def get_config(self):
        return {**tf.keras.saving.serialize_keras_object(self.options), **tf.keras.layers.Layer.get_config(self)}


if acm is not None:
    @tf.keras.utils.register_keras_serializable(package="tfdeepfake.conformer")
    class ConformerEncoder(SaveableEncoder, acm.ConformerEncoder):
        """acm.ConformerEncoder that saves and reloads whole."""

    @tf.keras.utils.register_keras_serializable(package="tfdeepfake.conformer")
    class ContextNetEncoder(SaveableEncoder, acm.ContextNetEncoder):
        """acm.ContextNetEncoder that saves and reloads whole."""


def _encoder_model(kind: str, feature_config, input_samples: int, features_input: bool, encoder: dict,
                   encoder_weights: str | None, dropout: float, name: str) -> tf.keras.Model:
    if acm is None:
        raise ModuleNotFoundError("conformer and contextnet need audio-classification-models: "
                                  "pip install 'tfdeepfake[conformer]'")
    inputs, features = model_inputs(feature_config, input_samples, features_input)
    image = tf.keras.layers.Reshape((-1, feature_config.num_bins(), 1))(Standardise(name="feature_norm")(features))
    backbone = (ConformerEncoder if kind == "conformer" else ContextNetEncoder)(**encoder)
    hidden = backbone(image)
    if encoder_weights:
        backbone.load_weights(fetch(PRETRAINED.get(encoder_weights, encoder_weights)), by_name=True,
                              skip_mismatch=True)
    pooled = tf.keras.layers.GlobalAveragePooling1D()(hidden)
    pooled = tf.keras.layers.Dense(32, activation="selu", name="head_hidden")(pooled)
    return tf.keras.Model(inputs, logit_head(pooled, dropout), name=name)


def build_conformer(feature_config, input_samples: int, features_input: bool = False, encoder: dict | None = None,
                    encoder_weights: str | None = None, dropout: float = 0.1, name: str = "conformer"):
    """``encoder``: ConformerEncoder keyword arguments (dmodel, num_blocks, head_size, num_heads, kernel_size,
    subsampling, ...); ``encoder_weights``: 'conformer' (the published URL), a URL, or a local .h5."""
    return _encoder_model("conformer", feature_config, input_samples, features_input, encoder or {},
                          encoder_weights, dropout, name)


def build_contextnet(feature_config, input_samples: int, features_input: bool = False, encoder: dict | None = None,
                     encoder_weights: str | None = None, dropout: float = 0.1, name: str = "contextnet"):
    """``encoder``: ContextNetEncoder keyword arguments (blocks, alpha); weights as for :func:`build_conformer`."""
    return _encoder_model("contextnet", feature_config, input_samples, features_input, encoder or {},
                          encoder_weights, dropout, name)
