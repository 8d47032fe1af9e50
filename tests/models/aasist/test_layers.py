"""The AASIST layers' TFLite-friendly forms equal the plain TensorFlow forms they replace, to float rounding."""
import numpy as np
import tensorflow as tf

from tfdeepfake.models.aasist.layers import SincFrontEnd, selu


def test_selu_from_relu_and_elu_equals_tf_selu():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(100_000) * 4, [0.0, -0.0, 1e-30, -1e-30, -80.0, 80.0, -1e-6, 1e-6]])
    x = tf.constant(x.astype(np.float32))
    ours, reference = selu(x).numpy(), tf.nn.selu(x).numpy()
    np.testing.assert_allclose(ours, reference, rtol=2e-7, atol=1e-7)
    assert np.array_equal(np.sign(ours), np.sign(reference))


def test_sinc_front_end_max_pool_equals_the_reduce_over_pool_cells():
    rng = np.random.default_rng(1)
    waveform = tf.constant(rng.standard_normal((2, 4000)).astype(np.float32))
    layer = SincFrontEnd(filters=70, kernel_size=128)
    pooled = layer(waveform).numpy()
    response = np.abs(tf.nn.conv1d(waveform[:, :, None], layer.bank[:, None, :], 1, "VALID").numpy())
    frames, bands = response.shape[1] // 3, 70 // 3
    cells = response[:, :frames * 3, :bands * 3].reshape(2, frames, 3, bands, 3)
    assert pooled.shape == (2, frames, bands, 1)
    np.testing.assert_array_equal(pooled[..., 0], cells.max(axis=(2, 4)))
