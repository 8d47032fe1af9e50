"""One root for every error tfdeepfake raises on purpose: ``except TfDeepfakeError`` catches them all.

Library code raises these (never ``SystemExit``); the command line turns them into a message and an exit status.
Each subclass keeps the built-in base its callers already catch (``ValueError``, ``FileNotFoundError``, ...).
"""
from __future__ import annotations


class TfDeepfakeError(Exception):
    """Root of tfdeepfake's typed errors."""


class WeightsError(TfDeepfakeError, ValueError):
    """A pretrained file that cannot be used: unknown name, missing, wrong sha256, or unreachable URL."""


class CheckpointError(TfDeepfakeError, ValueError):
    """A checkpoint that is corrupt, refuses to load safely, or does not fit the model it is loaded into."""


class BundleError(TfDeepfakeError, ValueError):
    """A bundle that cannot be written or used: the message names the file, the field and the cause."""
