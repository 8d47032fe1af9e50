"""The SSL front-end: layer choice / learned weighting over real (fixture) backbones, partial fine-tuning, and a
Keras save-and-reload round trip."""
import numpy as np
import pytest
import tensorflow as tf

from helpers import SSL_FIXTURES
from tfdeepfake.models.ssl import SSLFrontEnd, build_ssl_frontend

TOLERANCE = 1e-4


def expected(name):
    return dict(np.load(SSL_FIXTURES / name / "outputs.npz"))


@pytest.mark.parametrize("name", ["wavlm_base", "wav2vec2_large", "hubert_base"])
@pytest.mark.parametrize("layer", [0, 1, -1])
def test_selected_layer_is_that_hidden_state_of_the_checkpoint(name, layer):
    want = expected(name)
    frontend = build_ssl_frontend(str(SSL_FIXTURES / name), layer=layer)
    got = frontend(tf.constant(want["input_values"])).numpy()
    np.testing.assert_allclose(got, want[f"hidden_state_{layer % 3}"], atol=TOLERANCE, rtol=0)
    assert got.shape[-1] == frontend.channels


def test_learned_weighting_starts_as_the_mean_and_follows_its_weights():
    want = expected("wav2vec2_base")
    frontend = build_ssl_frontend(str(SSL_FIXTURES / "wav2vec2_base"))
    states = np.stack([want[f"hidden_state_{i}"] for i in range(3)])
    waves = tf.constant(want["input_values"])
    np.testing.assert_allclose(frontend(waves).numpy(), states.mean(0), atol=TOLERANCE, rtol=0)
    frontend.layer_logits.assign([0.0, np.log(3.0), 0.0])  # softmax -> 0.2, 0.6, 0.2
    np.testing.assert_allclose(frontend(waves).numpy(), np.tensordot([0.2, 0.6, 0.2], states, 1), atol=TOLERANCE,
                               rtol=0)


TINY = dict(model_type="wav2vec2", hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
            conv_dim=[8, 8], conv_stride=[5, 4], conv_kernel=[10, 4], num_conv_pos_embeddings=8,
            num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)


def trainable_names(frontend):
    return {v.name.split("/", 1)[1] for v in frontend.trainable_weights}


@pytest.mark.parametrize("open_blocks", [0, 1, 2, -1])
def test_only_the_top_blocks_train(open_blocks):
    frontend = build_ssl_frontend(config=TINY, layer=None, trainable_layers=open_blocks)
    backbone = frontend.backbone
    per_block = len(backbone.encoder_layers[0].weights)
    trainable = frontend.trainable_weights
    if open_blocks == -1:
        assert len(trainable) == len(backbone.weights) + 1
        return
    blocks = [b for b in backbone.encoder_layers if b.trainable_weights]
    assert blocks == backbone.encoder_layers[3 - open_blocks:] if open_blocks else not blocks
    norm = 2 if open_blocks else 0  # a pre-LN model's final norm opens with the top blocks
    assert len(trainable) == 1 + per_block * open_blocks + norm  # + the layer weighting
    waves = tf.random.stateless_normal([2, 800], seed=[0, 1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(frontend(waves) ** 2)
    assert all(g is not None for g in tape.gradient(loss, trainable))


def test_keras_round_trip_keeps_architecture_choices_and_weights(tmp_path):
    waves = tf.random.stateless_normal([1, 1600], seed=[1, 2])
    inputs = tf.keras.Input((1600,))
    model = tf.keras.Model(inputs, build_ssl_frontend(config=TINY, layer=-2, trainable_layers=1)(inputs))
    path = str(tmp_path / "frontend.keras")
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    layer = next(l for l in reloaded.layers if isinstance(l, SSLFrontEnd))
    assert (layer.layer, layer.trainable_layers, layer.backbone.config.model_type) == (-2, 1, "wav2vec2")
    np.testing.assert_allclose(reloaded(waves).numpy(), model(waves).numpy(), atol=1e-6, rtol=0)
    assert len(layer.trainable_weights) == len(layer.backbone.encoder_layers[-1].trainable_weights) + 2


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="layer 4 is outside"):
        SSLFrontEnd(TINY, layer=4)
    with pytest.raises(ValueError, match="trainable_layers"):
        SSLFrontEnd(TINY, trainable_layers=4)
    with pytest.raises(ValueError, match="exactly one"):
        build_ssl_frontend()
