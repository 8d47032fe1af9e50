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


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """The tiny AASIST fixture converted from its official-format checkpoint into a bundle by the CLI."""
    from helpers import AASIST_FIXTURES
    from tfdeepfake import cli

    out = tmp_path_factory.mktemp("bundle") / "tiny"
    assert cli.main(["convert-checkpoint", str(AASIST_FIXTURES / "aasist_tiny" / "model.pth"), "--config",
                     str(AASIST_FIXTURES / "aasist_tiny" / "config.json"), "--out", str(out), "--name", "tiny"]) == 0
    return str(out)
