"""Two-stage fine-tuning of an SSL classifier: frozen weights stay put, unfrozen ones move."""

import numpy as np
import tensorflow as tf

from helpers import SSL_FIXTURES, toy_tfrecords
from tfdeepfake.features import FeatureConfig
from tfdeepfake.models import build_model
from tfdeepfake.models.ssl.classifier import backbone_of, unfreeze_top

CHECKPOINT = str(SSL_FIXTURES / "wavlm_base")


def snapshot(layer):
    return [w.numpy().copy() for w in layer.weights]


def moved(before, layer):
    return any(not np.array_equal(a, b.numpy()) for a, b in zip(before, layer.weights))


def fit(model, steps=3):
    model.compile(tf.keras.optimizers.Adam(1e-2), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((8, 4000))).astype(np.float32)
    y = (np.arange(8) % 2).astype(np.float32)
    model.fit(x, y, batch_size=8, epochs=steps, verbose=0)


def test_stage_one_trains_the_head_only_and_stage_two_the_top_layers():
    model = build_model("ssl", FeatureConfig(), 4000, checkpoint=CHECKPOINT, train_layers=0)
    backbone = backbone_of(model)
    head, weighting = model.get_layer("logit"), model.get_layer("layer_weighting")
    before = {"backbone": snapshot(backbone), "head": snapshot(head), "weighting": snapshot(weighting)}
    fit(model)
    assert not moved(before["backbone"], backbone)
    assert moved(before["head"], head) and moved(before["weighting"], weighting)

    unfreeze_top(model, 1)
    lower, top = backbone.encoder_layers
    frozen = {"lower": snapshot(lower), "encoder": snapshot(backbone.feature_extractor), "top": snapshot(top)}
    fit(model)
    assert not moved(frozen["lower"], lower) and not moved(frozen["encoder"], backbone.feature_extractor)
    assert moved(frozen["top"], top)


def test_two_stage_recipe_runs_through_the_training_cli(tmp_path):

    from tfdeepfake.config import load_config
    from tfdeepfake.training import run

    tfrecords = toy_tfrecords(tmp_path / "toy", count=24, seconds=0.3)
    config = load_config(None, [
        "data.demo=false", f"data.tfrecords={tfrecords}", "data.train_folds=[0]", "data.dev_splits=[train]",
        "data.dev_folds=[1]", "data.eval_splits=[]", "data.crop_samples=4000", "data.batch_size=4",
        "model.name=ssl", f"model.params={{checkpoint: {CHECKPOINT}, train_layers: 0}}", "train.epochs=1",
        "train.finetune_layers=1", "train.finetune_epochs=1", f"train.run_dir={tmp_path / 'run'}",
        "train.results=null", "train.early_stopping_patience=0"])
    results = run(config)
    assert results["epochs_run"] == 2 and len(results["dev_eer_per_epoch"]) == 2
    assert 0.0 <= results["dev"]["eer"] <= 1.0
