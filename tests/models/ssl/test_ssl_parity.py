"""Our TensorFlow WavLM and transformers' TF Wav2Vec2 against PyTorch outputs saved as fixtures (no torch here)."""
import sys

import numpy as np
import pytest
import tensorflow as tf

from helpers import SSL_FIXTURES
from tfdeepfake.errors import CheckpointError
from tfdeepfake.models.ssl import load_wav2vec2, load_wavlm, load_wavlm_xvector
from tfdeepfake.models.ssl.wavlm import relative_position_buckets

TOLERANCE = 1e-4


def fixture(name):
    return str(SSL_FIXTURES / name), dict(np.load(SSL_FIXTURES / name / "outputs.npz"))


def test_torch_is_not_needed():
    assert "torch" not in sys.modules


@pytest.mark.parametrize("name", ["wavlm_base", "wavlm_large"])
def test_wavlm_matches_pytorch_in_every_hidden_state(name):
    folder, expected = fixture(name)
    model = load_wavlm(folder)
    outputs = model(tf.constant(expected["input_values"]))
    assert len(outputs["hidden_states"]) == 3
    for i, state in enumerate(outputs["hidden_states"]):
        np.testing.assert_allclose(state.numpy(), expected[f"hidden_state_{i}"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["last_hidden_state"].numpy(), expected["last_hidden_state"], atol=TOLERANCE,
                               rtol=0)


@pytest.mark.parametrize("name", ["wavlm_base", "wavlm_large"])
def test_wavlm_padding_mask_matches_pytorch(name):
    folder, expected = fixture(name)
    model = load_wavlm(folder)
    outputs = model(tf.constant(expected["input_values"]), attention_mask=tf.constant(expected["attention_mask"]))
    frames = model.frame_mask(tf.constant(expected["attention_mask"])).numpy().astype(bool)
    got, want = outputs["last_hidden_state"].numpy(), expected["masked_last_hidden_state"]
    np.testing.assert_allclose(got[frames], want[frames], atol=TOLERANCE, rtol=0)  # padded frames are undefined


def test_wavlm_xvector_embeddings_and_logits_match_pytorch():
    folder, expected = fixture("wavlm_xvector")
    outputs = load_wavlm_xvector(folder)(tf.constant(expected["input_values"]))
    np.testing.assert_allclose(outputs["embeddings"].numpy(), expected["embeddings"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["logits"].numpy(), expected["logits"], atol=TOLERANCE, rtol=0)


def test_wav2vec2_sequence_classification_from_pytorch_safetensors():
    folder, expected = fixture("wav2vec2_seqcls")
    model = load_wav2vec2(folder, task="sequence_classification")
    result = model(tf.constant(expected["input_values"]), output_hidden_states=True)
    np.testing.assert_allclose(result.logits.numpy(), expected["logits"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(result.hidden_states[-1].numpy(), expected["last_hidden_state"], atol=TOLERANCE,
                               rtol=0)


def test_relative_position_buckets_follow_the_published_scheme():
    buckets = relative_position_buckets(200, num_buckets=320, max_distance=800)
    assert buckets[0, 0] == 0 and buckets[5, 4] == 1 and buckets[4, 5] == 161  # left: 0.., right: 160 + ..
    assert buckets.max() < 320 and (np.diag(buckets) == 0).all()
    assert (np.diff(buckets[100, 100:]) >= 0).all()  # monotone in distance


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_wavlm(str(tmp_path))


def test_wavlm_from_pytorch_model_bin_without_torch():
    """The same weights saved as pytorch_model.bin (a pickle, read by the restricted unpickler) give PyTorch's
    outputs; a folder without weights names what it looked for."""
    _, expected = fixture("wavlm_base")
    outputs = load_wavlm(str(SSL_FIXTURES / "wavlm_base_bin"))(tf.constant(expected["input_values"]))
    for i, state in enumerate(outputs["hidden_states"]):
        np.testing.assert_allclose(state.numpy(), expected[f"hidden_state_{i}"], atol=TOLERANCE, rtol=0)


def test_a_folder_without_weights_names_both_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="model.safetensors nor pytorch_model.bin"):
        load_wavlm(str(tmp_path))
