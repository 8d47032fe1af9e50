"""Tests of tfdeepfake.metrics (numpy only at run time; sklearn used here for parity checks)."""
import math
import warnings

import numpy as np
import pytest

from tfdeepfake import metrics as M
from tfdeepfake.metrics import MetricInputError

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def gaussian_scores(seed, n_bona=400, n_spoof=600, shift=1.5):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1.0, n_bona), rng.normal(0.0, 1.0, n_spoof)


def brute_force_eer(bona, spoof):
    """Sweep every threshold (each score, plus one below all); bona fide iff score > t.

    EER = mean of FAR and FRR at the threshold where |FAR - FRR| is smallest (first such threshold).
    """
    thresholds = np.concatenate(([np.min(np.concatenate((bona, spoof))) - 1.0], np.sort(np.concatenate((bona, spoof)))))
    best = None
    for t in thresholds:
        frr = np.mean(bona <= t)
        far = np.mean(spoof > t)
        if best is None or abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2.0, t)
    return best[1], best[2]


# ------------------------------------------------------------------------------------------ EER


@pytest.mark.parametrize("seed,n_bona,n_spoof,shift", [(0, 400, 600, 1.5), (1, 50, 700, 0.5), (2, 333, 77, 3.0), (3, 1, 5, 0.0)])
def test_eer_equals_brute_force_reference(seed, n_bona, n_spoof, shift):
    bona, spoof = gaussian_scores(seed, n_bona, n_spoof, shift)
    eer, thr = M.compute_eer(bona, spoof)
    ref_eer, ref_thr = brute_force_eer(bona, spoof)
    assert eer == pytest.approx(ref_eer, abs=1e-12)
    if ref_thr >= np.min(np.concatenate((bona, spoof))):  # below-all point uses a different offset
        assert thr == ref_thr


@pytest.mark.parametrize("seed", range(5))
def test_eer_matches_sklearn_roc_curve(seed):
    bona, spoof = gaussian_scores(seed, 500, 800, shift=1.0 + seed * 0.3)
    labels = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    fpr, tpr, _ = sklearn_metrics.roc_curve(labels, np.concatenate((bona, spoof)), drop_intermediate=False)
    fnr = 1.0 - tpr
    i = np.argmin(np.abs(fnr - fpr))
    sk_eer = (fnr[i] + fpr[i]) / 2.0
    eer, _ = M.compute_eer(bona, spoof)
    assert abs(eer - sk_eer) <= 1.0 / min(bona.size, spoof.size)


def test_det_curve_shape_and_endpoints():
    bona, spoof = gaussian_scores(0, 30, 20)
    frr, far, thr = M.compute_det_curve(bona, spoof)
    assert frr.shape == far.shape == thr.shape == (51,)
    assert (frr[0], far[0], frr[-1], far[-1]) == (0.0, 1.0, 1.0, 0.0)
    assert np.all(np.diff(frr) >= 0) and np.all(np.diff(far) <= 0) and np.all(np.diff(thr) > 0)


def test_perfect_separation_gives_zero_eer():
    eer, thr = M.compute_eer([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0])
    assert eer == 0.0
    assert M.error_rates_at_threshold([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0], thr) == (0.0, 0.0)


def test_reversed_scores_give_eer_one():
    assert M.compute_eer([-1.0, 0.0], [2.0, 3.0])[0] == 1.0


def test_identical_distributions_give_eer_half():
    rng = np.random.default_rng(7)
    eer, _ = M.compute_eer(rng.normal(size=20000), rng.normal(size=20000))
    assert abs(eer - 0.5) < 0.02


def test_ties_follow_official_ordering():
    # Official package: stable sort of [bona..., spoof...], so among tied scores bona fide is "rejected" first.
    # frr = [0, 1/3, 1/3, 2/3, 2/3, 1, 1], far = [1, 1, 2/3, 2/3, 1/3, 1/3, 0] -> crossing at index 3.
    frr, far, thr = M.compute_det_curve([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(frr, [0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(far, [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0])
    eer, t = M.compute_eer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert eer == pytest.approx(2 / 3) and t == 2.0


@pytest.mark.parametrize("transform", [np.exp, lambda x: 3.0 * x + 7.0, lambda x: x ** 3, lambda x: np.arctan(x / 4.0)])
def test_eer_invariant_to_monotonic_transform(transform):
    bona, spoof = gaussian_scores(11, 300, 300, shift=1.0)
    eer, thr = M.compute_eer(bona, spoof)
    eer_t, thr_t = M.compute_eer(transform(bona), transform(spoof))
    assert eer_t == eer
    assert thr_t == pytest.approx(float(transform(np.float64(thr))), rel=1e-9)
    assert M.roc_auc(transform(bona), transform(spoof)) == M.roc_auc(bona, spoof)
    assert M.min_cllr(transform(bona), transform(spoof)) == pytest.approx(M.min_cllr(bona, spoof), abs=1e-12)


# ------------------------------------------------------------------------------------------ t-DCF

# Tiny example: CM bona fide [0.9, 0.8, 0.3], spoof [0.5, 0.2, 0.1]; ASV Pmiss=0.1, Pfa=0.05, Pmiss_spoof=0.4.
CM_BONA = [0.9, 0.8, 0.3]
CM_SPOOF = [0.5, 0.2, 0.1]
PTAR, PNON, PSPOOF = 0.9405, 0.0095, 0.05


def hand_operating_points():
    # (Pmiss_cm, Pfa_cm) at thresholds -inf, 0.1, 0.2, 0.3, 0.5, 0.8, 0.9 (bona fide iff score > t)
    return [(0, 1), (0, 2 / 3), (0, 1 / 3), (1 / 3, 1 / 3), (1 / 3, 0), (2 / 3, 0), (1, 0)]


def test_tdcf_2019_hand_computed():
    # ASVspoof 2019 t-DCF:
    #   C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv = 0.9405*(1 - 0.1) - 0.0095*10*0.05 = 0.8417
    #   C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv) = 10*0.05*0.6 = 0.3
    #   t-DCF_norm(t) = (C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / min(C1, C2)
    c1 = PTAR * (1 - 1 * 0.1) - PNON * 10 * 0.05
    c2 = 10 * PSPOOF * (1 - 0.4)
    assert c1 == pytest.approx(0.8417) and c2 == pytest.approx(0.3)
    expected = min((c1 * pm + c2 * pf) / min(c1, c2) for pm, pf in hand_operating_points())
    assert expected == pytest.approx(1 / 3)  # at t = 0.2: (0 + 0.3/3) / 0.3
    res = M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.1, pfa_asv=0.05, pmiss_spoof_asv=0.4)
    assert res.min_tdcf == pytest.approx(expected, abs=1e-12)
    assert float(res) == res.min_tdcf
    assert res.cm_threshold == 0.2
    assert res.coefficients["C1"] == pytest.approx(c1) and res.coefficients["C2"] == pytest.approx(c2)
    curve, thr = M.tdcf_curve(CM_BONA, CM_SPOOF, 0.1, 0.05, 0.4)
    np.testing.assert_allclose(curve, [(c1 * pm + c2 * pf) / 0.3 for pm, pf in hand_operating_points()])
    np.testing.assert_allclose(thr[1:], [0.1, 0.2, 0.3, 0.5, 0.8, 0.9])


def test_tdcf_2021_hand_computed():
    # Revised t-DCF (ASVspoof 2021):
    #   C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv = 0.9405*0.1 + 0.0095*10*0.05 = 0.0988
    #   C1 = Ptar Cmiss - C0 = 0.8417
    #   C2 = Pspoof Cfa_spoof Pfa_spoof_asv = 0.05*10*(1 - 0.4) = 0.3
    #   t-DCF_norm(t) = (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / (C0 + min(C1, C2))
    c0 = PTAR * 1 * 0.1 + PNON * 10 * 0.05
    c1 = PTAR * 1 - c0
    c2 = PSPOOF * 10 * 0.6
    expected = min((c0 + c1 * pm + c2 * pf) / (c0 + min(c1, c2)) for pm, pf in hand_operating_points())
    assert expected == pytest.approx(0.1988 / 0.3988)
    res = M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.1, pfa_asv=0.05, pmiss_spoof_asv=0.4, version="2021")
    assert res.min_tdcf == pytest.approx(expected, abs=1e-12)
    assert res.pfa_spoof_asv == pytest.approx(0.6)
    assert set(res.coefficients) == {"C0", "C1", "C2", "default"}


def test_tdcf_from_asv_scores_uses_eer_threshold_and_official_rates():
    tar, non, spf = [1.0, 2.0, 3.0, 4.0], [-3.0, -2.0, -1.0, 0.0], [-0.5, 0.5, 1.5, 2.5]
    # ASV EER is 0 at threshold 0 (the highest non-target score); ASV accepts iff score >= threshold,
    # so Pfa_asv = 1/4, Pmiss_asv = 0, Pmiss_spoof_asv = 1/4 (as the official obtain_asv_error_rates gives).
    res = M.compute_min_tdcf(CM_BONA, CM_SPOOF, asv_target=tar, asv_nontarget=non, asv_spoof=spf)
    assert res.asv_threshold == 0.0
    assert (res.pfa_asv, res.pmiss_asv, res.pmiss_spoof_asv) == (0.25, 0.0, 0.25)
    ref = M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.0, pfa_asv=0.25, pmiss_spoof_asv=0.25)
    assert res.min_tdcf == ref.min_tdcf and ref.asv_threshold is None


@pytest.mark.parametrize("version", ["2019", "2021"])
def test_perfect_cm_with_perfect_asv_gives_zero(version):
    res = M.compute_min_tdcf([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0], pmiss_asv=0, pfa_asv=0, pmiss_spoof_asv=0, version=version)
    assert res.min_tdcf == 0.0


@pytest.mark.parametrize("version", ["2019", "2021"])
@pytest.mark.parametrize("seed", range(4))
def test_min_tdcf_at_most_one(version, seed):
    rng = np.random.default_rng(seed)
    bona, spoof = gaussian_scores(seed, 200, 300, shift=rng.uniform(-1, 2))
    tar, non, spf = rng.normal(3, 1, 200), rng.normal(0, 1, 300), rng.normal(rng.uniform(0, 3), 1, 300)
    res = M.compute_min_tdcf(bona, spoof, asv_target=tar, asv_nontarget=non, asv_spoof=spf, version=version)
    assert 0.0 <= res.min_tdcf <= 1.0 + 1e-12


def test_tdcf_input_errors():
    ok = dict(pmiss_asv=0.1, pfa_asv=0.05, pmiss_spoof_asv=0.4)
    with pytest.raises(MetricInputError, match="NaN or Inf"):
        M.compute_min_tdcf([0.9, np.nan, 0.3], CM_SPOOF, **ok)
    with pytest.raises(MetricInputError, match="empty"):
        M.compute_min_tdcf(CM_BONA, [], **ok)
    with pytest.raises(MetricInputError, match="soft scores"):
        M.compute_min_tdcf([1, 1, 1], [0, 0], **ok)
    with pytest.raises(MetricInputError, match="all required"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, asv_target=[1.0], asv_nontarget=[0.0])
    with pytest.raises(MetricInputError, match="not both"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, asv_target=[1.0], asv_nontarget=[0.0], asv_spoof=[0.5], **ok)
    with pytest.raises(MetricInputError, match="pmiss_asv, pfa_asv"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.1)
    with pytest.raises(MetricInputError, match="pfa_asv: expected a rate"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.1, pfa_asv=1.5, pmiss_spoof_asv=0.4)
    with pytest.raises(MetricInputError, match="asv_nontarget"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, asv_target=[1.0], asv_nontarget=[], asv_spoof=[0.5])
    with pytest.raises(MetricInputError, match="sum to 1"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, cost_model={"Pspoof": 0.5}, **ok)
    with pytest.raises(MetricInputError, match="unknown keys"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, cost_model={"Cmis": 1}, **ok)
    with pytest.raises(MetricInputError, match="negative"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=1.0, pfa_asv=1.0, pmiss_spoof_asv=0.4)
    with pytest.raises(MetricInputError, match="normalisation is zero"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, pmiss_asv=0.1, pfa_asv=0.05, pmiss_spoof_asv=1.0)
    with pytest.raises(MetricInputError, match="version"):
        M.compute_min_tdcf(CM_BONA, CM_SPOOF, version="2015", **ok)


def test_default_cost_model_values():
    assert dict(M.DEFAULT_COST_MODEL) == {
        "Pspoof": 0.05, "Ptar": 0.9405, "Pnon": 0.0095, "Cmiss": 1.0, "Cfa": 10.0, "Cmiss_asv": 1.0,
        "Cfa_asv": 10.0, "Cmiss_cm": 1.0, "Cfa_cm": 10.0, "Cfa_spoof": 10.0,
    }
    assert M.DEFAULT_COST_MODEL["Ptar"] == pytest.approx(0.95 * 0.99)


# ------------------------------------------------------------------------------------------ per attack


def test_per_attack_eer():
    rng = np.random.default_rng(3)
    bona = rng.normal(2.0, 1.0, 200)
    a01 = rng.normal(-10.0, 0.1, 100)  # trivially detected
    a02 = rng.normal(2.0, 1.0, 150)  # indistinguishable from bona fide
    scores = np.concatenate((bona, a01, a02))
    labels = np.concatenate((np.ones(200, int), np.zeros(250, int)))
    attacks = np.array(["-"] * 200 + ["A01"] * 100 + ["A02"] * 150)
    out = M.per_attack_eer(scores, labels, attacks)
    assert list(out) == ["A01", "A02", "pooled"]
    assert out["A01"] == 0.0
    assert out["A02"] == M.compute_eer(bona, a02)[0]
    assert abs(out["A02"] - 0.5) < 0.1
    assert out["pooled"] == M.compute_eer(bona, np.concatenate((a01, a02)))[0]
    shuffled = rng.permutation(scores.size)
    assert M.per_attack_eer(scores[shuffled], labels[shuffled], list(attacks[shuffled]), pooled_key="all") == {
        "A01": out["A01"], "A02": out["A02"], "all": out["pooled"]
    }


def test_per_attack_eer_errors():
    with pytest.raises(MetricInputError, match="attack ids"):
        M.per_attack_eer([1.0, 0.0], [1, 0], ["-"])
    with pytest.raises(MetricInputError, match="found 2"):
        M.per_attack_eer([1.0, 0.0], [1, 2], ["-", "A01"])
    with pytest.raises(MetricInputError, match="no bona fide"):
        M.per_attack_eer([1.0, 0.0], [0, 0], ["A01", "A01"])
    with pytest.raises(MetricInputError, match="no spoof"):
        M.per_attack_eer([1.0, 0.0], [1, 1], ["-", "-"])
    with pytest.raises(MetricInputError, match="named 'pooled'"):
        M.per_attack_eer([1.0, 0.0], [1, 0], ["-", "pooled"])


# ------------------------------------------------------------------------------------------ calibration


def calibrated_llrs(seed, n=20000, mu=1.0):
    """Scores ~ N(+mu, 1) (bona fide) / N(-mu, 1) (spoof): the exact LLR is 2 mu s."""
    rng = np.random.default_rng(seed)
    bona, spoof = rng.normal(mu, 1.0, n), rng.normal(-mu, 1.0, n)
    return bona, spoof, 2 * mu * bona, 2 * mu * spoof


def test_cllr_basic_values():
    assert M.cllr([0.0, 0.0], [0.0]) == pytest.approx(1.0)
    assert M.cllr([50.0], [-50.0]) < 1e-20
    assert M.cllr([-50.0], [50.0]) == pytest.approx(50.0 / math.log(2.0), rel=1e-9)  # confidently wrong


def test_cllr_of_calibrated_well_separated_llrs_is_small():
    _, _, lb, ls = calibrated_llrs(0, mu=4.0)
    c = M.cllr(lb, ls)
    assert c < 0.02
    assert M.min_cllr(lb, ls) <= c


@pytest.mark.parametrize("seed", range(4))
def test_min_cllr_at_most_cllr(seed):
    rng = np.random.default_rng(seed)
    bona, spoof = gaussian_scores(seed, 300, 500, shift=rng.uniform(0, 2))
    for scale, offset in [(1.0, 0.0), (5.0, -2.0), (0.1, 3.0), (-1.0, 0.0)]:
        b, s = scale * bona + offset, scale * spoof + offset
        assert M.min_cllr(b, s) <= M.cllr(b, s) + 1e-12
    assert M.min_cllr(bona, spoof) <= 1.0 + 1e-12
    assert M.min_cllr(np.round(bona), np.round(spoof)) <= M.cllr(np.round(bona), np.round(spoof)) + 1e-12


def test_min_cllr_hand_example_and_sklearn_isotonic_parity():
    # sorted: 1(s) 2(b) 2.5(s) 3(b) -> PAV posteriors 0, .5, .5, 1 -> Cllr = (ln2/2 + ln2/2) / (2 ln2) = 0.5
    assert M.min_cllr([2.0, 3.0], [1.0, 2.5]) == pytest.approx(0.5)
    assert M.min_cllr([2.0, 3.0], [0.0, 1.0]) == 0.0
    isotonic = pytest.importorskip("sklearn.isotonic")
    bona, spoof = gaussian_scores(5, 200, 300, shift=1.0)
    s = np.concatenate((bona, spoof))
    y = np.concatenate((np.ones(200), np.zeros(300)))
    p = isotonic.IsotonicRegression(y_min=0, y_max=1).fit_transform(s, y)
    eps = 1e-300
    llr = np.log(p + eps) - np.log(1 - p + eps) - math.log(200 / 300)
    ref = M.cllr(llr[:200], llr[200:])
    assert M.min_cllr(bona, spoof) == pytest.approx(ref, abs=1e-9)


def test_calibrated_llrs_have_min_cllr_close_to_cllr():
    _, _, lb, ls = calibrated_llrs(1, mu=1.0)
    assert M.cllr(lb, ls) - M.min_cllr(lb, ls) < 0.01


def test_fit_calibration_recovers_affine_map():
    raw_b, raw_s, _, _ = calibrated_llrs(2, mu=1.0)
    # scores r = 3 s + 1, exact LLR 2 s = (2/3) r - 2/3
    a, b = M.fit_calibration(3 * raw_b + 1, 3 * raw_s + 1)
    assert a == pytest.approx(2 / 3, abs=0.03) and b == pytest.approx(-2 / 3, abs=0.03)
    cal_b, cal_s = M.apply_calibration(3 * raw_b + 1, a, b), M.apply_calibration(3 * raw_s + 1, a, b)
    assert M.cllr(cal_b, cal_s) < M.cllr(3 * raw_b + 1, 3 * raw_s + 1)
    assert M.cllr(cal_b, cal_s) == pytest.approx(M.min_cllr(raw_b, raw_s), abs=0.01)


def test_fit_calibration_matches_sklearn_balanced_logistic_regression():
    linear_model = pytest.importorskip("sklearn.linear_model")
    bona, spoof = gaussian_scores(4, 300, 900, shift=1.2)
    bona, spoof = 4 * bona - 3, 4 * spoof - 3
    a, b = M.fit_calibration(bona, spoof)
    x = np.concatenate((bona, spoof))[:, None]
    y = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    lr = linear_model.LogisticRegression(C=1e12, class_weight="balanced", tol=1e-12, max_iter=10000).fit(x, y)
    assert a == pytest.approx(lr.coef_[0, 0], rel=1e-4)
    assert b == pytest.approx(lr.intercept_[0], abs=1e-4)


def test_fit_calibration_prior_shifts_only_offset_of_objective():
    bona, spoof = gaussian_scores(6, 300, 300, shift=1.0)
    a, b = M.fit_calibration(bona, spoof, prior=0.5)
    a2, b2 = M.fit_calibration(bona, spoof, prior=0.2)
    assert np.isfinite([a, b, a2, b2]).all() and a > 0 and a2 > 0


def test_fit_calibration_separable_warns_unless_regularised():
    with pytest.warns(RuntimeWarning, match="perfectly separated"):
        M.fit_calibration([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0], max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = M.fit_calibration([2.0, 3.0, 4.0], [-1.0, 0.0, 1.0], l2=1e-2)
    assert np.isfinite(a) and a > 0


def test_fit_calibration_l2_is_on_the_returned_slope():
    bona, spoof = gaussian_scores(13, 400, 400, shift=1.0)
    bona, spoof = 5 * bona, 5 * spoof
    l2 = 0.1
    a, b = M.fit_calibration(bona, spoof, l2=l2)

    def objective(a, b):  # prior 0.5: 0.5 mean_bona softplus(-z) + 0.5 mean_spoof softplus(z) + l2/2 a^2
        return 0.5 * np.mean(np.logaddexp(0, -(a * bona + b))) + 0.5 * np.mean(np.logaddexp(0, a * spoof + b)) + l2 / 2 * a * a

    e = 1e-6
    assert abs(objective(a + e, b) - objective(a - e, b)) / (2 * e) < 1e-6
    assert abs(objective(a, b + e) - objective(a, b - e)) / (2 * e) < 1e-6
    assert a < M.fit_calibration(bona, spoof)[0]


def test_fit_calibration_errors():
    with pytest.raises(MetricInputError, match="all dev scores are equal"):
        M.fit_calibration([1.0, 1.0], [1.0])
    with pytest.raises(MetricInputError, match="prior"):
        M.fit_calibration([1.0], [0.0], prior=1.0)


def test_actual_dcf_hand_example():
    bona, spoof = [1.0, -1.0, 2.0], [-2.0, 0.5, -3.0]
    # Bayes threshold at p=0.5, Cmiss=Cfa=1 is 0: Pmiss = 1/3, Pfa = 1/3 -> DCF 1/3, normalised 2/3
    assert M.actual_dcf(bona, spoof, normalize=False) == pytest.approx(1 / 3)
    assert M.actual_dcf(bona, spoof) == pytest.approx(2 / 3)
    # p=0.1, Cfa=1: threshold log(9) ~ 2.2 rejects all -> Pmiss 1 -> DCF 0.1, normalised 1
    assert M.actual_dcf(bona, spoof, p_target=0.1) == pytest.approx(1.0)
    assert M.actual_dcf(bona, spoof, threshold=0.6) == pytest.approx((0.5 / 3) / 0.5)
    value, thr = M.min_dcf(bona, spoof)
    assert value <= M.actual_dcf(bona, spoof) and value == pytest.approx((0.5 / 3) / 0.5)
    with pytest.raises(MetricInputError, match="p_target"):
        M.actual_dcf(bona, spoof, p_target=0.0)


def test_eer_threshold_on_dev_transfers_to_eval():
    dev_b, dev_s = gaussian_scores(8, 2000, 2000, shift=2.0)
    ev_b, ev_s = gaussian_scores(9, 2000, 2000, shift=2.0)
    res = M.eer_threshold_on_dev(dev_b, dev_s, ev_b, ev_s)
    assert res.threshold == M.compute_eer(dev_b, dev_s)[1]
    assert (res.dev_frr + res.dev_far) / 2 == pytest.approx(res.dev_eer)
    assert abs(res.eval_frr - res.dev_eer) < 0.03 and abs(res.eval_far - res.dev_eer) < 0.03
    assert res.eval_hter == pytest.approx((res.eval_frr + res.eval_far) / 2)
    shifted = M.eer_threshold_on_dev(dev_b, dev_s, ev_b + 1.0, ev_s + 1.0)  # eval scores drift upwards
    assert shifted.eval_frr < res.eval_frr and shifted.eval_far > res.eval_far


# ------------------------------------------------------------------------------------------ bootstrap, AUC


def test_bootstrap_eer_ci():
    bona, spoof = gaussian_scores(10, 300, 300, shift=1.5)
    ci = M.bootstrap_eer_ci(bona, spoof, n=200, seed=1)
    assert ci.eer == M.compute_eer(bona, spoof)[0]
    assert 0.0 <= ci.low <= ci.eer <= ci.high <= 1.0
    assert ci.high - ci.low < 0.15
    assert M.bootstrap_eer_ci(bona, spoof, n=200, seed=1) == ci
    wide = M.bootstrap_eer_ci(bona[:30], spoof[:30], n=200, seed=1)
    assert wide.high - wide.low > ci.high - ci.low
    eer, low, high = M.bootstrap_eer_ci([2.0, 3.0], [0.0, 1.0], n=50)
    assert eer == low == high == 0.0
    with pytest.raises(MetricInputError, match="alpha"):
        M.bootstrap_eer_ci(bona, spoof, alpha=1.5)
    with pytest.raises(MetricInputError, match="positive integer"):
        M.bootstrap_eer_ci(bona, spoof, n=0)


@pytest.mark.parametrize("rounding", [None, 0, 1])
def test_roc_auc_matches_sklearn(rounding):
    bona, spoof = gaussian_scores(12, 250, 400, shift=0.8)
    if rounding is not None:  # create ties
        bona, spoof = np.round(bona, rounding), np.round(spoof, rounding)
    labels = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    ref = sklearn_metrics.roc_auc_score(labels, np.concatenate((bona, spoof)))
    assert M.roc_auc(bona, spoof) == pytest.approx(ref, abs=1e-12)
    assert M.roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0 and M.roc_auc([1.0], [1.0]) == 0.5


# ------------------------------------------------------------------------------------------ input errors


@pytest.mark.parametrize(
    "bona,spoof,message",
    [
        ([], [0.0], r"^bonafide\w*: no scores"),
        ([1.0], [], r"^spoof\w*: no scores"),
        ([1.0, np.inf], [0.0], "NaN or Inf"),
        ([1.0], [np.nan, 0.0], r"1 of 2 scores are NaN or Inf \(first at index 0"),
        ([[1.0, 2.0], [3.0, 4.0]], [0.0], "1-D"),
        (["a", "b"], [0.0], "cannot be read as numbers"),
    ],
)
@pytest.mark.parametrize(
    "fn", [M.compute_eer, M.compute_det_curve, M.roc_auc, M.cllr, M.min_cllr, M.bootstrap_eer_ci, M.actual_dcf]
)
def test_bad_scores_raise_clear_errors(fn, bona, spoof, message):
    with pytest.raises(MetricInputError, match=message):
        fn(bona, spoof)


def test_column_vectors_accepted_and_errors_are_value_errors():
    assert M.compute_eer(np.array([[2.0], [3.0]]), np.array([[0.0]]))[0] == 0.0
    assert issubclass(MetricInputError, ValueError)
    with pytest.raises(MetricInputError, match="expected 3 labels"):
        M.split_scores([1.0, 2.0, 3.0], [1, 0])
    bona, spoof = M.split_scores([1.0, 2.0, 3.0], np.array([1, 0, 1]))
    assert bona.tolist() == [1.0, 3.0] and spoof.tolist() == [2.0]


def test_runtime_does_not_import_tensorflow_or_sklearn():
    import subprocess
    import sys

    # the package __init__ and the error root import nothing heavy, so this checks the metrics module itself
    code = (
        "import sys\n"
        "import tfdeepfake.metrics as mod\n"
        "assert mod.compute_eer([1.0], [0.0])[0] == 0.0\n"
        "bad = [m for m in ('tensorflow', 'sklearn', 'scipy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
