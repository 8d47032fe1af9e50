"""EfficientNet-B0 from tf.keras.applications on the spectrogram as a 3-channel image (no download)."""
from __future__ import annotations

import os

import tensorflow as tf

from .common import Standardise, logit_head, model_inputs


def build_efficientnet(feature_config, input_samples: int, features_input: bool = False,
                       imagenet_weights: str | None = None, dropout: float = 0.2,
                       name: str = "efficientnet") -> tf.keras.Model:
    """``imagenet_weights``: a local .h5 of EfficientNetB0 ImageNet weights without the top (never fetched)."""
    if imagenet_weights is not None and not os.path.isfile(imagenet_weights):
        raise FileNotFoundError(f"{imagenet_weights}: EfficientNetB0 weights file not found (give a local .h5 "
                                "path; nothing is downloaded)")
    inputs, features = model_inputs(feature_config, input_samples, features_input)
    frames, bins = feature_config.num_frames(input_samples), feature_config.num_bins()
    # standardised features (mean 0, std 1) spread over the 0..255 range the backbone's rescaling expects, as one
    # grey channel repeated three times (built-in layers only, so the model saves whole)
    grey = tf.keras.layers.Rescaling(48.0, offset=128.0, name="to_pixels")(Standardise(name="feature_norm")(features))
    grey = tf.keras.layers.Reshape((frames, bins, 1), name="to_image")(grey)
    image = tf.keras.layers.Concatenate(name="to_rgb")([grey, grey, grey])
    backbone = tf.keras.applications.EfficientNetB0(include_top=False, weights=imagenet_weights,
                                                    input_shape=(frames, bins, 3), pooling="avg")
    return tf.keras.Model(inputs, logit_head(backbone(image), dropout), name=name)
