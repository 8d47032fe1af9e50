"""Front-ends: what turns the model input into frame features (batch, frames, channels) for any back-end.

- ``ssl``: a WavLM / wav2vec 2.0 / XLS-R / MMS / HuBERT backbone (:class:`~.ssl.frontend.SSLFrontEnd`): a Hugging
  Face folder or fairseq ``.pt`` (``checkpoint``), a published architecture with random weights (``architecture``,
  e.g. ``xls-r-300m``) or config.json fields (``config``); one hidden state (``layer``) or a learned weighting of
  all (``layer: null``); frozen (``trainable_layers: 0``), top-N or whole (``-1``) fine-tuning.
- ``sinc``: AASIST's stem (sinc filterbank, |.|, 3 × 3 max pool, BatchNorm, SELU): frames at 1/3 of the sample
  rate, one channel per 3 filters.
- ``features``: the experiment's ``features`` section (LFCC, log-mel, ...) computed in the graph, or host-computed
  features as they arrive (``features.where: host``).

Each builder takes the Keras input tensor, the experiment's FeatureConfig, whether the input is host features, and
its own parameters (the YAML ``model.frontend`` mapping minus ``name``).
"""
from __future__ import annotations

import tensorflow as tf

from .common import Standardise

DEFAULT_SSL_FAMILY = "wav2vec2"  # a config without model_type is a Wav2Vec2Config (SSL-AASIST, Nes2Net)


def _refuse_features(name: str, features_input: bool):
    if features_input:
        raise ValueError(f"front-end {name!r} reads raw waveforms: set features.where=device (no host features)")


def ssl_frontend(inputs, feature_config, features_input: bool, checkpoint: str | None = None,
                 architecture: str | None = None, config: dict | None = None, layer: int | None = -1,
                 trainable_layers: int = -1):
    """SSL hidden states (batch, frames, hidden_size); exactly one of ``checkpoint``, ``architecture``, ``config``."""
    from .ssl.frontend import build_ssl_frontend
    from .ssl.presets import ssl_preset

    _refuse_features("ssl", features_input)
    if sum(x is not None for x in (checkpoint, architecture, config)) != 1:
        raise ValueError("the ssl front-end needs exactly one of checkpoint (weights), architecture (a published "
                         "backbone's name, random weights) or config (config.json fields, random weights)")
    if architecture is not None:
        config = ssl_preset(architecture).to_dict()
    elif config is not None:
        config = {"model_type": DEFAULT_SSL_FAMILY, **config}
    frontend = build_ssl_frontend(checkpoint=checkpoint, config=config, layer=layer,
                                  trainable_layers=trainable_layers)
    return frontend(inputs)


def sinc_frontend(inputs, feature_config, features_input: bool, filters: int = 70, kernel_size: int = 128,
                  freq_mask: bool = False, seed: int | None = None):
    """AASIST's sinc stem as (batch, frames, filters // 3) frames; ``freq_mask``: its training-time filter mask."""
    from .aasist.model import FREQ_MASK_WIDTH, sinc_stem

    _refuse_features("sinc", features_input)
    stem = sinc_stem(inputs, filters, kernel_size, freq_mask, FREQ_MASK_WIDTH, seed)
    return tf.keras.layers.Reshape((-1, stem.shape[2]), name="sinc_frames")(stem)


def feature_frontend(inputs, feature_config, features_input: bool, standardise: bool = True):
    """The ``features`` section's features (batch, frames, bins), per-utterance standardised by default."""
    from ..features import FrontEnd

    features = inputs if features_input else FrontEnd(feature_config, name="frontend")(inputs)
    return Standardise(name="standardise")(features) if standardise else features


FRONTENDS = {"ssl": ssl_frontend, "sinc": sinc_frontend, "features": feature_frontend}
