"""SSL-AASIST (Tak et al., Odyssey 2022): a wav2vec 2.0 / XLS-R front-end under AASIST's graph back-end."""
from .convert import load_backend_state
from .model import build_ssl_aasist, build_ssl_aasist_backend, ssl_aasist_backend

__all__ = ["build_ssl_aasist", "build_ssl_aasist_backend", "load_backend_state", "ssl_aasist_backend"]
