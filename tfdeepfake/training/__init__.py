"""Training: the loop (``run``), its schedule and callbacks, and the bundle a finished run becomes."""
from .callbacks import DevEER, WarmupDecay, callbacks
from .loop import compile_model, run
from .run_bundle import waveform_model, write_run_bundle

__all__ = ["DevEER", "WarmupDecay", "callbacks", "compile_model", "run", "waveform_model", "write_run_bundle"]
