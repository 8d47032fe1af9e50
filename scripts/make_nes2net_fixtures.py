"""Write the Nes2Net-X back-end parity fixture: the OFFICIAL back-end (Liu-Tianchi/Nes2Net_ASVspoof_ITW
``model_scripts/wav2vec2_Nes2Net_X.py``) with random weights on random front-end features, and its outputs.

Run with the torch side environment, the official source outside the repository:

    git -C /work/.mirror/Liu-Tianchi+Nes2Net_ASVspoof_ITW/repo show HEAD:model_scripts/wav2vec2_Nes2Net_X.py \
        > /tmp/nes2net_x_official.py
    /opt/torchenv/bin/python scripts/make_nes2net_fixtures.py --src /tmp/nes2net_x_official.py \
        --out tests/fixtures/nes2net

The official ``Nested_Res2Net_TDNN`` is built with a tiny configuration (CHANNELS input channels, TINY); its
final ``bn`` and ``fc`` are written for 1024 channels (the XLS-R width, a literal in the official code), so for
the tiny model only those two are rebuilt at the tiny width, as the literal stands for the input width. Every
forward line is the official one. The state dict is saved under the official checkpoint's names (the wrapper
module's ``Nested_Res2Net_TDNN.`` prefix; the script checks them against the full-size official wrapper's).
Outputs: OUT/backend_{mean,astp}.pth (torch.save, zip format) and OUT/outputs.npz (features, two-class logits of
both in eval mode, full-size back-end parameter counts on 1024 channels for both pool functions).
"""
import argparse
import importlib.util
import sys
import types
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch

CHANNELS, FRAMES, BATCH = 40, 20, 3
# width 10 // 3 = 3 per scale: the inner projection (9 channels) differs from the block width, as can happen
TINY = dict(Nes_ratio=[4, 3], dilation=2, SE_ratio=[2])
FULL = dict(Nes_ratio=[8, 8], dilation=2, SE_ratio=[1])  # main.py defaults, the README's training command


class PassThroughSSL(torch.nn.Module):
    """Stands in for fairseq's XLS-R (not installable here): the 'waveform' already is the (batch, frames, 1024)
    output; it holds no tensors."""

    def __init__(self, device):
        super().__init__()

    def extract_feat(self, features):
        return features


def load_official(src: str):
    sys.modules.setdefault("fairseq", types.ModuleType("fairseq"))
    spec = importlib.util.spec_from_file_location("nes2net_x_official", src)
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    official.SSLModel = PassThroughSSL
    return official


def full_size(official, pool_func: str) -> torch.nn.Module:
    """The official wrapper at its published size; its back-end is what a released checkpoint holds."""
    args = Namespace(n_output_logits=2, pool_func=pool_func, **FULL)
    return official.wav2vec2_Nes2Net_no_Res_w_allT(args, "cpu")


def tiny(official, pool_func: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = official.Nested_Res2Net_TDNN(input_channel=CHANNELS, n_output_logits=2, pool_func=pool_func, **TINY)
    net.bn = torch.nn.BatchNorm1d(CHANNELS)  # the official literal 1024 is the input width
    net.fc = torch.nn.Linear(CHANNELS if pool_func == "mean" else 2 * CHANNELS, 2)
    for module in net.modules():  # random running statistics and affine terms, so eval-mode BatchNorm counts
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    for weights in net.modules():  # move the weighted sums off their 1/slots start
        if isinstance(weights, torch.nn.ParameterList):
            for parameter in weights:
                parameter.data.uniform_(0.0, 1.0)
    return net.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the official wav2vec2_Nes2Net_X.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    official = load_official(args.src)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    features = torch.randn(BATCH, FRAMES, CHANNELS, generator=torch.Generator().manual_seed(args.seed + 1))
    arrays = {"features": features.numpy()}
    for pool_func in ("mean", "ASTP"):
        wrapper = full_size(official, pool_func)
        backend = {k for k in wrapper.state_dict() if k.startswith("Nested_Res2Net_TDNN.")}
        arrays[f"full_size_parameters_{pool_func.lower()}"] = np.int64(sum(
            p.numel() for p in wrapper.Nested_Res2Net_TDNN.parameters() if p.requires_grad))
        net = tiny(official, pool_func, args.seed)
        state = {f"Nested_Res2Net_TDNN.{k}": v for k, v in net.state_dict().items()}
        full_layout = {k for k in backend if not k.startswith(("Nested_Res2Net_TDNN.Build_in_Res2Nets.",
                                                               "Nested_Res2Net_TDNN.bns."))}
        tiny_layout = {k for k in state if not k.startswith(("Nested_Res2Net_TDNN.Build_in_Res2Nets.",
                                                             "Nested_Res2Net_TDNN.bns."))}
        assert tiny_layout == full_layout, (tiny_layout ^ full_layout)
        assert {k.split(".", 3)[3] for k in state if ".Build_in_Res2Nets." in k} <= {
            k.split(".", 3)[3] for k in backend if ".Build_in_Res2Nets." in k}
        with torch.no_grad():
            logits = net(features.permute(0, 2, 1))  # the wrapper's permute: (batch, channels, frames)
        torch.save(state, out / f"backend_{pool_func.lower()}.pth")
        arrays[f"logits_{pool_func.lower()}"] = logits.numpy()
        print(f"{pool_func}: tiny {sum(p.numel() for p in net.parameters())} parameters, full size "
              f"{arrays[f'full_size_parameters_{pool_func.lower()}']}; logits {logits.numpy().tolist()}")
    np.savez(out / "outputs.npz", **arrays)


if __name__ == "__main__":
    main()
