"""Typed experiment configs: dataclasses loaded from YAML, overridable with ``section.key=value`` strings.

Unknown keys and values of the wrong type are rejected with an error that names the key.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .errors import TfDeepfakeError
from .input_rule import DEFAULT_SAMPLE_RATE, DEFAULT_WINDOW

KINDS = ("stft", "logmel", "mfcc", "lfcc", "logspec")


@dataclass(frozen=True)
class FeatureConfig:
    """What to compute and where.

    ``n_mels`` is the number of triangular filters (mel-spaced for logmel/mfcc, linear for lfcc);
    ``n_coeffs`` the cepstral coefficients kept. Log features are ``10*log10(max(x, log_floor))``,
    optionally clipped to ``top_db`` below each example's maximum. ``deltas`` appends delta and
    delta-delta (librosa.feature.delta with ``delta_width``) to the cepstra. ``where`` is a placement
    hint for pipelines: 'host' = map in tf.data, 'device' = put a :class:`FrontEnd` layer in the model.
    """

    kind: str = "logmel"
    sample_rate: int = DEFAULT_SAMPLE_RATE
    n_fft: int = 512
    win_length: int | None = None
    hop_length: int = 160
    n_mels: int = 80
    n_coeffs: int = 20
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    log_floor: float = 1e-10
    top_db: float | None = None
    power: float = 2.0
    pad_mode: str = "constant"
    deltas: bool = False
    delta_width: int = 3
    where: str = "host"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.where not in ("host", "device"):
            raise ValueError(f"where must be 'host' or 'device', got {self.where!r}")
        if self.pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {self.pad_mode!r}")
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError("win_length must not exceed n_fft")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise ValueError("delta_width must be odd and >= 3")

    @classmethod
    def lfcc_baseline(cls, **overrides) -> "FeatureConfig":
        """ASVspoof 2021 LFCC baseline: 20 linear filters, 20 coefficients + deltas, 20 ms / 10 ms at 16 kHz."""
        base = cls(kind="lfcc", sample_rate=16000, n_fft=512, win_length=320, hop_length=160,
                   n_mels=20, n_coeffs=20, deltas=True, delta_width=3)
        return replace(base, **overrides)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a clip of ``num_samples`` (centred framing)."""
        return 1 + num_samples // self.hop_length

    def num_bins(self) -> int:
        """Size of the last output axis."""
        if self.kind in ("stft", "logspec"):
            return self.n_fft // 2 + 1
        if self.kind == "logmel":
            return self.n_mels
        return self.n_coeffs * (3 if self.deltas else 1)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (0 disables) and ranges of the in-graph augmentations."""

    noise_p: float = 0.0
    noise_snr_db: tuple[float, float] = (5.0, 20.0)
    noise_kind: str = "coloured"  # white | coloured | folder (recordings under noise_dir)
    noise_dir: str | None = None
    noise_bank_rows: int = 16  # rows of 2 crops each; clips take random excerpts (see wave.noise_bank)
    gain_p: float = 0.0
    gain_db: tuple[float, float] = (-6.0, 6.0)
    telephony_p: float = 0.0
    rawboost_p: float = 0.0
    rawboost_chain: tuple[str, ...] = ("lnl", "isd", "ssi")
    spec_augment_p: float = 0.0
    mixup_p: float = 0.0
    mixup_alpha: float = 0.4
    cutmix_p: float = 0.0
    cutmix_alpha: float = 1.0

    def __post_init__(self):
        if self.noise_kind not in ("white", "coloured", "folder"):
            raise ValueError(f"noise_kind must be 'white', 'coloured' or 'folder', got {self.noise_kind!r}")
        if self.noise_kind == "folder" and not self.noise_dir:
            raise ValueError("noise_kind 'folder' needs noise_dir: a folder of noise recordings")


CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # shipped with the package; ./configs links here


class ConfigError(TfDeepfakeError, ValueError):
    """A config key that does not exist, or a value of the wrong type; the message names the key."""


@dataclass(frozen=True)
class DataConfig:
    tfrecords: str = "tfrecords/demo"
    demo: bool = True  # build the demo corpus and its TFRecords when ``tfrecords`` has no manifest
    demo_corpus: str = "data/demo"
    train_splits: tuple[str, ...] = ("train",)
    train_folds: tuple[int, ...] | None = None
    dev_splits: tuple[str, ...] = ("dev",)
    dev_folds: tuple[int, ...] | None = None
    eval_splits: tuple[str, ...] = ("eval",)
    crop_samples: int = DEFAULT_WINDOW
    sample_rate: int = DEFAULT_SAMPLE_RATE
    batch_size: int = 32  # per replica: the global batch is this times the strategy's replicas
    eval_batch_size: int | None = None  # windows per scoring batch (dev, eval); None: the training batch
    balanced: bool = False  # 1:1 bona fide/spoof sampling instead of class weights
    shuffle_buffer: int = 2048
    eval_windows_hop: int | None = None  # None: first crop_samples of each utterance (the peers' convention)


@dataclass(frozen=True)
class ModelConfig:
    """A registered family (``name``) with its builder's keyword arguments (``params``), or ``name: composed``
    with a ``frontend`` and a ``backend`` mapping, each a registered ``name`` plus that builder's parameters."""

    name: str = "lcnn"
    params: dict = field(default_factory=dict)  # keyword arguments of the registered builder
    frontend: dict | None = None
    backend: dict | None = None

    def __post_init__(self):
        composed = self.name == "composed"
        if composed and (self.frontend is None or self.backend is None):
            raise ValueError("name: composed needs both model.frontend and model.backend (mappings with a name)")
        if not composed and (self.frontend is not None or self.backend is not None):
            raise ValueError(f"model.frontend / model.backend compose a model: set model.name: composed "
                             f"(got {self.name!r})")

    def builder_params(self) -> dict:
        """The keyword arguments of the registry's builder for this model."""
        if self.name == "composed":
            return {**self.params, "frontend": self.frontend, "backend": self.backend}
        return dict(self.params)

    @property
    def label(self) -> str:
        """A short name for logs and bundles: the family, or ``<frontend>_<backend>`` for a composed model."""
        if self.name == "composed":
            return f"{self.frontend.get('name')}_{self.backend.get('name')}"
        return self.name


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    steps_per_epoch: int | None = None  # required with balanced sampling (infinite stream)
    learning_rate: float = 1e-3
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # cosine | linear
    final_lr_ratio: float = 0.01
    weight_decay: float = 1e-4
    class_weighting: bool = True
    early_stopping_patience: int = 5
    objective: str = "bce"  # bce | triplet | supcon (metric loss on a 128-d head, plus the logit's BCE)
    metric_margin: float = 0.3
    metric_weight: float = 1.0
    finetune_layers: int = 0  # SSL models, stage 2: unfreeze the top N transformer layers ...
    finetune_epochs: int = 0  # ... for this many more epochs ...
    finetune_learning_rate: float = 1e-5  # ... at this peak learning rate (warm-up, then the same decay)
    seed: int = 0
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism()
    precision: str = "auto"  # auto | float32 | mixed_float16 | mixed_bfloat16
    run_dir: str = "runs/demo"
    results: str | None = "results/demo_run.json"  # where the run's headline metrics are copied


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _convert(value, hint, key: str):
    """``value`` checked against the type ``hint`` (lists become tuples); ConfigError names ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = args[0] if args else typing.Any
        return tuple(_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is typing.Any:
        return value
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls, values, prefix: str = ""):
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown config key {where}{unknown[0]}; {prefix or 'top level'} accepts {sorted(names)}")
    converted = {name: _convert(value, hints[name], f"{prefix}.{name}" if prefix else name)
                 for name, value in values.items()}
    try:
        return cls(**converted)
    except ValueError as error:  # the dataclass's own checks (e.g. FeatureConfig.kind)
        raise ConfigError(f"{prefix or 'config'}: {error}") from error


def to_dict(config) -> dict:
    """Plain YAML-able dict (tuples as lists)."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value
    return plain(dataclasses.asdict(config))


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """``["train.epochs=3", "model.params.width=8"]`` applied to a nested dict; values parsed as YAML."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} is not of the form section.key=value")
        dotted, raw = override.split("=", 1)
        *parents, leaf = dotted.strip().split(".")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{dotted}: {part} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return values


def recipe_path(path_or_name: str | None) -> Path:
    """A YAML path as it is, or a shipped recipe by name (``aasist`` → the package's configs/aasist.yaml)."""
    if not path_or_name:
        return CONFIG_DIR / "demo.yaml"
    path = Path(path_or_name)
    if not path.is_file() and not path.suffix and (CONFIG_DIR / f"{path_or_name}.yaml").is_file():
        return CONFIG_DIR / f"{path_or_name}.yaml"
    if not path.is_file():
        recipes = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"{path}: config file not found (shipped recipes, usable by name: {recipes})")
    return path


def load_config(path: str | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """The YAML at ``path`` or the shipped recipe of that name (default: demo) with ``overrides`` applied."""
    path = recipe_path(path)
    values = yaml.safe_load(path.read_text()) or {}
    return from_dict(ExperimentConfig, apply_overrides(values, list(overrides or [])))
