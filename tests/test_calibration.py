"""tfdeepfake calibrate: the threshold put at the asked false-alarm rate on the user's real recordings holds on
held-out recordings of the same kind, a refit with spoofs lowers Cllr, bad files are rows that never stop the
rest, too few usable files is a clear error, and the new bundle loads and decides as its card says."""
import json

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

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
