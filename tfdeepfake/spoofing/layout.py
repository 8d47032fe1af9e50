"""The ASVspoof 2019 LA layout every corpus writer of tfdeepfake uses, so one reader reads them all.

    OUT/ASVspoof2019_LA_{train,dev,eval}/flac/UTT.flac
    OUT/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt   SPEAKER UTT - ATTACK LABEL

Clips and metadata are written under a temporary name and renamed, so a build stopped half-way never leaves a
truncated file that looks finished (:func:`tfdeepfake.corpora.read_asvspoof2019` reads the result).
"""
from __future__ import annotations

import json
import os

import numpy as np
import soundfile as sf

SPLIT_FILES = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}
PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"


def prepare(out: str) -> None:
    """Create the three split folders and the protocol folder under ``out``."""
    for split in SPLIT_FILES:
        os.makedirs(os.path.join(out, f"ASVspoof2019_LA_{split}", "flac"), exist_ok=True)
    os.makedirs(os.path.join(out, PROTOCOL_DIR), exist_ok=True)


def remove_partial(out: str) -> int:
    """Delete the half-written clips a stopped build left (``.UTT.flac.part``); returns how many."""
    removed = 0
    for split in SPLIT_FILES:
        folder = os.path.join(out, f"ASVspoof2019_LA_{split}", "flac")
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.startswith(".") and name.endswith(".part"):
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed


def clip_path(out: str, split: str, utt_id: str) -> str:
    return os.path.join(out, f"ASVspoof2019_LA_{split}", "flac", f"{utt_id}.flac")


def protocol_path(out: str, split: str) -> str:
    return os.path.join(out, PROTOCOL_DIR, f"ASVspoof2019.LA.cm.{SPLIT_FILES[split]}.txt")


def write_clip(path: str, samples: np.ndarray, rate: int) -> None:
    """16-bit FLAC at ``path``, written as ``.path.part`` first and renamed when complete."""
    folder, name = os.path.split(path)
    partial = os.path.join(folder, f".{name}.part")
    sf.write(partial, samples, rate, subtype="PCM_16", format="FLAC")
    os.replace(partial, path)


def write_text(path: str, text: str) -> None:
    """``text`` into ``path`` through a temporary file and a rename."""
    partial = f"{path}.part"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def write_json(path: str, data) -> None:
    write_text(path, json.dumps(data, indent=1))


def protocol_line(speaker: str, utt_id: str, attack: str) -> str:
    """One 2019 LA protocol line; ``attack`` ``"-"`` is bona fide."""
    return f"{speaker} {utt_id} - {attack} {'bonafide' if attack == '-' else 'spoof'}"


def write_protocols(out: str, rows) -> None:
    """The three protocol files from ``(split, speaker, utt_id, attack)`` rows (a split without rows gets an
    empty file, so the reader sees a built split with nothing in it rather than a missing one)."""
    lines = {split: [] for split in SPLIT_FILES}
    for split, speaker, utt_id, attack in rows:
        lines[split].append(protocol_line(speaker, utt_id, attack))
    for split, split_lines in lines.items():
        write_text(protocol_path(out, split), "\n".join(split_lines) + ("\n" if split_lines else ""))
