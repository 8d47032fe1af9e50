"""The one record type every corpus reader returns, and the report of protocol lines it could not use."""
from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field

from ..audio import AUDIO_SUFFIXES
from ..errors import TfDeepfakeError
from ..storage import is_url

BONAFIDE = "bonafide"
SPOOF = "spoof"
UNKNOWN = "unknown"  # eval trial lists shipped without keys
LABEL_IDS = {BONAFIDE: 1, SPOOF: 0, UNKNOWN: -1}


class CorpusError(TfDeepfakeError, ValueError):
    """A corpus that cannot be read as asked: a missing protocol or folder, a file without the needed columns."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """A protocol file or corpus folder that does not exist."""


@dataclass(frozen=True)
class Utterance:
    """One audio file with its labels. ``attack`` is ``-`` for bona fide speech (ASVspoof convention)."""

    utt_id: str
    path: str
    label: str
    attack: str
    speaker: str
    split: str
    codec: str = ""
    transmission: str = ""
    condition: str = ""
    source: str = ""
    group: str = ""  # what must stay inside one fold; the speaker unless the reader knows better

    def __post_init__(self):
        if self.label not in LABEL_IDS:
            raise ValueError(f"{self.utt_id}: label must be one of {sorted(LABEL_IDS)}, got {self.label!r}")

    @property
    def label_id(self) -> int:
        return LABEL_IDS[self.label]

    @property
    def fold_group(self) -> str:
        return self.group or self.speaker or self.utt_id


METADATA_FIELDS = tuple(f.name for f in dataclasses.fields(Utterance))


@dataclass(frozen=True)
class Problem:
    """A protocol line or file that was not turned into an :class:`Utterance`."""

    kind: str  # malformed | duplicate | missing-audio | bad-label
    where: str  # "file:line" or a path
    detail: str


@dataclass
class Listing:
    """What a reader returns: usable utterances plus every problem it met (never silently dropped)."""

    utterances: list[Utterance] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: "Listing") -> None:
        self.utterances.extend(other.utterances)
        self.problems.extend(other.problems)

    def report(self, examples: int = 3) -> str:
        """One line per problem kind: its count and the first few examples."""
        if not self.problems:
            return "no protocol problems"
        lines = []
        for kind, count in sorted(Counter(p.kind for p in self.problems).items()):
            first = [f"{p.where} ({p.detail})" for p in self.problems if p.kind == kind][:examples]
            lines.append(f"{count} {kind}: " + "; ".join(first))
        return "\n".join(lines)


class ProtocolReader:
    """Collects utterances from protocol lines, reporting malformed, duplicate and missing-audio lines.

    Only local audio paths are checked here; a URL (gs://...) is not looked up file by file (a network round
    trip each), so a missing one is reported by the builder as a failed file instead.
    """

    def __init__(self, check_audio: bool = True):
        self.check_audio = check_audio
        self.listing = Listing()
        self._seen: dict[str, str] = {}

    def problem(self, kind: str, where: str, detail: str) -> None:
        self.listing.problems.append(Problem(kind, where, detail))

    def add(self, utterance: Utterance, where: str) -> None:
        if utterance.utt_id in self._seen:
            self.problem("duplicate", where, f"{utterance.utt_id} already at {self._seen[utterance.utt_id]}")
            return
        self._seen[utterance.utt_id] = where
        if self.check_audio and not is_url(utterance.path) and not os.path.exists(utterance.path):
            self.problem("missing-audio", where, utterance.path)
            return
        self.listing.utterances.append(utterance)


def normalise_label(raw: str) -> str | None:
    """Map the label spellings corpora use onto bonafide / spoof; None when unrecognised."""
    value = raw.strip().lower()
    if value in {"bonafide", "bona-fide", "bona_fide", "real", "genuine", "human", "1", "true"}:
        return BONAFIDE
    if value in {"spoof", "fake", "synthetic", "deepfake", "0", "false"}:
        return SPOOF
    return None


def find_audio(folder: str) -> list[str]:
    """Every audio file below ``folder``, sorted so readers are deterministic."""
    found = []
    for directory, _, names in os.walk(folder):
        found.extend(os.path.join(directory, n) for n in names if n.lower().endswith(AUDIO_SUFFIXES))
    return sorted(found)
