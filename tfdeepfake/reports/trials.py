"""Trials: scores joined with their labels and factors (from a protocol, the score file itself, or a corpus)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..corpora.base import SPOOF, UNKNOWN, Utterance
from .protocols import Protocol, read_protocol
from .scores import EXAMPLES, LABEL_IDS, ScoreFile, ScoreFileError, ScoreMatchError, read_score_file


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
