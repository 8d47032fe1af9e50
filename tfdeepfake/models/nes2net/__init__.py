"""Nes2Net-X (Liu et al., IEEE T-IFS 2025): a nested Res2Net back-end on SSL front-end features."""
from .convert import load_backend_state
from .model import NES2NET_X, build_nes2net_x_backend, nes2net_x_backend

__all__ = ["NES2NET_X", "build_nes2net_x_backend", "load_backend_state", "nes2net_x_backend"]
