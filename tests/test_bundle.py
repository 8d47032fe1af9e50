"""Model bundles: write -> read gives the same detector, calibration matches frequencies, presets and training runs
are bundles, and a damaged bundle is refused with the file and field named."""
import csv
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import toy_tfrecords
from test_train import TINY
from tfdeepfake import metrics
from tfdeepfake.bundle import (CARD_FILE, META_FILE, MODEL_FILE, Bundle, BundleError, Calibration, InputRule,
                               Threshold, add_out_of_domain, bundle_from_preset, calibrate_on_dev, read_bundle,
                               write_bundle)
from tfdeepfake.inference import Detector

sys.path.insert(0, str(Path(__file__).resolve().parent / "models"))
from test_aasist import fixture_model  # noqa: E402  (the tiny AASIST fixtures: official config + checkpoint)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "weights" / "reference" / "official_outputs.npz"
needs_reference = pytest.mark.skipif(not REFERENCE.is_file(),
                                     reason=f"{REFERENCE} not found (../shared is absent: no preset weights)")


@pytest.fixture(scope="module")
def tiny():
    """The tiny AASIST (16,000-sample window) and a bundle description of it."""
    model, samples = fixture_model("aasist_tiny")
    bundle = Bundle("aasist-tiny", "AASIST tiny fixture", "aasist", InputRule(16000, samples, 6000),
                    Calibration(1.7, -0.4, fitted_on="test values"), Threshold(0.3, "test value", None),
                    training={"data": "random weights"}, licence="test fixture")
    return model, bundle


def test_round_trip_gives_the_same_predictions(tiny, tmp_path):
    model, bundle = tiny
    rng = np.random.default_rng(0)
    t = np.arange(40000) / 16000
    clip = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size))
    path = tmp_path / "clip.wav"
    sf.write(path, clip.astype(np.float32), 16000, subtype="FLOAT")

    written = write_bundle(str(tmp_path / "bundle"), model, bundle)
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == sorted([MODEL_FILE, META_FILE, CARD_FILE])
    read = read_bundle(str(tmp_path / "bundle"))
    assert read == written and read.input == bundle.input and read.calibration == bundle.calibration
    meta = json.loads((tmp_path / "bundle" / META_FILE).read_text())
    assert meta["format_version"] == 1 and meta["input"] == {
        "sample_rate": 16000, "window_samples": 16000, "hop_samples": 6000, "aggregation": "mean-logit",
        "short_clips": "repeat"}
    assert meta["model"]["parameters"] == model.count_params() and meta["model"]["sha256"] == written.model_sha256

    before = Detector.from_bundle(replace(bundle, model=model)).predict(str(path))  # in memory, unsaved
    after = Detector.load(str(tmp_path / "bundle")).predict(str(path))
    assert len(after.windows) == len(before.windows) == 5  # 40,000 samples: starts 0, 6000, 12000, 18000, 24000
    np.testing.assert_allclose([w.logit for w in after.windows], [w.logit for w in before.windows], atol=1e-6)
    assert abs(after.spoof_probability - before.spoof_probability) < 1e-6 and after.decision == before.decision
    # the stored calibration is the one applied: P(spoof) = 1 / (1 + exp(1.7 logit - 0.4))
    assert after.spoof_probability == pytest.approx(1 / (1 + np.exp(1.7 * after.logit - 0.4)), abs=1e-12)

    # an out-of-domain result joins the metrics and the card; the model file is untouched
    updated = add_out_of_domain(written.path, "vits-demo", [1.0, 2.0, 0.5, 3.0], [0.0, 0.8, -1.0, -2.0])
    assert read_bundle(written.path).metrics["out_of_domain"][0]["eer"] == 0.25 == updated.metrics[
        "out_of_domain"][0]["eer"]
    assert "| vits-demo | 4 / 4 | 25.00% |" in (tmp_path / "bundle" / CARD_FILE).read_text()
    assert read_bundle(written.path).load_model() is not None  # sha256 still matches


def test_calibration_on_gaussian_scores_matches_empirical_frequencies():
    rng = np.random.default_rng(1)
    # bona fide ~ N(1, 1), spoof ~ N(-1.5, 1): the true bona fide LLR is 2.5 s + 0.625
    calibration, threshold = calibrate_on_dev(rng.normal(1.0, 1.0, 20000), rng.normal(-1.5, 1.0, 20000))
    assert calibration.a == pytest.approx(2.5, abs=0.06) and calibration.b == pytest.approx(0.625, abs=0.04)

    bona, spoof = rng.normal(1.0, 1.0, 50000), rng.normal(-1.5, 1.0, 50000)  # fresh data
    probability = calibration.spoof_probability(np.concatenate([bona, spoof]))
    is_spoof = np.concatenate([np.zeros(bona.size), np.ones(spoof.size)])
    bins = np.minimum((probability * 10).astype(int), 9)
    for b in range(10):
        inside = bins == b
        assert inside.sum() > 1000
        assert abs(is_spoof[inside].mean() - probability[inside].mean()) < 0.02, b

    # the threshold on P(spoof) is the dev EER point: the same errors as the logit threshold it came from
    dev_bona, dev_spoof = rng.normal(1.0, 1.0, 3000), rng.normal(-1.5, 1.0, 3000)
    calibration, threshold = calibrate_on_dev(dev_bona, dev_spoof)
    eer, t = metrics.compute_eer(dev_bona, dev_spoof)
    frr, far = metrics.error_rates_at_threshold(dev_bona, dev_spoof, t)
    decide = np.vectorize(threshold.decide)
    assert np.mean(decide(calibration.spoof_probability(dev_bona)) == "spoof") == frr
    assert np.mean(decide(calibration.spoof_probability(dev_spoof)) == "bonafide") == far
    assert threshold.logit == t and abs(frr - eer) < 0.01


def test_separated_dev_scores_keep_a_finite_slope():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        calibration = Calibration.fit([2.0, 2.5, 3.0], [-1.0, -0.5, 0.0])
    assert 0 < calibration.a < 100 and calibration.l2 > 0
    assert calibration.spoof_probability(3.0)[0] < 0.5 < calibration.spoof_probability(-1.0)[0]


def test_damaged_bundles_are_named(tiny, tmp_path):
    model, bundle = tiny
    folder = tmp_path / "bundle"
    write_bundle(str(folder), model, bundle)
    meta = json.loads((folder / META_FILE).read_text())

    def rewrite(change):
        data = json.loads(json.dumps(meta))
        change(data)
        (folder / META_FILE).write_text(json.dumps(data))

    rewrite(lambda d: d.pop("input"))
    with pytest.raises(BundleError, match=r"bundle\.json: field 'input' is missing"):
        read_bundle(str(folder))
    rewrite(lambda d: d["input"].update(aggregation="median"))
    with pytest.raises(BundleError, match="input.aggregation"):
        read_bundle(str(folder))
    rewrite(lambda d: d["calibration"].update(a="steep"))
    with pytest.raises(BundleError, match="calibration.a"):
        read_bundle(str(folder))
    rewrite(lambda d: d.update(format_version=99))
    with pytest.raises(BundleError, match="newer"):
        read_bundle(str(folder))
    rewrite(lambda d: None)
    with open(folder / MODEL_FILE, "r+b") as handle:  # one flipped byte in the model archive
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BundleError, match=r"model\.keras: sha256 differs"):
        read_bundle(str(folder)).load_model()
    (folder / META_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not readable JSON"):
        read_bundle(str(folder))
    with pytest.raises(BundleError, match="reads 16000 samples"):
        write_bundle(str(tmp_path / "other"), model, Bundle("x", "x", "aasist", InputRule(16000, 64600)))
    with pytest.raises(BundleError, match="nowhere: neither a file or folder nor a preset name"):
        Detector.load(str(tmp_path / "nowhere"))


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


def test_window_indices_are_the_evaluation_paths_windows():
    import tensorflow as tf

    from tfdeepfake.input_rule import sliding_windows, window_indices

    for n in (1, 7, 999, 1000, 1001, 1499, 1500, 1501, 4321, 10000):
        for window, hop in ((1000, 500), (1000, 1000), (1000, 333), (64600, 32300)):
            expected = sliding_windows(tf.range(n), window, hop).numpy()
            np.testing.assert_array_equal(window_indices(n, window, hop), expected, err_msg=f"{n} {window} {hop}")
