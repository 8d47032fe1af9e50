"""Evaluate countermeasure score files against ASVspoof protocols: read (:mod:`.scores`, :mod:`.protocols`), join
(:mod:`.trials`), measure (:mod:`.measures`) and report (:mod:`.files`, :mod:`.markdown`, :mod:`.plots`).

The score-file half of ``tfdeepfake evaluate``: any CM score file (``UTT ATTACK KEY SCORE`` as the ASVspoof
packages write it, ``UTT SCORE`` as challenge submissions are, or the CSV ``utt_id,attack,label,score`` of
:func:`tfdeepfake.evaluate.write_scores`) is joined with a protocol (ASVspoof 2019 LA/PA, 2021 LA/DF keys)
and, optionally, the official ASV scores (for min t-DCF) and a dev score file (for calibration); the numbers
come from :mod:`tfdeepfake.metrics`, so they are those of the official ASVspoof tools.
A model's own scores on a corpus (``tfdeepfake evaluate --model``) become the same :class:`Trials` through
:func:`corpus_trials`, with the labels and factors of the corpus reader.

After reading, a **higher score means more bona fide** (``higher_is="spoof"`` files are negated on reading).
Problems are never silently dropped: malformed lines raise :class:`ScoreFileError` naming ``file:line``,
and missing, duplicate, unmatched or contradicting utterances raise :class:`ScoreMatchError` with counts
unless the caller allows them, in which case the counts go into the report.
"""
from .files import evaluate_scores, write_outputs
from .markdown import render_markdown
from .measures import evaluate_trials
from .plots import plot_calibration, plot_det, plot_histograms, plot_roc, write_plots
from .protocols import AsvScores, Protocol, read_asv_scores, read_protocol
from .scores import (EXAMPLES, HIGHER_IS, ScoreFile, ScoreFileError, ScoreFileNotFoundError, ScoreMatchError,
                     read_score_file, write_asvspoof_scores)
from .trials import DECOMPOSITION, Trials, corpus_kind, corpus_trials, join_scores, read_dev_trials

__all__ = [
    "ScoreFileError", "ScoreFileNotFoundError", "ScoreMatchError", "HIGHER_IS", "EXAMPLES", "DECOMPOSITION",
    "ScoreFile", "read_score_file", "write_asvspoof_scores",
    "Protocol", "read_protocol", "AsvScores", "read_asv_scores",
    "Trials", "join_scores", "corpus_kind", "corpus_trials", "read_dev_trials", "evaluate_trials", "evaluate_scores",
    "write_outputs", "render_markdown",
    "write_plots", "plot_det", "plot_roc", "plot_histograms", "plot_calibration",
]
