"""Bundle folders: write -> read gives the same detector, and a damaged bundle is refused with the file and
field named."""
import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from helpers import fixture_model
from tfdeepfake.bundle import (CARD_FILE, META_FILE, MODEL_FILE, Bundle, BundleError, Calibration, InputRule,
                               Threshold, add_out_of_domain, read_bundle, write_bundle, write_export_bundle)
from tfdeepfake.inference import Detector



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


def test_a_bundle_holding_an_export_names_its_file_and_format(tiny, tmp_path):
    """model.file and model.format say what the folder holds; a file outside the folder, a Keras bundle naming
    another file, an unknown format and a changed export file are refused with the field named. (The export's
    bytes are not a model here: every check below comes before anything would run it.)"""
    _, bundle = tiny
    export = tmp_path / "exported.tflite"
    export.write_bytes(b"TFL3 stands in for a flatbuffer")
    folder = tmp_path / "bundle"
    written = write_export_bundle(str(folder), str(export), replace(bundle, model_format="tflite"), "model.tflite")
    back = read_bundle(str(folder))
    assert (back.model_format, back.model_file, back.model_sha256) == ("tflite", "model.tflite",
                                                                      written.model_sha256)
    assert back.model_path == str(folder / "model.tflite") and back == written
    with pytest.raises(BundleError, match="a tflite export, not a Keras model"):
        back.load_model()
    with pytest.raises(BundleError, match="model_format 'keras' is write_bundle's"):
        write_export_bundle(str(tmp_path / "other"), str(export), bundle, "model.tflite")
    meta = json.loads((folder / META_FILE).read_text())

    def rewrite(change):
        data = json.loads(json.dumps(meta))
        change(data)
        (folder / META_FILE).write_text(json.dumps(data))

    rewrite(lambda d: d["model"].update(file="../exported.tflite"))
    with pytest.raises(BundleError, match=r"model.file: '../exported.tflite', expected a name inside"):
        read_bundle(str(folder))
    rewrite(lambda d: d["model"].update(format="keras"))
    with pytest.raises(BundleError, match=r"model.file: 'model.tflite', expected 'model.keras'"):
        read_bundle(str(folder))
    rewrite(lambda d: d["model"].update(format="coreml"))
    with pytest.raises(BundleError, match=r"model.format 'coreml': one of keras, savedmodel, tflite"):
        Detector.load(str(folder))
    rewrite(lambda d: None)
    (folder / "model.tflite").write_bytes(b"TFL3 changed")
    with pytest.raises(BundleError, match=r"model.tflite: sha256 differs"):
        Detector.load(str(folder))
