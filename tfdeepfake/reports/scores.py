"""Score files: read any CM score file (ASVspoof 4-column, 2-column, or CSV) with every problem named; write one."""
from __future__ import annotations

import csv
import itertools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..corpora.base import BONAFIDE, SPOOF, UNKNOWN, normalise_label
from ..errors import TfDeepfakeError

if TYPE_CHECKING:
    from .trials import Trials


HIGHER_IS = ("bonafide", "spoof")
LABEL_IDS = {BONAFIDE: 1, SPOOF: 0}
EXAMPLES = 5  # how many offending utterances an error message or report names



class ScoreFileError(TfDeepfakeError, ValueError):
    """A score, protocol or ASV score file that cannot be read; the message names the file and line."""


class ScoreFileNotFoundError(TfDeepfakeError, FileNotFoundError):
    """A score, protocol or ASV score file that does not exist."""


class ScoreMatchError(TfDeepfakeError, ValueError):
    """Scores and protocol disagree: missing, duplicate, unmatched or contradicting utterances (with counts)."""


def numbered_lines(path: str):
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


def parse_number(text: str, where: str, what: str) -> float:
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
    lines = numbered_lines(path)
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
        scores.append(parse_number(cols[layout["score"]], where, "score"))
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
