"""tfdeepfake listen: a real recording piped through stdin is scored window by window as it arrives, with the
same window scores and verdict as tfdeepfake predict on the file; bad input names its cause."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from helpers import ROOT, fixture_model
from tfdeepfake.cli import listen

FIXTURE = ROOT / "tests" / "fixtures" / "aasist" / "aasist_tiny"
CLIP = ROOT.parent / "shared" / "corpora" / "librispeech-sample" / "librispeech_test-other" / "1688" / \
    "1688-142285-0000.flac"


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """The tiny AASIST fixture as a bundle folder (official config + checkpoint, converted)."""

    from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold, write_bundle

    model, samples = fixture_model("aasist_tiny")
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    write_bundle(str(out), model, Bundle("aasist-tiny", "AASIST tiny fixture", "aasist",
                                         InputRule(16000, samples, 6000), Calibration(1.3, 0.2, fitted_on="test"),
                                         Threshold(0.4, "test value", None)))
    return str(out)


def run(args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tfdeepfake.cli", "listen", *args], stdin=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not CLIP.is_file(), reason=f"{CLIP} not found (../shared is absent)")
def test_stdin_stream_equals_predict_on_the_file(tiny_bundle, tmp_path):
    wav = tmp_path / "speech.wav"
    samples, rate = sf.read(CLIP, dtype="float32")
    sf.write(wav, samples, rate, subtype="FLOAT")  # 16 kHz: ffmpeg passes the samples through unchanged
    with open(wav, "rb") as handle:
        done = run(["-", "--model", tiny_bundle, "--format", "jsonl", "--chunk-seconds", "0.05"], stdin=handle)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    windows = [line["window"] for line in lines if "window" in line]
    summary = lines[-1]["summary"]

    from tfdeepfake.inference import Detector

    expected = Detector.load(tiny_bundle).predict(str(wav))
    assert [(w["start"], w["end"]) for w in windows] == [(w.start, w.end) for w in expected.windows]
    np.testing.assert_allclose([w["logit"] for w in windows], [w.logit for w in expected.windows], atol=1e-5)
    assert summary["spoof_probability"] == pytest.approx(expected.spoof_probability, abs=1e-6)
    assert summary["decision"] == expected.decision
    assert summary["duration"] == pytest.approx(expected.duration)
    assert summary["latency"]["windows"] == len(windows) and summary["latency"]["p50_ms"] > 0


def test_table_output_with_a_time_limit(tiny_bundle, tmp_path):
    tone = tmp_path / "tone.wav"
    sf.write(tone, 0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * 16000) / 16000), 16000)
    done = run([str(tone), "--model", tiny_bundle, "--seconds", "2"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["0.00", "-", "1.00"] and "P(spoof)" in lines[0] and "latency" in lines[0]
    assert "2.00 s" in lines[-2] and "no-speech" in lines[-2]  # a steady tone: flagged, no verdict
    assert lines[-1].startswith("latency per window: p50")


def test_bad_input_names_the_cause(tiny_bundle, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not audio\n")
    done = run([str(text), "--model", tiny_bundle])
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1 and last.startswith("error: ") and str(text) in last and "Invalid data" in last
    done = run(["--model", tiny_bundle])
    assert done.returncode == 2 and "--mic" in done.stderr


def test_microphone_command():
    assert listen.ffmpeg_command(None, "alsa:hw:1", 16000, False)[5:9] == ["-f", "alsa", "-i", "hw:1"]
    assert listen.ffmpeg_command(None, "pulse", 16000, False)[5:9] == ["-f", "pulse", "-i", "default"]
    with pytest.raises(listen.ListenError, match="backend"):
        listen.ffmpeg_command(None, "oss:/dev/dsp", 16000, False)
