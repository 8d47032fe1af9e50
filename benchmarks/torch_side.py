"""Inference speed of the official PyTorch AASIST on CPU: the torch half of the TF-vs-torch benchmark.

    /opt/torchenv/bin/python benchmarks/torch_side.py --aasist-src /tmp/aasist_src/AASIST.py \
        --checkpoint /work/shared/weights/aasist/AASIST.pth --config /work/shared/weights/aasist/AASIST.conf \
        --batch 16 --clips 64 --seconds 4 --repeats 5 --threads 2 --seed 0 --out-logits /tmp/torch_logits.npy

Standalone on purpose (run by a side environment with torch; tfdeepfake never imports torch). The clips are either
--inputs FILE.npy (float32 [N, samples], e.g. written by the TF side so both run on identical data) or
0.1 * N(0, 1) noise from numpy's default_rng(--seed), --seconds at 16 kHz. After one warm-up pass over all clips,
each repeat times one pass in batches of --batch; prints one JSON line (clips/s as the median over repeats, ms per
full batch p50/p95) and saves the logits [N, 2] of the last pass to --out-logits.
"""
import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

RATE = 16000


def load_official(path):
    """Import the official models/AASIST.py by path, so its source stays outside this repository."""
    spec = importlib.util.spec_from_file_location("official_aasist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_config(path):
    """d_args from an official .conf (its model_config block) or from a bare d_args JSON."""
    config = json.loads(Path(path).read_text())
    return config.get("model_config", config)


def clips(args):
    """The clips to time: --inputs as given (first --clips rows), else seeded noise like the other benchmarks."""
    if args.inputs:
        waves = np.load(args.inputs)
        if waves.ndim != 2 or waves.dtype != np.float32:
            raise SystemExit(f"{args.inputs}: expected float32 [N, samples], got {waves.dtype} {waves.shape}")
        return waves[:args.clips] if args.clips else waves
    rng = np.random.default_rng(args.seed)
    return (0.1 * rng.standard_normal((args.clips or 32, round(args.seconds * RATE)))).astype(np.float32)


def one_pass(model, waves, batch):
    """Logits of all clips and the wall time of each batch, in ms."""
    logits, times = [], []
    with torch.inference_mode():
        for start in range(0, len(waves), batch):
            x = waves[start:start + batch]
            began = time.perf_counter()
            logits.append(model(x)[1])
            times.append((time.perf_counter() - began) * 1e3)
    return torch.cat(logits).numpy(), times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aasist-src", required=True, help="official clovaai/aasist models/AASIST.py")
    parser.add_argument("--checkpoint", required=True, help="state_dict .pth, e.g. AASIST.pth or AASIST-L.pth")
    parser.add_argument("--config", required=True, help="official .conf JSON (or a bare d_args JSON)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--clips", type=int, default=None, help="clips to run (default: all of --inputs, or 32)")
    parser.add_argument("--seconds", type=float, default=4.0, help="generated clip length; ignored with --inputs")
    parser.add_argument("--inputs", default=None, help="float32 [N, samples] .npy to run instead of noise")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-logits", default=None, help="where to save the logits [N, 2] (.npy)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_official(args.aasist_src).Model(model_config(args.config))
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    waves = torch.from_numpy(clips(args))

    one_pass(model, waves, args.batch)                       # warm-up: allocator, oneDNN primitives
    rates, batch_ms = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        logits, times = one_pass(model, waves, args.batch)
        rates.append(len(waves) / (time.perf_counter() - began))
        full = len(waves) // args.batch                      # a trailing partial batch is not a batch time
        batch_ms += times[:full] if full else times
    if args.out_logits:
        np.save(args.out_logits, logits.astype(np.float32))
    print(json.dumps({
        "framework": "torch", "torch": torch.__version__, "python": platform.python_version(),
        "checkpoint": args.checkpoint, "parameters": sum(p.numel() for p in model.parameters()),
        "batch": args.batch, "clips": len(waves), "samples": waves.shape[1], "repeats": args.repeats,
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "inputs": args.inputs or f"noise seed {args.seed}",
        "clips_per_s": round(float(np.median(rates)), 2),
        "ms_per_batch_p50": round(float(np.percentile(batch_ms, 50)), 2),
        "ms_per_batch_p95": round(float(np.percentile(batch_ms, 95)), 2),
        "out_logits": args.out_logits}))


if __name__ == "__main__":
    main()
