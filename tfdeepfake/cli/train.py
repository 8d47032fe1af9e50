"""The main job: train a countermeasure, pick the best epoch on dev EER, score dev and eval.

    python -m tfdeepfake.train                                  # demo config, end to end on a fresh machine
    python -m tfdeepfake.train --config configs/resnet.yaml train.epochs=20 data.batch_size=64

The run directory holds the resolved config, checkpoints, BackupAndRestore state (a killed run resumes at the
epoch it stopped), TensorBoard and CSV logs, dev/eval score files, ``metrics.json`` and ``bundle/``: the best
checkpoint as a model bundle (whole model, dev calibration and threshold, model card) that
``tfdeepfake.inference.Detector.load(run_dir)`` uses.
"""
from __future__ import annotations

import argparse

import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

from ..config import load_config
from ..training import run


def main(argv=None, prog: str = "tfdeepfake train") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML recipe, or a shipped recipe by name (aasist, lcnn, ...; default: demo)")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.epochs=3")
    args = parser.parse_args(argv)
    run(load_config(args.config, args.overrides))
    return 0
