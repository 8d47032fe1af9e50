"""Self-supervised speech backbones: a TensorFlow WavLM port and transformers' TF Wav2Vec2."""
from .checkpoints import load_wav2vec2, load_wavlm, load_wavlm_xvector
from .wavlm import WavLMConfig, WavLMForXVector, WavLMModel

__all__ = ["WavLMConfig", "WavLMModel", "WavLMForXVector", "load_wavlm", "load_wavlm_xvector", "load_wav2vec2"]
