"""ASVspoof 2019 (LA, PA) and 2021 (LA, DF) protocol readers, in the layouts the datasets ship.

2019:  ROOT/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
       ROOT/ASVspoof2019_LA_{train,dev,eval}/flac/UTT.flac            (PA likewise)
2021:  ROOT/ASVspoof2021_LA_eval/flac/UTT.flac with either the keys (keys/LA/CM/trial_metadata.txt)
       or the trial list without labels (ASVspoof2021_LA_eval/ASVspoof2021.LA.cm.eval.trl.txt).
``ROOT`` may also be the folder above ``LA/`` / ``PA/``.
"""
from __future__ import annotations

import os

from .base import BONAFIDE, UNKNOWN, CorpusNotFoundError, Listing, ProtocolReader, Utterance, normalise_label

SPLIT_SUFFIX_2019 = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def _access_root(root: str, access: str) -> str:
    nested = os.path.join(root, access)
    return nested if os.path.isdir(nested) else root


def _read_lines(path: str):
    if not os.path.isfile(path):
        raise CorpusNotFoundError(f"{path}: protocol file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield f"{path}:{number}", line.split()


def read_asvspoof2019(root: str, access: str = "LA", splits=("train", "dev", "eval"),
                      protocol_dir: str | None = None, check_audio: bool = True,
                      require_all: bool = True) -> Listing:
    """ASVspoof 2019 LA or PA: ``SPEAKER UTT ENV|- ATTACK|- LABEL`` per line.

    ``require_all=False``: a split whose protocol file is absent (many copies hold only train/dev, or only dev)
    is reported as a ``missing-split`` problem and the others are read; no split at all is still an error."""
    access = access.upper()
    if access not in ("LA", "PA"):
        raise ValueError(f"access must be LA or PA, got {access!r}")
    base = _access_root(root, access)
    protocol_dir = protocol_dir or os.path.join(base, f"ASVspoof2019_{access}_cm_protocols")
    reader, missing = ProtocolReader(check_audio), []
    for split in splits:
        if split not in SPLIT_SUFFIX_2019:
            raise ValueError(f"unknown ASVspoof 2019 split {split!r}; choose from {list(SPLIT_SUFFIX_2019)}")
        protocol = os.path.join(protocol_dir, f"ASVspoof2019.{access}.cm.{SPLIT_SUFFIX_2019[split]}.txt")
        audio_dir = os.path.join(base, f"ASVspoof2019_{access}_{split}", "flac")
        if not require_all and not os.path.isfile(protocol):
            reader.problem("missing-split", protocol, f"no {split} protocol: split {split} not built")
            missing.append(split)
            continue
        add_2019_lines(reader, _read_lines(protocol), split, audio_dir)
    if len(missing) == len(splits):
        raise CorpusNotFoundError(f"{protocol_dir}: none of the {access} protocols for {list(splits)} exists")
    return reader.listing


def add_2019_lines(reader: ProtocolReader, lines, split: str, audio_dir: str | None) -> None:
    """``(where, columns)`` of 2019 LA/PA protocol lines (``SPEAKER UTT ENV|- ATTACK|- LABEL``) into ``reader``;
    ``audio_dir`` None leaves the paths empty (a protocol read for its labels only)."""
    for where, cols in lines:
        if len(cols) != 5:
            reader.problem("malformed", where, f"expected 5 columns (SPEAKER UTT - ATTACK LABEL), got {len(cols)}")
            continue
        speaker, utt, environment, attack, raw_label = cols
        label = normalise_label(raw_label)
        if label is None:
            reader.problem("bad-label", where, raw_label)
            continue
        reader.add(Utterance(
            utt_id=utt, path="" if audio_dir is None else os.path.join(audio_dir, utt + ".flac"), label=label,
            attack="-" if label == BONAFIDE else attack, speaker=speaker, split=split,
            condition="" if environment == "-" else environment,
        ), where)


def read_asvspoof2021(root: str, track: str = "LA", keys: str | None = None,
                      check_audio: bool = True, subsets=None) -> Listing:
    """ASVspoof 2021 LA or DF eval. With keys, labels/attacks/codecs come from trial_metadata.txt;
    without keys the trial list gives ids only and labels are ``unknown``. ``subsets`` filters the keys'
    last column (``eval`` is what published EERs use; ``progress``, ``hidden_track``)."""
    track = track.upper()
    if track not in ("LA", "DF"):
        raise ValueError(f"track must be LA or DF, got {track!r}")
    base = _access_root(root, track)
    audio_dir = os.path.join(base, f"ASVspoof2021_{track}_eval", "flac")
    keys = keys or _first_existing(os.path.join(root, "keys", track, "CM", "trial_metadata.txt"),
                                   os.path.join(base, "keys", "CM", "trial_metadata.txt"))
    reader = ProtocolReader(check_audio)
    if keys is None:
        trial_list = os.path.join(audio_dir, "..", f"ASVspoof2021.{track}.cm.eval.trl.txt")
        for where, cols in _read_lines(os.path.normpath(trial_list)):
            if len(cols) != 1:
                reader.problem("malformed", where, f"expected one trial id, got {len(cols)} columns")
                continue
            reader.add(Utterance(cols[0], os.path.join(audio_dir, cols[0] + ".flac"), UNKNOWN, UNKNOWN,
                                 "", "eval"), where)
        return reader.listing
    expected = 8 if track == "LA" else 13
    for where, cols in _read_lines(keys):
        if len(cols) != expected:
            reader.problem("malformed", where, f"expected {expected} columns for {track} keys, got {len(cols)}")
            continue
        speaker, utt, codec, transmission, attack, raw_label, trim, subset = cols[:8]
        label = normalise_label(raw_label)
        if label is None:
            reader.problem("bad-label", where, raw_label)
            continue
        if subsets and subset not in subsets:
            continue
        reader.add(Utterance(
            utt_id=utt, path=os.path.join(audio_dir, utt + ".flac"), label=label,
            attack="-" if label == BONAFIDE else attack, speaker=speaker, split=subset, codec=codec,
            # LA: column 4 is the transmission channel; DF: it is the source corpus and column 9 the vocoder
            transmission=transmission if track == "LA" else "",
            source=transmission if track == "DF" else "",
            condition=trim if track == "LA" else f"{trim} {cols[8]}",
        ), where)
    return reader.listing


def _first_existing(*paths):
    return next((p for p in paths if os.path.isfile(p)), None)
