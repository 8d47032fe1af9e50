"""A bundle's decision rule: the logistic calibration of the aggregated logit to P(spoof), the threshold on it, and
the dev measurements that set them."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..errors import BundleError


@dataclass(frozen=True)
class Calibration:
    """Logistic calibration of the aggregated logit: ``P(spoof) = 1 / (1 + exp(a * logit + b))``.

    ``a * logit + b`` is the calibrated bona fide log-likelihood ratio (:func:`tfdeepfake.metrics.fit_calibration`
    on dev scores); the probability assumes a bona fide prior of ``prior``. ``a=1, b=0`` is the identity:
    ``sigmoid(-logit)``, the model's own output convention.
    """

    a: float = 1.0
    b: float = 0.0
    prior: float = 0.5
    fitted_on: str = "identity: not calibrated"
    l2: float = 0.0

    def __post_init__(self):
        for key in ("a", "b", "prior", "l2"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BundleError(f"calibration.{key}: a finite number, got {value!r}")
            object.__setattr__(self, key, float(value))
        if not 0.0 < self.prior < 1.0:
            raise BundleError(f"calibration.prior: strictly between 0 and 1, got {self.prior}")

    @classmethod
    def fit(cls, bonafide_logits, spoof_logits, prior: float = 0.5) -> Calibration:
        """Fit on dev logits; perfectly separated scores get a small L2 penalty so ``a`` stays finite."""
        bona, spoof = np.asarray(bonafide_logits, np.float64), np.asarray(spoof_logits, np.float64)
        separated = bona.size and spoof.size and (spoof.max() < bona.min() or bona.max() < spoof.min())
        l2 = 1e-2 if separated else 0.0
        a, b = metrics.fit_calibration(bona, spoof, prior=prior, l2=l2)
        return cls(a, b, prior, f"logistic regression on {bona.size:,} bona fide and {spoof.size:,} spoof dev "
                                f"logits (prior {prior:g}{', L2 1e-2: separated scores' if separated else ''})",
                   l2)

    def llr(self, logits) -> np.ndarray:
        return metrics.apply_calibration(np.atleast_1d(np.asarray(logits, np.float64)), self.a, self.b)

    def spoof_probability(self, logits) -> np.ndarray:
        """P(spoof) for each logit; computed as exp(-log(1 + e^llr)) so it never overflows."""
        return np.exp(-np.logaddexp(0.0, self.llr(logits)))

    def logit_for(self, spoof_probability: float) -> float:
        """The logit whose calibrated P(spoof) is ``spoof_probability`` (needs ``a != 0``)."""
        if self.a == 0.0:
            raise BundleError("calibration.a: 0 maps every logit to one probability")
        return (math.log(1.0 / spoof_probability - 1.0) - self.b) / self.a


@dataclass(frozen=True)
class Threshold:
    """Decision rule on the calibrated probability: 'spoof' when ``P(spoof) >= spoof_probability``."""

    spoof_probability: float = 0.5
    source: str = "argmax: P(spoof) 0.5, i.e. bona fide iff the logit is above 0"
    logit: float | None = 0.0  # the raw logit it corresponds to, where known

    def __post_init__(self):
        p = self.spoof_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p < 1.0:
            raise BundleError(f"threshold.spoof_probability: strictly between 0 and 1, got {p!r}")
        object.__setattr__(self, "spoof_probability", float(p))

    def decide(self, spoof_probability: float) -> str:
        return "spoof" if spoof_probability >= self.spoof_probability else "bonafide"


def calibrate_on_dev(bonafide_logits, spoof_logits, prior: float = 0.5) -> tuple[Calibration, Threshold]:
    """Calibration fitted on dev logits and the threshold at the dev EER point, mapped onto P(spoof).

    The EER threshold ``t`` of :func:`tfdeepfake.metrics.compute_eer` accepts bona fide iff ``logit > t``; with
    ``a > 0`` that is ``P(spoof) < p(t)``, so deciding 'spoof' at ``P(spoof) >= p(t)`` reproduces the EER point.
    """
    calibration = Calibration.fit(bonafide_logits, spoof_logits, prior)
    eer, t = metrics.compute_eer(bonafide_logits, spoof_logits)
    p = float(np.clip(calibration.spoof_probability(t)[0], 1e-12, 1.0 - 1e-12))
    note = "" if calibration.a > 0 else " (calibration slope <= 0: the model ranks dev spoofs above bona fide)"
    return calibration, Threshold(p, f"dev EER point ({100 * eer:.2f}% EER at logit {t:.6g}){note}", float(t))


def measured(bonafide_logits, spoof_logits, n_bootstrap: int = 1000, seed: int = 0,
             threshold_logit: float | None = None) -> dict:
    """EER with a bootstrap 95% interval (and the error rates at a dev threshold when given), as plain data."""
    bona, spoof = np.asarray(bonafide_logits, np.float64), np.asarray(spoof_logits, np.float64)
    if bona.size == 0 or spoof.size == 0:
        return {"bonafide": int(bona.size), "spoof": int(spoof.size),
                "note": "needs both bona fide and spoof to measure an EER"}
    ci = metrics.bootstrap_eer_ci(bona, spoof, n=n_bootstrap, seed=seed)
    _, eer_threshold = metrics.compute_eer(bona, spoof)
    result = {"bonafide": int(bona.size), "spoof": int(spoof.size), "eer": ci.eer, "eer_ci95": [ci.low, ci.high],
              "bootstrap": {"replicates": int(n_bootstrap), "seed": int(seed)}, "eer_threshold_logit": eer_threshold}
    if threshold_logit is not None:
        frr, far = metrics.error_rates_at_threshold(bona, spoof, threshold_logit)
        result["at_dev_threshold"] = {"logit": float(threshold_logit), "frr": frr, "far": far}
    return result
