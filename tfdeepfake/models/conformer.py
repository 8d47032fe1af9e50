"""Conformer and ContextNet encoders of the audio-classification-models package with a binary head.

The package is always built with ``pretrain=False`` semantics (its own loader downloads at build time): we
build the encoder, then load LibriSpeech encoder weights ourselves from a local file or a URL (through the
one weights resolver and cache, models/weights.py; offline a URL fails fast with a clear error). Its model.save /
load_model round trip is broken: save and load weights (``save_weights``), as the training loop does.
"""
from __future__ import annotations

import tensorflow as tf

from .common import logit_head, model_inputs, standardise
from .weights import fetch

# the package's published LibriSpeech-pretrained encoders (users with internet)
PRETRAINED = {
    "conformer": "https://github.com/awsaf49/audio_classification_models/releases/download/v1.0.8/conformer-encoder.h5",
    "contextnet": "https://github.com/awsaf49/audio_classification_models/releases/download/v1.0.8/contextnet.h5",
}


def _encoder_model(kind: str, feature_config, input_samples: int, features_input: bool, encoder: dict,
                   encoder_weights: str | None, dropout: float, name: str) -> tf.keras.Model:
    import audio_classification_models as acm

    inputs, features = model_inputs(feature_config, input_samples, features_input)
    image = tf.keras.layers.Reshape((-1, feature_config.num_bins(), 1))(standardise(features))
    if kind == "conformer":
        encoder = {**encoder, "subsampling": dict(encoder.get("subsampling", {"type": "conv2d", "filters": 144,
                                                                              "kernel_size": 3, "strides": 2}))}
        backbone = acm.ConformerEncoder(**encoder)
    else:
        backbone = acm.ContextNetEncoder(**encoder)
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
