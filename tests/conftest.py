"""Shared test set-up: Keras 2 before TensorFlow loads, and the ../shared corpora."""
import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir():
    """../shared beside the checkout; tests that need it skip on a user's fresh clone."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found: real corpora/protocols live beside the repo only on our machines and CI")
    return SHARED
