"""Which files a scoring run reads and how its rows are written: shared by ``tfdeepfake predict``, the Beam
scorer and ``tfdeepfake calibrate``.

A folder is walked recursively for :data:`tfdeepfake.audio.AUDIO_SUFFIXES`; a row is one recording's
:class:`tfdeepfake.inference.Prediction` as table, CSV or JSON-lines text, written as it comes.
"""
from __future__ import annotations

import csv
import json
import os

from .audio import AUDIO_SUFFIXES
from .errors import TfDeepfakeError

COLUMNS = ("path", "logit", "spoof_probability", "decision", "threshold", "duration", "windows", "flags", "error")


class PredictInputError(TfDeepfakeError, FileNotFoundError):
    """A path given on the command line that does not exist, or folders without any audio file."""


def audio_files(paths) -> list[str]:
    """The given files as they are, and every audio file under the given folders (sorted, recursively)."""
    found = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            for folder, _, names in sorted(os.walk(path)):
                found += sorted(os.path.join(folder, n) for n in names if n.lower().endswith(AUDIO_SUFFIXES))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise PredictInputError(f"{path}: no such file or folder")
    if not found:
        raise PredictInputError(f"no audio file ({', '.join(AUDIO_SUFFIXES)}) in {list(map(os.fspath, paths))}")
    return found


def number(value, spec: str) -> str:
    """A number for a CSV / table cell; empty for the missing numbers of an error row."""
    return "" if value is None else format(value, spec)


def row(prediction) -> dict:
    flags = ";".join(prediction.flags)
    return {"path": prediction.source, "logit": number(prediction.logit, ".6f"),
            "spoof_probability": number(prediction.spoof_probability, ".6f"), "decision": prediction.decision,
            "threshold": number(prediction.threshold, ".4f"), "duration": number(prediction.duration, ".3f"),
            "windows": len(prediction.windows), "flags": flags, "error": prediction.error or ""}


class Writer:
    """Rows out as they come: an aligned table, CSV, or JSON lines (with each window's start, end and score)."""

    def __init__(self, handle, fmt: str):
        self.handle, self.fmt = handle, fmt
        if fmt == "csv":
            self.csv = csv.DictWriter(handle, COLUMNS)
            self.csv.writeheader()
        elif fmt == "table":
            handle.write(f"{'decision':<12} {'P(spoof)':>8} {'logit':>9} {'seconds':>8} {'windows':>7}  path\n")

    def write(self, prediction) -> None:
        if self.fmt == "jsonl":
            self.handle.write(json.dumps(prediction.to_dict(windows=True)) + "\n")
        elif self.fmt == "csv":
            self.csv.writerow(row(prediction))
        else:
            values = row(prediction)
            note = f"  ({values['error'] or values['flags']})" if values["error"] or values["flags"] else ""
            self.handle.write(f"{values['decision']:<12} {values['spoof_probability']:>8} {values['logit']:>9} "
                              f"{values['duration']:>8} {values['windows']:>7}  {values['path']}{note}\n")
        self.handle.flush()
