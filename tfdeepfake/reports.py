"""Evaluate countermeasure score files against ASVspoof protocols: read, join, measure and report.

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
from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .corpora.asvspoof import add_2019_lines, read_asvspoof2021
from .corpora.base import BONAFIDE, SPOOF, UNKNOWN, Listing, ProtocolReader, Utterance, normalise_label
from .errors import TfDeepfakeError

__all__ = [
    "ScoreFileError", "ScoreFileNotFoundError", "ScoreMatchError", "HIGHER_IS",
    "ScoreFile", "read_score_file", "write_asvspoof_scores",
    "Protocol", "read_protocol", "AsvScores", "read_asv_scores",
    "Trials", "join_scores", "corpus_kind", "corpus_trials", "read_dev_trials", "evaluate_trials", "evaluate_scores",
    "write_outputs", "render_markdown",
    "write_plots", "plot_det", "plot_roc", "plot_histograms", "plot_calibration",
]

HIGHER_IS = ("bonafide", "spoof")
LABEL_IDS = {BONAFIDE: 1, SPOOF: 0}
EXAMPLES = 5  # how many offending utterances an error message or report names

#: protocol kind -> (factors that describe spoofs only, factors every trial has).  As in the ASVspoof 2021
#: package, a spoof-only factor value is scored against *all* bona fide trials, a shared one against the bona
#: fide trials with the same value, and each spoof-only factor is crossed with the codec.
DECOMPOSITION = {
    "asvspoof2019": (("attack",), ()),
    "asvspoof2021-la": (("attack",), ("codec", "transmission")),
    "asvspoof2021-df": (("attack", "vocoder"), ("codec", "source")),
    "score-file-labels": (("attack",), ()),
    "corpus-labels": (("attack",), ()),
}
#: corpus reader (``tfdeepfake.corpora.READERS``) -> protocol kind of its labels; any other reader: corpus-labels
CORPUS_KINDS = {"asvspoof2019-la": "asvspoof2019", "asvspoof2019-pa": "asvspoof2019",
                "asvspoof2021-la": "asvspoof2021-la", "asvspoof2021-df": "asvspoof2021-df"}


class ScoreFileError(TfDeepfakeError, ValueError):
    """A score, protocol or ASV score file that cannot be read; the message names the file and line."""


class ScoreFileNotFoundError(TfDeepfakeError, FileNotFoundError):
    """A score, protocol or ASV score file that does not exist."""


class ScoreMatchError(TfDeepfakeError, ValueError):
    """Scores and protocol disagree: missing, duplicate, unmatched or contradicting utterances (with counts)."""


def _lines(path: str):
    """``(line number, stripped text)`` of the non-blank lines not starting with ``#``; a UTF-8 BOM is ignored."""
    if not os.path.isfile(path):
        raise ScoreFileNotFoundError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if text and not text.startswith("#"):
                    yield number, text
    except UnicodeDecodeError as exc:
        raise ScoreFileError(f"{path}: not a UTF-8 text file ({exc})") from exc


def _number(text: str, where: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScoreFileError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ScoreFileError(f"{where}: {what} is {text} (scores must be finite)")
    return value


def _label(text: str, where: str) -> str:
    label = UNKNOWN if text.strip().lower() == UNKNOWN else normalise_label(text)
    if label is None:
        raise ScoreFileError(f"{where}: label {text!r} is neither bonafide nor spoof")
    return label


# ----------------------------------------------------------------------------------------------
# CM score files
# ----------------------------------------------------------------------------------------------

#: whitespace-separated layouts by column count: (format name, column names)
WHITESPACE_FORMATS = {2: ("utt-score", ("utt_id", "score")),
                      4: ("asvspoof", ("utt_id", "attack", "label", "score"))}
#: CSV header spellings accepted for each column
CSV_COLUMNS = {"utt_id": ("utt_id", "utt", "utterance", "trial", "file", "filename"),
               "score": ("score", "cm_score", "cm-score", "llr", "logit"),
               "attack": ("attack", "attack_id", "system"),
               "label": ("label", "key")}


@dataclass(frozen=True)
class ScoreFile:
    """The lines of one CM score file, in file order (duplicates kept), scores oriented higher = bona fide.

    ``attack``/``label`` are None when the format has no such column; ``label`` holds ``bonafide``, ``spoof``
    or ``unknown`` and ``attack`` is ``-`` on bona fide lines.
    """

    path: str
    format: str
    utt_id: np.ndarray
    score: np.ndarray
    line: np.ndarray
    attack: np.ndarray | None = None
    label: np.ndarray | None = None
    higher_is: str = "bonafide"

    def __len__(self) -> int:
        return int(self.utt_id.size)


def _check_higher_is(higher_is: str) -> None:
    if higher_is not in HIGHER_IS:
        raise ScoreFileError(f"higher_is: must be one of {HIGHER_IS}, got {higher_is!r}")


def _csv_layout(path: str, number: int, text: str) -> dict[str, int]:
    header = [h.strip().lower() for h in next(csv.reader([text]))]
    layout = {}
    for column, spellings in CSV_COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in spellings]
        if found:
            layout[column] = found[0]
    if "utt_id" not in layout or "score" not in layout:
        raise ScoreFileError(
            f"{path}:{number}: a CSV score file needs a header naming the utterance and score columns "
            f"(e.g. utt_id,attack,label,score), got {text!r}")
    layout["width"] = len(header)
    return layout


def read_score_file(path: str, higher_is: str = "bonafide") -> ScoreFile:
    """Read a CM score file in any of the supported layouts (detected from its first line).

    * ``UTT ATTACK KEY SCORE`` (ASVspoof packages, RawGAT-ST/AASIST score dumps),
    * ``UTT SCORE`` (ASVspoof 2019/2021 submissions),
    * CSV with a header naming at least the utterance and score columns (``utt_id,attack,label,score``).

    Whitespace may be spaces or tabs; blank lines and ``#`` comments are skipped.  ``higher_is="spoof"``
    negates the scores so that, as everywhere else, higher means bona fide.
    """
    _check_higher_is(higher_is)
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise ScoreFileError(f"{path}: no scores (the file is empty)")
    if "," in first[1]:
        layout = _csv_layout(path, *first)
        fmt, width, split, rows = "csv", layout.pop("width"), _split_csv, lines
    else:
        width = len(first[1].split())
        if width not in WHITESPACE_FORMATS:
            raise ScoreFileError(
                f"{path}:{first[0]}: expected 2 columns (UTT SCORE) or 4 (UTT ATTACK KEY SCORE), got {width}; "
                "a CSV score file needs a header line")
        fmt, names = WHITESPACE_FORMATS[width]
        layout = {name: i for i, name in enumerate(names)}
        split, rows = str.split, itertools.chain([first], lines)
    utts, scores, numbers, attacks, labels = [], [], [], [], []
    for number, text in rows:
        where = f"{path}:{number}"
        cols = [c.strip() for c in split(text)]
        if len(cols) != width:
            raise ScoreFileError(f"{where}: expected {width} columns like the first line ({fmt}), got {len(cols)}")
        utt = cols[layout["utt_id"]]
        if not utt:
            raise ScoreFileError(f"{where}: empty utterance id")
        utts.append(utt)
        scores.append(_number(cols[layout["score"]], where, "score"))
        numbers.append(number)
        label = _label(cols[layout["label"]], where) if "label" in layout else None
        labels.append(label)
        if "attack" in layout:
            attacks.append("-" if label == BONAFIDE or not cols[layout["attack"]] else cols[layout["attack"]])
    if not utts:
        raise ScoreFileError(f"{path}: no scores below the header")
    score = np.asarray(scores, dtype=np.float64)
    return ScoreFile(
        path=path, format=fmt, utt_id=np.asarray(utts), score=-score if higher_is == "spoof" else score,
        line=np.asarray(numbers), attack=np.asarray(attacks) if "attack" in layout else None,
        label=np.asarray(labels) if "label" in layout else None, higher_is=higher_is)


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text]))


def write_asvspoof_scores(path: str, trials: "Trials", scores: np.ndarray | None = None) -> None:
    """Write ``UTT ATTACK KEY SCORE`` lines (higher = bona fide; scores written losslessly) for ``trials``.

    ``scores`` replaces the trials' own scores (e.g. calibrated LLRs) when given.
    """
    values = trials.score if scores is None else np.asarray(scores, dtype=np.float64)
    keys = np.where(trials.label == 1, BONAFIDE, SPOOF)
    with open(path, "w", encoding="utf-8") as handle:
        for utt, attack, key, score in zip(trials.utt_id.tolist(), trials.attack.tolist(), keys.tolist(),
                                           values.tolist()):
            handle.write(f"{utt} {attack} {key} {score!r}\n")


# ----------------------------------------------------------------------------------------------
# protocols
# ----------------------------------------------------------------------------------------------

#: protocol kind by the column count of its lines
PROTOCOL_COLUMNS = {5: "asvspoof2019", 8: "asvspoof2021-la", 13: "asvspoof2021-df"}


@dataclass(frozen=True)
class Protocol:
    """The labelled trials of a protocol by utterance id, and which layout it had."""

    path: str
    kind: str
    utterances: dict[str, Utterance]

    def __len__(self) -> int:
        return len(self.utterances)


def _read_2019(path: str) -> Listing:
    """``SPEAKER UTT ENV|- ATTACK|- LABEL`` lines (2019 LA/PA) of a protocol file of any name."""
    reader = ProtocolReader(check_audio=False)
    add_2019_lines(reader, ((f"{path}:{number}", text.split()) for number, text in _lines(path)), "", None)
    return reader.listing


def read_protocol(path: str) -> Protocol:
    """Read an ASVspoof CM protocol or key file; the layout is told by its column count.

    5 columns: 2019 LA/PA (``SPEAKER UTT - ATTACK LABEL``); 8: 2021 LA keys; 13: 2021 DF keys (read by
    :func:`tfdeepfake.corpora.read_asvspoof2021`).  Any malformed, unlabelled or duplicate line is an error
    naming ``file:line``.  A trial list without labels (one column) cannot be evaluated and is refused.
    """
    first = next(_lines(path), None)
    if first is None:
        raise ScoreFileError(f"{path}: the protocol is empty")
    width = len(first[1].split())
    if width == 1:
        raise ScoreFileError(f"{path}:{first[0]}: a trial list without labels; give the keys "
                             "(e.g. keys/LA/CM/trial_metadata.txt)")
    if width not in PROTOCOL_COLUMNS:
        raise ScoreFileError(f"{path}:{first[0]}: {width} columns is no known protocol layout (5: ASVspoof 2019, "
                             "8: 2021 LA keys, 13: 2021 DF keys)")
    kind = PROTOCOL_COLUMNS[width]
    if kind == "asvspoof2019":
        listing = _read_2019(path)
    else:
        listing = read_asvspoof2021(os.path.dirname(path) or ".", track=kind[-2:].upper(), keys=path,
                                    check_audio=False)
    if listing.problems:
        raise ScoreFileError(f"{path}: {len(listing.problems)} unusable protocol lines\n{listing.report(EXAMPLES)}")
    if not listing.utterances:
        raise ScoreFileError(f"{path}: no trials")
    return Protocol(path, kind, {u.utt_id: u for u in listing.utterances})


# ----------------------------------------------------------------------------------------------
# ASV scores
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsvScores:
    """ASV scores by trial type; ``spoof_attack`` gives each spoof score's attack (``spoof`` when unnamed)."""

    path: str
    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray
    spoof_attack: np.ndarray

    def spoof_of(self, attack: str) -> np.ndarray | None:
        """The spoof scores of one attack, or None when the file does not name that attack."""
        chosen = self.spoof[self.spoof_attack == attack]
        return chosen if chosen.size else None


def read_asv_scores(path: str) -> AsvScores:
    """Official ASVspoof 2019 ASV scores: ``SOURCE TYPE SCORE`` per line.

    TYPE is ``target``, ``nontarget`` or ``spoof``; SOURCE is ``bonafide`` or, on spoof lines, the attack id
    (A07 ... A19), which lets per-attack min t-DCF use that attack's ASV spoof scores.
    """
    groups: dict[str, list[float]] = {"target": [], "nontarget": [], "spoof": []}
    spoof_attack = []
    for number, text in _lines(path):
        where, cols = f"{path}:{number}", text.split()
        if len(cols) != 3:
            raise ScoreFileError(f"{where}: expected 3 columns (SOURCE TYPE SCORE), got {len(cols)}")
        source, kind, score = cols
        kind = kind.lower()
        if kind not in groups:
            raise ScoreFileError(f"{where}: trial type {cols[1]!r} is not target, nontarget or spoof")
        groups[kind].append(_number(score, where, "score"))
        if kind == "spoof":
            spoof_attack.append("spoof" if source.lower() == SPOOF else source)
    empty = [k for k, v in groups.items() if not v]
    if empty:
        raise ScoreFileError(f"{path}: no {' / '.join(empty)} trials; min t-DCF needs target, nontarget and spoof")
    return AsvScores(path, *(np.asarray(groups[k], dtype=np.float64) for k in ("target", "nontarget", "spoof")),
                     spoof_attack=np.asarray(spoof_attack))


# ----------------------------------------------------------------------------------------------
# joining scores with a protocol
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trials:
    """Scored, labelled trials ready for metrics (score-file order; higher = bona fide).

    ``label`` is 1 (bona fide) / 0 (spoof), ``attack`` is ``-`` for bona fide, ``meta`` holds the factor
    columns of :data:`DECOMPOSITION` for ``kind`` (e.g. codec, transmission); ``counts`` and ``examples``
    say what the join met (missing, unmatched, duplicates, excluded by subset).
    """

    utt_id: np.ndarray
    score: np.ndarray
    label: np.ndarray
    attack: np.ndarray
    kind: str
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)

    @property
    def bonafide(self) -> np.ndarray:
        return self.score[self.label == 1]

    @property
    def spoof(self) -> np.ndarray:
        return self.score[self.label == 0]


def _factor_value(u: Utterance, factor: str) -> str:
    if factor == "vocoder":  # read_asvspoof2021 keeps DF's vocoder column in condition as "TRIM VOCODER"
        return u.condition.split()[-1] if u.condition else ""
    return getattr(u, factor)


def join_scores(scores: ScoreFile, protocol: Protocol | None = None, *, subsets=None, allow_missing: bool = False,
                allow_unmatched: bool = False, allow_duplicates: bool = False) -> Trials:
    """Pair each scored utterance with its protocol entry.

    Without a protocol the score file's own labels are used (it must have them).  ``subsets`` keeps only
    2021 key trials of those subsets (``eval`` is what published EERs use); scores of other subsets are
    counted as excluded, not unmatched.  Missing (protocol trials without a score), unmatched (scores of
    utterances not in the protocol) and duplicate (an utterance scored twice; the first line is kept)
    utterances raise :class:`ScoreMatchError` with their counts unless allowed; a score file whose own label
    or attack contradicts the protocol always does.
    """
    if protocol is None and subsets is not None:
        raise ScoreMatchError(f"{scores.path}: subsets {sorted(subsets)} need a protocol (2021 keys) to select by")
    first_line: dict[str, int] = {}
    keep, duplicates = [], []
    for i, (utt, number) in enumerate(zip(scores.utt_id.tolist(), scores.line.tolist())):
        if utt in first_line:
            duplicates.append(f"{utt} (line {number}, first at line {first_line[utt]})")
        else:
            first_line[utt] = number
            keep.append(i)
    counts = {"score_lines": len(scores), "duplicates": len(duplicates)}
    examples = {"duplicates": duplicates[:EXAMPLES]}
    problems = []
    if duplicates and not allow_duplicates:
        problems.append(f"{len(duplicates)} utterances scored more than once (e.g. {', '.join(duplicates[:EXAMPLES])})")
    keep = np.asarray(keep, dtype=np.int64)
    if protocol is None:
        if scores.label is None:
            raise ScoreMatchError(f"{scores.path}: the {scores.format} format has no labels; give a protocol")
        labels = scores.label[keep]
        unknown = np.flatnonzero(labels == UNKNOWN)
        if unknown.size:
            raise ScoreMatchError(f"{scores.path}: {unknown.size} lines are labelled unknown (first at line "
                                  f"{scores.line[keep[unknown[0]]]}); give a protocol with their labels")
        if problems:
            raise ScoreMatchError(f"{scores.path}: " + "; ".join(problems))
        label = np.array([LABEL_IDS[x] for x in labels.tolist()], dtype=np.int64)
        attack = scores.attack[keep] if scores.attack is not None else np.where(label == 1, "-", SPOOF)
        counts.update(evaluated=int(keep.size), bonafide=int(label.sum()), spoof=int((label == 0).sum()))
        return Trials(scores.utt_id[keep], scores.score[keep], label, attack, "score-file-labels", {}, counts,
                      examples, {"scores": scores.path, "protocol": None})

    entries = protocol.utterances
    subsets = None if subsets is None else set(subsets)
    if subsets is not None:
        present = {u.split for u in entries.values()}
        absent = sorted(subsets - present)
        if absent:
            raise ScoreMatchError(f"{protocol.path}: subsets {absent} do not occur in the protocol "
                                  f"(it has {sorted(s for s in present if s) or 'no subset column'})")

    def wanted(entry: Utterance) -> bool:
        return subsets is None or entry.split in subsets

    matched, unmatched, excluded, conflicts = [], [], 0, []
    for i in keep.tolist():
        utt = str(scores.utt_id[i])
        entry = entries.get(utt)
        if entry is None:
            unmatched.append(f"{utt} (line {scores.line[i]})")
            continue
        if not wanted(entry):
            excluded += 1
            continue
        own_label = None if scores.label is None else scores.label[i]
        if own_label is not None and own_label != UNKNOWN and own_label != entry.label:
            conflicts.append(f"{utt} (line {scores.line[i]}: {own_label}, protocol: {entry.label})")
        elif (scores.attack is not None and entry.label == SPOOF and own_label == SPOOF
              and scores.attack[i] not in ("-", entry.attack)):
            conflicts.append(f"{utt} (line {scores.line[i]}: {scores.attack[i]}, protocol: {entry.attack})")
        matched.append((i, entry))
    missing = [u for u, e in entries.items() if wanted(e) and u not in first_line]
    counts.update(protocol_trials=len(entries), unmatched=len(unmatched), missing=len(missing),
                  excluded_by_subset=excluded)
    examples.update(unmatched=unmatched[:EXAMPLES], missing=missing[:EXAMPLES])
    if missing and not allow_missing:
        problems.append(f"{len(missing)} protocol trials have no score (e.g. {', '.join(missing[:EXAMPLES])})")
    if unmatched and not allow_unmatched:
        problems.append(f"{len(unmatched)} scored utterances are not in the protocol "
                        f"(e.g. {', '.join(unmatched[:EXAMPLES])})")
    if conflicts:
        problems.append(f"{len(conflicts)} score lines contradict the protocol's label or attack "
                        f"(e.g. {', '.join(conflicts[:EXAMPLES])}): is it the right protocol?")
    if problems:
        hint = "" if conflicts else " (allow them, --allow-missing / --allow-unmatched / --allow-duplicates, to " \
            "evaluate the rest)"
        raise ScoreMatchError(f"{scores.path} with {protocol.path}: " + "; ".join(problems) + hint)
    if not matched:
        raise ScoreMatchError(f"{scores.path} with {protocol.path}: no scored trial left to evaluate")
    rows = np.asarray([i for i, _ in matched], dtype=np.int64)
    utterances = [e for _, e in matched]
    label = np.asarray([e.label_id for e in utterances], dtype=np.int64)
    spoof_only, shared = DECOMPOSITION[protocol.kind]
    meta = {f: np.asarray([_factor_value(e, f) for e in utterances]) for f in spoof_only + shared if f != "attack"}
    counts.update(evaluated=int(rows.size), bonafide=int(label.sum()), spoof=int((label == 0).sum()))
    return Trials(scores.utt_id[rows], scores.score[rows], label, np.asarray([e.attack for e in utterances]),
                  protocol.kind, meta, counts, examples, {"scores": scores.path, "protocol": protocol.path})


def corpus_kind(dataset: str | None) -> str:
    """The protocol kind (:data:`DECOMPOSITION` key) of a corpus reader's labels."""
    return CORPUS_KINDS.get(dataset or "", "corpus-labels")


def corpus_trials(utterances, scores, kind: str, sources: dict, counts: dict | None = None,
                  examples: dict | None = None) -> Trials:
    """Trials from labelled corpus utterances (labels, attacks and factors from the reader) and their scores.

    ``counts`` and ``examples`` (e.g. unreadable files) are added to the join's own; an unlabelled utterance is
    a :class:`ScoreMatchError`.
    """
    utterances = list(utterances)
    unknown = [u.utt_id for u in utterances if u.label_id < 0]
    if unknown:
        raise ScoreMatchError(f"{sources.get('data')}: {len(unknown)} utterances have no label (e.g. "
                              f"{', '.join(unknown[:EXAMPLES])}); give the keys")
    if not utterances:
        raise ScoreMatchError(f"{sources.get('data')}: no scored utterance left to evaluate")
    label = np.asarray([u.label_id for u in utterances], dtype=np.int64)
    spoof_only, shared = DECOMPOSITION[kind]
    meta = {f: np.asarray([_factor_value(u, f) for u in utterances]) for f in spoof_only + shared if f != "attack"}
    counts = {**(counts or {}), "evaluated": len(utterances), "bonafide": int(label.sum()),
              "spoof": int((label == 0).sum())}
    return Trials(np.asarray([u.utt_id for u in utterances]), np.asarray(scores, dtype=np.float64), label,
                  np.asarray([u.attack for u in utterances]), kind, meta, counts, dict(examples or {}), dict(sources))


def read_dev_trials(dev_scores: str | None, dev_protocol: str | None, higher_is: str = "bonafide",
                    **allow) -> Trials | None:
    """The dev score file joined with its protocol (or its own labels) for calibration; None without one."""
    if dev_scores:
        return join_scores(read_score_file(dev_scores, higher_is),
                           read_protocol(dev_protocol) if dev_protocol else None, **allow)
    if dev_protocol:
        raise ScoreFileError(f"{dev_protocol}: a dev protocol was given without dev scores")
    return None


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------

#: what the notes say about trials the join was allowed to leave out
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


# ----------------------------------------------------------------------------------------------
# files in, report out
# ----------------------------------------------------------------------------------------------


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


def _pct(value) -> str:
    return "–" if value is None else f"{100.0 * value:.4f}"


def _num(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def render_markdown(result: dict) -> str:
    """``report.md``: the metrics dict of :func:`evaluate_trials` as Markdown tables (EER in %)."""
    inputs, trials = result["inputs"], result["trials"]
    lines = ["# Countermeasure evaluation", ""]
    if inputs.get("model"):
        lines += [f"- model: `{inputs['model']}` ({inputs.get('model_id')}): {inputs.get('input_rule')}",
                  f"- data: {inputs.get('data')} ({result['kind']}); scored with {inputs.get('scoring')}"]
    else:
        lines += [f"- scores: `{inputs.get('scores')}` ({inputs.get('score_format', '?')}, higher is "
                  f"{inputs.get('higher_is', 'bonafide')} in the file)",
                  f"- protocol: `{inputs.get('protocol')}` ({result['kind']})"]
    for key, name in (("asv_scores", "ASV scores"), ("subsets", "subsets")):
        if inputs.get(key):
            lines.append(f"- {name}: `{inputs[key]}`")
    lines += ["", "## Trials", ""]
    lines += _table(list(trials), [[str(v) for v in trials.values()]])
    for kind, shown in result.get("examples", {}).items():
        lines.append(f"\n{kind} e.g.: " + ", ".join(f"`{s}`" for s in shown))
    ci = result["eer_ci95"]
    ci_text = "–" if ci is None else f"{100 * ci['low']:.4f} – {100 * ci['high']:.4f} (n={ci['n_bootstrap']})"
    tdcf = result["min_tdcf"] or {}
    rows = [["EER (%)", _pct(result["eer"])], ["EER 95% CI (%, bootstrap)", ci_text],
            ["EER threshold", _num(result["eer_threshold"], 6)],
            ["min t-DCF (2019)", _num(tdcf.get("2019", {}).get("min_tdcf"))],
            ["min t-DCF (2021)", _num(tdcf.get("2021", {}).get("min_tdcf"))],
            ["ROC AUC", _num(result["roc_auc"], 6)], ["min Cllr (bits)", _num(result["min_cllr"])],
            ["min DCF", _num(result["min_dcf"]["value"])],
            ["Cllr, raw scores as LLRs (bits)", _num(result["raw"]["cllr"])],
            ["actDCF, raw scores as LLRs", _num(result["raw"]["act_dcf"])]]
    cal = result["calibrated"]
    if cal is not None:
        rows += [["Cllr, dev-calibrated (bits)", _num(cal["cllr"])], ["actDCF, dev-calibrated", _num(cal["act_dcf"])]]
    lines += ["", "## Summary", ""] + _table(["metric", "value"], rows)
    op = result["dcf_operating_point"]
    lines += ["", f"DCF operating point: bona fide prior {op['p_target']}, Cmiss {op['c_miss']}, Cfa {op['c_fa']} "
              "(ASVspoof 5 by default). " + result["raw"]["note"]]
    if cal is not None:
        lines.append(f"Calibration: llr = {cal['a']:.6g} * score + {cal['b']:.6g}, fitted (logistic regression) on "
                     f"`{cal['dev'].get('scores')}` ({cal['dev_trials'].get('evaluated')} trials, dev EER "
                     f"{_pct(cal['dev_eer'])} %, dev Cllr {_num(cal['dev_cllr'])}).")
    if tdcf:
        t19 = tdcf["2019"]
        lines.append(f"ASV at its EER threshold {t19['asv_threshold']:.6g}: Pmiss_asv {t19['pmiss_asv']:.6f}, "
                     f"Pfa_asv {t19['pfa_asv']:.6f}, Pmiss_spoof_asv {t19['pmiss_spoof_asv']:.6f}.")
    per_attack = result["per_attack"]
    headers = ["attack", "spoof trials", "EER (%)"]
    with_tdcf = bool(per_attack) and "min_tdcf_2019" in per_attack[0]
    if with_tdcf:
        headers += ["min t-DCF 2019", "min t-DCF 2021"]
    rows = [[r["attack"], r["spoof"], _pct(r["eer"])] + ([_num(r["min_tdcf_2019"]), _num(r["min_tdcf_2021"])]
                                                          if with_tdcf else []) for r in per_attack]
    lines += ["", "## Per attack (each attack's spoofs against all bona fide trials)", ""] + _table(headers, rows)
    for name, table in result["decomposition"].items():
        lines += ["", f"## EER (%) by {name.replace('_x_', ' × ')}", ""]
        if isinstance(table, dict):
            lines += _table([name.split("_x_")[0] + " \\ codec"] + table["columns"],
                            [[r] + [_pct(v) for v in vals] for r, vals in zip(table["rows"], table["eer"])])
        else:
            lines += _table([name, "bona fide trials", "spoof trials", "EER (%)"],
                            [[r[name], r["bonafide"], r["spoof"], _pct(r["eer"])] for r in table])
    pictures = [(k, v) for k, v in result.get("files", {}).items() if v.endswith(".png")]
    if pictures:
        lines += ["", "## Plots", ""] + [f"![{k}]({v})" for k, v in pictures]
    if result["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# plots (matplotlib's Agg canvas, no pyplot: the caller's backend is left alone)
# ----------------------------------------------------------------------------------------------

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
