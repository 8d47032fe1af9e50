"""A bundle on disk: writing and reading its folder (model.keras, bundle.json, model_card.md) with every field
checked, and the results added to a written bundle later."""
from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from dataclasses import replace

from .. import __version__
from ..errors import BundleError
from ..input_rule import InputRule, InputRuleError
from ..storage import sha256_file
from .card import render_card
from .decision import Calibration, Threshold, measured
from .schema import (CARD_FILE, FORMAT, FORMAT_VERSION, INTENDED_USE, KERAS, META_FILE, MODEL_FILE, Bundle,
                     finite_json)


def model_window(model) -> int:
    """The fixed input length of a waveform model (batch, window) -> (batch, 1); BundleError otherwise."""
    shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out = model.output_shape
    if shape is None or len(shape) != 2 or not isinstance(shape[1], int):
        raise BundleError(f"model {model.name!r}: a bundle holds a waveform model with input (batch, window), "
                          f"got input shape {model.input_shape}")
    if isinstance(out, list) or tuple(out)[1:] != (1,):
        raise BundleError(f"model {model.name!r}: output must be one logit (batch, 1), got {out}")
    return int(shape[1])


def write_bundle(out_dir: str, model, bundle: Bundle) -> Bundle:
    """Save ``model`` whole and ``bundle``'s metadata and card into ``out_dir``; returns the bundle as written.

    The model must read waveform windows of ``bundle.input.window_samples`` and output one logit.
    """
    window = model_window(model)
    if window != bundle.input.window_samples:
        raise BundleError(f"{out_dir}: input.window_samples {bundle.input.window_samples} but the model reads "
                          f"{window} samples")
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, MODEL_FILE)
    partial = model_path + ".partial.keras"
    try:
        model.save(partial)
    except Exception as error:
        raise BundleError(f"{model_path}: the model cannot be saved whole ({type(error).__name__}: {error})") \
            from error
    os.replace(partial, model_path)
    written = replace(bundle, path=os.path.abspath(out_dir), model=None, model_sha256=sha256_file(model_path),
                      parameters=int(model.count_params()), model_format=KERAS, model_file=MODEL_FILE)
    _write_text(os.path.join(out_dir, META_FILE), json.dumps(finite_json(written.to_json()), indent=1) + "\n")
    _write_text(os.path.join(out_dir, CARD_FILE), render_card(written))
    return written


def write_export_bundle(out_dir: str, export_path: str, bundle: Bundle, file_name: str) -> Bundle:
    """A bundle folder holding an exported model: ``export_path`` (a .tflite / .onnx file or a SavedModel folder)
    copied in as ``file_name``, with ``bundle``'s metadata and card beside it; ``bundle.model_format`` names the
    export's format. A SavedModel's own bundle.json and card are left out of the copy, so the folder's one
    bundle.json describes it. Returns the bundle as written."""
    if bundle.model_format == KERAS:
        raise BundleError(f"{export_path}: write_export_bundle holds an exported model; model_format "
                          f"{KERAS!r} is write_bundle's")
    if file_name in ("", ".", "..", META_FILE, CARD_FILE) or os.path.basename(file_name) != file_name:
        raise BundleError(f"{out_dir}: model file name {file_name!r}: a plain name other than {META_FILE}, "
                          f"{CARD_FILE}")
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, file_name)
    if os.path.isdir(export_path):
        shutil.copytree(export_path, target, ignore=shutil.ignore_patterns(META_FILE, CARD_FILE))
        sha = None  # a folder: the SavedModel loader checks its own files
    else:
        shutil.copyfile(export_path, target)
        sha = sha256_file(target)
    written = replace(bundle, path=os.path.abspath(out_dir), model=None, model_file=file_name, model_sha256=sha)
    _write_text(os.path.join(out_dir, META_FILE), json.dumps(finite_json(written.to_json()), indent=1) + "\n")
    _write_text(os.path.join(out_dir, CARD_FILE), render_card(written))
    return written


def _write_text(path: str, text: str) -> None:
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _get(data: dict, key: str, kind, where: str, required: bool = True, default=None):
    if key not in data:
        if required:
            raise BundleError(f"{where}: field {key!r} is missing")
        return default
    value = data[key]
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise BundleError(f"{where}: field {key!r} must be {names}, got {type(value).__name__} {value!r}")
    return value


def read_bundle(path: str, check_model: bool = True) -> Bundle:
    """A bundle folder (or its bundle.json) as a :class:`Bundle`; every field is checked and a bad one named.

    ``check_model=False`` reads the metadata alone (for the metadata written with an exported model, whose file
    may be named ``<export>.bundle.json``).
    """
    meta_path = path if os.fspath(path).endswith(".json") else os.path.join(path, META_FILE)
    if not os.path.isfile(meta_path):
        raise BundleError(f"{meta_path}: not found; a bundle folder holds {META_FILE}, {MODEL_FILE} and {CARD_FILE}")
    try:
        with open(meta_path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{meta_path}: not readable JSON ({error})") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{meta_path}: field 'format' must be {FORMAT!r}: not a tfdeepfake bundle")
    version = _get(data, "format_version", int, meta_path)
    if version > FORMAT_VERSION:
        raise BundleError(f"{meta_path}: format_version {version} is newer than this tfdeepfake reads "
                          f"({FORMAT_VERSION}); upgrade tfdeepfake")
    model = _get(data, "model", dict, meta_path)
    where = f"{meta_path}: model"
    sections = {key: _get(data, key, dict, meta_path) for key in ("input", "calibration", "threshold")}
    try:
        rule = InputRule(**{k: v for k, v in sections["input"].items() if k in InputRule.__dataclass_fields__})
        calibration = Calibration(**{k: v for k, v in sections["calibration"].items()
                                     if k in Calibration.__dataclass_fields__})
        threshold = Threshold(**{k: v for k, v in sections["threshold"].items()
                                 if k in Threshold.__dataclass_fields__})
    except (BundleError, InputRuleError, TypeError) as error:  # a bad value, or a value of the wrong type
        raise BundleError(f"{meta_path}: {error}") from error
    failure_modes = _get(data, "failure_modes", list, meta_path, False, [])
    if not all(isinstance(mode, str) for mode in failure_modes):
        raise BundleError(f"{meta_path}: field 'failure_modes' must be a list of strings")
    folder = os.path.dirname(os.path.abspath(meta_path))
    bundle = Bundle(
        model_id=_get(model, "id", str, where), name=_get(model, "name", str, where),
        architecture=_get(model, "architecture", str, where), input=rule, calibration=calibration,
        threshold=threshold, training=_get(data, "training", dict, meta_path, False, {}),
        metrics=_get(data, "metrics", dict, meta_path, False, {}),
        licence=_get(data, "licence", str, meta_path, False, ""),
        failure_modes=tuple(failure_modes),
        intended_use=_get(data, "intended_use", str, meta_path, False, INTENDED_USE),
        provenance=_get(data, "provenance", dict, meta_path, False, {}),
        parameters=_get(model, "parameters", (int, type(None)), where, False),
        model_sha256=_get(model, "sha256", (str, type(None)), where, False),
        model_format=_get(model, "format", str, where, False, KERAS),
        model_file=_get(model, "file", str, where, check_model, MODEL_FILE), path=folder)
    if check_model:
        file = bundle.model_file
        if bundle.model_format == KERAS and file != MODEL_FILE:
            raise BundleError(f"{where}.file: {file!r}, expected {MODEL_FILE!r}")
        if file in ("", ".", "..") or os.path.basename(file) != file:
            raise BundleError(f"{where}.file: {file!r}, expected a name inside the bundle folder")
        if not os.path.exists(os.path.join(folder, file)):
            raise BundleError(f"{os.path.join(folder, file)}: not found beside {META_FILE}")
    return bundle


def add_out_of_domain(path: str, name: str, bonafide_logits, spoof_logits, note: str = "",
                      n_bootstrap: int = 1000, seed: int = 0) -> Bundle:
    """Record a result measured on data unlike the training data (another corpus, codec, generator) in a written
    bundle: appended to ``metrics.out_of_domain`` (replacing an entry of the same ``name``) and shown in the card.
    ``*_logits`` are the Detector's aggregated logits of that data's bona fide and spoofed files."""
    bundle = read_bundle(path)
    entry = {"name": name, **measured(bonafide_logits, spoof_logits, n_bootstrap, seed), "note": note}
    results = dict(bundle.metrics)
    results["out_of_domain"] = [e for e in results.get("out_of_domain", []) if e.get("name") != name] + [entry]
    updated = replace(bundle, metrics=results)
    _write_text(os.path.join(updated.path, META_FILE), json.dumps(finite_json(updated.to_json()), indent=1) + "\n")
    _write_text(os.path.join(updated.path, CARD_FILE), render_card(updated))
    return updated


def provenance(**extra) -> dict:
    """When, with what and from what a bundle was made."""
    import tensorflow as tf

    return {"created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tfdeepfake": __version__, "tensorflow": tf.__version__, "python": sys.version.split()[0], **extra}
