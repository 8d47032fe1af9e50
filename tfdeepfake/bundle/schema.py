"""What a bundle is: bundle.json's fields as a dataclass, the file names, and the text every card starts from."""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import BundleError
from ..input_rule import InputRule
from ..storage import sha256_file
from .decision import Calibration, Threshold

FORMAT = "tfdeepfake-bundle"
FORMAT_VERSION = 1
MODEL_FILE, META_FILE, CARD_FILE = "model.keras", "bundle.json", "model_card.md"
KERAS = "keras"  # model.format of a bundle holding the whole Keras model; any other is an export format's name

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
    # what the folder's model is: the whole Keras model (model.keras), or an export (a .tflite / .onnx file, a
    # SavedModel folder) kept with its metadata, as ``tfdeepfake calibrate`` writes for an exported model
    model_format: str = KERAS
    model_file: str = MODEL_FILE
    path: str | None = field(default=None, compare=False)
    model: object = field(default=None, compare=False, repr=False)  # in-memory Keras model (unsaved bundles)

    @property
    def model_path(self) -> str | None:
        return None if self.path is None else os.path.join(self.path, self.model_file)

    def load_model(self):
        """The Keras model: the in-memory one, else ``model.keras`` (sha256 checked) with tfdeepfake's layers."""
        if self.model is not None:
            return self.model
        if self.path is None:
            raise BundleError(f"bundle {self.model_id!r} has neither a folder nor an in-memory model")
        if self.model_format != KERAS:
            raise BundleError(f"{self.model_path}: a {self.model_format} export, not a Keras model; "
                              "Detector.load runs it")
        return load_keras_model(self.model_path, self.model_sha256)

    def to_json(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "model": {"id": self.model_id, "name": self.name, "architecture": self.architecture,
                          "file": self.model_file, "format": self.model_format, "sha256": self.model_sha256,
                          "parameters": self.parameters,
                          "output": "one logit per window, higher = bona fide"},
                "input": asdict(self.input),
                "calibration": {**asdict(self.calibration), "formula": "p_spoof = 1 / (1 + exp(a * logit + b))"},
                "threshold": {**asdict(self.threshold), "rule": "spoof if p_spoof >= threshold"},
                "training": self.training, "metrics": self.metrics, "licence": self.licence,
                "intended_use": self.intended_use, "failure_modes": list(self.failure_modes),
                "provenance": self.provenance}


def finite_json(value):
    """JSON-safe copy: NaN/Inf become None, numpy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return finite_json(value.tolist())
    return value


def check_model_file(path: str, sha256: str | None = None) -> None:
    """BundleError unless the model file is there and, when bundle.json records one, has that sha256."""
    if not os.path.isfile(path):
        raise BundleError(f"{path}: model file not found")
    if sha256 is not None and sha256_file(path) != sha256:
        raise BundleError(f"{path}: sha256 differs from bundle.json's model.sha256 (changed or truncated); "
                          "rewrite the bundle")


def load_keras_model(path: str, sha256: str | None = None):
    """A whole saved model with every tfdeepfake layer registered (no training code needed)."""
    import tensorflow as tf

    import tfdeepfake.models  # noqa: F401  (registers the custom layers)

    check_model_file(path, sha256)
    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad archive
        raise BundleError(f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error})") from error
