"""RawGAT-ST (Tak et al., ASVspoof 2021 workshop): spectro-temporal graph attention on raw waveforms."""
from .model import build_rawgat_st

__all__ = ["build_rawgat_st"]
