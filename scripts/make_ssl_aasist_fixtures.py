"""Write the SSL-AASIST back-end parity fixture: the OFFICIAL back-end (TakHemlata/SSL_Anti-spoofing model.py) with
random weights on random front-end features, and its output.

Run with the torch side environment, the official source outside the repository:

    git -C /work/.mirror/TakHemlata+SSL_Anti-spoofing/repo show HEAD:model.py > /tmp/ssl_aasist_model.py
    /opt/torchenv/bin/python scripts/make_ssl_aasist_fixtures.py --src /tmp/ssl_aasist_model.py \
        --out tests/fixtures/ssl_aasist

Only the fairseq XLS-R model is replaced (fairseq is not installable): ``SSLModel`` becomes a module that hands the
features through, with a small ``out_dim`` so the fixture stays small; every back-end line is the official one.
Outputs: OUT/backend.pth (plain torch.save of the state dict, ``ssl_model`` has no tensors) and OUT/outputs.npz
(features, two-class logits in eval mode, the
parameter counts of the full-size back-end on 1024 channels).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from torch_fixtures import load_official, randomise_batch_norms

CHANNELS, FRAMES, BATCH = 24, 40, 3


class PassThroughSSL(torch.nn.Module):
    """Stands in for fairseq's XLS-R: the 'waveform' given to the model already is the (batch, frames, dim) output."""

    def __init__(self, device):
        super().__init__()
        self.out_dim = CHANNELS

    def extract_feat(self, features):
        return features


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the official model.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    official = load_official(args.src, "ssl_aasist_official", PassThroughSSL)
    torch.manual_seed(args.seed)
    model = randomise_batch_norms(official.Model(None, "cpu")).eval()
    features = torch.randn(BATCH, FRAMES, CHANNELS, generator=torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        logits = model(features)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "backend.pth")
    full_size = full_size_parameters(official)
    np.savez(out / "outputs.npz", features=features.numpy(), logits=logits.numpy(), **full_size)
    print(f"{sum(p.numel() for p in model.parameters())} parameters; full size {full_size}; "
          f"logits {logits.numpy().tolist()}")


def full_size_parameters(official):
    """Parameter counts of the official back-end on XLS-R 300M's 1024 channels: all, and the never-read bn1."""
    global CHANNELS
    CHANNELS, tiny = 1024, CHANNELS
    try:
        parameters = dict(official.Model(None, "cpu").named_parameters())
    finally:
        CHANNELS = tiny
    return {"full_size_parameters": sum(p.numel() for p in parameters.values()),
            "full_size_bn1_parameters": sum(p.numel() for k, p in parameters.items() if ".bn1." in k)}


if __name__ == "__main__":
    main()
