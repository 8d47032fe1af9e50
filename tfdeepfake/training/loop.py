"""The training loop: data, strategy and precision, model, ``fit`` with the dev-EER callbacks, then the best epoch
scored on dev and eval and written as a run directory that is a model bundle."""
from __future__ import annotations

import os
import sys

import tensorflow as tf
import yaml

from .. import evaluate, records
from ..config import ConfigError, ExperimentConfig, to_dict
from ..models import build_model
from ..pipeline import InputConfig, eval_dataset, train_dataset
from ..strategy import global_batch_size, select_strategy
from .callbacks import WarmupDecay, callbacks
from .run_bundle import write_run_bundle


def ensure_data(config: ExperimentConfig) -> None:
    """Build the demo corpus and its TFRecords when the configured TFRecords do not exist yet."""
    manifest = os.path.join(config.data.tfrecords, records.MANIFEST)
    if tf.io.gfile.exists(manifest):
        return
    if not config.data.demo:
        raise FileNotFoundError(f"{manifest} not found: build TFRecords first (tfdeepfake build-records) "
                                "or set data.demo=true")
    from ..build_tfrecords import build_from_corpus
    from ..spoofing.demo import build_demo_corpus

    if not os.path.exists(os.path.join(config.data.demo_corpus, "README.md")):
        print(f"building the demo corpus in {config.data.demo_corpus}", file=sys.stderr)
        build_demo_corpus(config.data.demo_corpus, seed=config.train.seed, sample_rate=config.data.sample_rate)
    build_from_corpus("asvspoof2019-la", config.data.demo_corpus, config.data.tfrecords, folds=1,
                      sample_rate=config.data.sample_rate)


def _count(manifest: dict, splits, folds, label: str | None = None) -> int:
    total = 0
    for split in splits:
        for fold, cell in manifest["counts"].get(split, {}).items():
            if folds is None or int(fold) in folds:
                total += cell["label"].get(label, 0) if label else sum(cell["label"].values())
    return total


def class_weights(manifest: dict, splits, folds) -> dict[int, float]:
    """Inverse-frequency weights so bona fide and spoof count equally (ASVspoof train is 1 : 9)."""
    bonafide = _count(manifest, splits, folds, "bonafide")
    spoof = _count(manifest, splits, folds, "spoof")
    if not bonafide or not spoof:
        raise ValueError(f"training splits {splits} need both bona fide ({bonafide}) and spoof ({spoof}) examples")
    total = bonafide + spoof
    return {1: total / (2.0 * bonafide), 0: total / (2.0 * spoof)}


def run(config: ExperimentConfig) -> dict:
    data, train_cfg = config.data, config.train
    tf.keras.utils.set_random_seed(train_cfg.seed)
    if train_cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    ensure_data(config)
    manifest = records.read_manifest(data.tfrecords)
    records.require_sample_rate(manifest, data.tfrecords, data.sample_rate)
    os.makedirs(train_cfg.run_dir, exist_ok=True)
    with open(os.path.join(train_cfg.run_dir, "config.yaml"), "w") as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False)

    strategy, policy = select_strategy(precision=train_cfg.precision)
    host_features = config.features if config.features.where == "host" else None
    batch_size = global_batch_size(data.batch_size, strategy)  # per replica x replicas
    base = dict(tfrecords=data.tfrecords, crop_samples=data.crop_samples, batch_size=batch_size,
                sample_rate=data.sample_rate)
    if train_cfg.objective not in ("bce", "triplet", "supcon"):
        raise ConfigError(f"train.objective: 'bce', 'triplet' or 'supcon', got {train_cfg.objective!r}")
    paired = train_cfg.objective != "bce"
    train_input = InputConfig(splits=data.train_splits, folds=data.train_folds, balanced=data.balanced,
                              shuffle_buffer=data.shuffle_buffer, augment=config.augment, paired=paired, **base)
    train_data = train_dataset(train_input, host_features, seed=train_cfg.seed)
    scoring = {**base, "batch_size": data.eval_batch_size or batch_size}
    dev_input = InputConfig(splits=data.dev_splits, folds=data.dev_folds, **scoring)
    dev_data = eval_dataset(dev_input, host_features, data.eval_windows_hop)

    steps = train_cfg.steps_per_epoch
    if steps is None:
        if data.balanced:
            raise ConfigError("train.steps_per_epoch: required with data.balanced=true (the stream is endless)")
        steps = _count(manifest, data.train_splits, data.train_folds) // batch_size
    if steps < 1:
        raise ConfigError(f"data.batch_size: the global batch {batch_size} is larger than the training set")
    with strategy.scope():
        model = build_model(config.model.name, config.features, data.crop_samples,
                            features_input=host_features is not None, **config.model.builder_params())
        if paired:
            from ..models.triplet import TripletModel

            model = TripletModel(model, margin=train_cfg.metric_margin, weight=train_cfg.metric_weight,
                                 loss=train_cfg.objective)
        compile_model(model, train_cfg, train_cfg.learning_rate, steps, train_cfg.epochs)
    weights = None if data.balanced or not train_cfg.class_weighting else \
        class_weights(manifest, data.train_splits, data.train_folds)
    print(f"{config.model.label}: {getattr(model, 'base', model).count_params():,} parameters; strategy {type(strategy).__name__} "
          f"({strategy.num_replicas_in_sync} replicas, global batch {batch_size}), precision {policy}; "
          f"{steps} steps/epoch", file=sys.stderr)

    def fit(initial_epoch: int, epochs: int) -> dict:
        # One endless iterator with the epoch's step count: no pipeline restart (shuffle-buffer refill, autotuner
        # warm-up) at each epoch; the shuffle and the augmentation seeds still change every pass.
        return model.fit(train_data.repeat(), initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=steps,
                         class_weight=weights,
                         callbacks=callbacks(train_cfg.run_dir, dev_data, train_cfg.early_stopping_patience),
                         verbose=2 if os.environ.get("CI") else 1).history

    history = fit(0, train_cfg.epochs)
    if train_cfg.finetune_epochs > 0:  # stage 2: open the top layers of the SSL backbone, lower learning rate
        from ..models.ssl.classifier import unfreeze_top

        with strategy.scope():
            unfreeze_top(model, train_cfg.finetune_layers)
            compile_model(model, train_cfg, train_cfg.finetune_learning_rate, steps, train_cfg.finetune_epochs)
        stage2 = fit(train_cfg.epochs, train_cfg.epochs + train_cfg.finetune_epochs)
        history = {key: history.get(key, []) + values for key, values in stage2.items()}
    return finish(config, model, host_features, history)


def compile_model(model: tf.keras.Model, train_cfg, peak: float, steps: int, epochs: int) -> None:
    """Adam with warm-up + decay over ``epochs``, binary cross-entropy on the logit (soft labels allowed)."""
    schedule = WarmupDecay(peak, int(train_cfg.warmup_epochs * steps), epochs * steps,
                                    train_cfg.schedule, train_cfg.final_lr_ratio)
    model.compile(optimizer=tf.keras.optimizers.Adam(schedule, weight_decay=train_cfg.weight_decay or None),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.AUC(from_logits=True, name="auc")])


def finish(config: ExperimentConfig, model: tf.keras.Model, host_features, history: dict) -> dict:
    """Best-epoch weights; dev scores give the threshold, eval is scored with it; files into the run dir."""
    data, run_dir = config.data, config.train.run_dir
    best = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    if os.path.exists(best):
        model.load_weights(best)
    base = dict(tfrecords=data.tfrecords, crop_samples=data.crop_samples,
                batch_size=data.eval_batch_size or data.batch_size,
                sample_rate=data.sample_rate)
    results = {"model": config.model.label, "parameters": int(model.count_params()), "seed": config.train.seed,
               "epochs_run": len(history.get("loss", [])),
               "dev_eer_per_epoch": [float(v) for v in history.get("dev_eer", [])]}
    dev_scores = evaluate.score_dataset(model, eval_dataset(InputConfig(splits=data.dev_splits, folds=data.dev_folds,
                                                                        **base), host_features, data.eval_windows_hop))
    evaluate.write_scores(os.path.join(run_dir, "dev_scores.csv"), dev_scores)
    results["dev"] = evaluate.summarise(dev_scores)
    threshold = results["dev"].get("eer_threshold")
    available = records.read_manifest(data.tfrecords)["counts"]
    eval_splits = tuple(s for s in data.eval_splits if s in available)
    eval_scores = None
    if eval_splits:
        eval_scores = evaluate.score_dataset(model, eval_dataset(InputConfig(splits=eval_splits, **base),
                                                                 host_features, data.eval_windows_hop))
        evaluate.write_scores(os.path.join(run_dir, "eval_scores.csv"), eval_scores)
        results["eval"] = evaluate.summarise(eval_scores, threshold)
    results["bundle"] = write_run_bundle(config, model, dev_scores, eval_scores, results).path
    evaluate.write_json(os.path.join(run_dir, "metrics.json"), results)
    if config.train.results:
        os.makedirs(os.path.dirname(config.train.results) or ".", exist_ok=True)
        evaluate.write_json(config.train.results, {"command": " ".join(["python -m tfdeepfake.train"] + sys.argv[1:]),
                                                   "run_dir": run_dir, **results})
    for part in ("dev", "eval"):
        if "eer" in results.get(part, {}):
            print(f"{part} EER: {100 * results[part]['eer']:.2f}% ({results[part]['utterances']} utterances)")
    return results
