"""Protocols and ASV scores: the ASVspoof 2019 LA/PA protocols, the 2021 LA/DF keys and the official ASV scores."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..corpora.asvspoof import add_2019_lines, read_asvspoof2021
from ..corpora.base import SPOOF, Listing, ProtocolReader, Utterance
from .scores import EXAMPLES, ScoreFileError, numbered_lines, parse_number


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
    add_2019_lines(reader, ((f"{path}:{number}", text.split()) for number, text in numbered_lines(path)), "", None)
    return reader.listing


def read_protocol(path: str) -> Protocol:
    """Read an ASVspoof CM protocol or key file; the layout is told by its column count.

    5 columns: 2019 LA/PA (``SPEAKER UTT - ATTACK LABEL``); 8: 2021 LA keys; 13: 2021 DF keys (read by
    :func:`tfdeepfake.corpora.read_asvspoof2021`).  Any malformed, unlabelled or duplicate line is an error
    naming ``file:line``.  A trial list without labels (one column) cannot be evaluated and is refused.
    """
    first = next(numbered_lines(path), None)
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
    for number, text in numbered_lines(path):
        where, cols = f"{path}:{number}", text.split()
        if len(cols) != 3:
            raise ScoreFileError(f"{where}: expected 3 columns (SOURCE TYPE SCORE), got {len(cols)}")
        source, kind, score = cols
        kind = kind.lower()
        if kind not in groups:
            raise ScoreFileError(f"{where}: trial type {cols[1]!r} is not target, nontarget or spoof")
        groups[kind].append(parse_number(score, where, "score"))
        if kind == "spoof":
            spoof_attack.append("spoof" if source.lower() == SPOOF else source)
    empty = [k for k, v in groups.items() if not v]
    if empty:
        raise ScoreFileError(f"{path}: no {' / '.join(empty)} trials; min t-DCF needs target, nontarget and spoof")
    return AsvScores(path, *(np.asarray(groups[k], dtype=np.float64) for k in ("target", "nontarget", "spoof")),
                     spoof_attack=np.asarray(spoof_attack))
