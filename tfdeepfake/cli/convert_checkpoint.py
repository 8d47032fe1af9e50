"""An official AASIST / RawGAT-ST / SSL-AASIST / Nes2Net-X PyTorch checkpoint (yours, or a preset's) as a
tfdeepfake bundle, without torch.

    tfdeepfake convert-checkpoint my_aasist.pth --config AASIST.conf --out bundles/my-aasist
    tfdeepfake convert-checkpoint LA_model.pth --out bundles/ssl-aasist-la     # SSL_Anti-spoofing's model.py
    tfdeepfake convert-checkpoint nes2net_x.pth --out bundles/nes2net-x        # Nes2Net_ASVspoof_ITW's
    tfdeepfake convert-checkpoint --preset aasist-l --out bundles/aasist-l

The checkpoint is read with the restricted unpickler (it never runs code) and must fit the architecture the config
describes tensor by tensor. ``--config`` is the official JSON .conf (its ``model_config``) or RawGAT-ST's YAML (its
``model:`` section); SSL-AASIST and Nes2Net-X checkpoints need none (the back-end's tensors tell which and its
nesting and pooling; the fairseq XLS-R front-end's tensors give its widths and depth, the rest is XLS-R 300M's; 4 s
windows as the official input rule). The bundle's calibration is the identity (P(spoof) = the model's softmax) and
its threshold the official argmax, until ``tfdeepfake evaluate`` measures yours.
"""
from __future__ import annotations

import argparse

from ..bundle import bundle_from_checkpoint, bundle_from_preset


def main(argv=None, prog: str = "tfdeepfake convert-checkpoint") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="official .pth (zip format)")
    parser.add_argument("--config", help="the official .conf / .yaml the checkpoint was trained with "
                                         "(AASIST, RawGAT-ST; none for SSL-AASIST, Nes2Net-X)")
    parser.add_argument("--preset", help="instead of a checkpoint: write this pretrained preset as a bundle")
    parser.add_argument("--name", help="model id in the bundle (default: the checkpoint's file name)")
    parser.add_argument("--out", required=True, help="bundle folder to write")
    args = parser.parse_args(argv)
    if args.preset:
        if args.checkpoint or args.config:
            parser.error("--preset takes no checkpoint or --config")

        written = bundle_from_preset(args.preset, args.out)
    elif args.checkpoint:
        written = bundle_from_checkpoint(args.checkpoint, args.config, args.out, args.name)
    else:
        parser.error("give CHECKPOINT [--config FILE], or --preset NAME")
    print(f"bundle {written.model_id} written to {args.out}")
    return 0
