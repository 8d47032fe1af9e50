"""Plain layouts: a CSV ``path,label[,speaker,attack]`` or ``real/`` and ``fake/`` folders."""
from __future__ import annotations

import csv
import os

from .. import storage
from .base import BONAFIDE, SPOOF, CorpusNotFoundError, Listing, ProtocolReader, Utterance, find_audio, normalise_label


def read_csv(csv_path: str, split: str = "train", check_audio: bool = True) -> Listing:
    """Rows ``path,label[,speaker,attack]``; a header row is optional, relative paths are from the CSV's folder.

    The CSV and its paths may be URLs (gs://...): those are kept as written (see :mod:`tfdeepfake.storage`)."""
    base = storage.folder_of(csv_path)
    reader = ProtocolReader(check_audio)
    try:
        handle = storage.open_text(csv_path)
    except FileNotFoundError as error:
        raise CorpusNotFoundError(f"{csv_path}: CSV listing not found") from error
    with handle:
        for number, row in enumerate(csv.reader(handle), 1):
            where = f"{csv_path}:{number}"
            if not row or not "".join(row).strip():
                continue
            if number == 1 and row[0].strip().lower() == "path":
                continue
            if not 2 <= len(row) <= 4:
                reader.problem("malformed", where, f"expected 2-4 columns, got {len(row)}")
                continue
            path, raw_label, speaker, attack = (row + ["", ""])[:4]
            label = normalise_label(raw_label)
            if label is None:
                reader.problem("bad-label", where, raw_label)
                continue
            full = storage.resolve(path, base)
            attack = "-" if label == BONAFIDE else (attack.strip() or "unknown")
            reader.add(Utterance(_utt_id(path), full, label, attack, speaker.strip(), split), where)
    return reader.listing


def read_folders(root: str, split: str = "train") -> Listing:
    """``real/**`` is bona fide, ``fake/**`` spoof; a subfolder of fake/ names the attack."""
    reader = ProtocolReader(check_audio=False)
    for folder, label in (("real", BONAFIDE), ("fake", SPOOF)):
        top = os.path.join(root, folder)
        if not os.path.isdir(top):
            raise CorpusNotFoundError(f"{top}: expected real/ and fake/ folders under {root}")
        for path in find_audio(top):
            relative = os.path.relpath(path, top)
            parts = relative.split(os.sep)
            attack = "-" if label == BONAFIDE else (parts[0] if len(parts) > 1 else "unknown")
            reader.add(Utterance(f"{folder}/{_utt_id(relative)}", path, label, attack, "", split), path)
    return reader.listing


def _utt_id(path: str) -> str:
    return os.path.splitext(path.replace("\\", "/"))[0]
