"""A report from files: score file + protocol (+ ASV and dev scores) to the numbers, report.md, metrics.json, plots."""
from __future__ import annotations

import json
import os

from .. import metrics
from .markdown import render_markdown
from .measures import evaluate_trials
from .plots import write_plots
from .protocols import read_asv_scores, read_protocol
from .scores import read_score_file, write_asvspoof_scores
from .trials import Trials, join_scores, read_dev_trials


def evaluate_scores(scores: str, protocol: str | None = None, *, asv_scores: str | None = None,
                    dev_scores: str | None = None, dev_protocol: str | None = None, out_dir: str | None = None,
                    higher_is: str = "bonafide", subsets=None, allow_missing: bool = False,
                    allow_unmatched: bool = False, allow_duplicates: bool = False, n_bootstrap: int = 1000,
                    seed: int = 0, plots: bool = True, calibration_l2: float = 0.0) -> dict:
    """Evaluate a CM score file against a protocol; with ``out_dir``, write the report there too.

    Reads the files (:func:`read_score_file`, :func:`read_protocol`, :func:`read_asv_scores`), joins them
    (:func:`join_scores`; ``subsets`` and the ``allow_*`` flags apply to the eval scores, the dev scores are
    joined with ``dev_protocol`` or, without one, their own labels; ``higher_is`` applies to both), computes
    :func:`evaluate_trials` and, with ``out_dir``, writes :func:`write_outputs`.  Returns the metrics dict.
    """
    allow = {"allow_missing": allow_missing, "allow_unmatched": allow_unmatched, "allow_duplicates": allow_duplicates}
    score_file = read_score_file(scores, higher_is)
    trials = join_scores(score_file, read_protocol(protocol) if protocol else None, subsets=subsets, **allow)
    asv = read_asv_scores(asv_scores) if asv_scores else None
    dev = read_dev_trials(dev_scores, dev_protocol, higher_is, **allow)
    result = evaluate_trials(trials, asv=asv, dev=dev, n_bootstrap=n_bootstrap, seed=seed,
                             calibration_l2=calibration_l2)
    result["inputs"].update(score_format=score_file.format, higher_is=higher_is,
                            subsets=None if subsets is None else sorted(subsets))
    if out_dir is not None:
        write_outputs(out_dir, result, trials, plots=plots)
    return result


def write_outputs(out_dir: str, result: dict, trials: Trials, plots: bool = True) -> dict[str, str]:
    """Write ``metrics.json``, ``report.md``, ``scores.txt`` (ASVspoof format, higher = bona fide), with a
    dev calibration ``scores_calibrated.txt`` (LLRs), and the PNG plots; returns ``{name: path}``.

    The file names are also recorded in ``result["files"]`` (so ``metrics.json`` lists them).
    """
    os.makedirs(out_dir, exist_ok=True)
    written = {"scores": os.path.join(out_dir, "scores.txt")}
    write_asvspoof_scores(written["scores"], trials)
    calibrated = result.get("calibrated")
    if calibrated is not None:
        written["scores_calibrated"] = os.path.join(out_dir, "scores_calibrated.txt")
        write_asvspoof_scores(written["scores_calibrated"], trials,
                              metrics.apply_calibration(trials.score, calibrated["a"], calibrated["b"]))
    if plots:
        written.update(write_plots(out_dir, result, trials))
    result.setdefault("files", {}).update({k: os.path.basename(v) for k, v in written.items()})
    written["metrics"] = os.path.join(out_dir, "metrics.json")
    written["report"] = os.path.join(out_dir, "report.md")
    result["files"].update(metrics="metrics.json", report="report.md")
    with open(written["metrics"], "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, sort_keys=True, allow_nan=False)
        handle.write("\n")
    with open(written["report"], "w", encoding="utf-8") as handle:
        handle.write(render_markdown(result))
    return written
