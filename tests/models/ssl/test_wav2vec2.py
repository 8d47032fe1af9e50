"""wav2vec 2.0 and HuBERT through the layers WavLM shares, against transformers' PyTorch outputs (fixtures made by
scripts/make_ssl_fixtures.py) and transformers' own TF Wav2Vec2 on the same weights."""
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from helpers import SSL_FIXTURES
from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.ssl.checkpoints import load_ssl_backbone

TOLERANCE = 1e-4
BACKBONES = ["wav2vec2_base", "wav2vec2_large", "hubert_base"]


def fixture(name):
    return str(SSL_FIXTURES / name), dict(np.load(SSL_FIXTURES / name / "outputs.npz"))


@pytest.mark.parametrize("name", BACKBONES)
def test_every_hidden_state_matches_pytorch(name):
    folder, expected = fixture(name)
    model = load_ssl_backbone(folder)
    assert model.config.model_type == name.split("_")[0]
    assert not model.encoder_layers[0].attention.gated  # no WavLM relative position bias
    outputs = model(tf.constant(expected["input_values"]))
    assert len(outputs["hidden_states"]) == 3
    for i, state in enumerate(outputs["hidden_states"]):
        np.testing.assert_allclose(state.numpy(), expected[f"hidden_state_{i}"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["last_hidden_state"].numpy(), expected["last_hidden_state"],
                               atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", BACKBONES)
def test_padding_mask_matches_pytorch_on_real_frames(name):
    folder, expected = fixture(name)
    model = load_ssl_backbone(folder)
    mask = tf.constant(expected["attention_mask"])
    outputs = model(tf.constant(expected["input_values"]), attention_mask=mask)
    frames = model.frame_mask(mask).numpy().astype(bool)
    assert not frames.all()  # the fixture pads its second row
    np.testing.assert_allclose(outputs["last_hidden_state"].numpy()[frames],
                               expected["masked_last_hidden_state"][frames], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", ["wav2vec2_base", "wav2vec2_large"])
def test_equal_to_transformers_tf_wav2vec2_on_the_same_weights(name):
    import transformers

    folder, expected = fixture(name)
    theirs = transformers.TFWav2Vec2Model.from_pretrained(folder)
    ours = load_ssl_backbone(folder)
    waves = tf.constant(expected["input_values"])
    want = theirs(waves, output_hidden_states=True).hidden_states
    got = ours(waves)["hidden_states"]
    assert len(got) == len(want)
    for mine, reference in zip(got, want):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), atol=TOLERANCE, rtol=0)


def copy_fixture(tmp_path, name="wav2vec2_base"):
    folder = tmp_path / name
    shutil.copytree(SSL_FIXTURES / name, folder)
    return folder


def test_missing_tensor_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = copy_fixture(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["encoder.layers.1.attention.k_proj.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"encoder\.layers\.1\.attention\.k_proj\.weight"):
        load_ssl_backbone(str(folder))


def test_misshaped_tensor_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = copy_fixture(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["encoder.layers.1.feed_forward.output_dense.bias"] = np.zeros(7, np.float32)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"output_dense\.bias.*\(7,\)"):
        load_ssl_backbone(str(folder))


def test_unknown_model_type_is_refused(tmp_path):
    folder = copy_fixture(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "data2vec-audio"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="config.json.*data2vec-audio"):
        load_ssl_backbone(str(folder))
