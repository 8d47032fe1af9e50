"""Triplet training: the anchored loss against brute force, paired inputs, and a run through the training CLI."""

import numpy as np
import pytest
import tensorflow as tf


from helpers import toy_tfrecords
from tfdeepfake.config import load_config  # noqa: E402
from tfdeepfake.models.triplet import anchored_triplet_loss  # noqa: E402
from tfdeepfake.pipeline import InputConfig, train_dataset  # noqa: E402
from tfdeepfake.training import run  # noqa: E402


def test_anchored_triplet_loss_matches_brute_force():
    rng = np.random.default_rng(0)
    anchors, positives = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    labels = np.array([1, 0, 1, 1, 0, 0], np.float32)
    views = np.concatenate([anchors, positives])
    spoof = np.concatenate([labels == 0, labels == 0])
    losses = [max(np.linalg.norm(anchors[i] - positives[i])
                  - min(np.linalg.norm(anchors[i] - views[j]) for j in range(12) if spoof[j]) + 0.3, 0.0)
              for i in range(6) if labels[i] == 1]
    got = float(anchored_triplet_loss(tf.constant(anchors, tf.float32), tf.constant(positives, tf.float32),
                                      tf.constant(labels), 0.3))
    assert got == pytest.approx(np.mean(losses), rel=1e-5)
    no_spoof = anchored_triplet_loss(tf.constant(anchors, tf.float32), tf.constant(positives, tf.float32),
                                     tf.ones(6), 0.3)
    assert float(no_spoof) == 0.0


@pytest.mark.parametrize("objective", ["triplet", "supcon"])
def test_metric_objectives_train_through_the_cli(tmp_path, objective):
    tfrecords = toy_tfrecords(tmp_path / "toy", count=32, seconds=0.5)
    paired = train_dataset(InputConfig(tfrecords, folds=(0,), crop_samples=4000, batch_size=4), seed=0)
    assert paired.element_spec[0].shape.as_list() == [4, 4000]
    pairs = train_dataset(InputConfig(tfrecords, folds=(0,), crop_samples=4000, batch_size=4, paired=True,
                                      augment=load_config(None, ["augment.gain_p=1.0"]).augment), seed=0)
    inputs, _ = next(iter(pairs))
    assert inputs.shape == (4, 2, 4000) and not np.array_equal(inputs[:, 0], inputs[:, 1])
    config = load_config(None, [
        "data.demo=false", f"data.tfrecords={tfrecords}", "data.train_folds=[0]", "data.dev_splits=[train]",
        "data.dev_folds=[1]", "data.eval_splits=[]", "data.crop_samples=4000", "data.batch_size=4",
        "model.params.width=0.125", f"train.objective={objective}", "train.epochs=2",
        f"train.run_dir={tmp_path / 'run'}", "train.results=null", "train.early_stopping_patience=0"])
    results = run(config)
    assert results["epochs_run"] == 2 and 0.0 <= results["dev"]["eer"] <= 1.0
