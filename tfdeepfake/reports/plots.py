"""The report's figures: DET, ROC, score histograms and the reliability curve."""
from __future__ import annotations

import math
import os

import numpy as np

from .. import metrics
from .trials import Trials


DET_TICKS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
MAX_CURVES = 20  # per-attack DET curves beyond this many would be unreadable: only the pooled one is drawn


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out_dir: str, name: str) -> str:
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _corners(frr: np.ndarray, far: np.ndarray):
    """The DET staircase reduced to its corners: the same polyline with far fewer points."""
    bona_step = np.diff(frr) > 0
    turns = np.flatnonzero(bona_step[1:] != bona_step[:-1]) + 1
    keep = np.unique(np.concatenate(([0], turns, [frr.size - 1])))
    return frr[keep], far[keep]


def _attack_curves(trials: Trials, result: dict):
    bona = trials.bonafide
    curves = [("pooled", bona, trials.spoof)]
    if len(result["per_attack"]) <= MAX_CURVES:
        curves += [(r["attack"], bona, trials.score[(trials.label == 0) & (trials.attack == r["attack"])])
                   for r in result["per_attack"]]
    return curves


def plot_det(out_dir: str, result: dict, trials: Trials) -> str:
    """``det.png``: DET curves (pooled and per attack) on normal-deviate axes, the EER point marked."""
    from scipy.special import ndtri

    fig = _figure(6.5, 5.5)
    ax = fig.add_subplot()
    floor = 0.5 / max(trials.counts["bonafide"], trials.counts["spoof"])
    for k, (name, bona, spoof) in enumerate(_attack_curves(trials, result)):
        frr, far = _corners(*metrics.compute_det_curve(bona, spoof)[:2])
        ax.plot(ndtri(np.clip(far, floor, 1 - floor)), ndtri(np.clip(frr, floor, 1 - floor)),
                lw=2.2 if k == 0 else 0.9, color="k" if k == 0 else f"C{(k - 1) % 10}",
                ls="-" if k <= 10 else "--", label=f"{name} ({100 * metrics.compute_eer(bona, spoof)[0]:.2f}%)")
    eer = max(result["eer"], floor)
    ax.plot([ndtri(eer)], [ndtri(eer)], "o", color="k", ms=5)
    lo, hi = ndtri(max(floor, DET_TICKS[0])), ndtri(0.5)
    ax.plot([lo, hi], [lo, hi], color="0.8", lw=0.8, zorder=0)
    ticks = [t for t in DET_TICKS if lo <= ndtri(t) <= hi]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(ndtri(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("false acceptance rate: spoofs accepted (%)")
    ax.set_ylabel("false rejection rate: bona fide rejected (%)")
    ax.set_title("DET curve (EER in legend)")
    ax.grid(True, color="0.9")
    ax.legend(fontsize=7, loc="upper right", ncol=2 if len(ax.lines) > 12 else 1)
    return _save(fig, out_dir, "det.png")


def plot_roc(out_dir: str, result: dict, trials: Trials) -> str:
    """``roc.png``: ROC curve (bona fide accepted vs spoofs accepted) with the AUC."""
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    frr, far = _corners(*metrics.compute_det_curve(trials.bonafide, trials.spoof)[:2])
    ax.plot(far, 1.0 - frr, color="k", lw=2, label=f"AUC {result['roc_auc']:.6f}")
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    ax.set_xlabel("spoofs accepted (false acceptance rate)")
    ax.set_ylabel("bona fide accepted (1 - false rejection rate)")
    ax.set_title("ROC")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    return _save(fig, out_dir, "roc.png")


def plot_histograms(out_dir: str, result: dict, trials: Trials) -> str:
    """``histograms.png``: one panel per attack, its score density over that of the bona fide trials."""
    panels = [("all spoofs", trials.spoof, result["eer"])] + [
        (r["attack"], trials.score[(trials.label == 0) & (trials.attack == r["attack"])], r["eer"])
        for r in result["per_attack"]]
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = _figure(3.2 * cols, 2.4 * rows)
    low, high = np.quantile(trials.score, [0.001, 0.999])
    edges = np.linspace(low, high if high > low else low + 1.0, 61)
    bona = np.clip(trials.bonafide, edges[0], edges[-1])
    for k, (name, spoof, eer) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.hist(bona, bins=edges, density=True, color="0.7", label="bona fide")
        ax.hist(np.clip(spoof, edges[0], edges[-1]), bins=edges, density=True, histtype="step", color="C3", lw=1.2,
                label="spoof")
        ax.axvline(result["eer_threshold"], color="k", lw=0.6, ls=":")
        ax.set_title(f"{name}: EER {100 * eer:.2f}%", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    return _save(fig, out_dir, "histograms.png")


def plot_calibration(out_dir: str, result: dict, trials: Trials) -> str:
    """``calibration.png``: reliability curve of the raw scores read as LLRs (and of the dev-calibrated ones)."""
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, label="perfect calibration")
    for name, block, style in (("raw scores as LLRs", result["raw"], "o-"),
                               ("dev-calibrated", result["calibrated"], "s-")):
        if block is not None:
            curve = block["reliability"]
            ax.plot(curve["predicted"], curve["observed"], style, ms=4, label=f"{name} (ECE {block['ece']:.3f}, "
                    f"Cllr {block['cllr']:.3f})")
    prior = result["raw"]["reliability"]["prior"]
    ax.set_xlabel(f"predicted P(bona fide) at the eval prior {prior:.3f}")
    ax.set_ylabel("observed bona fide fraction")
    ax.set_title("Reliability (calibration) curve")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, out_dir, "calibration.png")


def write_plots(out_dir: str, result: dict, trials: Trials) -> dict[str, str]:
    """All four plots as PNG files in ``out_dir``: ``{name: path}``."""
    return {"det_plot": plot_det(out_dir, result, trials), "roc_plot": plot_roc(out_dir, result, trials),
            "histograms_plot": plot_histograms(out_dir, result, trials),
            "calibration_plot": plot_calibration(out_dir, result, trials)}
