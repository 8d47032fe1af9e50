"""WaveFake (Frank & Schönherr 2021): one folder per vocoder of LJSpeech/JSUT copies plus the originals.

Layout: ROOT/ljspeech_melgan/LJ001-0001_gen.wav, ROOT/jsut_multi_band_melgan/..., and the originals in
ROOT/LJSpeech-1.1/wavs (or ``bonafide_dirs``). Each sentence id is a fold group, so a sentence's real
recording and all its vocoded copies stay in one fold (the corpus has one speaker per language).
"""
from __future__ import annotations

import os

from .base import BONAFIDE, SPOOF, CorpusNotFoundError, Listing, ProtocolReader, Utterance, find_audio

ORIGINAL_FOLDERS = ("LJSpeech-1.1/wavs", "jsut_ver1.1/basic5000/wav")


def _sentence_id(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    for suffix in ("_gen", "_generated"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def read_wavefake(root: str, bonafide_dirs=None) -> Listing:
    reader = ProtocolReader(check_audio=False)  # files come from a directory walk
    bonafide_dirs = bonafide_dirs or [os.path.join(root, d) for d in ORIGINAL_FOLDERS
                                      if os.path.isdir(os.path.join(root, d))]
    for folder in bonafide_dirs:
        for path in find_audio(folder):
            sentence = _sentence_id(path)
            speaker = "JSUT" if sentence.startswith("BASIC") else "LJ"
            reader.add(Utterance(f"{speaker}-real-{sentence}", path, BONAFIDE, "-", speaker, "train",
                                 group=sentence), path)
    vocoders = sorted(d for d in os.listdir(root) if d.startswith(("ljspeech_", "jsut_", "common_voices_"))
                      and os.path.isdir(os.path.join(root, d)))
    if not vocoders:
        raise CorpusNotFoundError(f"{root}: no WaveFake vocoder folders (ljspeech_*/jsut_*) found")
    for vocoder in vocoders:
        speaker = "JSUT" if vocoder.startswith("jsut_") else "LJ"
        for path in find_audio(os.path.join(root, vocoder)):
            sentence = _sentence_id(path)
            reader.add(Utterance(f"{vocoder}-{sentence}", path, SPOOF, vocoder, speaker, "train",
                                 group=sentence), path)
    if not bonafide_dirs:
        reader.problem("missing-audio", root, "no LJSpeech/JSUT originals found: pass bonafide_dirs")
    return reader.listing
