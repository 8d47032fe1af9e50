"""Models learn, strategies are chosen and run, and a killed training run resumes at the next epoch."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, SAMPLES, TINY, toy_batch, toy_tfrecords
from tfdeepfake.errors import WeightsError
from tfdeepfake.features import FeatureConfig
from tfdeepfake.models import BUILDERS, build_model, spoof_probability
from tfdeepfake.strategy import choose

SLOW_TO_TRAIN = {"rawgat_st", "ssl_aasist"}  # 12 epochs: 54 s (its fixed 64,600-sample input) and 38 s on 2 cores


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_TO_TRAIN else name
                                  for name in sorted(BUILDERS)])
@pytest.mark.parametrize("features_input", [False, True])
def test_each_model_builds_and_its_loss_falls(name, features_input):
    if name == "efficientnet" and features_input:
        pytest.skip("EfficientNet-B0 is the slowest to train here; its waveform-input case covers the builder")
    samples = SAMPLES.get(name, 8000)
    if name in ("ssl", "aasist", "rawgat_st", "ssl_aasist") and features_input:
        with pytest.raises(ValueError, match="waveforms"):
            build_model(name, FeatureConfig(), samples, True, **TINY[name])
        return
    tf.keras.utils.set_random_seed(0)
    features = FeatureConfig(kind="lfcc", n_fft=512, win_length=320, n_mels=20, n_coeffs=20, deltas=True) \
        if name == "lcnn" else FeatureConfig(kind="logmel", n_mels=32)
    model = build_model(name, features, samples, features_input, **TINY[name])
    waves, labels = toy_batch(samples)
    inputs = features_frontend(features)(waves) if features_input else waves
    assert model(inputs).shape == (16, 1) and model(inputs).dtype == tf.float32
    model.compile(tf.keras.optimizers.Adam(3e-3), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(inputs, labels, epochs=12, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.85 * history[0], history
    probability = spoof_probability(model(inputs)).numpy()[:, 0]
    assert ((probability >= 0) & (probability <= 1)).all()


def features_frontend(config):
    from tfdeepfake.features import make_frontend
    return make_frontend(config)


@pytest.mark.parametrize("name", ["conformer", "contextnet"])
def test_encoder_weights_load_from_a_local_file(name, tmp_path):
    features = FeatureConfig(kind="logmel", n_mels=32)
    first = build_model(name, features, 8000, **TINY[name])
    encoder = next(layer for layer in first.layers if "encoder" in layer.name)
    encoder.save_weights(str(tmp_path / "encoder.h5"))
    second = build_model(name, features, 8000, encoder_weights=str(tmp_path / "encoder.h5"), **TINY[name])
    other = next(layer for layer in second.layers if "encoder" in layer.name)
    for saved, loaded in zip(encoder.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(saved, loaded)


def test_encoder_weights_url_without_network_fails_fast():
    start = time.time()
    with pytest.raises(WeightsError, match="127.0.0.1"):
        build_model("conformer", FeatureConfig(kind="logmel", n_mels=32), 8000,
                    encoder_weights="http://127.0.0.1:9/encoder.h5", **TINY["conformer"])
    assert time.time() - start < 30


def test_unknown_model_and_parameter_are_named():
    with pytest.raises(ValueError, match="unknown model.name 'vgg'"):
        build_model("vgg", FeatureConfig(), 8000)
    with pytest.raises(ValueError, match="model.params.depth"):
        build_model("lcnn", FeatureConfig(), 8000, depth=3)


@pytest.mark.parametrize("hardware,expected", [
    ({"tpu": object(), "workers": 0, "gpus": 0}, ("tpu", "mixed_bfloat16")),
    ({"tpu": None, "workers": 3, "gpus": 1}, ("multi_worker", "mixed_float16")),
    ({"tpu": None, "workers": 0, "gpus": 4}, ("mirrored", "mixed_float16")),
    ({"tpu": None, "workers": 0, "gpus": 1}, ("default", "mixed_float16")),
    ({"tpu": None, "workers": 0, "gpus": 0}, ("default", "float32")),
])
def test_strategy_choice(hardware, expected):
    assert choose(hardware) == expected


def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path):
    """Logical devices must be set before TensorFlow initialises them: run in a fresh process."""
    script = textwrap.dedent("""
        import tfdeepfake, tensorflow as tf, numpy as np
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfdeepfake.features import FeatureConfig
        from tfdeepfake.models import build_model
        from tfdeepfake.strategy import global_batch_size
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build_model("lcnn", FeatureConfig(kind="lfcc", n_mels=20, n_coeffs=20), 4000, width=0.125)
            model.compile("adam", tf.keras.losses.BinaryCrossentropy(from_logits=True))
        batch = global_batch_size(4, strategy)
        x = np.random.default_rng(0).standard_normal((batch * 2, 4000)).astype("float32")
        y = (np.arange(batch * 2) % 2).astype("float32")
        history = model.fit(x, y, batch_size=batch, epochs=2, verbose=0).history["loss"]
        print("replicas", strategy.num_replicas_in_sync, "batch", batch, "loss", history)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "replicas 2 batch 8" in done.stdout


def train_command(tfrecords, run_dir, epochs):
    return [sys.executable, "-m", "tfdeepfake.train", "data.demo=false", f"data.tfrecords={tfrecords}",
            "data.train_folds=[0]", "data.dev_splits=[train]", "data.dev_folds=[1]", "data.eval_splits=[train]",
            "data.crop_samples=8000", "data.batch_size=8", "model.params.width=0.125", f"train.epochs={epochs}",
            f"train.run_dir={run_dir}", "train.results=null", "train.early_stopping_patience=0"]


def epochs_logged(run_dir):
    with open(run_dir / "log.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_killed_run_resumes_at_the_next_epoch(tmp_path):
    tfrecords = toy_tfrecords(tmp_path / "toy", count=48)
    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CI="1")
    process = subprocess.Popen(train_command(tfrecords, run_dir, 6), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if (run_dir / "log.csv").exists() and epochs_logged(run_dir) == [0]:
            time.sleep(0.2)  # BackupAndRestore writes its state at the end of the epoch, beside the CSV row
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed after epoch 1"
    assert epochs_logged(run_dir) == [0]

    done = subprocess.run(train_command(tfrecords, run_dir, 6), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert epochs_logged(run_dir) == [0, 1, 2, 3, 4, 5]  # epoch 1 (index 0) was not repeated
    assert (run_dir / "metrics.json").exists() and (run_dir / "eval_scores.csv").exists()
    assert (run_dir / "checkpoints" / "best.weights.h5").exists() and (run_dir / "config.yaml").exists()


def test_training_refuses_records_written_at_another_rate(tmp_path):
    """16 kHz TFRecords with data.sample_rate=8000: refused before any model is built, naming both rates."""
    from tfdeepfake.config import load_config
    from tfdeepfake.records import BuildError
    from tfdeepfake.training import run

    tfrecords = toy_tfrecords(tmp_path / "toy", count=8, seconds=0.3)
    config = load_config(None, ["data.demo=false", f"data.tfrecords={tfrecords}", "data.sample_rate=8000",
                                f"train.run_dir={tmp_path / 'run'}", "train.results=null"])
    with pytest.raises(BuildError, match=r"hold 16000 Hz audio but the config says data.sample_rate=8000"):
        run(config)
