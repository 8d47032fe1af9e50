"""Training throughput (examples/s) of every registered model at its default size, on this machine.

    python benchmarks/train_throughput.py --seed 0 --batch 16 --steps 6

Each model trains on random waveforms of 64,600 samples (4 s at 16 kHz) with its recipe's front end computed
inside the model (``FrontEnd`` layer), Adam, binary cross-entropy, after two warm-up steps. Ratios are against
LCNN (the named baseline), measured in the same run. Figures go to results/train_throughput.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tfdeepfake  # noqa: E402,F401

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdeepfake.config import load_config  # noqa: E402
from tfdeepfake.models import build_model  # noqa: E402

RECIPES = {"lcnn": "lcnn.yaml", "resnet": "resnet.yaml", "efficientnet": "efficientnet.yaml",
           "conformer": "conformer.yaml", "contextnet": "conformer.yaml"}
CROP = 64600


def throughput(name: str, batch: int, steps: int, seed: int) -> tuple[float, int]:
    config = load_config(str(ROOT / "configs" / RECIPES[name]), [f"model.name={name}"] +
                         (["model.params={}"] if name == "contextnet" else []))
    tf.keras.utils.set_random_seed(seed)
    model = build_model(name, config.features, CROP, **config.model.params)
    model.compile(tf.keras.optimizers.Adam(1e-4), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    x = tf.constant(0.1 * rng.standard_normal((batch, CROP)).astype(np.float32))
    y = tf.constant((np.arange(batch) % 2).astype(np.float32))
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    rate = batch * steps / (time.perf_counter() - start)
    parameters = model.count_params()
    tf.keras.backend.clear_session()
    return rate, parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--results", default=str(ROOT / "results" / "train_throughput.json"))
    args = parser.parse_args()
    device = tf.config.list_physical_devices("GPU")
    rows = {}
    for name in RECIPES:
        rate, parameters = throughput(name, args.batch, args.steps, args.seed)
        rows[name] = {"examples_per_s": round(rate, 2), "parameters": parameters}
        print(f"{name:13s} {parameters:>10,d} params  {rate:8.2f} examples/s", flush=True)
    for row in rows.values():
        row["vs_lcnn"] = round(row["examples_per_s"] / rows["lcnn"]["examples_per_s"], 3)
    report = {"command": f"python benchmarks/train_throughput.py --seed {args.seed} --batch {args.batch} "
                         f"--steps {args.steps}", "seed": args.seed, "batch": args.batch, "crop_samples": CROP,
              "device": f"GPU {device[0].name}" if device else f"CPU {platform.machine()}, {os.cpu_count()} cores",
              "tensorflow": tf.__version__, "baseline": "lcnn", "models": rows}
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    print("examples/s relative to lcnn: " + ", ".join(f"{n} {r['vs_lcnn']:.3f}" for n, r in rows.items()))


if __name__ == "__main__":
    main()
