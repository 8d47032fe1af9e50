"""Corpus readers. Each returns a :class:`Listing` of :class:`Utterance` records plus the problems it met."""
from __future__ import annotations

from .asvspoof import read_asvspoof2019, read_asvspoof2021
from .base import (BONAFIDE, METADATA_FIELDS, SPOOF, UNKNOWN, CorpusError, CorpusNotFoundError, Listing, Problem,
                   Utterance)
from .folds import assign_folds
from .generic import read_csv, read_folders
from .inthewild import read_in_the_wild
from .wavefake import read_wavefake

# dataset name -> (reader, keyword arguments the CLI fixes for it)
READERS = {
    "asvspoof2019-la": (read_asvspoof2019, {"access": "LA"}),
    "asvspoof2019-pa": (read_asvspoof2019, {"access": "PA"}),
    "asvspoof2021-la": (read_asvspoof2021, {"track": "LA"}),
    "asvspoof2021-df": (read_asvspoof2021, {"track": "DF"}),
    "in-the-wild": (read_in_the_wild, {}),
    "wavefake": (read_wavefake, {}),
    "csv": (read_csv, {}),
    "folders": (read_folders, {}),
}


def read_corpus(dataset: str, root: str, **options) -> Listing:
    """Read any supported corpus by name (the builder CLI's ``--dataset``)."""
    if dataset not in READERS:
        raise CorpusError(f"unknown dataset {dataset!r}; choose from {sorted(READERS)}")
    reader, fixed = READERS[dataset]
    return reader(root, **fixed, **options)


__all__ = ["BONAFIDE", "SPOOF", "UNKNOWN", "METADATA_FIELDS", "Listing", "Problem", "Utterance", "READERS",
           "assign_folds", "read_corpus", "read_asvspoof2019", "read_asvspoof2021", "read_in_the_wild",
           "read_wavefake", "read_csv", "read_folders"]
