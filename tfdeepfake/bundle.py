"""Model bundles: one folder that fully describes a usable detector.

    bundle/
      model.keras      the whole Keras model: waveform window (batch, window_samples) -> one bona fide logit
      bundle.json      format version, model id, input rule, calibration, threshold, metrics, provenance
      model_card.md    intended use, training data, results with 95% intervals, failure modes, licence

The input rule (sample rate, window, hop, aggregation, repeat padding) and the calibration are data here and
arithmetic too: :class:`InputRule` cuts windows with the TFRecord evaluation path's own rule and
:class:`Calibration` maps the aggregated logit to P(spoof), so the Detector and the training scores agree.
Every pretrained preset is a bundle as well (:func:`bundle_from_preset`).
"""
from __future__ import annotations

import datetime
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from . import __version__, metrics
from .errors import TfDeepfakeError
from .input_rule import InputRule, InputRuleError, aggregate_logits, window_indices  # noqa: F401  (public here too)
from .storage import sha256_file

FORMAT = "tfdeepfake-bundle"
FORMAT_VERSION = 1
MODEL_FILE, META_FILE, CARD_FILE = "model.keras", "bundle.json", "model_card.md"

INTENDED_USE = (
    "Screening recorded speech for synthetic or converted speech (text-to-speech, voice conversion, vocoded "
    "copies), as in the ASVspoof logical-access task: a score that helps a person or a downstream system decide "
    "what to check. It is not proof that a recording is genuine or fake, says nothing about who is speaking, and "
    "should not be the only basis of a decision that affects someone.")
GENERAL_FAILURE_MODES = (
    "Attacks, vocoders and codecs unlike those in the training data: error rates measured on one corpus do not "
    "carry over to speech from other generators, channels or recording set-ups.",
    "Telephone, VoIP and lossy codecs (MP3, AAC, Opus), resampling and background noise shift the scores; a "
    "detector trained on clean 16 kHz audio tends to call degraded bona fide speech spoofed.",
    "Corpus shortcuts: on ASVspoof 2019 LA the length of leading/trailing silence differs between bona fide and "
    "spoofed files (Mueller et al., Interspeech 2021), and a model can learn it instead of the speech.",
    "Input without speech (silence, noise, music) gets a score that means nothing; the Detector flags clips whose "
    "speech-band energy never rises above their floor ('no-speech') and gives no verdict for them.",
    "Languages, speakers and speaking styles absent from the training data (conversational, emotional, children's "
    "speech) are untested.",
)


class BundleError(TfDeepfakeError, ValueError):
    """A bundle that cannot be written or used: the message names the file, the field and the cause."""


# ---------------------------------------------------------------- input rule


# ---------------------------------------------------------------- calibration and threshold


@dataclass(frozen=True)
class Calibration:
    """Logistic calibration of the aggregated logit: ``P(spoof) = 1 / (1 + exp(a * logit + b))``.

    ``a * logit + b`` is the calibrated bona fide log-likelihood ratio (:func:`tfdeepfake.metrics.fit_calibration`
    on dev scores); the probability assumes a bona fide prior of ``prior``. ``a=1, b=0`` is the identity:
    ``sigmoid(-logit)``, the model's own output convention.
    """

    a: float = 1.0
    b: float = 0.0
    prior: float = 0.5
    fitted_on: str = "identity: not calibrated"
    l2: float = 0.0

    def __post_init__(self):
        for key in ("a", "b", "prior", "l2"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BundleError(f"calibration.{key}: a finite number, got {value!r}")
            object.__setattr__(self, key, float(value))
        if not 0.0 < self.prior < 1.0:
            raise BundleError(f"calibration.prior: strictly between 0 and 1, got {self.prior}")

    @classmethod
    def fit(cls, bonafide_logits, spoof_logits, prior: float = 0.5) -> Calibration:
        """Fit on dev logits; perfectly separated scores get a small L2 penalty so ``a`` stays finite."""
        bona, spoof = np.asarray(bonafide_logits, np.float64), np.asarray(spoof_logits, np.float64)
        separated = bona.size and spoof.size and (spoof.max() < bona.min() or bona.max() < spoof.min())
        l2 = 1e-2 if separated else 0.0
        a, b = metrics.fit_calibration(bona, spoof, prior=prior, l2=l2)
        return cls(a, b, prior, f"logistic regression on {bona.size:,} bona fide and {spoof.size:,} spoof dev "
                                f"logits (prior {prior:g}{', L2 1e-2: separated scores' if separated else ''})",
                   l2)

    def llr(self, logits) -> np.ndarray:
        return metrics.apply_calibration(np.atleast_1d(np.asarray(logits, np.float64)), self.a, self.b)

    def spoof_probability(self, logits) -> np.ndarray:
        """P(spoof) for each logit; computed as exp(-log(1 + e^llr)) so it never overflows."""
        return np.exp(-np.logaddexp(0.0, self.llr(logits)))

    def logit_for(self, spoof_probability: float) -> float:
        """The logit whose calibrated P(spoof) is ``spoof_probability`` (needs ``a != 0``)."""
        if self.a == 0.0:
            raise BundleError("calibration.a: 0 maps every logit to one probability")
        return (math.log(1.0 / spoof_probability - 1.0) - self.b) / self.a


@dataclass(frozen=True)
class Threshold:
    """Decision rule on the calibrated probability: 'spoof' when ``P(spoof) >= spoof_probability``."""

    spoof_probability: float = 0.5
    source: str = "argmax: P(spoof) 0.5, i.e. bona fide iff the logit is above 0"
    logit: float | None = 0.0  # the raw logit it corresponds to, where known

    def __post_init__(self):
        p = self.spoof_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p < 1.0:
            raise BundleError(f"threshold.spoof_probability: strictly between 0 and 1, got {p!r}")
        object.__setattr__(self, "spoof_probability", float(p))

    def decide(self, spoof_probability: float) -> str:
        return "spoof" if spoof_probability >= self.spoof_probability else "bonafide"


def calibrate_on_dev(bonafide_logits, spoof_logits, prior: float = 0.5) -> tuple[Calibration, Threshold]:
    """Calibration fitted on dev logits and the threshold at the dev EER point, mapped onto P(spoof).

    The EER threshold ``t`` of :func:`tfdeepfake.metrics.compute_eer` accepts bona fide iff ``logit > t``; with
    ``a > 0`` that is ``P(spoof) < p(t)``, so deciding 'spoof' at ``P(spoof) >= p(t)`` reproduces the EER point.
    """
    calibration = Calibration.fit(bonafide_logits, spoof_logits, prior)
    eer, t = metrics.compute_eer(bonafide_logits, spoof_logits)
    p = float(np.clip(calibration.spoof_probability(t)[0], 1e-12, 1.0 - 1e-12))
    note = "" if calibration.a > 0 else " (calibration slope <= 0: the model ranks dev spoofs above bona fide)"
    return calibration, Threshold(p, f"dev EER point ({100 * eer:.2f}% EER at logit {t:.6g}){note}", float(t))


def measured(bonafide_logits, spoof_logits, n_bootstrap: int = 1000, seed: int = 0,
             threshold_logit: float | None = None) -> dict:
    """EER with a bootstrap 95% interval (and the error rates at a dev threshold when given), as plain data."""
    bona, spoof = np.asarray(bonafide_logits, np.float64), np.asarray(spoof_logits, np.float64)
    if bona.size == 0 or spoof.size == 0:
        return {"bonafide": int(bona.size), "spoof": int(spoof.size),
                "note": "needs both bona fide and spoof to measure an EER"}
    ci = metrics.bootstrap_eer_ci(bona, spoof, n=n_bootstrap, seed=seed)
    _, eer_threshold = metrics.compute_eer(bona, spoof)
    result = {"bonafide": int(bona.size), "spoof": int(spoof.size), "eer": ci.eer, "eer_ci95": [ci.low, ci.high],
              "bootstrap": {"replicates": int(n_bootstrap), "seed": int(seed)}, "eer_threshold_logit": eer_threshold}
    if threshold_logit is not None:
        frr, far = metrics.error_rates_at_threshold(bona, spoof, threshold_logit)
        result["at_dev_threshold"] = {"logit": float(threshold_logit), "frr": frr, "far": far}
    return result


# ---------------------------------------------------------------- the bundle


@dataclass(frozen=True)
class Bundle:
    """What bundle.json holds, plus where it lives (``path``) and, for an unsaved bundle, the model itself."""

    model_id: str
    name: str
    architecture: str
    input: InputRule = field(default_factory=InputRule)
    calibration: Calibration = field(default_factory=Calibration)
    threshold: Threshold = field(default_factory=Threshold)
    training: dict = field(default_factory=dict)  # data, utterances, speakers, attacks
    metrics: dict = field(default_factory=dict)  # dev, eval (see measured), out_of_domain (a list), published
    licence: str = ""
    failure_modes: tuple[str, ...] = GENERAL_FAILURE_MODES
    intended_use: str = INTENDED_USE
    provenance: dict = field(default_factory=dict)
    parameters: int | None = None  # every weight of the Keras model, non-trainable ones included
    model_sha256: str | None = None
    path: str | None = field(default=None, compare=False)
    model: object = field(default=None, compare=False, repr=False)  # in-memory Keras model (unsaved bundles)

    @property
    def model_path(self) -> str | None:
        return None if self.path is None else os.path.join(self.path, MODEL_FILE)

    def load_model(self):
        """The Keras model: the in-memory one, else ``model.keras`` (sha256 checked) with tfdeepfake's layers."""
        if self.model is not None:
            return self.model
        if self.path is None:
            raise BundleError(f"bundle {self.model_id!r} has neither a folder nor an in-memory model")
        return load_keras_model(self.model_path, self.model_sha256)

    def to_json(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "model": {"id": self.model_id, "name": self.name, "architecture": self.architecture,
                          "file": MODEL_FILE, "sha256": self.model_sha256, "parameters": self.parameters,
                          "output": "one logit per window, higher = bona fide"},
                "input": asdict(self.input),
                "calibration": {**asdict(self.calibration), "formula": "p_spoof = 1 / (1 + exp(a * logit + b))"},
                "threshold": {**asdict(self.threshold), "rule": "spoof if p_spoof >= threshold"},
                "training": self.training, "metrics": self.metrics, "licence": self.licence,
                "intended_use": self.intended_use, "failure_modes": list(self.failure_modes),
                "provenance": self.provenance}


def load_keras_model(path: str, sha256: str | None = None):
    """A whole saved model with every tfdeepfake layer registered (no training code needed)."""
    import tensorflow as tf

    import tfdeepfake.models  # noqa: F401  (registers the custom layers)

    if not os.path.isfile(path):
        raise BundleError(f"{path}: model file not found")
    if sha256 is not None and sha256_file(path) != sha256:
        raise BundleError(f"{path}: sha256 differs from bundle.json's model.sha256 (changed or truncated); "
                          "rewrite the bundle")
    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad archive
        raise BundleError(f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error})") from error


def _finite(value):
    """JSON-safe copy: NaN/Inf become None, numpy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    return value


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
                      parameters=int(model.count_params()))
    _write_text(os.path.join(out_dir, META_FILE), json.dumps(_finite(written.to_json()), indent=1) + "\n")
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
        model_sha256=_get(model, "sha256", (str, type(None)), where, False), path=folder)
    if check_model:
        file = _get(model, "file", str, where)
        if file != MODEL_FILE:
            raise BundleError(f"{where}.file: {file!r}, expected {MODEL_FILE!r}")
        if not os.path.isfile(os.path.join(folder, MODEL_FILE)):
            raise BundleError(f"{os.path.join(folder, MODEL_FILE)}: not found beside {META_FILE}")
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
    _write_text(os.path.join(updated.path, META_FILE), json.dumps(_finite(updated.to_json()), indent=1) + "\n")
    _write_text(os.path.join(updated.path, CARD_FILE), render_card(updated))
    return updated


def provenance(**extra) -> dict:
    """When, with what and from what a bundle was made."""
    import tensorflow as tf

    return {"created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tfdeepfake": __version__, "tensorflow": tf.__version__, "python": sys.version.split()[0], **extra}


# ---------------------------------------------------------------- presets


def bundle_from_preset(name: str, out_dir: str | None = None) -> Bundle:
    """A pretrained preset as a bundle: written to ``out_dir``, or kept in memory (``bundle.model``) without it.

    No dev scores of these models exist here, so the calibration is the identity (P(spoof) = sigmoid(-logit), the
    official softmax) and the threshold 0.5 on P(spoof): the official argmax rule.
    """
    from .models.presets import get_preset, load_preset

    preset = get_preset(name)
    model = load_preset(name)
    calibration = Calibration(fitted_on=(
        "identity: no dev scores of this preset exist in tfdeepfake, so P(spoof) = sigmoid(-logit), the official "
        "model's softmax probability of spoof; it is not calibrated to any data set"))
    threshold = Threshold(0.5, "official argmax rule: spoof iff the spoof class's output is the larger, "
                               "i.e. P(spoof) >= 0.5, logit <= 0", 0.0)
    bundle = Bundle(
        model_id=preset.name, name=f"{preset.name} (official weights)", architecture=preset.model,
        input=InputRule(preset.sample_rate, preset.input_samples), calibration=calibration, threshold=threshold,
        training={"data": preset.training_data},
        metrics={"published": {"result": preset.published, "eer_percent": preset.published_eer,
                               "note": "reported by the authors; not measured in tfdeepfake"},
                 "out_of_domain": preset.measured()},
        licence=f"weights: {preset.licence}",
        failure_modes=GENERAL_FAILURE_MODES + tuple(preset.notes) + (
            f"The published result used the official input rule ({preset.input_rule}); the Detector scores every "
            "window of a clip, the same for clips up to one window and different for longer ones.",),
        provenance=provenance(source=preset.source, paper=preset.paper,
                              weights={"file": preset.weights.name, "sha256": preset.weights.sha256,
                                       "url": preset.weights.url},
                              official_input_rule=preset.input_rule,
                              parameters_official=preset.parameters),
        parameters=int(model.count_params()), model=model)
    return bundle if out_dir is None else write_bundle(out_dir, model, bundle)


# ---------------------------------------------------------------- model card


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _result_rows(results: dict) -> list[str]:
    rows = []
    for split in ("dev", "eval"):
        part = results.get(split)
        if not part:
            continue
        if "eer" not in part:
            rows.append(f"| {split} | {part.get('bonafide', 0)} / {part.get('spoof', 0)} | - | - | - | "
                        f"{part.get('note', '')} |")
            continue
        low, high = part["eer_ci95"]
        at = part.get("at_dev_threshold")
        rates = f"FRR {_percent(at['frr'])}, FAR {_percent(at['far'])}" if at else "-"
        rows.append(f"| {split} | {part['bonafide']} / {part['spoof']} | {_percent(part['eer'])} | "
                    f"{_percent(low)} - {_percent(high)} | {rates} | |")
    return rows


def _domain_calibration_lines(done: dict | None) -> list[str]:
    """The card's account of ``tfdeepfake calibrate``: on what data, to what target, with what result."""
    if not done:
        return []
    data = done["data"]
    low, high = done["false_alarm_ci95"]
    lines = ["## Calibrated to the user's recordings", "",
             f"`tfdeepfake calibrate` on {done['date']}, from model `{done['source_model']}`: "
             f"{done['bonafide_files']} real recordings ({data['bonafide_seconds']:.1f} s) from "
             f"{', '.join(data['bonafide'])}" + (f" and {done['spoof_files']} spoofed ({data['spoof_seconds']:.1f} s) "
                                                 f"from {', '.join(data['spoof'])}" if done["spoof_files"] else "")
             + f"; {done['left_out']} files left out (unreadable or without speech: {data['files']}); sha256 digest "
               f"of the files used `{data['files_sha256_digest']}`.", "",
             f"- False alarms (real recordings called spoof): target {_percent(done['false_alarm_target'])}, "
             f"achieved {_percent(done['false_alarm'])} (bootstrap 95% CI {_percent(low)} - {_percent(high)}; "
             f"expect about this on new recordings of the same kind); before: {_percent(done['false_alarm_before'])}."]
    if done["spoof_files"]:
        lines += [f"- Spoofs missed: {_percent(done['miss'])} (before: {_percent(done['miss_before'])}); EER "
                  f"{_percent(done['eer'])}; Cllr {done['cllr_before']:.4f} before, {done['cllr_after']:.4f} after "
                  "refitting the calibration on these recordings."]
    if done.get("note"):
        lines.append(f"- Note: {done['note']}.")
    return lines + [""]


def render_card(bundle: Bundle) -> str:
    """model_card.md: what the model is for, what it learned from, how well it did, where it fails, its licence."""
    rule, cal, thr, training, results = bundle.input, bundle.calibration, bundle.threshold, bundle.training, \
        bundle.metrics
    lines = [f"# Model card: {bundle.name}", "",
             f"Model id `{bundle.model_id}`, architecture `{bundle.architecture}`"
             + (f", {bundle.parameters:,} weights (BatchNorm statistics included)" if bundle.parameters else "")
             + ".", "",
             "## Intended use", "", bundle.intended_use, "",
             "## Input and output", "",
             f"- Input: {rule.describe()}.",
             "- Output: one logit per window, higher = bona fide.",
             f"- Calibration: P(spoof) = 1 / (1 + exp({cal.a:.6g} * logit + {cal.b:.6g})) at a bona fide prior of "
             f"{cal.prior:g}; {cal.fitted_on}.",
             f"- Threshold: 'spoof' when P(spoof) >= {thr.spoof_probability:.6g} ({thr.source}).", "",
             "## Training data", "", f"- {training.get('data', 'not recorded')}"]
    for key, label in (("utterances", "Utterances"), ("speakers", "Speakers"), ("attacks", "Attacks")):
        if training.get(key) is not None:
            value = training[key]
            value = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else \
                json.dumps(value) if isinstance(value, dict) else value
            lines.append(f"- {label}: {value}")
    lines += ["", "## Results", ""]
    rows = _result_rows(results)
    if rows:
        boot = next((results[s]["bootstrap"] for s in ("dev", "eval") if "bootstrap" in results.get(s, {})), {})
        lines += [f"EER with a stratified bootstrap 95% interval ({boot.get('replicates', '?')} replicates, seed "
                  f"{boot.get('seed', '?')}); eval error rates at the dev threshold.", "",
                  "| split | bona fide / spoof | EER | 95% CI | at dev threshold | note |",
                  "|---|---|---|---|---|---|", *rows, ""]
    else:
        lines += ["No results were measured in tfdeepfake for this model.", ""]
    for split in ("dev", "eval"):
        attacks = {k: v for k, v in (results.get(split) or {}).get("per_attack_eer", {}).items() if k != "pooled"}
        if attacks:
            lines += [f"Per-attack {split} EER: " + ", ".join(f"{k} {_percent(v)}" for k, v in sorted(attacks.items()))
                      + ".", ""]
    if "published" in results:
        lines += [f"Published: {results['published']['result']} ({results['published']['note']}).", ""]
    lines += ["## Out-of-domain results", ""]
    ood = results.get("out_of_domain") or []
    if ood:
        lines += ["| data | bona fide / spoof | EER | 95% CI |", "|---|---|---|---|"]
        for item in ood:
            ci = item.get("eer_ci95") or [None, None]
            lines.append(f"| {item.get('name', '?')} | {item.get('bonafide', '?')} / {item.get('spoof', '?')} | "
                         f"{_percent(item.get('eer'))} | {_percent(ci[0])} - {_percent(ci[1])} |")
        lines.append("")
    else:
        lines += ["None measured: expect higher error rates than above on any other corpus (see failure modes).", ""]
    lines += _domain_calibration_lines(results.get("domain_calibration"))
    shown = {k: v for k, v in bundle.provenance.items() if k != "config"}
    if "config" in bundle.provenance:
        shown["config"] = f"the resolved training config: {META_FILE}, provenance.config"
    lines += ["## Known failure modes", "", *[f"- {mode}" for mode in bundle.failure_modes], "",
              "## Licence", "", bundle.licence or "not recorded", "",
              "## Provenance", "", "```json", json.dumps(_finite(shown), indent=1), "```", ""]
    return "\n".join(lines)
