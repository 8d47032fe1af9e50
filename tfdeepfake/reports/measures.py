"""The numbers of a report: EER with its interval, min t-DCF, Cllr, calibration, per-attack and per-factor tables."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from .. import metrics
from .protocols import AsvScores
from .trials import DECOMPOSITION, Trials


LEFT_OUT = {"missing": "protocol trials have no score and were left out (allowed)",
            "unmatched": "scored utterances are not in the protocol and were left out (allowed)",
            "duplicates": "repeated score lines were left out, the first score of each utterance kept (allowed)",
            "excluded_by_subset": "scored trials are outside the selected subsets and were left out",
            "unreadable": "files could not be read and were left out"}

RAW_CLLR_NOTE = ("Cllr, actDCF and the reliability curve read the raw scores as natural-log likelihood ratios "
                 "(bona fide vs spoof); model outputs rarely are, so raw Cllr can exceed 1 while min Cllr "
                 "(after the best monotonic mapping) shows what calibration could reach.")


def _tdcf(bona, spoof, asv: AsvScores, version: str, asv_spoof=None) -> dict:
    result = metrics.compute_min_tdcf(bona, spoof, asv_target=asv.target, asv_nontarget=asv.nontarget,
                                      asv_spoof=asv.spoof if asv_spoof is None else asv_spoof, version=version)
    return dataclasses.asdict(result)


def _calibration_block(bona: np.ndarray, spoof: np.ndarray, dcf: dict, n_bins: int) -> dict:
    curve = metrics.reliability_curve(bona, spoof, n_bins=n_bins)
    return {"cllr": metrics.cllr(bona, spoof), "act_dcf": metrics.actual_dcf(bona, spoof, **dcf),
            "ece": curve.ece, "reliability": {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
                                              for k, v in curve._asdict().items()}}


def _eer_or_none(bona: np.ndarray, spoof: np.ndarray):
    return metrics.compute_eer(bona, spoof)[0] if bona.size and spoof.size else None


def _decompose(trials: Trials) -> dict:
    """EER tables by the protocol's factors (:data:`DECOMPOSITION`) and spoof-only factor x codec."""
    spoof_only, shared = DECOMPOSITION[trials.kind]
    is_bona, is_spoof = trials.label == 1, trials.label == 0
    tables = {}
    for factor in spoof_only:
        if factor == "attack":
            continue  # the per-attack table, with t-DCF, is built separately
        values = trials.meta[factor]
        eers = metrics.per_attack_eer(trials.score, trials.label, values)
        eers.pop("pooled")
        tables[factor] = [{factor: v, "bonafide": int(is_bona.sum()), "spoof": int((is_spoof & (values == v)).sum()),
                           "eer": e} for v, e in eers.items()]
    for factor in shared:
        values = trials.meta[factor]
        tables[factor] = [{factor: v, "bonafide": int((is_bona & (values == v)).sum()),
                           "spoof": int((is_spoof & (values == v)).sum()),
                           "eer": _eer_or_none(trials.score[is_bona & (values == v)],
                                               trials.score[is_spoof & (values == v)])}
                          for v in sorted(set(values.tolist()))]
    if "codec" in shared:
        codecs = sorted(set(trials.meta["codec"].tolist()))
        for factor in spoof_only:
            values = trials.attack if factor == "attack" else trials.meta[factor]
            rows = sorted(set(values[is_spoof].tolist()))
            tables[f"{factor}_x_codec"] = {
                "rows": rows, "columns": codecs,
                "eer": [[_eer_or_none(trials.score[is_bona & (trials.meta["codec"] == c)],
                                      trials.score[is_spoof & (values == r) & (trials.meta["codec"] == c)])
                         for c in codecs] for r in rows]}
    return tables


def evaluate_trials(trials: Trials, *, asv: AsvScores | None = None, dev: Trials | None = None,
                    n_bootstrap: int = 1000, seed: int = 0, dcf: dict | None = None, n_bins: int = 10,
                    calibration_l2: float = 0.0) -> dict:
    """All metrics of joined trials as a JSON-ready dict (what ``metrics.json`` holds).

    EER with a stratified-bootstrap 95 % interval (``n_bootstrap`` replicates; 0 skips it), ROC AUC, min
    t-DCF 2019 and 2021 and per attack (with ``asv``), min Cllr, min DCF and — on the raw scores read as
    LLRs and, with ``dev``, after a logistic calibration fitted on the dev trials — Cllr, actual DCF and a
    reliability curve; per-attack EERs and, for 2021 keys, the codec / transmission / source / vocoder tables.
    ``dcf`` is the detection-cost operating point (default :data:`tfdeepfake.metrics.ASVSPOOF5_DCF`).
    """
    dcf = dict(metrics.ASVSPOOF5_DCF if dcf is None else dcf)
    bona, spoof = metrics.split_scores(trials.score, trials.label)  # raises unless both classes are present
    notes = []
    eer, threshold = metrics.compute_eer(bona, spoof)
    result = {"inputs": dict(trials.sources), "kind": trials.kind, "trials": dict(trials.counts),
              "examples": {k: v for k, v in trials.examples.items() if v},
              "eer": eer, "eer_percent": 100.0 * eer, "eer_threshold": threshold, "eer_ci95": None,
              "roc_auc": metrics.roc_auc(bona, spoof), "min_tdcf": None}
    if n_bootstrap:
        ci = metrics.bootstrap_eer_ci(bona, spoof, n=n_bootstrap, seed=seed)
        result["eer_ci95"] = {"low": ci.low, "high": ci.high, "n_bootstrap": int(n_bootstrap), "seed": int(seed)}
    if asv is not None:
        result["inputs"]["asv_scores"] = asv.path
        try:
            result["min_tdcf"] = {v: _tdcf(bona, spoof, asv, v) for v in ("2019", "2021")}
        except metrics.MetricInputError as exc:
            notes.append(f"min t-DCF not computed: {exc}")
    min_dcf, min_dcf_threshold = metrics.min_dcf(bona, spoof, **dcf)
    result.update(min_cllr=metrics.min_cllr(bona, spoof),
                  min_dcf={"value": min_dcf, "threshold": min_dcf_threshold},
                  dcf_operating_point=dcf, raw=_calibration_block(bona, spoof, dcf, n_bins), calibrated=None)
    result["raw"]["note"] = RAW_CLLR_NOTE
    if dev is not None:
        dev_bona, dev_spoof = metrics.split_scores(dev.score, dev.label)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            a, b = metrics.fit_calibration(dev_bona, dev_spoof, l2=calibration_l2)
        notes.extend(str(w.message) for w in caught)
        block = _calibration_block(metrics.apply_calibration(bona, a, b), metrics.apply_calibration(spoof, a, b),
                                   dcf, n_bins)
        block.update(a=a, b=b, l2=calibration_l2, dev=dict(dev.sources), dev_trials=dict(dev.counts),
                     dev_eer=metrics.compute_eer(dev_bona, dev_spoof)[0],
                     dev_cllr=metrics.cllr(metrics.apply_calibration(dev_bona, a, b),
                                           metrics.apply_calibration(dev_spoof, a, b)))
        result["calibrated"] = block
        if a <= 0:
            notes.append(f"the dev calibration slope is {a:.3g} <= 0: dev scores rank spoofs above bona fide")
    result["per_attack"] = _per_attack(trials, asv, notes)
    result["decomposition"] = _decompose(trials)
    for kind, text in LEFT_OUT.items():
        if trials.counts.get(kind):
            notes.append(f"{trials.counts[kind]} {text}")
    if asv is not None and trials.kind.startswith("asvspoof2021"):
        notes.append("2021 keys: the official 2021 package weighs each condition with its own ASV error rates; "
                     "here the given ASV scores are pooled over all trials")
    result["notes"] = notes
    return result


def _per_attack(trials: Trials, asv: AsvScores | None, notes: list) -> list[dict]:
    """EER (and min t-DCF with ASV scores) of each attack's spoofs against all bona fide trials."""
    eers = metrics.per_attack_eer(trials.score, trials.label, trials.attack)
    eers.pop("pooled")
    bona = trials.bonafide
    rows, pooled_asv = [], []
    for attack, eer in eers.items():
        spoof = trials.score[(trials.label == 0) & (trials.attack == attack)]
        row = {"attack": attack, "spoof": int(spoof.size), "eer": eer}
        if asv is not None:
            asv_spoof = asv.spoof_of(attack)
            if asv_spoof is None:
                pooled_asv.append(attack)
            for version in ("2019", "2021"):
                try:
                    row[f"min_tdcf_{version}"] = _tdcf(bona, spoof, asv, version, asv_spoof)["min_tdcf"]
                except metrics.MetricInputError as exc:
                    row[f"min_tdcf_{version}"] = None
                    notes.append(f"min t-DCF {version} of {attack} not computed: {exc}")
        rows.append(row)
    if pooled_asv:
        notes.append(f"the ASV score file names no spoof trials of {', '.join(pooled_asv)}: their min t-DCF "
                     "uses the ASV's pooled spoof scores")
    return rows
