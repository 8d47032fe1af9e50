"""AASIST (Jung et al., ICASSP 2022): graph attention on raw waveforms, with the official weights."""
from .convert import load_official_checkpoint
from .model import build_aasist

__all__ = ["build_aasist", "load_official_checkpoint"]
