"""tfdeepfake calibrate: the threshold put at the asked false-alarm rate on the user's real recordings holds on
held-out recordings of the same kind, a refit with spoofs lowers Cllr, bad files are rows that never stop the
rest, too few usable files is a clear error, and the new bundle loads and decides as its card says."""
import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from helpers import CORPORA
from tfdeepfake import cli
from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold, read_bundle, write_bundle
from tfdeepfake.calibration import (FILES_CSV, CalibrationDataError, calibrate_to_recordings,
                                    false_alarm_threshold)
from tfdeepfake.inference import Detector

RATE, WINDOW = 16000, 1600


def bursts(path, rng, noise: float):
    """2 s of tone bursts (0.25 s on, 0.25 s off) over a little noise: passes the speech-activity check."""
    t = np.arange(2 * RATE) / RATE
    gate = (np.floor(t / 0.25) % 2 == 0).astype(np.float32)
    clip = gate * 0.3 * np.sin(2 * np.pi * rng.uniform(300, 1000) * t) + noise * rng.standard_normal(t.size)
    sf.write(path, clip.astype(np.float32), RATE)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A bundle whose logit falls with the window's first-difference energy (tones score by their pitch, noise
    low), and folders of real-like (tones, little noise) and spoof-like (tones in loud noise) recordings:
    30 + 30 real, 12 spoof."""
    root = tmp_path_factory.mktemp("calibrate")
    inputs = tf.keras.Input((WINDOW,), name="waveform")
    diff = tf.keras.layers.Conv1D(1, 2, use_bias=False, weights=[np.array([[[-1.0]], [[1.0]]], np.float32)])(
        tf.keras.layers.Reshape((WINDOW, 1))(inputs))
    energy = tf.keras.layers.GlobalAveragePooling1D()(tf.keras.layers.Multiply()([diff, diff]))
    logit = tf.keras.layers.Dense(1, weights=[np.array([[-50.0]], np.float32), np.array([0.5], np.float32)])(energy)
    model = tf.keras.Model(inputs, logit)
    source = write_bundle(str(root / "source"), model, Bundle(
        "probe", "random projection", "test", InputRule(RATE, WINDOW), Calibration(2.0, 0.0, fitted_on="test"),
        Threshold(0.5, "test value", 0.0)))
    rng = np.random.default_rng(1)
    for folder, count, noise in (("real", 30, 0.01), ("heldout", 30, 0.01), ("spoof", 12, 0.04)):
        (root / folder).mkdir()
        for i in range(count):
            bursts(root / folder / f"{folder}{i:02d}.wav", rng, noise)
    return root, source


def test_false_alarm_threshold_counts_exactly():
    logits = np.arange(20.0)
    assert false_alarm_threshold(logits, 0.1) == 1.5  # logits 0 and 1 below: 2 of 20
    assert false_alarm_threshold(logits, 0.049) < 0  # k = 0: below the lowest
    assert np.mean(logits <= false_alarm_threshold(logits, 0.25)) == 0.25


def test_real_recordings_only_set_the_threshold_at_the_asked_rate(setup, tmp_path):
    root, source = setup
    (root / "real" / "notes.txt").write_text("not audio")  # walked? no: not an audio suffix
    bad = root / "real" / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    out = tmp_path / "mine"
    try:
        result = calibrate_to_recordings(source.path, [str(root / "real")], str(out), false_alarm=0.2)
    finally:
        bad.unlink()
    rows = {r.path: r for r in result.rows}
    assert rows[str(bad)].status == "error" and "broken.wav" in rows[str(bad)].error
    assert result.figures["bonafide_files"] == 30 and result.figures["left_out"] == 1
    assert result.figures["false_alarm"] == pytest.approx(0.2)
    low, high = result.figures["false_alarm_ci95"]
    assert low < 0.2 < high
    assert result.bundle.calibration == source.calibration  # real recordings only: the map is kept

    detector = Detector.load(str(out))
    calibrated = detector.predict_many(sorted(str(p) for p in (root / "real").glob("*.wav")))
    assert sum(p.decision == "spoof" for p in calibrated) == 6  # 20% of 30, as the card says
    heldout = detector.predict_many(sorted(str(p) for p in (root / "heldout").glob("*.wav")))
    assert 0.0 < np.mean([p.decision == "spoof" for p in heldout]) < 0.45
    card = (out / "model_card.md").read_text()
    assert "## Calibrated to the user's recordings" in card and "achieved 20.00%" in card
    csv_text = (out / FILES_CSV).read_text()
    assert "broken.wav,bonafide,error" in csv_text and csv_text.count(",used,") == 30
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["metrics"]["domain_calibration"]["data"]["files_sha256_digest"]
    assert read_bundle(str(out)).model_id == "probe+calibrated"


def test_with_spoofs_the_calibration_is_refitted(setup, tmp_path, capsys):
    root, source = setup
    out = tmp_path / "refit"
    assert cli.main(["calibrate", source.path, "--bonafide", str(root / "real"), "--spoof", str(root / "spoof"),
                     "--false-alarm", "0.1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "used 30 real and 12 spoofed recordings" in printed and "Cllr" in printed
    done = read_bundle(str(out)).metrics["domain_calibration"]
    assert done["cllr_after"] <= done["cllr_before"] + 1e-9
    assert "user's recordings" in read_bundle(str(out)).calibration.fitted_on
    assert done["false_alarm"] == pytest.approx(0.1)


def test_too_few_usable_recordings_is_an_error_naming_the_count(setup, tmp_path):
    root, source = setup
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        (few / f"f{i}.wav").write_bytes((root / "real" / f"real{i:02d}.wav").read_bytes())
    with pytest.raises(CalibrationDataError, match="3 usable real recordings .* at least 10"):
        calibrate_to_recordings(source.path, [str(few)], str(tmp_path / "out"))
    assert (tmp_path / "out" / FILES_CSV).is_file()  # the rows are written even then
    with pytest.raises(CalibrationDataError, match="strictly between"):
        calibrate_to_recordings(source.path, [str(few)], str(tmp_path / "out"), false_alarm=0.7)


@pytest.fixture(scope="module")
def exports(setup):
    """The probe bundle exported to SavedModel, TFLite and ONNX by tfdeepfake.export (metadata beside each)."""
    from tfdeepfake.export import export_model

    root, source = setup
    return {fmt: export_model(source.path, fmt, str(root / "exports" / name)).path
            for fmt, name in (("savedmodel", "saved_model"), ("tflite", "probe.tflite"), ("onnx", "probe.onnx"))}


def aggregated_logits(runner, rule, path) -> float:
    """A file's aggregated logit computed here from the raw export: decode, cut by the rule, run, average."""
    from tfdeepfake import audio

    samples, _ = audio.load_audio(str(path), target_rate=rule.sample_rate)
    return float(np.mean(np.asarray(runner(samples[rule.window_indices(len(samples))]), np.float64)))


@pytest.mark.parametrize("fmt", ["tflite", "savedmodel", "onnx"])
def test_an_exported_model_is_calibrated_into_a_bundle_that_runs_the_export(setup, exports, tmp_path, fmt):
    """The new bundle holds a copy of the export with the refitted calibration; Detector.load runs the export,
    and its P(spoof) is the raw export's logits, aggregated, through the new calibration; the source export and
    its metadata are untouched."""
    from tfdeepfake.inference import load_runner
    from tfdeepfake.storage import sha256_file

    root, source = setup
    export = exports[fmt]
    meta = f"{export}.bundle.json" if fmt != "savedmodel" else f"{export}/bundle.json"
    before = (open(meta).read(), None if fmt == "savedmodel" else sha256_file(export))
    out = tmp_path / "mine"
    result = calibrate_to_recordings(export, [str(root / "real")], str(out), spoof=[str(root / "spoof")],
                                     false_alarm=0.1)
    assert (open(meta).read(), None if fmt == "savedmodel" else sha256_file(export)) == before
    name = {"tflite": "model.tflite", "savedmodel": "saved_model", "onnx": "model.onnx"}[fmt]
    written = json.loads((out / "bundle.json").read_text())
    assert written["model"]["file"] == name and written["model"]["format"] == fmt
    assert sorted(p.name for p in out.iterdir()) == sorted([name, "bundle.json", "model_card.md", FILES_CSV])
    if fmt == "savedmodel":  # the copy has no metadata of its own: the folder's bundle.json is the one
        assert not (out / name / "bundle.json").exists()

    detector = Detector.load(str(out))
    assert type(detector.runner).__name__ != "KerasRunner" and detector.model_id == "probe+calibrated"
    new = detector.bundle.calibration
    assert new == result.bundle.calibration != source.calibration and "user's recordings" in new.fitted_on
    raw = load_runner(export)
    clips = [root / "heldout" / "heldout00.wav", root / "spoof" / "spoof00.wav", root / "spoof" / "spoof01.wav"]
    for clip in clips:
        logit = aggregated_logits(raw, detector.input_rule, clip)
        got = detector.predict(str(clip))
        assert got.logit == pytest.approx(logit, abs=1e-6)  # float32 windows run in other batches
        assert got.spoof_probability == pytest.approx(1 / (1 + np.exp(new.a * logit + new.b)), abs=1e-6)
        assert got.spoof_probability == pytest.approx(1 / (1 + np.exp(new.a * got.logit + new.b)), abs=1e-12)
        assert got.decision == ("spoof" if logit <= result.figures["threshold_logit"] else "bonafide")
    assert Detector.load(str(out / name)).bundle.calibration == new  # the copy alone finds the folder's metadata
    card = (out / "model_card.md").read_text()
    assert f"a copy of the {fmt} export" in card and "still applies the source calibration (a 2, b 0)" in card


def test_an_export_without_its_metadata_says_how_to_supply_it(setup, exports, tmp_path):
    root, source = setup
    bare = tmp_path / "copied" / "probe.tflite"
    bare.parent.mkdir()
    bare.write_bytes(open(exports["tflite"], "rb").read())
    with pytest.raises(CalibrationDataError, match=r"probe.tflite.bundle.json not found.*--metadata BUNDLE"):
        calibrate_to_recordings(str(bare), [str(root / "real")], str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    out = tmp_path / "out"
    assert cli.main(["calibrate", str(bare), "--bonafide", str(root / "real"), "--metadata", source.path,
                     "--false-alarm", "0.2", "--out", str(out)]) == 0
    detector = Detector.load(str(out))
    assert detector.input_rule == source.input and detector.bundle.model_format == "tflite"
    assert detector.bundle.threshold.logit == pytest.approx(read_bundle(str(out)).threshold.logit)


def test_nothing_already_written_is_lost(setup, exports, tmp_path):
    """A folder holding other files is refused before any work; an earlier bundle is replaced only by a complete
    new one, and stays as it was when the new calibration fails; the source model's own folder is refused."""
    root, source = setup
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(CalibrationDataError, match="holding other files .*keep.txt"):
        calibrate_to_recordings(exports["tflite"], [str(root / "real")], str(other))
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    with pytest.raises(CalibrationDataError, match="the source model .* lies there"):
        calibrate_to_recordings(source.path, [str(root / "real")], source.path)
    out = tmp_path / "mine"
    calibrate_to_recordings(exports["tflite"], [str(root / "real")], str(out), false_alarm=0.2)
    first = (out / "bundle.json").read_text()
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        (few / f"f{i}.wav").write_bytes((root / "real" / f"real{i:02d}.wav").read_bytes())
    with pytest.raises(CalibrationDataError, match="3 usable real recordings .*holds an earlier bundle"):
        calibrate_to_recordings(exports["tflite"], [str(few)], str(out))
    assert (out / "bundle.json").read_text() == first and Detector.load(str(out)).predict(
        str(root / "real" / "real00.wav")).ok
    calibrate_to_recordings(exports["tflite"], [str(root / "real")], str(out), false_alarm=0.1)
    assert read_bundle(str(out)).metrics["domain_calibration"]["false_alarm"] == pytest.approx(0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few", "mine", "notes"]  # no staging left behind


def short_clips(prefix: str, label: str, count: int, longest: float = 4.0) -> list[str]:
    """The first ``count`` (by path) of the corpus files under ``prefix`` with ``label`` lasting at most
    ``longest`` seconds: about one AASIST window each, so the real-model test stays short."""
    with open(CORPORA / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["path"].startswith(prefix) and r["label"] == label
                and float(r["duration_s"]) <= longest]
    return [str(CORPORA / r["path"]) for r in sorted(rows, key=lambda r: r["path"])[:count]]


def bits(bona_llr, spoof_llr) -> float:
    """Cllr written out here (natural-log LLRs, bits): the log-loss of the calibrated scores."""
    bona, spoof = np.asarray(bona_llr, np.float64), np.asarray(spoof_llr, np.float64)
    return (np.mean(np.log1p(np.exp(-bona))) + np.mean(np.log1p(np.exp(spoof)))) / (2 * math.log(2))


@pytest.mark.slow
def test_aasist_l_calibrated_to_real_librispeech_and_generated_speech(shared_dir, tmp_path):
    """The pretrained AASIST-L on real clips (all at most 4 s: one window each; ~75 windows, about a minute on 2
    busy cores): LibriSpeech as the user's real recordings, VITS and HiFi-GAN demo outputs as their spoofs.

    (b, c) With both, plus an unreadable file among the real ones: that file is an error row, 16 real and 10
    spoofed files are used, the card says so, and the refitted calibration's Cllr on those files (computed here
    from the rows' logits) is below the preset's identity map's. (a) Real only, at 12.5% false alarms: the
    loaded bundle calls exactly 2 of the 16 spoof (the rate asked, <= the target); on 12 held-out LibriSpeech
    clips it calls spoof exactly those whose logit is at or below the card's threshold logit, and no more than
    4 of 12 (were each held-out clip below the threshold with chance 0.125, 5 or more of 12 would have a chance of
    1.1%: more would say the threshold does not carry over to recordings of the same kind)."""
    if not (shared_dir / "weights" / "aasist" / "AASIST-L.pth").is_file():
        pytest.skip("../shared/weights/aasist/AASIST-L.pth not found")
    real = short_clips("librispeech-sample/", "bonafide", 28)
    spoofs = short_clips("vits-demo/", "spoof", 6) + short_clips("hifigan-demo/", "spoof", 4, longest=6.0)
    calibrate_on, held_out = real[:16], real[16:]
    assert len(held_out) == 12 and len(spoofs) == 10
    broken = tmp_path / "cut_off.flac"
    broken.write_bytes(open(calibrate_on[0], "rb").read()[:300])  # a FLAC header and nothing decodable after it

    both = tmp_path / "both"
    result = calibrate_to_recordings("aasist-l", calibrate_on + [str(broken)], str(both), spoof=spoofs,
                                     false_alarm=0.125)
    errors = [r for r in result.rows if r.status != "used"]
    assert [(r.path, r.status) for r in errors] == [(str(broken), "error")] and "cut_off.flac" in errors[0].error
    figures = result.figures
    assert (figures["bonafide_files"], figures["spoof_files"], figures["left_out"]) == (16, 10, 1)
    bona = np.array([r.logit for r in result.rows if r.status == "used" and r.label == "bonafide"])
    fake = np.array([r.logit for r in result.rows if r.status == "used" and r.label == "spoof"])
    new = result.bundle.calibration
    before, after = bits(bona, fake), bits(new.a * bona + new.b, new.a * fake + new.b)
    assert figures["cllr_before"] == pytest.approx(before, abs=1e-9)  # the preset's map is the identity
    assert figures["cllr_after"] == pytest.approx(after, abs=1e-9) and after < before
    card = (both / "model_card.md").read_text()
    assert "16 real recordings" in card and "10 spoofed" in card and "1 files left out" in card
    assert f"Cllr {before:.4f} before, {after:.4f} after" in card

    only_real = tmp_path / "real_only"
    result = calibrate_to_recordings("aasist-l", calibrate_on, str(only_real), false_alarm=0.125)
    t = result.figures["threshold_logit"]
    assert (result.bundle.calibration.a, result.bundle.calibration.b) == (1.0, 0.0)  # the preset's map, kept
    detector = Detector.load(str(only_real))
    called = [p.decision == "spoof" for p in detector.predict_many(calibrate_on)]
    assert sum(called) == 2 and result.figures["false_alarm"] == 0.125
    held = detector.predict_many(held_out)
    assert [p.decision == "spoof" for p in held] == [p.logit <= t for p in held]
    assert sum(p.decision == "spoof" for p in held) <= 4, [round(p.logit, 3) for p in held]
