"""The AASIST layers' TFLite-friendly forms equal the plain TensorFlow forms they replace, to float rounding."""
import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.models.aasist.layers import SincFrontEnd, polyphase_kernel, selu


def test_selu_from_relu_and_elu_equals_tf_selu():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(100_000) * 4, [0.0, -0.0, 1e-30, -1e-30, -80.0, 80.0, -1e-6, 1e-6]])
    x = tf.constant(x.astype(np.float32))
    ours, reference = selu(x).numpy(), tf.nn.selu(x).numpy()
    np.testing.assert_allclose(ours, reference, rtol=2e-7, atol=1e-7)
    assert np.array_equal(np.sign(ours), np.sign(reference))


@pytest.mark.parametrize("samples, kernel_size", [(4000, 128), (4001, 32), (131, 128), (2000, 1024)])
def test_sinc_front_end_polyphase_form_equals_the_plain_convolution_and_pool(samples, kernel_size):
    """The polyphase convolution and the pooling by MAX_POOL_2D and channel slices give exactly what a plain
    1-D convolution pooled over 3 x 3 cells gives; the lengths cover a padded, a sliced and a trimmed read."""
    rng = np.random.default_rng(1)
    waveform = tf.constant(rng.standard_normal((2, samples)).astype(np.float32))
    layer = SincFrontEnd(filters=70, kernel_size=kernel_size)
    pooled = layer(waveform).numpy()
    response = np.abs(tf.nn.conv1d(waveform[:, :, None], layer.bank[:, None, :], 1, "VALID").numpy())
    frames, bands = response.shape[1] // 3, 70 // 3
    cells = response[:, :frames * 3, :bands * 3].reshape(2, frames, 3, bands, 3)
    assert pooled.shape == (2, frames, bands, 1)
    np.testing.assert_array_equal(pooled[..., 0], cells.max(axis=(2, 4)))


def test_polyphase_kernel_places_every_tap_once():
    bank = np.arange(1, 13 * 2 + 1, dtype=np.float32).reshape(13, 2)  # 13 taps, 2 filters
    kernel = polyphase_kernel(bank, 4)
    assert kernel.shape == (1, 4, 4, 8)  # ceil((13 + 3) / 4) taps of 4 phases; (phase, filter) channels
    for r in range(4):  # each output phase holds every tap of every filter once, the rest zeros
        taps = kernel[0, :, :, 2 * r:2 * r + 2].reshape(-1, 2)
        np.testing.assert_array_equal(np.sort(taps[taps[:, 0] != 0], axis=0), bank)
