"""Fit a detector's decision to the user's own recordings: ``tfdeepfake calibrate`` (tfdeepfake.cli.calibrate).

A detector's threshold was set on someone else's data (or is the official argmax): on a studio, a phone line or a
language it never heard, it can call most real speech spoofed. With the user's **real recordings only**, the
threshold moves to the score below which the chosen share of them fall (``false_alarm``: the fraction of real
recordings called spoof), and the calibration map is kept. With **real and spoofed recordings**, the logistic
calibration is refitted on them too and the threshold set the same way on the refitted map. Files are scored
exactly as ``tfdeepfake predict`` scores them (same windows, aggregation). Unreadable files and clips without
speech are error rows, never used; the others go on. The new bundle's card records the data (folders, counts,
durations, a digest of the files' sha256), the figures (the achieved false-alarm rate with a bootstrap interval,
the miss rate, EER and Cllr before and after when spoofs are given), the source model and the date.

The model may be a preset, a bundle or run (the new bundle holds the Keras model), or an export — a .tflite /
.onnx file or a SavedModel folder with the metadata ``tfdeepfake export`` wrote beside it — whose bundle holds a
copy of the export (the Detector then runs it with the export's runner). The bundle is written in a staging
folder beside ``out`` and moved into place whole: ``out`` may be new, empty or an earlier bundle (replaced), and
the source model is never touched.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, replace

import numpy as np

from . import metrics
from .bundle import KERAS, META_FILE, Calibration, Threshold, read_bundle, write_bundle, write_export_bundle
from .errors import TfDeepfakeError
from .inference import FILE_SUFFIXES, FORMATS, Detector, load_runner
from .inference.detector import export_metadata
from .score_files import audio_files
from .storage import sha256_file

FILES_CSV = "calibration_files.csv"
MIN_BONAFIDE = 10
MIN_SPOOF = 5


class CalibrationDataError(TfDeepfakeError, ValueError):
    """Too few usable recordings to calibrate on, or a model that cannot be recalibrated here."""


@dataclass(frozen=True)
class FileRow:
    """One recording offered for calibration: its label, its score when usable, else why it was left out."""

    path: str
    label: str  # bonafide | spoof
    logit: float | None
    duration: float | None
    sha256: str | None
    status: str  # used | error | no-speech
    error: str = ""


@dataclass(frozen=True)
class CalibrationResult:
    """The written bundle (``bundle.path``), every file's row and the figures recorded in the card."""

    bundle: object
    rows: list
    figures: dict


def score_recordings(detector: Detector, paths, label: str) -> list[FileRow]:
    """Each path's file-level logit as ``predict`` computes it; a bad file or a clip without speech is a row
    with its reason, and the rest go on."""
    rows = []
    for path, prediction in zip(paths, detector.predictions(paths)):
        if not prediction.ok:
            rows.append(FileRow(path, label, None, None, None, "error", prediction.error))
        elif "no-speech" in prediction.flags:
            rows.append(FileRow(path, label, prediction.logit, prediction.duration, sha256_file(path), "no-speech",
                                "no speech found: left out"))
        else:
            rows.append(FileRow(path, label, prediction.logit, prediction.duration, sha256_file(path), "used"))
    return rows


def false_alarm_threshold(bonafide_logits, false_alarm: float) -> float:
    """The logit ``t`` such that calling 'spoof' at ``logit <= t`` calls at most ``false_alarm`` of these real
    recordings spoof: midway between the ``k``-th and ``k+1``-th lowest logit, ``k = floor(false_alarm * n)``
    (below the lowest one when ``k`` is 0)."""
    logits = np.sort(np.asarray(bonafide_logits, np.float64))
    k = int(math.floor(false_alarm * logits.size + 1e-9))
    if k == 0:
        spread = logits[-1] - logits[0] if logits.size > 1 else 1.0
        return float(logits[0] - max(1e-3, 1e-3 * spread))
    if k >= logits.size:
        return float(logits[-1])
    return float(0.5 * (logits[k - 1] + logits[k]))


def _bootstrap_rate(values: np.ndarray, n: int, seed: int) -> list[float]:
    """Percentile bootstrap 95% interval of the mean of 0/1 ``values``."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (n, values.size))].mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def _digest(rows) -> str:
    """One sha256 over the used files' (name, sha256) pairs, sorted: names the data without listing it."""
    digest = hashlib.sha256()
    for row in sorted((os.path.basename(r.path), r.sha256) for r in rows):
        digest.update(f"{row[0]}\t{row[1]}\n".encode())
    return digest.hexdigest()


def write_rows(path: str, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "label", "status", "logit", "duration", "sha256", "error"))
        for row in rows:
            writer.writerow((row.path, row.label, row.status, "" if row.logit is None else repr(row.logit),
                             "" if row.duration is None else f"{row.duration:.3f}", row.sha256 or "", row.error))


def _is_export(path: str) -> bool:
    """A .tflite / .onnx file or a SavedModel folder, as Detector.load tells them."""
    return (os.path.isfile(path) and path.endswith(FILE_SUFFIXES)) or \
        os.path.isfile(os.path.join(path, "saved_model.pb"))


def _export_format(path: str, stated: str) -> str:
    """The export format of ``path``: its metadata's ``stated`` format when that matches the file, else the first
    format of the file's kind."""
    if os.path.isdir(path):
        return "savedmodel"
    suffix = os.path.splitext(path)[1]
    if stated in FORMATS and FORMATS[stated].suffix == suffix:
        return stated
    return next(name for name, spec in FORMATS.items() if spec.suffix == suffix)


def load_source(model, metadata=None) -> tuple[Detector, str | None]:
    """The Detector to calibrate and, for an exported model, the export's path.

    An export's input rule and decision come from the metadata beside it (as ``tfdeepfake export`` writes it) or
    from ``metadata`` (a bundle folder or bundle.json of the model it was exported from); without either, nothing
    says how to cut windows for it, and that is an error saying how to supply it.
    """
    text = os.fspath(model)
    if not _is_export(text):
        if metadata is not None:
            raise CalibrationDataError(f"--metadata is for an exported model; {text} carries its own")
        detector = Detector.load(text)
        bundle = detector.bundle
        return detector, (None if bundle.model_format == KERAS or bundle.model is not None else bundle.model_path)
    meta = os.fspath(metadata) if metadata is not None else export_metadata(text)
    if meta is None:
        beside = os.path.join(text, META_FILE) if os.path.isdir(text) else f"{text}.bundle.json"
        raise CalibrationDataError(
            f"{text}: an exported model without its metadata ({beside} not found): its input rule (sample rate, "
            "window, hop, aggregation) is unknown. Put the bundle.json that tfdeepfake export wrote beside it as "
            f"{beside}, or pass --metadata BUNDLE (the bundle folder or bundle.json of the model it was exported "
            "from)")
    return Detector(read_bundle(meta, check_model=False), load_runner(text)), text


def _check_out(out: str, source: str | None) -> None:
    """``out`` may be new, empty, an earlier bundle or an earlier failed attempt (its file list only); never the
    source model nor a folder around or inside it."""
    if source is not None:
        real_out, real_source = os.path.realpath(out), os.path.realpath(source)
        if real_out == real_source or real_source.startswith(real_out + os.sep) or \
                real_out.startswith(real_source + os.sep):
            raise CalibrationDataError(f"--out {out}: the source model {source} lies there; write the calibrated "
                                       "bundle to a new folder")
    if os.path.isfile(out):
        raise CalibrationDataError(f"--out {out}: a file; the calibrated bundle is a folder")
    names = set(os.listdir(out)) if os.path.isdir(out) else set()
    if names and META_FILE not in names and names != {FILES_CSV}:
        raise CalibrationDataError(f"--out {out}: a folder holding other files ({', '.join(sorted(names)[:4])}"
                                   f"{' ...' if len(names) > 4 else ''}); calibrate replaces only an earlier bundle: "
                                   "choose a new folder")


def _publish(staging: str, out: str) -> None:
    """Move the finished ``staging`` folder to ``out``, replacing what was there only once it is complete."""
    if os.path.exists(out):
        old = staging + ".old"
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def calibrate_to_recordings(model, bonafide, out: str, spoof=None, false_alarm: float = 0.05,
                            n_bootstrap: int = 1000, seed: int = 0, metadata=None) -> CalibrationResult:
    """Write to ``out`` a bundle of ``model`` (preset, bundle, run or export) whose threshold calls
    ``false_alarm`` of the real recordings under ``bonafide`` (files or folders) spoof; with ``spoof``
    recordings the calibration is refitted on both first. ``out``/calibration_files.csv lists every file offered
    and what became of it (written even when too few are usable, unless ``out`` holds an earlier bundle).
    ``metadata``: an export's bundle folder or bundle.json when none lies beside it (see :func:`load_source`)."""
    if not 0.0 < false_alarm < 0.5:
        raise CalibrationDataError(f"false_alarm: a rate strictly between 0 and 0.5, got {false_alarm}")
    out = os.fspath(out)
    detector, export = load_source(model, metadata)
    source = detector.bundle
    _check_out(out, export if export is not None else source.path)
    real_files = audio_files(bonafide)
    spoof_files = audio_files(spoof) if spoof else []
    rows = score_recordings(detector, real_files, "bonafide") + score_recordings(detector, spoof_files, "spoof")
    used = [r for r in rows if r.status == "used"]
    bona = np.array([r.logit for r in used if r.label == "bonafide"], np.float64)
    fake = np.array([r.logit for r in used if r.label == "spoof"], np.float64)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}-", dir=parent)
    try:
        write_rows(os.path.join(staging, FILES_CSV), rows)
        keep = os.path.isfile(os.path.join(out, META_FILE))  # an earlier bundle stays as it was on failure
        rows_at = f"{out}/{FILES_CSV}" if not keep else f"the rows are not written: {out} holds an earlier bundle"
        try:
            calibration, threshold, figures, data = _fit(source, rows, used, bona, fake, false_alarm, n_bootstrap,
                                                         seed, bonafide, spoof, rows_at)
        except CalibrationDataError:
            if not keep:
                _publish(staging, out)
            raise
        done = {**figures, "data": data, "source_model": source.model_id,
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if export is not None:
            fmt = _export_format(export, source.model_format)
            name = "saved_model" if fmt == "savedmodel" else f"model{FORMATS[fmt].suffix}"
            earlier = source.metrics.get("domain_calibration", {}).get("export", {})  # calibrated once before
            graph = earlier.get("graph_calibration", {"a": source.calibration.a, "b": source.calibration.b})
            done["export"] = {"format": fmt, "file": name, "from": os.path.abspath(export),
                              "graph_calibration": graph}
        bundle = replace(source, model_id=f"{source.model_id}+calibrated", name=f"{source.name}, calibrated to the "
                         f"user's recordings", calibration=calibration, threshold=threshold,
                         metrics={**source.metrics, "domain_calibration": done}, path=None, model=None)
        if export is None:
            written = write_bundle(staging, detector.runner.model, bundle)
        else:
            written = write_export_bundle(staging, export, replace(bundle, model_format=fmt), name)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CalibrationResult(replace(written, path=os.path.abspath(out)), rows, figures)


def _fit(source, rows, used, bona, fake, false_alarm, n_bootstrap, seed, bonafide, spoof, rows_at):
    """The new calibration and threshold, the figures and the data record; CalibrationDataError when too few
    files are usable or the refit cannot serve."""
    left_out = len(rows) - len(used)
    offered = {label: sum(r.label == label for r in rows) for label in ("bonafide", "spoof")}
    if bona.size < MIN_BONAFIDE:
        raise CalibrationDataError(f"{', '.join(map(str, bonafide))}: {bona.size} usable real recordings "
                                   f"(of {offered['bonafide']}; {left_out} left out, see {rows_at}); at "
                                   f"least {MIN_BONAFIDE} are needed")
    if spoof and fake.size < MIN_SPOOF:
        raise CalibrationDataError(f"{', '.join(map(str, spoof))}: {fake.size} usable spoofed recordings "
                                   f"(of {offered['spoof']}; see {rows_at}); at least {MIN_SPOOF} are needed to refit the "
                                   "calibration (or give real recordings only)")
    calibration = source.calibration
    if fake.size:
        calibration = Calibration.fit(bona, fake, prior=source.calibration.prior)
        calibration = replace(calibration, fitted_on=f"{calibration.fitted_on}: the user's recordings "
                                                     f"(tfdeepfake calibrate)")
    if calibration.a <= 0:
        raise CalibrationDataError("the refitted calibration has a slope <= 0: on these recordings the model scores "
                                   "spoofs as more real than the real ones, so no threshold can serve")
    t = false_alarm_threshold(bona, false_alarm)
    p = float(np.clip(calibration.spoof_probability(t)[0], 1e-12, 1 - 1e-12))
    called = bona <= t
    figures = {"false_alarm_target": false_alarm, "false_alarm": float(called.mean()),
               "false_alarm_ci95": _bootstrap_rate(called.astype(np.float64), n_bootstrap, seed),
               "threshold_logit": t, "bonafide_files": int(bona.size), "spoof_files": int(fake.size),
               "left_out": left_out, "bootstrap": {"replicates": n_bootstrap, "seed": seed},
               "false_alarm_before": float(np.mean(source.calibration.spoof_probability(bona)
                                                   >= source.threshold.spoof_probability))}
    if false_alarm * bona.size < 1:
        figures["note"] = (f"{bona.size} real recordings resolve false-alarm rates only in steps of "
                           f"{1 / bona.size:.3f}: the threshold sits below the lowest real score")
    if fake.size:
        figures["miss"] = float(np.mean(fake > t))
        figures["miss_before"] = float(np.mean(source.calibration.spoof_probability(fake)
                                               < source.threshold.spoof_probability))
        figures["eer"] = metrics.compute_eer(bona, fake)[0]
        figures["cllr_before"] = metrics.cllr(source.calibration.llr(bona), source.calibration.llr(fake))
        figures["cllr_after"] = metrics.cllr(calibration.llr(bona), calibration.llr(fake))
    data = {"bonafide": [os.path.abspath(p) for p in map(os.fspath, bonafide)],
            "spoof": [os.path.abspath(p) for p in map(os.fspath, spoof or [])],
            "bonafide_seconds": round(sum(r.duration for r in used if r.label == "bonafide"), 3),
            "spoof_seconds": round(sum(r.duration for r in used if r.label == "spoof"), 3),
            "files_sha256_digest": _digest(used), "files": FILES_CSV}
    threshold = Threshold(p, f"{100 * false_alarm:g}% false alarms on the user's {bona.size} real recordings "
                             f"(achieved {100 * figures['false_alarm']:.2f}%, tfdeepfake calibrate)", t)
    return calibration, threshold, figures, data
