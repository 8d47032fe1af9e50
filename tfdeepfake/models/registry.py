"""One registry of model builders keyed by the config's ``model.name``."""
from __future__ import annotations

import inspect

from .aasist import build_aasist
from .composed import build_composed
from .conformer import build_conformer, build_contextnet
from .efficientnet import build_efficientnet
from .lcnn import build_lcnn
from .rawgat_st import build_rawgat_st
from .resnet import build_resnet
from .ssl.classifier import build_ssl_classifier
from .ssl_aasist import build_ssl_aasist

BUILDERS = {"lcnn": build_lcnn, "resnet": build_resnet, "efficientnet": build_efficientnet,
            "conformer": build_conformer, "contextnet": build_contextnet, "ssl": build_ssl_classifier,
            "aasist": build_aasist, "rawgat_st": build_rawgat_st, "ssl_aasist": build_ssl_aasist,
            "composed": build_composed}


def build_model(name: str, feature_config, input_samples: int, features_input: bool = False, **params):
    """Build ``name`` with builder keyword ``params``; unknown names or parameters raise a clear error.

    ``params["preset"]`` (e.g. ``aasist-l``) builds that pretrained preset of ``name`` with its weights; the other
    params are then training-time options (``freq_mask``, ``seed``, ``dropout``) and ``weights`` a local file.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown model.name {name!r}; registered: {sorted(BUILDERS)}")
    if "preset" in params:
        from .presets import get_preset, load_preset

        params = dict(params)
        preset = params.pop("preset")
        if get_preset(preset).model != name:
            raise ValueError(f"model.params.preset {preset!r} is a {get_preset(preset).model} model, "
                             f"not {name}")
        if features_input:
            raise ValueError(f"preset {preset!r} reads raw waveforms: set features.where=device")
        return load_preset(preset, input_samples, **params)
    builder = BUILDERS[name]
    accepted = set(inspect.signature(builder).parameters) - {"feature_config", "input_samples", "features_input"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"model.params.{unknown[0]} is not a parameter of {name}; accepted: {sorted(accepted)}")
    return builder(feature_config, input_samples, features_input, **params)
