"""Where bundles come from: a preset reproduces the official forward, a training run ends with a bundle that
reproduces its dev scores, a host-feature model is bundled with its front end."""
import csv
import json

import numpy as np
import pytest

from helpers import SHARED, TINY, toy_tfrecords
from tfdeepfake import metrics
from tfdeepfake.bundle import CARD_FILE, Bundle, InputRule, bundle_from_preset, read_bundle, write_bundle
from tfdeepfake.inference import Detector

REFERENCE = SHARED / "weights" / "reference" / "official_outputs.npz"
needs_reference = pytest.mark.skipif(not REFERENCE.is_file(),
                                     reason=f"{REFERENCE} not found (../shared is absent: no preset weights)")



@needs_reference
def test_a_preset_is_a_bundle_that_reproduces_the_official_forward(tmp_path):
    reference = np.load(REFERENCE)
    written = bundle_from_preset("aasist-l", str(tmp_path / "aasist-l"))
    bundle = read_bundle(written.path)
    assert bundle == written and bundle.input == InputRule(16000, 64600, 32300)
    assert (bundle.calibration.a, bundle.calibration.b, bundle.threshold.spoof_probability) == (1.0, 0.0, 0.5)
    card = (tmp_path / "aasist-l" / CARD_FILE).read_text()
    assert bundle.provenance["parameters_official"] == 85306 and bundle.provenance["weights"]["sha256"].startswith(
        "814331d088032bb4")
    for text in ("identity", "official argmax", "EER 0.99%", "MIT", "clovaai/aasist @a04c9863", "2,580 bona fide"):
        assert text in card, text

    detector = Detector.load(written.path)
    official = reference["aasist-l/logits"]
    bona_fide_logit = official[:, 1] - official[:, 0]
    spoof_softmax = np.exp(official[:, 0]) / np.exp(official).sum(axis=1)
    for row in range(len(reference["input"])):
        result = detector.predict(reference["input"][row])
        assert len(result.windows) == 1
        assert result.logit == pytest.approx(bona_fide_logit[row], abs=1e-4)
        assert result.spoof_probability == pytest.approx(spoof_softmax[row], abs=1e-4)
        if not result.flags:
            assert result.decision == ("spoof" if official[row, 0] >= official[row, 1] else "bonafide")
    # 'short:1' is the first 20,000 samples of clip 1 repeat-padded: the Detector pads a short clip the same way
    short = detector.predict(reference["input"][1][:20000])
    assert short.logit == pytest.approx(bona_fide_logit[8], abs=1e-4) and short.duration == 1.25
    by_name = Detector.load("aasist-l")  # the preset name: the same bundle, built in memory
    assert by_name.bundle.input == bundle.input and by_name.bundle.calibration == bundle.calibration
    assert by_name.predict(reference["input"][1]).logit == pytest.approx(bona_fide_logit[1], abs=1e-4)


def test_a_training_run_ends_with_a_bundle_that_reproduces_its_dev_scores(tmp_path):
    from tfdeepfake.config import load_config
    from tfdeepfake.training import run

    tfrecords = toy_tfrecords(tmp_path / "toy", count=24, seconds=0.5)
    run_dir = tmp_path / "run"
    config = load_config(None, [
        "data.demo=false", f"data.tfrecords={tfrecords}", "data.train_folds=[0]", "data.dev_splits=[train]",
        "data.dev_folds=[1]", "data.eval_splits=[train]", "data.crop_samples=4000", "data.eval_windows_hop=1500",
        "data.batch_size=8", "model.name=lcnn", f"model.params={json.dumps(TINY['lcnn'])}", "train.epochs=2",
        f"train.run_dir={run_dir}", "train.results=null", "train.early_stopping_patience=0"])
    results = run(config)
    assert results["bundle"] == str(run_dir / "bundle")
    assert json.loads((run_dir / "metrics.json").read_text())["bundle"] == results["bundle"]

    detector = Detector.load(str(run_dir))
    bundle = detector.bundle
    assert bundle.input == InputRule(16000, 4000, 1500) and bundle.architecture == "lcnn"
    assert bundle.training["utterances"] == {"bonafide": 6, "spoof": 6} and bundle.training["attacks"] == ["T01"]
    assert bundle.training["speakers"] == 4
    dev = bundle.metrics["dev"]
    assert dev["eer"] == pytest.approx(results["dev"]["eer"]) and dev["eer_ci95"][0] <= dev["eer"] <= dev["eer_ci95"][1]
    assert bundle.threshold.logit == pytest.approx(results["dev"]["eer_threshold"])

    with open(run_dir / "dev_scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    logits, labels = [], []
    for row in rows:  # the bundle, scoring the files, gives the run's own dev scores (6 decimals in the CSV)
        result = detector.predict(str(tmp_path / "toy" / f"{row['utt_id']}.wav"))
        assert len(result.windows) == 4  # 8,000 samples, window 4,000, hop 1,500: 0, 1500, 3000, end-aligned 4000
        assert result.logit == pytest.approx(float(row["score"]), abs=2e-6)
        logits.append(result.logit)
        labels.append(row["label"])
    logits, labels = np.array(logits), np.array(labels)
    decisions = [bundle.threshold.decide(p) for p in bundle.calibration.spoof_probability(logits)]
    frr, far = metrics.error_rates_at_threshold(logits[labels == "bonafide"], logits[labels == "spoof"],
                                                bundle.threshold.logit)
    assert np.mean(np.array(decisions)[labels == "bonafide"] == "spoof") == pytest.approx(frr)
    assert np.mean(np.array(decisions)[labels == "spoof"] == "bonafide") == pytest.approx(far)
    card = (run_dir / "bundle" / CARD_FILE).read_text()
    assert f"| dev | 6 / 6 | {100 * dev['eer']:.2f}% | {100 * dev['eer_ci95'][0]:.2f}% - " in card


def test_a_host_feature_model_is_bundled_with_its_front_end(tmp_path):
    import tensorflow as tf

    from tfdeepfake.config import load_config
    from tfdeepfake.features import make_frontend
    from tfdeepfake.models import build_model
    from tfdeepfake.training import waveform_model

    config = load_config(None, ["features.where=host", "data.crop_samples=8000"])
    tf.keras.utils.set_random_seed(0)
    model = build_model("lcnn", config.features, 8000, features_input=True, **TINY["lcnn"])
    wrapped = waveform_model(model, config)
    written = write_bundle(str(tmp_path / "bundle"), wrapped,
                           Bundle("lcnn-host", "host features", "lcnn", InputRule(16000, 8000)))
    waves = np.random.default_rng(0).uniform(-0.3, 0.3, (3, 8000)).astype(np.float32)
    host_path = model(make_frontend(config.features)(waves), training=False).numpy()[:, 0]  # as training scored it
    reloaded = read_bundle(written.path).load_model()
    np.testing.assert_allclose(reloaded(waves, training=False).numpy()[:, 0], host_path, atol=1e-5)
