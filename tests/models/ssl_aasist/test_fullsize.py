"""SSL-AASIST on XLS-R 300M's shape (two of its 24 blocks, to stay quick) equals the official PyTorch model: the
torch side (scripts/ssl_fullsize_torch.py in /opt/torchenv, the official model.py with transformers' Wav2Vec2Model
as its XLS-R) writes a random-weight checkpoint, which ours loads. The full 24 blocks:
benchmarks/ssl_aasist_report.py."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT
from tfdeepfake.models.porting import StateDict, read_torch_checkpoint
from tfdeepfake.models.registry import build_model
from tfdeepfake.models.ssl.presets import ssl_preset
from tfdeepfake.models.ssl_aasist import load_backend_state

TORCH_PYTHON = os.environ.get("TORCH_PYTHON", "/opt/torchenv/bin/python")
OFFICIAL_SRC = os.environ.get("SSL_AASIST_SRC", "/tmp/ssl_aasist_model.py")


@pytest.mark.slow
@pytest.mark.skipif(not Path(TORCH_PYTHON).exists(), reason=f"no torch side environment at {TORCH_PYTHON}")
@pytest.mark.skipif(not Path(OFFICIAL_SRC).exists(),
                    reason=f"the official SSL_Anti-spoofing model.py is not at {OFFICIAL_SRC} ($SSL_AASIST_SRC)")
def test_two_xls_r_blocks_match_the_official_model(tmp_path):
    fields = {**ssl_preset("xls-r-300m").to_dict(), "num_hidden_layers": 2}
    (tmp_path / "fields.json").write_text(json.dumps(fields))
    reply = subprocess.run([TORCH_PYTHON, str(ROOT / "scripts" / "ssl_fullsize_torch.py"), "ssl-aasist", "prepare",
                            "--src", OFFICIAL_SRC, "--fields", str(tmp_path / "fields.json"), "--out", str(tmp_path),
                            "--seed", "3"], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
    official = json.loads(reply.stdout.splitlines()[0])["parameters"]

    model = build_model("ssl_aasist", None, 64600, checkpoint=str(tmp_path / "xlsr"))
    backend = str(tmp_path / "backend.pth")
    load_backend_state(model, StateDict(read_torch_checkpoint(backend), backend))
    expected = np.load(tmp_path / "torch_outputs.npz")
    probe = tf.keras.Model(model.input, [model.get_layer("ssl_frontend").output, model.output])
    hidden, logit = probe(expected["waveform"], training=False)

    np.testing.assert_allclose(hidden.numpy(), expected["last_hidden_state"], atol=1e-4)
    np.testing.assert_allclose(logit.numpy()[:, 0], expected["logits"][:, 1] - expected["logits"][:, 0], atol=1e-4)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    # the folded weight-norm gain, the never-read bn1 and one of the two output rows are the only differences
    assert trainable == (official["total"] - official["weight_norm_gain"] - official["bn1"]
                         - official["out_layer"] // 2)
    assert model.count_params() - trainable == official["batch_norm_buffers"]
