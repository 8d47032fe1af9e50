"""Bundles made from pretrained weights: a preset, or an official AASIST / RawGAT-ST / SSL-AASIST / Nes2Net-X
checkpoint of the user's."""
from __future__ import annotations

import json
import os

import yaml

from ..errors import CheckpointError
from ..input_rule import InputRule
from .decision import Calibration, Threshold
from .folder import provenance, write_bundle
from .schema import GENERAL_FAILURE_MODES, Bundle


def bundle_from_preset(name: str, out_dir: str | None = None) -> Bundle:
    """A pretrained preset as a bundle: written to ``out_dir``, or kept in memory (``bundle.model``) without it.

    No dev scores of these models exist here, so the calibration is the identity (P(spoof) = sigmoid(-logit), the
    official softmax) and the threshold 0.5 on P(spoof): the official argmax rule.
    """
    from ..models.presets import get_preset, load_preset

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


def _official_ssl_model(checkpoint: str):
    """(architecture, input samples, builder parameters, filled model) of an official SSL detector, told apart by
    its tensors: Nes2Net-X (``Nested_Res2Net_TDNN.*``) or SSL-AASIST (``LL.*``), each on fairseq's XLS-R under
    ``ssl_model.model.`` whose tensors give its widths and depth."""
    from ..features import FeatureConfig
    from ..models import build_model
    from ..models.nes2net import convert as nes2net
    from ..models.porting import StateDict, read_torch_checkpoint
    from ..models.ssl_aasist import convert as ssl_aasist

    state = StateDict(read_torch_checkpoint(checkpoint), checkpoint)
    if not any(key.startswith(nes2net.PREFIX) for key in state):
        ssl_aasist.check_official_layout(state)
        params = {"config": ssl_aasist.official_frontend_config(state).to_dict()}
        model = build_model("ssl_aasist", FeatureConfig(), ssl_aasist.OFFICIAL_SAMPLES, **params)
        ssl_aasist.load_official_state(model, state)
        return "ssl_aasist", ssl_aasist.OFFICIAL_SAMPLES, params, model
    params = {"frontend": {"name": "ssl", "config": ssl_aasist.official_frontend_config(state).to_dict()},
              "backend": {"name": "nes2net_x", **nes2net.official_backend_architecture(state)}}
    model = build_model("composed", FeatureConfig(), ssl_aasist.OFFICIAL_SAMPLES, **params)
    nes2net.load_official_state(model, state)
    return "ssl_nes2net_x", ssl_aasist.OFFICIAL_SAMPLES, params, model


def _official_model(checkpoint: str, config_path: str | None):
    """(architecture, input samples, builder parameters, filled model) of an official checkpoint: AASIST /
    RawGAT-ST built as their ``config_path`` describes, SSL-AASIST and Nes2Net-X (no config file) as their tensors
    describe."""
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

    if config_path is None:
        return _official_ssl_model(checkpoint)
    from ..features import FeatureConfig
    from ..models import build_model
    from ..models.aasist.convert import from_official_config, load_official_checkpoint

    architecture, samples, params = from_official_config(official_model_config(config_path))
    model = build_model(architecture, FeatureConfig(), samples, **params)
    load_official_checkpoint(model, checkpoint, architecture)
    return architecture, samples, params, model


def bundle_from_checkpoint(checkpoint: str, config_path: str | None, out_dir: str, name: str | None = None) -> Bundle:
    """Write the bundle of ``checkpoint`` (an official .pth) built as ``config_path`` describes (None for an
    SSL-AASIST or Nes2Net-X checkpoint: their tensors tell the architecture); returns it."""
    from ..storage import sha256_file

    architecture, samples, params, model = _official_model(checkpoint, config_path)
    name = name or os.path.splitext(os.path.basename(checkpoint))[0]
    bundle = Bundle(
        model_id=name, name=f"{name} ({architecture}, converted from {os.path.basename(checkpoint)})",
        architecture=architecture, input=InputRule(window_samples=samples),
        calibration=Calibration(fitted_on="identity: P(spoof) = the converted model's softmax"),
        threshold=Threshold(0.5, "official argmax rule: P(spoof) >= 0.5, logit <= 0", 0.0),
        training={"data": "as trained by the checkpoint's authors (not recorded in the checkpoint)"},
        licence="the checkpoint's own licence", failure_modes=GENERAL_FAILURE_MODES,
        provenance=provenance(checkpoint={"file": os.path.abspath(checkpoint),
                                                  "sha256": sha256_file(checkpoint)},
                                      model_config=params, architecture=architecture))
    return write_bundle(out_dir, model, bundle)
