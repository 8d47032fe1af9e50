"""tfdeepfake: tell real human speech from spoofed speech with TensorFlow.

The Keras 2 API (tf-keras) is required by transformers' TF classes and by
audio-classification-models, so the legacy switch is set before TensorFlow loads.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide CUDA-probe chatter on CPU machines; users may override

__version__ = "0.1.0"
