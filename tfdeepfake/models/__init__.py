"""Keras models: every one maps waveforms (or features) to one bona fide logit."""
from .common import spoof_probability
from .registry import BUILDERS, build_model

__all__ = ["BUILDERS", "build_model", "spoof_probability"]
