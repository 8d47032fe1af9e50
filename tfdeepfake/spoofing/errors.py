"""Typed errors for spoof generators and the final chain.

A corpus build catches :class:`GeneratorUnavailable` (a tool or Python package is missing: skip that
system and say what to install) and :class:`GeneratorFailed` (a tool ran but gave no usable audio: skip
that clip) without stopping the run. Bad arguments raise :class:`GeneratorInputError`, a ``ValueError``.
"""
from __future__ import annotations

from ..errors import TfDeepfakeError


class GeneratorError(TfDeepfakeError, RuntimeError):
    """Base class of everything a spoof generator raises on purpose; ``system_id`` says which one."""

    def __init__(self, system_id: str, message: str):
        self.system_id = system_id
        super().__init__(f"{system_id}: {message}")


class GeneratorUnavailable(GeneratorError):
    """A required executable or Python module is missing.

    ``tool`` is what is missing, ``install`` how to get it (e.g. ``"apt-get install espeak-ng"`` or
    ``"pip install pyworld"``).
    """

    def __init__(self, system_id: str, tool: str, install: str):
        self.tool = tool
        self.install = install
        super().__init__(system_id, f"{tool} is not available (install with: {install})")


class GeneratorInputError(GeneratorError, ValueError):
    """The source audio or text given to a generator is unusable (missing, empty, non-finite, too short)."""


class GeneratorFailed(GeneratorError):
    """The generator ran but produced no usable audio (tool error, timeout, silent or non-finite output)."""


class CodecUnavailable(GeneratorUnavailable):
    """A codec pass of the final chain needs a tool that is missing (ffmpeg for G.722)."""


class CorpusBuildError(TfDeepfakeError, ValueError):
    """Settings that cannot make a corpus: an unknown or text-to-speech system where copy-synthesis is needed, a
    held-out system not among the systems, too few speakers for disjoint splits, or an output folder that holds
    a corpus built with other settings."""
