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
import os
import sys

import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

import tensorflow as tf
import yaml

from . import bundle as bundles
from . import evaluate, records, training
from .config import ConfigError, ExperimentConfig, load_config, to_dict
from .models import build_model
from .pipeline import InputConfig, eval_dataset, train_dataset
from .strategy import global_batch_size, select_strategy


def ensure_data(config: ExperimentConfig) -> None:
    """Build the demo corpus and its TFRecords when the configured TFRecords do not exist yet."""
    manifest = os.path.join(config.data.tfrecords, records.MANIFEST)
    if tf.io.gfile.exists(manifest):
        return
    if not config.data.demo:
        raise FileNotFoundError(f"{manifest} not found: build TFRecords first (python -m tfdeepfake.build_tfrecords) "
                                "or set data.demo=true")
    from .build_tfrecords import main as build_tfrecords
    from .spoofing.demo import build_demo_corpus

    if not os.path.exists(os.path.join(config.data.demo_corpus, "README.md")):
        print(f"building the demo corpus in {config.data.demo_corpus}", file=sys.stderr)
        build_demo_corpus(config.data.demo_corpus, seed=config.train.seed, sample_rate=config.data.sample_rate)
    status = build_tfrecords(["--dataset", "asvspoof2019-la", "--root", config.data.demo_corpus, "--out",
                              config.data.tfrecords, "--folds", "1", "--sample-rate", str(config.data.sample_rate)])
    if status:
        raise RuntimeError(f"building {config.data.tfrecords} failed")


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
    dev_input = InputConfig(splits=data.dev_splits, folds=data.dev_folds, **base)
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
                            features_input=host_features is not None, **config.model.params)
        if paired:
            from .models.triplet import TripletModel

            model = TripletModel(model, margin=train_cfg.metric_margin, weight=train_cfg.metric_weight,
                                 loss=train_cfg.objective)
        compile_model(model, train_cfg, train_cfg.learning_rate, steps, train_cfg.epochs)
    weights = None if data.balanced or not train_cfg.class_weighting else \
        class_weights(manifest, data.train_splits, data.train_folds)
    print(f"{config.model.name}: {getattr(model, 'base', model).count_params():,} parameters; strategy {type(strategy).__name__} "
          f"({strategy.num_replicas_in_sync} replicas, global batch {batch_size}), precision {policy}; "
          f"{steps} steps/epoch", file=sys.stderr)

    def fit(initial_epoch: int, epochs: int) -> dict:
        # One endless iterator with the epoch's step count: no pipeline restart (shuffle-buffer refill, autotuner
        # warm-up) at each epoch; the shuffle and the augmentation seeds still change every pass.
        return model.fit(train_data.repeat(), initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=steps,
                         class_weight=weights,
                         callbacks=training.callbacks(train_cfg.run_dir, dev_data, train_cfg.early_stopping_patience),
                         verbose=2 if os.environ.get("CI") else 1).history

    history = fit(0, train_cfg.epochs)
    if train_cfg.finetune_epochs > 0:  # stage 2: open the top layers of the SSL backbone, lower learning rate
        from .models.ssl.classifier import unfreeze_top

        with strategy.scope():
            unfreeze_top(model, train_cfg.finetune_layers)
            compile_model(model, train_cfg, train_cfg.finetune_learning_rate, steps, train_cfg.finetune_epochs)
        stage2 = fit(train_cfg.epochs, train_cfg.epochs + train_cfg.finetune_epochs)
        history = {key: history.get(key, []) + values for key, values in stage2.items()}
    return finish(config, model, host_features, history)


def compile_model(model: tf.keras.Model, train_cfg, peak: float, steps: int, epochs: int) -> None:
    """Adam with warm-up + decay over ``epochs``, binary cross-entropy on the logit (soft labels allowed)."""
    schedule = training.WarmupDecay(peak, int(train_cfg.warmup_epochs * steps), epochs * steps,
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
    base = dict(tfrecords=data.tfrecords, crop_samples=data.crop_samples, batch_size=data.batch_size,
                sample_rate=data.sample_rate)
    results = {"model": config.model.name, "parameters": int(model.count_params()), "seed": config.train.seed,
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


def waveform_model(model: tf.keras.Model, config: ExperimentConfig) -> tf.keras.Model:
    """The trained network as it reads waveforms: a host-feature model gets the FrontEnd layer in front (the same
    features the host pipeline computed); a triplet/SupCon wrapper gives its base logit model."""
    base = getattr(model, "base", model)
    if config.features.where != "host":
        return base
    from .features import FrontEnd

    waveform = tf.keras.Input((config.data.crop_samples,), name="waveform", dtype="float32")
    return tf.keras.Model(waveform, base(FrontEnd(config.features, name="frontend")(waveform)), name=base.name)


def _split_cells(manifest: dict, splits, folds):
    for split in splits:
        for fold, cell in manifest["counts"].get(split, {}).items():
            if folds is None or int(fold) in folds:
                yield cell


def training_summary(config: ExperimentConfig, manifest: dict) -> dict:
    """What the model learned from, for the bundle and its card: data, utterances, speakers and attacks."""
    data = config.data
    labels, attacks = {}, {}
    for cell in _split_cells(manifest, data.train_splits, data.train_folds):
        for key, count in cell["label"].items():
            labels[key] = labels.get(key, 0) + count
        for key, count in cell["attack"].items():
            if key != "-":
                attacks[key] = attacks.get(key, 0) + count
    seconds = sum(s["seconds"] for s in manifest.get("shards", []) if s["split"] in data.train_splits
                  and (data.train_folds is None or s["fold"] in data.train_folds))
    speakers = records.load_dataset(data.tfrecords, data.train_splits, data.train_folds, shuffle_files=False,
                                    parse=False).map(lambda s: records.parse_example(s, fields=("speaker",))["speaker"])
    dataset = manifest.get("dataset", "unknown dataset")
    folds = "all folds" if data.train_folds is None else f"folds {list(data.train_folds)}"
    return {"data": f"{dataset} from {manifest.get('root', data.tfrecords)}: splits {list(data.train_splits)}, "
                    f"{folds}; {seconds / 3600:.2f} h" + (" (the synthetic demo corpus)" if data.demo else ""),
            "utterances": {key: int(count) for key, count in sorted(labels.items())},
            "speakers": len(set(speakers.as_numpy_iterator())),
            "attacks": sorted(attacks), "tfrecords": data.tfrecords}


def write_run_bundle(config: ExperimentConfig, model: tf.keras.Model, dev_scores: dict, eval_scores: dict | None,
                     results: dict, n_bootstrap: int = 1000) -> bundles.Bundle:
    """``run_dir/bundle`` from the best checkpoint (already loaded into ``model``): calibration and threshold
    fitted on the dev scores, dev and eval EER with bootstrap 95% intervals, the training data, the config."""
    data, run_dir = config.data, config.train.run_dir

    def split(scores):
        labelled = scores["label"] >= 0
        return scores["score"][labelled & (scores["label"] == 1)], scores["score"][labelled & (scores["label"] == 0)]

    dev_bona, dev_spoof = split(dev_scores)
    if len(dev_bona) and len(dev_spoof):
        calibration, threshold = bundles.calibrate_on_dev(dev_bona, dev_spoof)
    else:
        note = f"the dev splits {list(data.dev_splits)} lack bona fide or spoof utterances"
        calibration = bundles.Calibration(fitted_on=f"identity: {note}")
        threshold = bundles.Threshold(0.5, f"argmax (P(spoof) 0.5, logit 0): {note}", 0.0)
    measured = {"dev": bundles.measured(dev_bona, dev_spoof, n_bootstrap, config.train.seed)}
    if eval_scores is not None:
        measured["eval"] = bundles.measured(*split(eval_scores), n_bootstrap, config.train.seed, threshold.logit)
    for part in measured:
        if "per_attack_eer" in results.get(part, {}):
            measured[part]["per_attack_eer"] = results[part]["per_attack_eer"]
    manifest = records.read_manifest(data.tfrecords)
    failure_modes = bundles.GENERAL_FAILURE_MODES
    if data.demo:
        failure_modes += ("Trained on the synthetic demo corpus: a demonstration of the pipeline, not a detector "
                          "for real recordings.",)
    if data.eval_windows_hop is None:
        failure_modes += (f"Dev and eval were scored on the first {data.crop_samples:,} samples of each utterance; "
                          "the Detector scores every window of a clip, so its scores differ on longer clips.",)
    checkpoint = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    bundle = bundles.Bundle(
        model_id=f"{config.model.name}-{os.path.basename(os.path.normpath(run_dir))}",
        name=f"{config.model.name} trained in {run_dir}", architecture=config.model.name,
        input=bundles.InputRule(data.sample_rate, data.crop_samples, data.eval_windows_hop),
        calibration=calibration, threshold=threshold, training=training_summary(config, manifest),
        metrics=measured, failure_modes=failure_modes,
        licence=(f"Weights trained in this run with tfdeepfake (code: Apache-2.0); they carry the terms of their "
                 f"training data ({manifest.get('dataset', 'see training data')})."),
        provenance=bundles.provenance(
            run_dir=os.path.abspath(run_dir), argv=list(sys.argv),
            checkpoint=({"file": "checkpoints/best.weights.h5", "sha256": bundles.file_sha256(checkpoint)}
                        if os.path.exists(checkpoint) else "last epoch (no best checkpoint written)"),
            tfrecords={"path": data.tfrecords, "created": manifest.get("created"),
                       "records": manifest.get("records")},
            config=to_dict(config)))
    return bundles.write_bundle(os.path.join(run_dir, "bundle"), waveform_model(model, config), bundle)


def main(argv=None, prog: str = "tfdeepfake train") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML recipe (default: configs/demo.yaml)")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.epochs=3")
    args = parser.parse_args(argv)
    run(load_config(args.config, args.overrides))
    return 0


if __name__ == "__main__":
    from .cli import shim

    sys.exit(shim("train"))
