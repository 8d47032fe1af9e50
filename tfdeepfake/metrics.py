"""Evaluation metrics for spoofing countermeasures (ASVspoof logical access).

Conventions used throughout:

* A **higher score means more bona fide** (the ASVspoof convention).
* Labels: ``1`` = bona fide, ``0`` = spoof.
* Functions that take two arrays take ``(bonafide_scores, spoof_scores)`` in that order;
  :func:`split_scores` turns ``(scores, labels)`` into that form.
* Every bad input (empty class, NaN/Inf, wrong shape, label values other than 0/1, invalid
  cost model) raises :class:`MetricInputError` (a :class:`ValueError`) with a message that says
  which argument is wrong and why.

Only numpy is needed at run time.

EER / DET curve
    :func:`compute_det_curve` and :func:`compute_eer` follow the algorithm of the official
    ASVspoof 2019/2021 evaluation package: pool the scores (bona fide first, then spoof), sort
    them with a *stable* sort, and for each sorted position ``i`` use the sorted score as
    threshold, counting the first ``i + 1`` trials as rejected (false rejection rate over the
    bona fide trials among them) and the rest as accepted (false acceptance rate over the spoof
    trials among them); one extra point in front (threshold = lowest score - 0.001) accepts
    everything.  The EER is the mean of FRR and FAR at the first point where ``|FRR - FAR|`` is
    smallest and the threshold returned is the score at that point.  Away from tied scores that
    is the rule "bona fide iff score > threshold".  With ties the official curve also steps
    *inside* a run of tied scores (bona fide before spoof, input order within a class); we keep
    that behaviour so numbers match the published tools.

t-DCF
    ``version="2019"`` (ASVspoof 2019 evaluation plan, t-DCF v1; Kinnunen et al., Odyssey 2018)::

        C1 = Ptar * (Cmiss_cm - Cmiss_asv * Pmiss_asv) - Pnon * Cfa_asv * Pfa_asv
        C2 = Cfa_cm * Pspoof * (1 - Pmiss_spoof_asv)
        t-DCF(s)      = C1 * Pmiss_cm(s) + C2 * Pfa_cm(s)
        t-DCF_norm(s) = t-DCF(s) / min(C1, C2)

    ``version="2021"`` (revised t-DCF of Kinnunen et al., IEEE/ACM TASLP 2020, used by the
    ASVspoof 2021 evaluation package and "version 2.0" of the 2019 package)::

        C0 = Ptar * Cmiss * Pmiss_asv + Pnon * Cfa * Pfa_asv
        C1 = Ptar * Cmiss - C0
        C2 = Pspoof * Cfa_spoof * Pfa_spoof_asv          (Pfa_spoof_asv = 1 - Pmiss_spoof_asv)
        t-DCF(s)      = C0 + C1 * Pmiss_cm(s) + C2 * Pfa_cm(s)
        t-DCF_norm(s) = t-DCF(s) / (C0 + min(C1, C2))

    ``Pmiss_cm`` / ``Pfa_cm`` are the DET curve of :func:`compute_det_curve`; the min t-DCF is
    the minimum of ``t-DCF_norm`` over that curve.  When ASV scores are given, the ASV threshold
    is the ASV EER threshold (:func:`compute_eer` on target vs non-target) and, as in the
    official ``obtain_asv_error_rates``, ASV accepts a trial iff ``asv_score >= threshold``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple

import numpy as np

from .errors import TfDeepfakeError

__all__ = [
    "MetricInputError",
    "DEFAULT_COST_MODEL",
    "split_scores",
    "compute_det_curve",
    "compute_eer",
    "error_rates_at_threshold",
    "asv_error_rates",
    "tdcf_curve",
    "compute_min_tdcf",
    "TDCFResult",
    "per_attack_eer",
    "cllr",
    "min_cllr",
    "actual_dcf",
    "min_dcf",
    "eer_threshold_on_dev",
    "ThresholdTransfer",
    "fit_calibration",
    "apply_calibration",
    "bootstrap_eer_ci",
    "BootstrapCI",
    "roc_auc",
    "ASVSPOOF5_DCF",
    "llr_to_posterior",
    "reliability_curve",
    "ReliabilityCurve",
]


class MetricInputError(TfDeepfakeError, ValueError):
    """Scores, labels or cost parameters that a metric cannot be computed from."""


#: ASVspoof cost model: Pspoof = 0.05, Ptar = 0.95 * 0.99, Pnon = 0.95 * 0.01 and the costs below.
#: The 2019 t-DCF reads Cmiss_asv, Cfa_asv, Cmiss_cm, Cfa_cm; the 2021 t-DCF reads Cmiss, Cfa, Cfa_spoof.
DEFAULT_COST_MODEL: Mapping[str, float] = {
    "Pspoof": 0.05,
    "Ptar": 0.9405,
    "Pnon": 0.0095,
    "Cmiss": 1.0,
    "Cfa": 10.0,
    "Cmiss_asv": 1.0,
    "Cfa_asv": 10.0,
    "Cmiss_cm": 1.0,
    "Cfa_cm": 10.0,
    "Cfa_spoof": 10.0,
}

#: CM-only detection cost of the ASVspoof 5 evaluation plan (Cmiss = 1, Cfa = 10, Pspoof = 0.05) as the
#: keyword arguments of :func:`actual_dcf` / :func:`min_dcf`: ``p_target`` is the bona fide prior 1 - Pspoof.
ASVSPOOF5_DCF: Mapping[str, float] = {"p_target": 0.95, "c_miss": 1.0, "c_fa": 10.0}

# ----------------------------------------------------------------------------------------------
# input validation
# ----------------------------------------------------------------------------------------------


def _as_scores(values, name: str, allow_empty: bool = False) -> np.ndarray:
    """1-D float64 copy of ``values``; (N, 1) is accepted; empty, NaN and Inf are errors."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"{name}: cannot be read as numbers ({exc})") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise MetricInputError(f"{name}: expected a 1-D array of scores, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise MetricInputError(f"{name}: no scores (the class is empty)")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"{name}: {int(bad.sum())} of {arr.size} scores are NaN or Inf (first at index {first}: {arr[first]})"
        )
    return arr


def _as_labels(labels, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size != n:
        raise MetricInputError(f"labels: expected {n} labels (one per score), got shape {arr.shape}")
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"labels: must be 1 (bona fide) or 0 (spoof) ({exc})") from exc
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"labels: must be 1 (bona fide) or 0 (spoof); found {arr[first].item()!r} at index {first}"
        )
    return num == 1.0


def _rate(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"{name}: expected a rate in [0, 1], got {value!r}") from exc
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise MetricInputError(f"{name}: expected a rate in [0, 1], got {value!r}")
    return v


def split_scores(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """``(bonafide_scores, spoof_scores)`` from pooled scores and 1/0 labels; both classes must occur."""
    s = _as_scores(scores, "scores")
    is_bona = _as_labels(labels, s.size)
    bona, spoof = s[is_bona], s[~is_bona]
    if bona.size == 0:
        raise MetricInputError("labels: no bona fide trials (label 1)")
    if spoof.size == 0:
        raise MetricInputError("labels: no spoof trials (label 0)")
    return bona, spoof


# ----------------------------------------------------------------------------------------------
# DET curve and EER
# ----------------------------------------------------------------------------------------------


def compute_det_curve(bonafide_scores, spoof_scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False rejection rates, false acceptance rates and thresholds (official ASVspoof DET curve).

    Returns three arrays of length ``N_bona + N_spoof + 1``; the first point accepts everything
    (FRR 0, FAR 1) and the last rejects everything (FRR 1, FAR 0).  See the module docstring.
    """
    bona = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    return _det_curve(bona, spoof)


def _det_curve(bona: np.ndarray, spoof: np.ndarray):
    n_bona, n_spoof = bona.size, spoof.size
    pooled = np.concatenate((bona, spoof))
    is_bona = np.concatenate((np.ones(n_bona), np.zeros(n_spoof)))
    order = np.argsort(pooled, kind="stable")
    sorted_scores = pooled[order]
    rejected_bona = np.cumsum(is_bona[order])
    rejected_spoof = np.arange(1, pooled.size + 1) - rejected_bona
    frr = np.concatenate(([0.0], rejected_bona / n_bona))
    far = np.concatenate(([1.0], (n_spoof - rejected_spoof) / n_spoof))
    thresholds = np.concatenate(([sorted_scores[0] - 0.001], sorted_scores))
    return frr, far, thresholds


def _eer_from_curve(frr, far, thresholds) -> tuple[float, float]:
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2.0), float(thresholds[i])


def compute_eer(bonafide_scores, spoof_scores) -> tuple[float, float]:
    """Equal error rate (a fraction in [0, 1], not %) and its threshold, as the ASVspoof package computes them."""
    return _eer_from_curve(*compute_det_curve(bonafide_scores, spoof_scores))


def error_rates_at_threshold(bonafide_scores, spoof_scores, threshold: float, inclusive: bool = False):
    """``(frr, far)`` at a fixed threshold.

    A trial is accepted as bona fide iff ``score > threshold`` (``inclusive=False``, the rule of
    :func:`compute_det_curve`, so the EER threshold reproduces the EER point when scores are not
    tied) or ``score >= threshold`` (``inclusive=True``, the rule of the official ASV error rates).
    """
    bona = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    t = float(threshold)
    if math.isnan(t):
        raise MetricInputError("threshold: is NaN")
    if inclusive:
        return float(np.mean(bona < t)), float(np.mean(spoof >= t))
    return float(np.mean(bona <= t)), float(np.mean(spoof > t))


# ----------------------------------------------------------------------------------------------
# t-DCF
# ----------------------------------------------------------------------------------------------


def asv_error_rates(target_scores, nontarget_scores, spoof_scores, threshold: float):
    """``(Pfa_asv, Pmiss_asv, Pmiss_spoof_asv)`` of an ASV system at ``threshold`` (accept iff score >= threshold)."""
    tar = _as_scores(target_scores, "asv_target")
    non = _as_scores(nontarget_scores, "asv_nontarget")
    spf = _as_scores(spoof_scores, "asv_spoof")
    t = float(threshold)
    return float(np.mean(non >= t)), float(np.mean(tar < t)), float(np.mean(spf < t))


def _cost_model(cost_model: Mapping[str, float] | None) -> dict[str, float]:
    model = dict(DEFAULT_COST_MODEL)
    if cost_model is not None:
        unknown = set(cost_model) - set(model)
        if unknown:
            raise MetricInputError(
                f"cost_model: unknown keys {sorted(unknown)}; known keys are {sorted(model)}"
            )
        model.update({k: float(v) for k, v in cost_model.items()})
    for k, v in model.items():
        if not math.isfinite(v) or v < 0:
            raise MetricInputError(f"cost_model: {k} must be a finite non-negative number, got {v}")
    total = model["Ptar"] + model["Pnon"] + model["Pspoof"]
    if abs(total - 1.0) > 1e-10:
        raise MetricInputError(
            f"cost_model: priors Ptar + Pnon + Pspoof must sum to 1, got {total!r} "
            f"(Ptar={model['Ptar']}, Pnon={model['Pnon']}, Pspoof={model['Pspoof']})"
        )
    return model


def _tdcf_coefficients(model, pmiss_asv, pfa_asv, pmiss_spoof_asv, version: str) -> dict[str, float]:
    if version == "2019":
        c1 = model["Ptar"] * (model["Cmiss_cm"] - model["Cmiss_asv"] * pmiss_asv) - model["Pnon"] * model["Cfa_asv"] * pfa_asv
        c2 = model["Cfa_cm"] * model["Pspoof"] * (1.0 - pmiss_spoof_asv)
        coef = {"C1": c1, "C2": c2}
        default = min(c1, c2)
    elif version == "2021":
        c0 = model["Ptar"] * model["Cmiss"] * pmiss_asv + model["Pnon"] * model["Cfa"] * pfa_asv
        c1 = model["Ptar"] * model["Cmiss"] - c0
        c2 = model["Pspoof"] * model["Cfa_spoof"] * (1.0 - pmiss_spoof_asv)
        coef = {"C0": c0, "C1": c1, "C2": c2}
        default = c0 + min(c1, c2)
    else:
        raise MetricInputError(f"version: must be '2019' or '2021', got {version!r}")
    negative = {k: v for k, v in coef.items() if v < 0}
    if negative:
        raise MetricInputError(
            f"t-DCF weights {negative} are negative: the ASV error rates (Pmiss_asv={pmiss_asv}, "
            f"Pfa_asv={pfa_asv}) are too high for this cost model - check how they were computed"
        )
    if not default > 0:
        raise MetricInputError(
            f"t-DCF normalisation is zero (weights {coef}): with Pmiss_spoof_asv={pmiss_spoof_asv} the ASV "
            "already rejects every spoof (or the costs are zero), so the normalised t-DCF is undefined"
        )
    coef["default"] = default
    return coef


def _check_soft_scores(bona: np.ndarray, spoof: np.ndarray) -> None:
    if np.unique(np.concatenate((bona, spoof))).size < 3:
        raise MetricInputError(
            "CM scores: fewer than 3 distinct values - give soft scores, not hard decisions (as the official t-DCF requires)"
        )


def tdcf_curve(bonafide_cm, spoof_cm, pmiss_asv: float, pfa_asv: float, pmiss_spoof_asv: float,
               cost_model: Mapping[str, float] | None = None, version: str = "2019"):
    """Normalised t-DCF at every CM threshold of :func:`compute_det_curve`: ``(tdcf_norm, thresholds)``."""
    bona = _as_scores(bonafide_cm, "bonafide_cm")
    spoof = _as_scores(spoof_cm, "spoof_cm")
    _check_soft_scores(bona, spoof)
    model = _cost_model(cost_model)
    coef = _tdcf_coefficients(
        model, _rate(pmiss_asv, "pmiss_asv"), _rate(pfa_asv, "pfa_asv"), _rate(pmiss_spoof_asv, "pmiss_spoof_asv"), version
    )
    pmiss_cm, pfa_cm, thresholds = _det_curve(bona, spoof)
    tdcf = coef.get("C0", 0.0) + coef["C1"] * pmiss_cm + coef["C2"] * pfa_cm
    return tdcf / coef["default"], thresholds


@dataclass(frozen=True)
class TDCFResult:
    """Normalised minimum t-DCF and how it was obtained; ``float(result)`` is ``min_tdcf``."""

    min_tdcf: float
    cm_threshold: float
    version: str
    pmiss_asv: float
    pfa_asv: float
    pmiss_spoof_asv: float
    asv_threshold: float | None
    coefficients: dict = field(default_factory=dict)

    @property
    def pfa_spoof_asv(self) -> float:
        return 1.0 - self.pmiss_spoof_asv

    def __float__(self) -> float:
        return self.min_tdcf


def compute_min_tdcf(bonafide_cm, spoof_cm, *, pmiss_asv=None, pfa_asv=None, pmiss_spoof_asv=None,
                     asv_target=None, asv_nontarget=None, asv_spoof=None,
                     cost_model: Mapping[str, float] | None = None, version: str = "2019") -> TDCFResult:
    """Normalised min t-DCF of a CM in tandem with an ASV system.

    Give the ASV either as error rates (``pmiss_asv``, ``pfa_asv``, ``pmiss_spoof_asv``: the
    fraction of target trials rejected, of non-target trials accepted and of spoof trials
    rejected by the ASV) or as scores (``asv_target``, ``asv_nontarget``, ``asv_spoof``), in which
    case the ASV threshold is its EER threshold.  ``cost_model`` entries override
    :data:`DEFAULT_COST_MODEL`.  ``version`` is ``"2019"`` or ``"2021"`` (module docstring).
    """
    rates = (pmiss_asv, pfa_asv, pmiss_spoof_asv)
    asv = (asv_target, asv_nontarget, asv_spoof)
    have_rates = [r is not None for r in rates]
    have_scores = [s is not None for s in asv]
    if any(have_rates) and any(have_scores):
        raise MetricInputError("give the ASV either as error rates or as scores, not both")
    asv_threshold = None
    if any(have_scores):
        if not all(have_scores):
            raise MetricInputError("ASV scores: asv_target, asv_nontarget and asv_spoof are all required")
        tar = _as_scores(asv_target, "asv_target")
        non = _as_scores(asv_nontarget, "asv_nontarget")
        spf = _as_scores(asv_spoof, "asv_spoof")
        _, asv_threshold = _eer_from_curve(*_det_curve(tar, non))
        pfa_asv, pmiss_asv, pmiss_spoof_asv = asv_error_rates(tar, non, spf, asv_threshold)
    elif not all(have_rates):
        raise MetricInputError(
            "ASV: give pmiss_asv, pfa_asv and pmiss_spoof_asv, or asv_target, asv_nontarget and asv_spoof"
        )
    pmiss_asv = _rate(pmiss_asv, "pmiss_asv")
    pfa_asv = _rate(pfa_asv, "pfa_asv")
    pmiss_spoof_asv = _rate(pmiss_spoof_asv, "pmiss_spoof_asv")

    bona = _as_scores(bonafide_cm, "bonafide_cm")
    spoof = _as_scores(spoof_cm, "spoof_cm")
    _check_soft_scores(bona, spoof)
    model = _cost_model(cost_model)
    coef = _tdcf_coefficients(model, pmiss_asv, pfa_asv, pmiss_spoof_asv, version)
    pmiss_cm, pfa_cm, thresholds = _det_curve(bona, spoof)
    curve = (coef.get("C0", 0.0) + coef["C1"] * pmiss_cm + coef["C2"] * pfa_cm) / coef["default"]
    i = int(np.argmin(curve))
    return TDCFResult(
        min_tdcf=float(curve[i]),
        cm_threshold=float(thresholds[i]),
        version=version,
        pmiss_asv=pmiss_asv,
        pfa_asv=pfa_asv,
        pmiss_spoof_asv=pmiss_spoof_asv,
        asv_threshold=None if asv_threshold is None else float(asv_threshold),
        coefficients={k: float(v) for k, v in coef.items()},
    )


# ----------------------------------------------------------------------------------------------
# per-attack EER
# ----------------------------------------------------------------------------------------------


def per_attack_eer(scores, labels, attacks, pooled_key: str = "pooled") -> dict[str, float]:
    """EER of each attack's spoofs against *all* bona fide trials, plus the pooled EER.

    ``attacks`` holds one attack id per trial (e.g. ``A07`` ... ``A19``); entries of bona fide
    trials are ignored (ASVspoof writes ``-`` there).  Returns ``{attack: eer, ..., pooled_key:
    pooled_eer}`` with attacks in sorted order (as strings) and the pooled EER last.
    """
    s = _as_scores(scores, "scores")
    bona, spoof = split_scores(s, labels)
    is_bona = _as_labels(labels, s.size)
    att = np.asarray(attacks)
    if att.ndim != 1 or att.size != s.size:
        raise MetricInputError(f"attacks: expected {s.size} attack ids (one per score), got shape {att.shape}")
    spoof_attacks = att[~is_bona].astype(str)
    names = sorted(set(spoof_attacks.tolist()))
    if pooled_key in names:
        raise MetricInputError(f"attacks: an attack is named {pooled_key!r}; pass another pooled_key")
    out = {}
    for name in names:
        out[name] = _eer_from_curve(*_det_curve(bona, spoof[spoof_attacks == name]))[0]
    out[pooled_key] = _eer_from_curve(*_det_curve(bona, spoof))[0]
    return out


# ----------------------------------------------------------------------------------------------
# calibration: Cllr, min Cllr, DCF, thresholds, logistic calibration
# ----------------------------------------------------------------------------------------------


def cllr(bonafide_llr, spoof_llr) -> float:
    """Log-likelihood-ratio cost in bits (natural-log LLRs; 0 = perfect, 1 = an uninformative LLR of 0)::

        Cllr = 1/(2 ln 2) * ( mean_bona log(1 + exp(-llr)) + mean_spoof log(1 + exp(llr)) )
    """
    bona = _as_scores(bonafide_llr, "bonafide_llr")
    spoof = _as_scores(spoof_llr, "spoof_llr")
    return float((np.mean(np.logaddexp(0.0, -bona)) + np.mean(np.logaddexp(0.0, spoof))) / (2.0 * math.log(2.0)))


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted isotonic (non-decreasing) least-squares fit of ``y`` by pool-adjacent-violators."""
    values: list[float] = []
    weights: list[float] = []
    counts: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist()):
        values.append(yi)
        weights.append(wi)
        counts.append(1)
        while len(values) > 1 and values[-2] >= values[-1]:
            v2, w2, c2 = values.pop(), weights.pop(), counts.pop()
            wsum = weights[-1] + w2
            values[-1] = (values[-1] * weights[-1] + v2 * w2) / wsum
            weights[-1] = wsum
            counts[-1] += c2
    return np.repeat(np.asarray(values), counts)


def min_cllr(bonafide_scores, spoof_scores) -> float:
    """Cllr after the best monotonic (non-decreasing) mapping of the scores to LLRs, in bits.

    The mapping is PAV isotonic regression of the labels on the scores (tied scores pooled into one
    block, so they get the same LLR); the posteriors are turned into LLRs by removing the empirical
    prior.  Always ``min_cllr <= cllr`` of the same scores taken as LLRs, and ``<= 1``.
    """
    bona = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    pooled = np.concatenate((bona, spoof))
    is_bona = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    uniq, inverse = np.unique(pooled, return_inverse=True)
    n_bona = np.bincount(inverse, weights=is_bona, minlength=uniq.size)
    n_all = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    p = _pav(n_bona / n_all, n_all)  # posterior P(bona fide | block) at the empirical prior
    n_spoof = n_all - n_bona
    prior_odds = bona.size / spoof.size
    with np.errstate(divide="ignore", invalid="ignore"):
        # exp(-llr) = (1 - p) / p * prior_odds ; exp(llr) = p / (1 - p) / prior_odds
        cost_bona = np.where(n_bona > 0, np.log1p((1.0 - p) / p * prior_odds), 0.0)
        cost_spoof = np.where(n_spoof > 0, np.log1p(p / (1.0 - p) / prior_odds), 0.0)
    total = np.sum(n_bona * cost_bona) / bona.size + np.sum(n_spoof * cost_spoof) / spoof.size
    return float(total / (2.0 * math.log(2.0)))


def _dcf_params(p_target: float, c_miss: float, c_fa: float) -> None:
    if not (0.0 < p_target < 1.0):
        raise MetricInputError(f"p_target: must lie strictly between 0 and 1, got {p_target}")
    if not (c_miss > 0 and c_fa > 0 and math.isfinite(c_miss) and math.isfinite(c_fa)):
        raise MetricInputError(f"c_miss, c_fa: must be positive and finite, got {c_miss}, {c_fa}")


def actual_dcf(bonafide_llr, spoof_llr, p_target: float = 0.5, c_miss: float = 1.0, c_fa: float = 1.0,
               threshold: float | None = None, normalize: bool = True) -> float:
    """Detection cost at the Bayes decision threshold for LLR scores (or at ``threshold``).

    Bona fide iff ``llr >= threshold`` with ``threshold = log((1 - p_target) * c_fa / (p_target * c_miss))``::

        DCF = p_target * c_miss * Pmiss + (1 - p_target) * c_fa * Pfa
        normalised: DCF / min(p_target * c_miss, (1 - p_target) * c_fa)
    """
    _dcf_params(p_target, c_miss, c_fa)
    bona = _as_scores(bonafide_llr, "bonafide_llr")
    spoof = _as_scores(spoof_llr, "spoof_llr")
    t = math.log((1.0 - p_target) * c_fa / (p_target * c_miss)) if threshold is None else float(threshold)
    dcf = p_target * c_miss * np.mean(bona < t) + (1.0 - p_target) * c_fa * np.mean(spoof >= t)
    if normalize:
        dcf /= min(p_target * c_miss, (1.0 - p_target) * c_fa)
    return float(dcf)


def min_dcf(bonafide_scores, spoof_scores, p_target: float = 0.5, c_miss: float = 1.0, c_fa: float = 1.0,
            normalize: bool = True) -> tuple[float, float]:
    """Minimum DCF over the thresholds of :func:`compute_det_curve`: ``(min_dcf, threshold)``."""
    _dcf_params(p_target, c_miss, c_fa)
    frr, far, thresholds = compute_det_curve(bonafide_scores, spoof_scores)
    dcf = p_target * c_miss * frr + (1.0 - p_target) * c_fa * far
    if normalize:
        dcf = dcf / min(p_target * c_miss, (1.0 - p_target) * c_fa)
    i = int(np.argmin(dcf))
    return float(dcf[i]), float(thresholds[i])


@dataclass(frozen=True)
class ThresholdTransfer:
    """A threshold chosen on dev (at the dev EER) and the error rates it gives on dev and eval."""

    threshold: float
    dev_eer: float
    dev_frr: float
    dev_far: float
    eval_frr: float
    eval_far: float

    @property
    def eval_hter(self) -> float:
        """Half total error rate on eval, (FRR + FAR) / 2."""
        return (self.eval_frr + self.eval_far) / 2.0


def eer_threshold_on_dev(dev_bonafide, dev_spoof, eval_bonafide, eval_spoof) -> ThresholdTransfer:
    """Fix the threshold at the dev EER point and report false rejection/acceptance rates on eval.

    Decision rule: bona fide iff ``score > threshold`` (that of :func:`compute_det_curve`).
    """
    dev_b = _as_scores(dev_bonafide, "dev_bonafide")
    dev_s = _as_scores(dev_spoof, "dev_spoof")
    ev_b = _as_scores(eval_bonafide, "eval_bonafide")
    ev_s = _as_scores(eval_spoof, "eval_spoof")
    eer, thr = _eer_from_curve(*_det_curve(dev_b, dev_s))
    dev_frr, dev_far = error_rates_at_threshold(dev_b, dev_s, thr)
    ev_frr, ev_far = error_rates_at_threshold(ev_b, ev_s, thr)
    return ThresholdTransfer(thr, eer, dev_frr, dev_far, ev_frr, ev_far)


def fit_calibration(bonafide_scores, spoof_scores, prior: float = 0.5, l2: float = 0.0,
                    max_iter: int = 100, tol: float = 1e-9) -> tuple[float, float]:
    """Prior-weighted logistic regression (linear calibration) fitted on dev scores: returns ``(a, b)``.

    ``a * score + b`` is then a natural-log LLR.  The fit minimises the prior-weighted cross-entropy
    (Brümmer's FoCal / BOSARIS objective; at ``prior=0.5`` it is Cllr)::

        prior/N_bona * sum_bona log(1 + exp(-(a s + b + logit(prior))))
        + (1 - prior)/N_spoof * sum_spoof log(1 + exp(a s + b + logit(prior))) + l2/2 * a**2

    by Newton's method with a backtracking line search.  On perfectly separated dev scores the
    unregularised optimum is at infinity: a :class:`RuntimeWarning` says so (use ``l2 > 0`` to keep
    ``a`` finite); one is also issued if the fit has not converged after ``max_iter`` steps.
    """
    if not (0.0 < prior < 1.0):
        raise MetricInputError(f"prior: must lie strictly between 0 and 1, got {prior}")
    if l2 < 0 or not math.isfinite(l2):
        raise MetricInputError(f"l2: must be finite and >= 0, got {l2}")
    bona = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    s = np.concatenate((bona, spoof))
    y = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    w = np.concatenate((np.full(bona.size, prior / bona.size), np.full(spoof.size, (1.0 - prior) / spoof.size)))
    mu, sd = float(np.mean(s)), float(np.std(s))
    if sd == 0.0:
        raise MetricInputError("scores: all dev scores are equal, a calibration slope cannot be fitted")
    if l2 == 0.0 and (spoof.max() <= bona.min() or bona.max() <= spoof.min()):
        warnings.warn(
            "fit_calibration: the dev scores are perfectly separated, so the unregularised slope grows "
            "without bound (the result depends on max_iter); use l2 > 0",
            RuntimeWarning,
            stacklevel=2,
        )
    x = np.stack(((s - mu) / sd, np.ones_like(s)), axis=1)  # standardised for conditioning
    offset = math.log(prior / (1.0 - prior))
    reg = np.array([l2 / (sd * sd), 0.0])  # l2 * a**2 / 2 with a = a_std / sd

    def objective(theta):
        z = x @ theta + offset
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(reg * theta * theta))

    theta = np.zeros(2)
    value = objective(theta)
    converged = False
    for _ in range(max_iter):
        z = x @ theta + offset
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid
        grad = x.T @ (w * (sig - y)) + reg * theta
        if np.max(np.abs(grad)) < tol:
            converged = True
            break
        hess = (x * (w * sig * (1.0 - sig))[:, None]).T @ x + np.diag(reg)
        try:
            step = np.linalg.solve(hess + 1e-12 * np.eye(2), grad)
        except np.linalg.LinAlgError:
            step = grad
        t = 1.0
        while t > 1e-10:
            candidate = theta - t * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            t *= 0.5
        else:
            converged = np.max(np.abs(grad)) < 1e3 * tol
            break
        if abs(value - new_value) <= 1e-15 * max(1.0, abs(value)) and t * np.max(np.abs(step)) < 1e-12:
            theta, value = candidate, new_value
            converged = True
            break
        theta, value = candidate, new_value
    if not converged:
        warnings.warn(
            "fit_calibration: Newton iterations did not converge (perfectly separated dev scores?); "
            "the slope may be arbitrarily large - consider l2 > 0",
            RuntimeWarning,
            stacklevel=2,
        )
    a = theta[0] / sd
    b = theta[1] - theta[0] * mu / sd
    return float(a), float(b)


def apply_calibration(scores, a: float, b: float) -> np.ndarray:
    """``a * scores + b``: calibrated LLRs from raw scores with the parameters of :func:`fit_calibration`."""
    return a * _as_scores(scores, "scores", allow_empty=True) + b


# ----------------------------------------------------------------------------------------------
# bootstrap confidence interval, ROC AUC
# ----------------------------------------------------------------------------------------------


class BootstrapCI(NamedTuple):
    eer: float
    low: float
    high: float


def bootstrap_eer_ci(bonafide, spoof, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> BootstrapCI:
    """EER with a percentile bootstrap ``1 - alpha`` interval.

    Each replicate resamples the bona fide and the spoof scores independently, with replacement
    and at their original sizes (stratified bootstrap), and recomputes :func:`compute_eer`;
    ``low``/``high`` are the ``alpha/2`` and ``1 - alpha/2`` quantiles (linear interpolation) of
    the replicate EERs.  ``eer`` is the EER of the full data.  Deterministic for a given ``seed``.
    """
    if int(n) != n or n < 1:
        raise MetricInputError(f"n: must be a positive integer, got {n}")
    if not (0.0 < alpha < 1.0):
        raise MetricInputError(f"alpha: must lie strictly between 0 and 1, got {alpha}")
    bona = _as_scores(bonafide, "bonafide")
    spf = _as_scores(spoof, "spoof")
    eer = _eer_from_curve(*_det_curve(bona, spf))[0]
    rng = np.random.default_rng(seed)
    reps = np.empty(int(n))
    for k in range(int(n)):
        rb = bona[rng.integers(0, bona.size, bona.size)]
        rs = spf[rng.integers(0, spf.size, spf.size)]
        reps[k] = _eer_from_curve(*_det_curve(rb, rs))[0]
    low, high = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return BootstrapCI(float(eer), float(low), float(high))


def roc_auc(bonafide_scores, spoof_scores) -> float:
    """Area under the ROC curve = P(bona fide score > spoof score) + P(tie) / 2 (Mann-Whitney)."""
    bona = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = np.sort(_as_scores(spoof_scores, "spoof_scores"))
    below = np.searchsorted(spoof, bona, side="left")
    not_above = np.searchsorted(spoof, bona, side="right")
    wins = below.sum(dtype=np.float64) + 0.5 * (not_above - below).sum(dtype=np.float64)
    return float(wins / (bona.size * spoof.size))


# ----------------------------------------------------------------------------------------------
# reliability (calibration) curve
# ----------------------------------------------------------------------------------------------


def llr_to_posterior(llr, prior: float) -> np.ndarray:
    """P(bona fide | score) from natural-log LLRs at a bona fide prior: ``sigmoid(llr + logit(prior))``."""
    if not (0.0 < prior < 1.0):
        raise MetricInputError(f"prior: must lie strictly between 0 and 1, got {prior}")
    z = _as_scores(llr, "llr", allow_empty=True) + math.log(prior / (1.0 - prior))
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid


class ReliabilityCurve(NamedTuple):
    """Non-empty probability bins: edges, mean predicted and observed bona fide fraction, trial counts, ECE."""

    bin_low: np.ndarray
    bin_high: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float
    prior: float


def reliability_curve(bonafide_llr, spoof_llr, n_bins: int = 10, prior: float | None = None) -> ReliabilityCurve:
    """Reliability diagram of LLR scores: do the posteriors they imply match the observed frequencies?

    Each trial's posterior P(bona fide) is :func:`llr_to_posterior` at ``prior`` (default: the
    empirical bona fide fraction, the only prior at which observed frequencies are comparable);
    posteriors are put in ``n_bins`` equal-width bins on [0, 1] (the last bin includes 1) and, per
    non-empty bin, the mean posterior is set against the fraction of bona fide trials.  ``ece`` is
    the expected calibration error, ``sum(counts / N * |predicted - observed|)``.  For scores that
    are true LLRs both agree up to sampling noise.
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise MetricInputError(f"n_bins: must be a positive integer, got {n_bins}")
    bona = _as_scores(bonafide_llr, "bonafide_llr")
    spoof = _as_scores(spoof_llr, "spoof_llr")
    if prior is None:
        prior = bona.size / (bona.size + spoof.size)
    post = llr_to_posterior(np.concatenate((bona, spoof)), prior)
    is_bona = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    index = np.clip(np.searchsorted(edges, post, side="right") - 1, 0, int(n_bins) - 1)
    counts = np.bincount(index, minlength=int(n_bins))
    keep = counts > 0
    predicted = np.bincount(index, weights=post, minlength=int(n_bins))[keep] / counts[keep]
    observed = np.bincount(index, weights=is_bona, minlength=int(n_bins))[keep] / counts[keep]
    ece = float(np.sum(counts[keep] * np.abs(predicted - observed)) / post.size)
    return ReliabilityCurve(edges[:-1][keep], edges[1:][keep], predicted, observed, counts[keep], ece, float(prior))
