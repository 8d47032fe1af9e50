"""Keras models: every one maps waveforms (or features) to one bona fide logit."""
from . import heads  # noqa: F401  (registers the embedding head for whole-model loading)
from .common import spoof_probability
from .registry import BUILDERS, build_model

__all__ = ["BUILDERS", "build_model", "spoof_probability"]
