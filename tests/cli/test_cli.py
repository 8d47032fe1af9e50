"""The tfdeepfake command line: predict's formats, folder walk and exit codes; convert-checkpoint; dispatch."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import AASIST_FIXTURES
from tfdeepfake import cli
from tfdeepfake.inference import Detector



@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A folder tree with real-speech-like clips in two formats, one broken file and one non-audio file."""
    root = tmp_path_factory.mktemp("recordings")
    inputs = np.load(AASIST_FIXTURES / "outputs.npz")["inputs"]
    (root / "nested" / "deeper").mkdir(parents=True)
    sf.write(root / "a.wav", inputs[0, :24000], 16000, subtype="FLOAT")
    sf.write(root / "nested" / "b.flac", inputs[1, :16000], 16000)
    sf.write(root / "nested" / "deeper" / "c.wav", inputs[2, :40000], 16000, subtype="FLOAT")
    (root / "nested" / "broken.wav").write_bytes(b"RIFF not really")
    (root / "notes.txt").write_text("not audio, not picked up by the folder walk")
    return root


def test_converted_checkpoint_equals_the_official_forward(tiny_bundle):
    reference = np.load(AASIST_FIXTURES / "outputs.npz")
    detector = Detector.load(tiny_bundle)
    logit = detector.predict(reference["inputs"][0, :16000]).logit  # exactly one window
    official = reference["aasist_tiny/logits"][0]
    assert logit == pytest.approx(official[1] - official[0], abs=1e-4)
    assert detector.bundle.provenance["checkpoint"]["sha256"]


def test_predict_walks_folders_and_writes_every_format(tiny_bundle, recordings, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert cli.main(["predict", str(recordings), "--model", tiny_bundle, "--format", "csv", "--out", str(out),
                     "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    names = [Path(r["path"]).name for r in rows]
    assert names == ["a.wav", "b.flac", "broken.wav", "c.wav"]  # sorted walk, the .txt left out
    broken = rows[2]
    assert broken["decision"] == "error" and "broken.wav" in broken["error"] and broken["logit"] == ""
    scored = [r for r in rows if r["decision"] != "error"]
    detector = Detector.load(tiny_bundle)
    for row in scored:
        direct = detector.predict(row["path"])
        assert float(row["logit"]) == pytest.approx(direct.logit, abs=1e-5)
        assert int(row["windows"]) == len(direct.windows)
        assert row["decision"] == direct.decision
    assert "3 scored, 1 failed" in capsys.readouterr().err

    assert cli.main(["predict", str(recordings / "a.wav"), "--model", tiny_bundle, "--format", "jsonl",
                     "--quiet"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert [w["start"] for w in line["windows"]] == [0.0, 0.5]  # hop: half the 16,000-sample window
    assert line["windows"][-1]["end"] == 1.5

    assert cli.main(["predict", str(recordings / "a.wav"), "--model", tiny_bundle, "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["decision", "P(spoof)", "logit"] and table[1].endswith("a.wav")


def test_predict_options_change_the_rule(tiny_bundle, recordings, capsys):
    clip = str(recordings / "nested" / "deeper" / "c.wav")
    assert cli.main(["predict", clip, "--model", tiny_bundle, "--format", "jsonl", "--hop", "1.0",
                     "--aggregation", "max-spoof", "--quiet"]) == 0
    line = json.loads(capsys.readouterr().out)
    logits = [w["logit"] for w in line["windows"]]
    assert [w["start"] for w in line["windows"]] == [0.0, 1.0, 1.5] and line["logit"] == pytest.approx(min(logits))


def test_exit_status(tiny_bundle, recordings, tmp_path, capsys):
    broken = str(recordings / "nested" / "broken.wav")
    assert cli.main(["predict", broken, "--model", tiny_bundle, "--quiet"]) == 1  # nothing scored
    assert cli.main(["predict", broken, str(recordings / "a.wav"), "--model", tiny_bundle, "--quiet"]) == 0
    assert cli.main(["predict", broken, str(recordings / "a.wav"), "--model", tiny_bundle, "--quiet",
                     "--strict"]) == 1
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "absent.wav"), "--model", tiny_bundle]) == 1
    assert "absent.wav: no such file or folder" in capsys.readouterr().err
    assert cli.main(["predict", str(recordings / "a.wav"), "--model", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_dispatch_usage_and_unknown_subcommands(capsys):
    assert cli.main([]) == 2 and "subcommands:" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in cli.COMMANDS)
    assert cli.main(["frobnicate"]) == 2 and "unknown subcommand 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", "--help"])
    assert exit_info.value.code == 0 and "tfdeepfake predict" in capsys.readouterr().out


def test_python_m_shims_run_the_same_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tfdeepfake.build_tfrecords", "--dataset", "asvspoof2019-la",
                           "--root", str(tmp_path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "error: " in done.stderr and "Traceback" not in done.stderr
    assert "none of the LA protocols" in done.stderr


@pytest.mark.parametrize("suffix,codec", [
    (".flac", ["-c:a", "flac"]), (".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    (".m4a", ["-c:a", "aac", "-b:a", "128k"]), (".webm", ["-c:a", "libopus", "-b:a", "64k"]),
    (".ogg", ["-c:a", "libvorbis"]), (".mkv", ["-c:a", "flac"]),
    (".mp4", ["-f", "lavfi", "-i", "color=c=black:s=32x32:r=5", "-shortest", "-c:v", "libx264", "-c:a", "aac"]),
    (".mov", ["-f", "lavfi", "-i", "color=c=black:s=32x32:r=5", "-shortest", "-c:v", "libx264", "-c:a", "aac"])])
def test_detector_reads_every_format_a_user_brings(tiny_bundle, tmp_path, suffix, codec):
    """Browser recordings, phone memos and videos score like the WAV they were made from (lossless: equal)."""
    source = tmp_path / "speech.wav"
    sf.write(source, np.load(AASIST_FIXTURES / "outputs.npz")["inputs"][0, :40000], 16000, subtype="PCM_16")
    target = tmp_path / f"speech{suffix}"
    video, audio_codec = (codec[:5], codec[5:]) if "lavfi" in codec else ([], codec)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), *video, "-map", "0:a",
                    *(["-map", "1:v"] if video else []), *audio_codec, str(target)], check=True)
    detector = Detector.load(tiny_bundle)
    reference, result = detector.predict(str(source)), detector.predict(str(target))
    assert result.ok and abs(result.duration - reference.duration) < 0.1  # codec priming / padding only
    if suffix in (".flac", ".mkv"):
        assert result.logit == pytest.approx(reference.logit, abs=1e-5)
    else:
        assert np.isfinite(result.logit) and abs(len(result.windows) - len(reference.windows)) <= 1
