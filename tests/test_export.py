"""Export: every format through `tfdeepfake export`, loaded back by the Detector, float32 within 1e-4 of Keras
on real speech, quantized formats close, the calibrated output in the graph, metadata beside the file, and the
failures (parity miss, an op a converter lacks) named without losing the other formats."""
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from helpers import CORPORA, fixture_model
from tfdeepfake import cli, export
from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold, write_bundle
from tfdeepfake.inference import Detector, load_runner
from tfdeepfake.storage import sha256_file


LIBRI = CORPORA / "librispeech-sample" / "librispeech_test-other"
BONAFIDE = [LIBRI / "1688" / "1688-142285-0000.flac", LIBRI / "1998" / "1998-15444-0000.flac"]
SPOOF = [CORPORA / "vits-demo" / "ss_01_vits.flac", CORPORA / "asvspoof2019-la-sample" / "LA_T_1000137.flac"]
needs_corpora = pytest.mark.skipif(not all(p.is_file() for p in BONAFIDE + SPOOF),
                                   reason=f"real clips under {CORPORA} not found (../shared is absent)")
FILES = {"savedmodel": "saved_model", "tflite": "model.tflite", "tflite-fp16": "model-fp16.tflite",
         "tflite-int8": "model-int8.tflite", "onnx": "model.onnx"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny AASIST with a non-identity calibration as a bundle, exported to every format by the CLI."""
    if not all(p.is_file() for p in BONAFIDE + SPOOF):
        pytest.skip(f"real clips under {CORPORA} not found (../shared is absent)")
    root = tmp_path_factory.mktemp("export")
    model, samples = fixture_model("aasist_tiny")
    bundle = Bundle("aasist-tiny", "AASIST tiny fixture", "aasist", InputRule(16000, samples),
                    Calibration(1.3, 0.2, fitted_on="test values"), Threshold(0.4, "test value", None))
    write_bundle(str(root / "bundle"), model, bundle)
    argv = ["export", str(root / "bundle"), "--out", str(root / "out"), "--check-audio", *map(str, BONAFIDE)]
    for fmt in export.FORMATS:
        argv += ["--format", fmt]
    assert cli.main(argv) == 0
    return root


@needs_corpora
@pytest.mark.parametrize("fmt", export.FORMATS)
def test_every_format_scores_real_speech_like_the_keras_model(exported, fmt):
    keras = Detector.load(str(exported / "bundle"))
    detector = Detector.load(str(exported / "out" / FILES[fmt]))
    assert detector.bundle.calibration == keras.bundle.calibration and detector.model_id == "aasist-tiny"
    assert detector.bundle.threshold == keras.bundle.threshold and detector.input_rule == keras.input_rule
    ours, theirs = [], []
    for clip in BONAFIDE + SPOOF:
        a, b = keras.predict(str(clip)), detector.predict(str(clip))
        ours += [w.logit for w in a.windows]
        theirs += [w.logit for w in b.windows]
    ours, theirs = np.array(ours), np.array(theirs)
    assert len(ours) >= 8 and np.ptp(ours) > 0.05  # the windows differ, so the comparison has teeth
    if fmt in export.FLOAT_FORMATS:
        np.testing.assert_allclose(theirs, ours, atol=export.FLOAT_TOLERANCE)
    else:  # measured: fp16 within 0.03, dynamic-range int8 within 0.45 on this tiny random-ish model
        assert np.corrcoef(ours, theirs)[0, 1] > (0.999 if fmt == "tflite-fp16" else 0.9)
        assert np.max(np.abs(ours - theirs)) < (0.1 if fmt == "tflite-fp16" else 1.0)
        assert np.max(np.abs(ours - theirs)) > 0  # quantized for real


@needs_corpora
def test_the_serving_signature_gives_the_calibrated_probability(exported):
    """Every format's second output is 1 / (1 + exp(1.3 logit + 0.2)), the bundle's calibration."""
    import onnxruntime

    windows = np.random.default_rng(3).normal(0, 0.1, (3, 16000)).astype(np.float32)
    saved = tf.saved_model.load(str(exported / "out" / "saved_model")).signatures["serving_default"]
    interpreter = tf.lite.Interpreter(str(exported / "out" / "model.tflite"))
    session = onnxruntime.InferenceSession(str(exported / "out" / "model.onnx"))
    outputs = [{k: v.numpy() for k, v in saved(waveform=tf.constant(windows)).items()},
               interpreter.get_signature_runner("serving_default")(waveform=windows),
               dict(zip(export.OUTPUT_NAMES, session.run(list(export.OUTPUT_NAMES), {"waveform": windows})))]
    for out in outputs:
        assert out["logit"].shape == out["spoof_probability"].shape == (3,)
        np.testing.assert_allclose(out["spoof_probability"], 1 / (1 + np.exp(1.3 * out["logit"] + 0.2)), atol=1e-6)
        np.testing.assert_allclose(out["logit"], outputs[0]["logit"], atol=1e-4)


@needs_corpora
def test_metadata_beside_each_export(exported):
    for fmt, name in FILES.items():
        path = exported / "out" / name
        meta = path / "bundle.json" if fmt == "savedmodel" else Path(f"{path}.bundle.json")
        card = path / "model_card.md" if fmt == "savedmodel" else Path(f"{path}.model_card.md")
        data = json.loads(meta.read_text())
        assert data["model"]["format"] == fmt and data["model"]["file"] == name
        record = data["provenance"]["export"]
        assert record["format"] == fmt and record["parity"]["windows"] >= 8 and "1688-142285-0000" in \
            record["parity"]["audio"]
        assert record["parity"]["passed"] and record["parity"]["correlation"] > 0.9
        if fmt != "savedmodel":
            assert data["model"]["sha256"] == sha256_file(str(path))
        assert "## Export" in card.read_text() and "AASIST tiny fixture" in card.read_text()


def test_a_float_export_that_misses_parity_is_not_kept(tmp_path, monkeypatch):
    model = tf.keras.Sequential([tf.keras.Input((800,)), tf.keras.layers.Dense(1)])
    bundle = Bundle("dense", "dense", "test", InputRule(16000, 800), model=model)

    def off_by_a_little(path):
        runner = load_runner(path)
        return lambda windows: runner(windows) + 2e-4

    monkeypatch.setattr("tfdeepfake.inference.load_runner", off_by_a_little)
    with pytest.raises(export.ExportError, match=r"differs from the Keras model by 0\.0002.*nothing was written"):
        export.export_model(bundle, "tflite", str(tmp_path / "m.tflite"))
    assert list(tmp_path.iterdir()) == []  # no file, no metadata, no staging folder


@tf.keras.utils.register_keras_serializable("tfdeepfake_tests")
class Igamma(tf.keras.layers.Layer):
    """An op TFLite's builtins lack (tf.Igamma)."""

    def call(self, x):
        return tf.math.igamma(tf.abs(x) + 1.0, tf.abs(x) + 1.0)


def test_an_op_a_converter_lacks_is_named_and_other_formats_still_export(tmp_path):
    inputs = tf.keras.Input((400,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(Igamma()(inputs)))
    write_bundle(str(tmp_path / "b"), model, Bundle("ig", "igamma", "test", InputRule(16000, 400)))
    status = cli.main(["export", str(tmp_path / "b"), "--format", "tflite", "--format", "savedmodel",
                       "--out", str(tmp_path / "out")])
    assert status == 1  # one format failed
    assert not (tmp_path / "out" / "model.tflite").exists()
    assert (tmp_path / "out" / "saved_model" / "saved_model.pb").is_file()
    with pytest.raises(export.ExportError, match=r"ig: cannot export to tflite \(unsupported op\(s\) .*Igamma"):
        export.export_model(str(tmp_path / "b"), "tflite", str(tmp_path / "again.tflite"))


def test_what_cannot_be_exported_says_why(tmp_path, exported):
    with pytest.raises(export.ExportError, match="format 'coreml'"):
        export.export_model(str(exported / "bundle"), "coreml", str(tmp_path / "x"))
    if (exported / "out" / "model.tflite").is_file():
        with pytest.raises(export.ExportError, match="already an exported model"):
            export.export_model(str(exported / "out" / "model.tflite"), "onnx", str(tmp_path / "x.onnx"))


@needs_corpora
def test_predict_runs_an_export_from_the_command_line(exported, tmp_path):
    out = tmp_path / "scores.csv"
    model = exported / "out" / "model.onnx"
    assert cli.main(["predict", str(BONAFIDE[0]), str(SPOOF[0]), "--model", str(model), "--format", "csv",
                     "--out", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(out.open()))
    detector = Detector.load(str(model))
    assert len(rows) == 2 and all(r["error"] == "" for r in rows)
    for row, clip in zip(rows, BONAFIDE[:1] + SPOOF[:1]):
        assert row["path"] == str(clip)
        assert float(row["logit"]) == pytest.approx(detector.predict(str(clip)).logit, abs=1e-5)


def test_the_portable_exact_gelu_equals_tensorflows_and_traces_no_erfc():
    """WavLM's exact GELU in its tf2onnx form (erf) gives TensorFlow's values (Erfc form) to float rounding."""
    from tfdeepfake.features import portable_graph
    from tfdeepfake.models.ssl.wavlm import _exact_gelu

    x = tf.constant(np.linspace(-9, 9, 20001), tf.float32)
    spec = tf.TensorSpec(x.shape, tf.float32)
    with portable_graph():
        portable = tf.function(_exact_gelu).get_concrete_function(spec)
    default = tf.function(_exact_gelu).get_concrete_function(spec)
    assert "Erfc" not in {op.type for op in portable.graph.get_operations()}
    assert "Erfc" in {op.type for op in default.graph.get_operations()}
    np.testing.assert_allclose(portable(x).numpy(), default(x).numpy(), atol=2e-6)


def test_the_portable_positional_conv_equals_the_grouped_keras_conv():
    from tfdeepfake.features import portable_graph
    from tfdeepfake.models.ssl.wavlm import PositionalConv, WavLMConfig

    layer = PositionalConv(WavLMConfig(hidden_size=32, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4))
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 20, 32)), tf.float32)
    grouped = layer(x).numpy()
    with portable_graph():
        traced = tf.function(layer).get_concrete_function(tf.TensorSpec(x.shape, tf.float32))
    assert "PartitionedCall" not in {op.type for op in traced.graph.get_operations()}
    np.testing.assert_allclose(traced(x).numpy(), grouped, atol=1e-5)
    assert grouped.shape == (2, 20, 32) and np.ptp(grouped) > 0.1
