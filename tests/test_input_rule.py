"""The one input rule: the numpy and TensorFlow windowing are equal on every kind of length, windows cover the
clip with the last one end-aligned, short clips are repeated, and a rule that cannot cut windows is refused."""
import numpy as np
import pytest
import tensorflow as tf

from tfdeepfake.input_rule import InputRule, InputRuleError, aggregate_logits, sliding_windows, window_indices


def test_numpy_and_tensorflow_windows_are_equal():
    """Shorter than a window, exact window and hop multiples, one off either side, long: the same windows."""
    for n in (1, 7, 999, 1000, 1001, 1499, 1500, 1501, 2000, 3000, 4321, 10000):
        for window, hop in ((1000, 500), (1000, 1000), (1000, 333), (1000, 1), (64600, 32300)):
            expected = sliding_windows(tf.range(n), window, hop).numpy()
            np.testing.assert_array_equal(window_indices(n, window, hop), expected, err_msg=f"{n} {window} {hop}")


def test_windows_cover_the_clip_and_the_last_is_end_aligned():
    indices = InputRule(16000, 1000, 400).window_indices(2500)
    np.testing.assert_array_equal(indices[:, 0], [0, 400, 800, 1200, 1500])  # 1600 would run past: end-aligned
    np.testing.assert_array_equal(indices[-1], np.arange(1500, 2500))
    np.testing.assert_array_equal(np.unique(indices), np.arange(2500))
    np.testing.assert_array_equal(window_indices(3, 8, 4), [[0, 1, 2, 0, 1, 2, 0, 1]])  # repeated to one window
    assert InputRule(16000, 1000).hop_samples == 500  # default hop: half a window


def test_aggregation_and_refused_rules():
    assert aggregate_logits([1.0, -2.0, 4.0]) == 1.0
    assert InputRule(16000, 10, 5, "max-spoof").aggregate([1.0, -2.0, 4.0]) == -2.0
    with pytest.raises(InputRuleError, match="input.hop_samples: 20 > window_samples 10"):
        InputRule(16000, 10, 20)
    with pytest.raises(InputRuleError, match="input.sample_rate: a positive integer, got 0"):
        InputRule(0, 10)
    with pytest.raises(InputRuleError, match="input.aggregation"):
        InputRule(16000, 10, aggregation="median")
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        window_indices(0, 10, 5)
