"""One registry of model builders keyed by the config's ``model.name``."""
from __future__ import annotations

import inspect

from .conformer import build_conformer, build_contextnet
from .efficientnet import build_efficientnet
from .lcnn import build_lcnn
from .resnet import build_resnet
from .ssl.classifier import build_ssl_classifier

BUILDERS = {"lcnn": build_lcnn, "resnet": build_resnet, "efficientnet": build_efficientnet,
            "conformer": build_conformer, "contextnet": build_contextnet, "ssl": build_ssl_classifier}


def build_model(name: str, feature_config, input_samples: int, features_input: bool = False, **params):
    """Build ``name`` with builder keyword ``params``; unknown names or parameters raise a clear error."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model.name {name!r}; registered: {sorted(BUILDERS)}")
    builder = BUILDERS[name]
    accepted = set(inspect.signature(builder).parameters) - {"feature_config", "input_samples", "features_input"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"model.params.{unknown[0]} is not a parameter of {name}; accepted: {sorted(accepted)}")
    return builder(feature_config, input_samples, features_input, **params)
