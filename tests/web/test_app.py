"""The web app: analyse() without a browser (figure track = Prediction.windows, limits, errors), the model
catalog and `tfdeepfake serve`'s options; then the real server driven by Chromium through Playwright with the
pretrained aasist-l on real clips (page = Detector.predict, JSON download, error text, screenshot)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import ROOT
from tfdeepfake import audio, cli
from tfdeepfake.inference import Detector
from tfdeepfake.web.analysis import (TRACK_GID, Analysis, FileTooLargeError, LimitError, Limits, analyse,
                                     error_markdown, summary_markdown)
from tfdeepfake.web.app import BATCH_WINDOWS, ModelCatalog, ModelChoiceError, launch_options, local_presets

FIXTURES = ROOT / "tests" / "fixtures" / "aasist"
BONAFIDE = "librispeech-sample/librispeech_train-clean-100/1034-121119-0000.flac"  # real LibriSpeech, 7.9 s
SPOOF = "asvspoof2019-la-sample/LA_T_1000137.flac"  # real ASVspoof 2019 LA training file, attack A04
SECOND_BONAFIDE = "librispeech-sample/librispeech_train-clean-100/1088-129236-0000.flac"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny AASIST fixture as a bundle (made by the CLI) and its Detector: fast where the verdict is moot."""
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    assert cli.main(["convert-checkpoint", str(FIXTURES / "aasist_tiny" / "model.pth"), "--config",
                     str(FIXTURES / "aasist_tiny" / "config.json"), "--out", str(out), "--name", "tiny"]) == 0
    return str(out), Detector.load(str(out))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """2.5 s of the real speech in the fixture inputs (16 kHz), as FLAC."""
    path = tmp_path_factory.mktemp("speech") / "speech.flac"
    sf.write(path, np.load(FIXTURES / "outputs.npz")["inputs"][0, :40000], 16000)
    return path


# ---------------------------------------------------------------- analyse(), no browser


def test_figure_track_and_verdict_are_the_detectors_prediction(tiny, speech):
    _, detector = tiny
    result = analyse(speech, detector, name="upload.flac")
    direct = detector.predict(str(speech))
    assert isinstance(result, Analysis) and result.prediction.source == "upload.flac"
    assert result.prediction.windows == direct.windows and len(direct.windows) == 4  # 2.5 s, 1 s windows, 0.5 s hop
    assert result.prediction.logit == direct.logit and result.prediction.decision == direct.decision
    spectrogram, track = result.figure.axes[0], result.figure.axes[-1]
    assert spectrogram.images, "the spectrogram is drawn"
    line, = [line for line in track.get_lines() if line.get_gid() == TRACK_GID]
    np.testing.assert_allclose(line.get_xdata(), [(w.start + w.end) / 2 for w in direct.windows])
    np.testing.assert_allclose(line.get_ydata(), [w.spoof_probability for w in direct.windows])
    thresholds = [l for l in track.get_lines() if l.get_linestyle() == "--"]
    assert [tuple(l.get_ydata()) for l in thresholds] == [(direct.threshold, direct.threshold)]
    assert spectrogram.get_xlim() == pytest.approx((0.0, direct.duration))
    verdict = result.verdict
    assert verdict.pop("latency_seconds") == result.latency_seconds > 0
    assert verdict == {**direct.to_dict(), "source": "upload.flac"}
    json.dumps(result.verdict)  # the download is plain JSON
    page = summary_markdown(result, load_seconds=1.5)
    assert f"P(spoof) {direct.spoof_probability:.4f}" in page and f"| windows | {len(direct.windows)} |" in page
    assert f"| threshold | {direct.threshold:.4f}" in page and "model loaded in 1.50 s" in page


def test_size_and_duration_limits_are_rejected_with_a_clear_message(tiny, speech, tmp_path):
    _, detector = tiny
    with pytest.raises(FileTooLargeError, match=r"speech.flac: file is larger than the upload limit \(0.\d MB > "
                                                r"0.001 MB\)"):
        analyse(speech, detector, Limits(max_bytes=1000))
    with pytest.raises(audio.TooLongAudioError, match=r"speech.flac: audio is longer than the limit \(2.50 s > 2 s\)"):
        analyse(speech, detector, Limits(max_seconds=2))
    compressed = tmp_path / "speech.m4a"  # an ffmpeg format: the limit comes from the container's duration
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(speech), "-c:a", "aac", str(compressed)],
                   check=True)
    with pytest.raises(audio.TooLongAudioError, match="longer than the limit"):
        analyse(compressed, detector, Limits(max_seconds=2))
    assert analyse(compressed, detector, Limits(max_seconds=3)).prediction.ok
    assert Limits.from_megabytes(2.5, 30) == Limits(2_500_000, 30.0)
    for bad in (dict(max_bytes=0), dict(max_seconds=-1), dict(max_seconds=float("nan")), dict(max_bytes=True)):
        with pytest.raises(LimitError):
            Limits(**bad)
    with pytest.raises(LimitError, match="max_mb"):
        Limits.from_megabytes(0)


def test_bad_input_is_the_audio_error_with_the_uploads_name(tiny, tmp_path):
    _, detector = tiny
    text = tmp_path / "0a1b2c" / "notes.txt"
    text.parent.mkdir()
    text.write_text("these are notes, not audio\n" * 20)
    with pytest.raises(audio.UndecodableAudioError) as caught:
        analyse(text, detector)
    shown = error_markdown(caught.value, str(text), "notes.txt")
    assert f"notes.txt: {caught.value.reason}" in shown and str(tmp_path) not in shown
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(audio.EmptyFileError):
        analyse(empty, detector)


def test_silence_gets_no_verdict_and_still_a_figure(tiny, tmp_path):
    _, detector = tiny
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(24000, np.float32), 16000)
    result = analyse(silent, detector)
    assert result.prediction.decision == "undetermined" and result.prediction.flags == ("no-speech",)
    assert "No speech was found" in summary_markdown(result) and "[no-speech]" in result.figure.axes[0].get_title()


def test_catalog_offers_asked_models_first_and_loads_each_once(tiny):
    path, _ = tiny
    catalog = ModelCatalog([path])
    assert catalog.names[0] == path == catalog.default
    assert set(local_presets()) <= set(catalog.names)
    first, seconds = catalog.get(path)
    again, cached = catalog.get(path)
    assert again is first and seconds > 0 and cached is None and first.batch_windows == BATCH_WINDOWS
    with pytest.raises(ModelChoiceError, match="not one of the models"):
        catalog.get("elsewhere")
    with pytest.raises(ModelChoiceError, match="neither an existing"):
        ModelCatalog(["no-such-model"])


def test_catalog_offers_the_presets_whose_weights_are_here(tmp_path, monkeypatch):
    """Only files on this machine count (nothing is downloaded to find out); with none, every preset is offered."""
    from tfdeepfake import weights
    from tfdeepfake.models.presets import DEFAULT_PRESET, PRESETS

    monkeypatch.setattr(weights, "SHARED", tmp_path / "no-shared")
    monkeypatch.setenv("TFDEEPFAKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TFDEEPFAKE_WEIGHTS", str(tmp_path / "weights"))
    assert local_presets() == []
    catalog = ModelCatalog()
    assert catalog.names == list(PRESETS) and catalog.default == DEFAULT_PRESET
    (tmp_path / "weights" / "aasist").mkdir(parents=True)
    (tmp_path / "weights" / "aasist" / "AASIST-L.pth").write_bytes(b"checked by the resolver when it loads")
    assert local_presets() == ["aasist-l"] and weights.local_copy(PRESETS["aasist-l"].weights) == \
        tmp_path / "weights" / "aasist" / "AASIST-L.pth"
    assert ModelCatalog().names == ["aasist-l"] and ModelCatalog(["aasist"]).names == ["aasist", "aasist-l"]


def test_catalog_lists_presets_found_locally(shared_dir):
    if not (shared_dir / "weights" / "aasist" / "AASIST-L.pth").is_file():
        pytest.skip("../shared/weights/aasist/AASIST-L.pth not found")
    catalog = ModelCatalog()
    assert "aasist-l" in local_presets() and "aasist-l" in catalog.names
    assert catalog.default in catalog.names


def test_serve_listens_on_localhost_and_shares_only_when_asked():
    from tfdeepfake.cli.serve import build_parser

    args = build_parser("tfdeepfake serve").parse_args([])
    assert (args.host, args.port, args.share, args.model) == ("127.0.0.1", 7860, False, [])
    options = launch_options(limits=Limits(max_bytes=123))
    assert options["server_name"] == "127.0.0.1" and options["share"] is False and options["max_file_size"] == 123
    assert launch_options(share=True)["share"] is True
    assert "serve" in cli.COMMANDS


def test_serve_without_gradio_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # what `import gradio` meets when it is not installed
    assert cli.main(["serve"]) == 1
    assert "pip install tfdeepfake[web]" in capsys.readouterr().err
    assert cli.main(["serve", "--max-mb", "0"]) == 1
    assert "max_mb: a positive number" in capsys.readouterr().err


# ---------------------------------------------------------------- the served page in Chromium


def analyse_in_page(page, url: str, path) -> str:
    """Load the page, upload ``path``, press Analyse and return the verdict area's text once it names the file."""
    name = Path(path).name
    page.goto(url)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#upload td.filename", has_text=Path(path).stem).wait_for(timeout=30_000)  # upload finished
    page.click("#analyse-upload")
    verdict = page.locator("#verdict")
    verdict.filter(has_text=name).wait_for(timeout=120_000)
    return verdict.inner_text()


def table(text: str) -> dict:
    """The verdict table's rows (inner text: one row per line, cells separated by tabs)."""
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    return {cells[0].strip(): cells[1].strip() for cells in rows if len(cells) >= 2 and cells[0].strip()}


@pytest.mark.parametrize("clip", [BONAFIDE, SPOOF], ids=["librispeech-bonafide", "asvspoof2019-la-spoof"])
def test_page_shows_what_the_detector_says(served, browser_page, reference, shared_dir, clip):
    url, _, _ = served
    path = shared_dir / "corpora" / clip
    expected = reference.predict(str(path))
    text = analyse_in_page(browser_page, url, path)
    rows = table(text)
    assert rows["verdict"] == expected.decision
    assert rows["calibrated P(spoof)"] == f"{expected.spoof_probability:.4f}"
    assert text.splitlines()[0].endswith(f"P(spoof) {expected.spoof_probability:.4f}")
    assert rows["threshold"].startswith(f"{expected.threshold:.4f}")
    assert rows["duration"] == f"{expected.duration:.2f} s" and rows["windows"] == str(len(expected.windows))
    assert rows["model"] == "aasist-l" and rows["flags"] == "none"
    browser_page.locator("#figure img").wait_for(timeout=30_000)
    with browser_page.expect_download() as download:
        browser_page.click("#download")
    assert download.value.suggested_filename == f"{path.stem}.tfdeepfake.json"
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["source"] == path.name and saved["decision"] == expected.decision and saved["latency_seconds"] > 0
    assert saved["spoof_probability"] == pytest.approx(expected.spoof_probability, abs=1e-6)
    assert [w["spoof_probability"] for w in saved["windows"]] == \
        pytest.approx([w.spoof_probability for w in expected.windows], abs=1e-6)


def test_partly_fake_recording_shows_where_and_is_saved_as_a_screenshot(served, browser_page, reference,
                                                                         shared_dir, tmp_path):
    """Real speech, the ASVspoof spoof, real speech again: the per-window track rises over the middle."""
    url, _, _ = served
    parts = [sf.read(shared_dir / "corpora" / clip, dtype="float32")[0] for clip in (BONAFIDE, SPOOF, SECOND_BONAFIDE)]
    spliced = tmp_path / "partly_fake.flac"
    sf.write(spliced, np.concatenate(parts), 16000)
    expected = reference.predict(str(spliced))
    rows = table(analyse_in_page(browser_page, url, spliced))
    assert rows["calibrated P(spoof)"] == f"{expected.spoof_probability:.4f}"
    assert rows["windows"] == str(len(expected.windows))
    figure = browser_page.locator("#figure img")
    figure.wait_for(timeout=30_000)
    assert figure.bounding_box()["width"] > 800  # drawn at a readable size
    out = tmp_path / "web_app.png"  # results/web_app.png is this screenshot, taken once; a test writes no results
    browser_page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 50_000


def test_bad_input_shows_the_error_and_the_server_keeps_serving(served, browser_page, reference, shared_dir,
                                                                max_seconds, tmp_path):
    url, process, _ = served
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes, not a recording\n" * 40)
    with pytest.raises(audio.UndecodableAudioError) as caught:
        reference.predict(str(notes))
    text = analyse_in_page(browser_page, url, notes)
    assert "Could not analyse this file" in text and f"notes.txt: {caught.value.reason}" in text
    assert "/tmp/gradio" not in text  # the server's temporary path is not shown

    long = tmp_path / "too_long.flac"
    clip = sf.read(shared_dir / "corpora" / BONAFIDE, dtype="float32")[0]
    sf.write(long, np.tile(clip, 4), 16000)  # 31.5 s > the served 25 s
    text = analyse_in_page(browser_page, url, long)
    assert f"too_long.flac: audio is longer than the limit ({4 * len(clip) / 16000:.2f} s > {max_seconds} s)" in text

    assert process.poll() is None
    again = shared_dir / "corpora" / BONAFIDE
    rows = table(analyse_in_page(browser_page, url, again))
    assert rows["calibrated P(spoof)"] == f"{reference.predict(str(again)).spoof_probability:.4f}"


def test_a_microphone_recording_is_scored(served, browser_page):
    """Record from the (fake) microphone for about 4 s, stop, analyse: the page scores what the browser sent."""
    url, _, _ = served
    page = browser_page
    page.goto(url)
    page.get_by_role("tab", name="Record").click()
    page.click("#record button.record-button")
    page.wait_for_timeout(4000)
    page.click("#record button.stop-button")
    uploaded = page.locator("#record [href*='file='], #record [src*='file=']")  # the recording is on the server
    uploaded.first.wait_for(state="attached", timeout=30_000)
    page.click("#analyse-record")
    verdict = page.locator("#verdict")
    verdict.filter(has_text="active speech").wait_for(timeout=120_000)
    rows = table(verdict.inner_text())
    assert rows["model"] == "aasist-l" and rows["verdict"] in ("bonafide", "spoof")
    assert 2.0 < float(rows["duration"].split()[0]) < 8.0 and float(rows["active speech"].split()[0]) > 0.5
    assert float(rows["calibrated P(spoof)"]) == pytest.approx(float(verdict.inner_text().splitlines()[0].split()[-1]))
