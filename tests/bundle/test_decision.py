"""A bundle's decision: the calibration matches empirical frequencies and its threshold is the dev EER point."""
import warnings

import numpy as np
import pytest

from tfdeepfake import metrics
from tfdeepfake.bundle import Calibration, calibrate_on_dev



def test_calibration_on_gaussian_scores_matches_empirical_frequencies():
    rng = np.random.default_rng(1)
    # bona fide ~ N(1, 1), spoof ~ N(-1.5, 1): the true bona fide LLR is 2.5 s + 0.625
    calibration, threshold = calibrate_on_dev(rng.normal(1.0, 1.0, 20000), rng.normal(-1.5, 1.0, 20000))
    assert calibration.a == pytest.approx(2.5, abs=0.06) and calibration.b == pytest.approx(0.625, abs=0.04)

    bona, spoof = rng.normal(1.0, 1.0, 50000), rng.normal(-1.5, 1.0, 50000)  # fresh data
    probability = calibration.spoof_probability(np.concatenate([bona, spoof]))
    is_spoof = np.concatenate([np.zeros(bona.size), np.ones(spoof.size)])
    bins = np.minimum((probability * 10).astype(int), 9)
    for b in range(10):
        inside = bins == b
        assert inside.sum() > 1000
        assert abs(is_spoof[inside].mean() - probability[inside].mean()) < 0.02, b

    # the threshold on P(spoof) is the dev EER point: the same errors as the logit threshold it came from
    dev_bona, dev_spoof = rng.normal(1.0, 1.0, 3000), rng.normal(-1.5, 1.0, 3000)
    calibration, threshold = calibrate_on_dev(dev_bona, dev_spoof)
    eer, t = metrics.compute_eer(dev_bona, dev_spoof)
    frr, far = metrics.error_rates_at_threshold(dev_bona, dev_spoof, t)
    decide = np.vectorize(threshold.decide)
    assert np.mean(decide(calibration.spoof_probability(dev_bona)) == "spoof") == frr
    assert np.mean(decide(calibration.spoof_probability(dev_spoof)) == "bonafide") == far
    assert threshold.logit == t and abs(frr - eer) < 0.01


def test_separated_dev_scores_keep_a_finite_slope():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        calibration = Calibration.fit([2.0, 2.5, 3.0], [-1.0, -0.5, 0.0])
    assert 0 < calibration.a < 100 and calibration.l2 > 0
    assert calibration.spoof_probability(3.0)[0] < 0.5 < calibration.spoof_probability(-1.0)[0]
