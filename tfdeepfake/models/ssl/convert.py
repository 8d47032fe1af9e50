"""Convert a Hugging Face ``pytorch_model.bin`` into ``model.safetensors`` (needs torch, once).

    python -m tfdeepfake.models.ssl.convert SRC_FOLDER DST_FOLDER

Afterwards everything loads without torch. config.json (and other JSON files) are copied along.
"""
from __future__ import annotations

import glob
import os
import shutil
import sys


def convert(source: str, target: str) -> str:
    try:
        import torch
    except ImportError as error:
        raise SystemExit("converting pytorch_model.bin needs torch once: pip install torch (CPU build is enough)") \
            from error
    from safetensors.numpy import save_file

    weights = os.path.join(source, "pytorch_model.bin")
    if not os.path.isfile(weights):
        raise SystemExit(f"{weights}: not found")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    os.makedirs(target, exist_ok=True)
    save_file({k: v.detach().float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()},
              os.path.join(target, "model.safetensors"))
    for name in glob.glob(os.path.join(source, "*.json")):
        if os.path.abspath(os.path.dirname(name)) != os.path.abspath(target):
            shutil.copy(name, target)
    return os.path.join(target, "model.safetensors")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(__doc__)
    print(f"wrote {convert(*argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
