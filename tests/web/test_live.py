"""The web page's live microphone mode: Gradio's int16 chunks scored as Detector.stream scores the same samples,
the drawn track carries exactly those scores, and the page has the live tab wired to the streaming microphone."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from tfdeepfake.bundle import Bundle, Calibration, InputRule, Threshold
from tfdeepfake.inference import Detector
from tfdeepfake.web.live import TRACK_GID, LiveSession, pcm_to_float


def probe_detector(window=1600, hop=800):
    """A detector whose logit is a fixed random projection of the window: any wrong sample changes the score."""
    weights = np.random.default_rng(1).standard_normal((window, 1)).astype(np.float32) / np.sqrt(window) * 20
    inputs = tf.keras.Input((window,), name="waveform")
    logit = tf.keras.layers.Dense(1, use_bias=False, weights=[weights])(inputs)
    bundle = Bundle("probe", "random projection", "test", InputRule(16000, window, hop, "mean-logit"),
                    Calibration(1.0, 0.0, fitted_on="test values"), Threshold(0.5, "test value", None),
                    model=tf.keras.Model(inputs, logit))
    return Detector.from_bundle(bundle, batch_windows=4)


def test_pcm_to_float_scales_int16_and_keeps_float():
    assert pcm_to_float(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert pcm_to_float(np.array([0.25], np.float64)).dtype == np.float32


@pytest.mark.parametrize("rate", [16000, 48000])
def test_live_session_scores_equal_detector_stream(rate):
    detector = probe_detector()
    pcm = (np.random.default_rng(2).uniform(-0.5, 0.5, rate * 1) * 32767).astype(np.int16)
    chunk = rate // 2 + 37  # browser chunks of about half a second
    live = LiveSession(detector)
    for start in range(0, len(pcm), chunk):
        live.feed(rate, pcm[start:start + chunk])
    summary = live.close()
    expected = list(detector.stream([pcm_to_float(pcm)], sample_rate=rate))
    expected_windows = [item for item in expected if hasattr(item, "latency")]
    assert len(live.windows) == len(expected_windows) >= 2
    for got, want in zip(live.windows, expected_windows):
        assert (got.start, got.end) == (want.start, want.end)
        assert abs(got.logit - want.logit) <= 1e-5
    assert summary.decision in ("bonafide", "spoof", "undetermined")
    line = [artist for artist in live.figure().axes[0].lines if artist.get_gid() == TRACK_GID][0]
    np.testing.assert_allclose(line.get_ydata(), [w.spoof_probability for w in live.windows])
    assert "Verdict" in live.markdown()


def test_live_session_refuses_a_rate_change():
    live = LiveSession(probe_detector())
    live.feed(16000, np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="rate changed from 16000 to 48000"):
        live.feed(48000, np.zeros(100, np.int16))


def test_page_has_the_streaming_microphone(tiny_bundle):
    pytest.importorskip("gradio")
    from tfdeepfake.web.app import ModelCatalog, build_app

    app = build_app(ModelCatalog([str(tiny_bundle)]))
    components = {c.get("props", {}).get("elem_id"): c for c in app.config["components"]}
    assert components["live-mic"]["props"]["streaming"] is True
    assert "live-track" in components


CHROMIUM = "/usr/bin/chromium"
CLIP = "librispeech-sample/librispeech_train-clean-100/1034-121119-0000.flac"  # real LibriSpeech, 7.9 s


def test_live_mode_in_chromium_with_the_fake_microphone(shared_dir, tmp_path):
    """`tfdeepfake serve --model aasist-l` driven by Chromium whose fake capture device plays a real clip: the page
    scores windows while recording and gives a verdict at stop. The browser's capture is not sample-aligned with
    the file (it starts mid-loop and resamples), so what is compared with Detector.stream is the windowing: the
    number of windows and the last window's span for the seconds the page heard."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is the browser-tests extra")
    pytest.importorskip("gradio", reason="gradio is the web extra: pip install tfdeepfake[web]")
    if not (shared_dir / "weights" / "aasist" / "AASIST-L.pth").is_file():
        pytest.skip("../shared/weights/aasist/AASIST-L.pth not found")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: scripts/install.sh installs Debian's chromium")
    microphone = tmp_path / "speech.wav"  # the fake device reads 16-bit WAV
    sf.write(microphone, sf.read(shared_dir / "corpora" / CLIP, dtype="float32")[0], 16000, subtype="PCM_16")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tfdeepfake.cli", "serve", "--model", "aasist-l", "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"tfdeepfake serve exited with {server.returncode}"
            try:
                urllib.request.urlopen(url, timeout=3)
                break
            except OSError:
                assert time.monotonic() < deadline, f"tfdeepfake serve did not answer on {url} in 180 s"
                time.sleep(0.5)
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, permissions=["microphone"],
                args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                      "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}"])
            try:
                page = context.new_page()
                page.goto(url)
                page.get_by_role("tab", name="Live microphone").click()
                page.locator("#live-mic button", has_text="Record").first.click()
                status = page.locator("#live-status")
                status.filter(has_text="windows 2").wait_for(timeout=90_000)  # scored while still recording
                page.locator("#live-mic button", has_text="Stop").first.click()
                status.filter(has_text="Verdict").wait_for(timeout=60_000)
                text = status.inner_text()
                assert page.locator("#live-track img").count() == 1
            finally:
                context.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    heard = float(re.search(r"Heard ([\d.]+) s", text).group(1))
    count = int(re.search(r"windows (\d+)", text).group(1))
    last_start, last_end = map(float, re.search(r"last window ([\d.]+)–([\d.]+) s", text).group(1, 2))
    assert re.search(r"Verdict: (bonafide|spoof|undetermined) — P\(spoof\) [01]\.\d{4}", text), text
    detector = Detector.load("aasist-l")
    windows = list(detector.stream([np.zeros(int(round(heard * 16000)), np.float32)]))
    assert abs(count - len(windows)) <= 1, text  # the page's 0.1 s rounding of what it heard
    assert abs(last_end - heard) <= 0.01 and abs((last_end - last_start) - 64600 / 16000) <= 0.01, text
