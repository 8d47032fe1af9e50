"""In-the-Wild (Müller et al. 2022): ``meta.csv`` with columns file,speaker,label and the clips beside it."""
from __future__ import annotations

import csv
import os

from .base import BONAFIDE, CorpusError, CorpusNotFoundError, Listing, ProtocolReader, Utterance, normalise_label


def read_in_the_wild(root: str, meta: str | None = None, check_audio: bool = True) -> Listing:
    """Every row of meta.csv; the whole corpus is one ``eval`` split (it is meant for testing)."""
    meta = meta or os.path.join(root, "meta.csv")
    if not os.path.isfile(meta):
        raise CorpusNotFoundError(f"{meta}: In-the-Wild meta.csv not found")
    reader = ProtocolReader(check_audio)
    with open(meta, newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        missing = {"file", "speaker", "label"} - set(rows.fieldnames or [])
        if missing:
            raise CorpusError(f"{meta}: missing columns {sorted(missing)} (expected file,speaker,label)")
        for number, row in enumerate(rows, 2):
            where = f"{meta}:{number}"
            label = normalise_label(row["label"] or "")
            if not row["file"] or label is None:
                reader.problem("malformed" if not row["file"] else "bad-label", where, str(row))
                continue
            utt_id = os.path.splitext(row["file"])[0]
            reader.add(Utterance(utt_id, os.path.join(root, row["file"]), label,
                                 "-" if label == BONAFIDE else "in-the-wild", row["speaker"].strip(), "eval"), where)
    return reader.listing
