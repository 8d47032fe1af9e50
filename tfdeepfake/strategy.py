"""One place that picks the tf.distribute strategy and the mixed-precision policy for this machine."""
from __future__ import annotations

import json
import os

import tensorflow as tf


def detect_hardware(tpu: str | None = None) -> dict:
    """What is reachable: a TPU resolver (or None), TF_CONFIG workers, and local GPU count."""
    resolver = None
    if tpu is not None or os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        except (ValueError, RuntimeError):
            resolver = None
    workers = len(json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker", []))
    return {"tpu": resolver, "workers": workers, "gpus": len(tf.config.list_physical_devices("GPU"))}


def choose(hardware: dict) -> tuple[str, str]:
    """(strategy kind, precision policy) for detected hardware: a pure function, so it is testable anywhere."""
    if hardware["tpu"] is not None:
        return "tpu", "mixed_bfloat16"
    precision = "mixed_float16" if hardware["gpus"] else "float32"
    if hardware["workers"] > 1:
        return "multi_worker", precision
    if hardware["gpus"] > 1:
        return "mirrored", precision
    return "default", precision


def select_strategy(tpu: str | None = None, precision: str = "auto"):
    """The strategy for this machine and the policy name; sets the global Keras policy.

    TPU when reachable (bf16), MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored for several
    GPUs, the default strategy otherwise; fp16 with loss scaling (Keras wraps the optimizer) on GPU, float32 on CPU.
    """
    hardware = detect_hardware(tpu)
    kind, policy = choose(hardware)
    if kind == "tpu":
        tf.config.experimental_connect_to_cluster(hardware["tpu"])
        tf.tpu.experimental.initialize_tpu_system(hardware["tpu"])
        strategy = tf.distribute.TPUStrategy(hardware["tpu"])
    elif kind == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    policy = policy if precision == "auto" else precision
    tf.keras.mixed_precision.set_global_policy(policy)
    return strategy, policy


def global_batch_size(per_replica: int, strategy) -> int:
    return per_replica * strategy.num_replicas_in_sync
