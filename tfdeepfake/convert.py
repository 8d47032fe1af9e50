"""An official AASIST / RawGAT-ST PyTorch checkpoint as a tfdeepfake bundle, without torch
(``tfdeepfake convert-checkpoint``, tfdeepfake.cli.convert_checkpoint).

The checkpoint is read with the restricted unpickler (it never runs code) and must fit the architecture the config
describes tensor by tensor. ``--config`` is the official JSON .conf (its ``model_config``) or RawGAT-ST's YAML (its
``model:`` section). The bundle's calibration is the identity (P(spoof) = the model's softmax) and its threshold
the official argmax, until ``tfdeepfake evaluate`` measures yours.
"""
from __future__ import annotations

import json
import os

import yaml

from .errors import CheckpointError


def official_model_config(path: str) -> dict:
    """The model section of an official .conf (JSON) or RawGAT-ST .yaml."""
    try:
        with open(path) as handle:
            text = handle.read()
        config = json.loads(text) if path.endswith((".conf", ".json")) else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise CheckpointError(f"{path}: cannot read the model config ({error})") from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a mapping")
    return config.get("model_config") or config.get("model") or config


def convert_checkpoint(checkpoint: str, config_path: str, out_dir: str, name: str | None = None):
    """Write the bundle of ``checkpoint`` (an official .pth) built as ``config_path`` describes; returns it."""
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

    from . import bundle as bundles
    from .features import FeatureConfig
    from .models import build_model
    from .models.aasist.convert import from_official_config, load_official_checkpoint
    from .storage import sha256_file

    architecture, samples, params = from_official_config(official_model_config(config_path))
    model = build_model(architecture, FeatureConfig(), samples, **params)
    load_official_checkpoint(model, checkpoint, architecture)
    name = name or os.path.splitext(os.path.basename(checkpoint))[0]
    bundle = bundles.Bundle(
        model_id=name, name=f"{name} ({architecture}, converted from {os.path.basename(checkpoint)})",
        architecture=architecture, input=bundles.InputRule(window_samples=samples),
        calibration=bundles.Calibration(fitted_on="identity: P(spoof) = the converted model's softmax"),
        threshold=bundles.Threshold(0.5, "official argmax rule: P(spoof) >= 0.5, logit <= 0", 0.0),
        training={"data": "as trained by the checkpoint's authors (not recorded in the checkpoint)"},
        licence="the checkpoint's own licence", failure_modes=bundles.GENERAL_FAILURE_MODES,
        provenance=bundles.provenance(checkpoint={"file": os.path.abspath(checkpoint),
                                                  "sha256": sha256_file(checkpoint)},
                                      model_config=params, architecture=architecture))
    return bundles.write_bundle(out_dir, model, bundle)
