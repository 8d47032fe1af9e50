"""tfdeepfake: tell real human speech from spoofed speech with TensorFlow.

The Keras 2 API (tf-keras) is required by transformers' TF classes and by
audio-classification-models, so the legacy switch is set before TensorFlow loads.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide CUDA-probe chatter on CPU machines; users may override

__version__ = "0.1.0"

# the small public API, imported on first use so that ``import tfdeepfake`` stays light and runs before TensorFlow
_PUBLIC = {"Detector": "inference", "load_config": "config", "build_model": "models", "load_preset": "models.presets",
           "load_dataset": "records", "metrics": None, "TfDeepfakeError": "errors"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tfdeepfake' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f".{_PUBLIC[name] or name}", __name__)
    return module if _PUBLIC[name] is None else getattr(module, name)
