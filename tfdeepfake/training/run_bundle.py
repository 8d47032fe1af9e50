"""A finished run as a model bundle: the best checkpoint, dev calibration and threshold, measured EERs, the data."""
from __future__ import annotations

import os
import sys

import tensorflow as tf

from .. import bundle as bundles
from .. import records
from ..config import ExperimentConfig, to_dict
from ..storage import sha256_file


def waveform_model(model: tf.keras.Model, config: ExperimentConfig) -> tf.keras.Model:
    """The trained network as it reads waveforms: a host-feature model gets the FrontEnd layer in front (the same
    features the host pipeline computed); a triplet/SupCon wrapper gives its base logit model."""
    base = getattr(model, "base", model)
    if config.features.where != "host":
        return base
    from ..features import FrontEnd

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
        model_id=f"{config.model.label}-{os.path.basename(os.path.normpath(run_dir))}",
        name=f"{config.model.label} trained in {run_dir}", architecture=config.model.label,
        input=bundles.InputRule(data.sample_rate, data.crop_samples, data.eval_windows_hop),
        calibration=calibration, threshold=threshold, training=training_summary(config, manifest),
        metrics=measured, failure_modes=failure_modes,
        licence=(f"Weights trained in this run with tfdeepfake (code: Apache-2.0); they carry the terms of their "
                 f"training data ({manifest.get('dataset', 'see training data')})."),
        provenance=bundles.provenance(
            run_dir=os.path.abspath(run_dir), argv=list(sys.argv),
            checkpoint=({"file": "checkpoints/best.weights.h5", "sha256": sha256_file(checkpoint)}
                        if os.path.exists(checkpoint) else "last epoch (no best checkpoint written)"),
            tfrecords={"path": data.tfrecords, "created": manifest.get("created"),
                       "records": manifest.get("records")},
            config=to_dict(config)))
    return bundles.write_bundle(os.path.join(run_dir, "bundle"), waveform_model(model, config), bundle)
