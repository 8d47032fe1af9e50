"""What the fixture scripts share (run in the torch side environment, never imported by the package or the tests):
random weights everywhere, random BatchNorm statistics, and an official model file imported with its fairseq
front-end swapped for a stand-in."""
import importlib.util
import sys
import types

import torch


def perturb(model, seed):
    """Random weights everywhere (norm gains and gates included) so parity checks every parameter; eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def randomise_batch_norms(model):
    """Random running statistics and affine terms in every BatchNorm, so eval-mode BatchNorm is exercised."""
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    return model


def load_official(src: str, name: str, ssl_model):
    """The official model file at ``src`` imported as module ``name`` (fairseq, which does not install on Python
    3.11, stubbed) with its ``SSLModel`` replaced by ``ssl_model``; every other line runs as written."""
    sys.modules.setdefault("fairseq", types.ModuleType("fairseq"))
    spec = importlib.util.spec_from_file_location(name, src)
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    official.SSLModel = ssl_model
    return official
