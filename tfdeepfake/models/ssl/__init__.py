"""Self-supervised speech backbones: WavLM, wav2vec 2.0 and HuBERT in tf-keras (shared layers), the SSL front-end
over them, and transformers' TF Wav2Vec2."""
from .checkpoints import load_ssl_backbone, load_wav2vec2, load_wavlm, load_wavlm_xvector
from .frontend import SSLFrontEnd, build_ssl_frontend
from .wavlm import WavLMConfig, WavLMForXVector, WavLMModel

__all__ = ["WavLMConfig", "WavLMModel", "WavLMForXVector", "load_wavlm", "load_wavlm_xvector", "load_wav2vec2",
           "load_ssl_backbone", "SSLFrontEnd", "build_ssl_frontend"]
