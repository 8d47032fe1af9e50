"""Typed experiment configs: dataclasses loaded from YAML, overridable with ``section.key=value`` strings.

Unknown keys and values of the wrong type are rejected with an error that names the key.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import TfDeepfakeError

from .features import FeatureConfig
from .pipeline import AugmentConfig

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
    crop_samples: int = 64600
    sample_rate: int = 16000
    batch_size: int = 32  # per replica: the global batch is this times the strategy's replicas
    eval_batch_size: int | None = None  # windows per scoring batch (dev, eval); None: the training batch
    balanced: bool = False  # 1:1 bona fide/spoof sampling instead of class weights
    shuffle_buffer: int = 2048
    eval_windows_hop: int | None = None  # None: first crop_samples of each utterance (the peers' convention)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "lcnn"
    params: dict = field(default_factory=dict)  # keyword arguments of the registered builder


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
