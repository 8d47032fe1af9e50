"""What the browser tests of the web page share: `tfdeepfake serve --model aasist-l` in a subprocess, one Chromium
page (Debian's /usr/bin/chromium through Playwright) whose fake microphone plays a known real clip, and aasist-l
loaded here as the reference the page must agree with. One server and one browser serve every test under
tests/web."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import soundfile as sf

from helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MICROPHONE_CLIP = "librispeech-sample/librispeech_train-clean-100/1034-121119-0000.flac"  # real LibriSpeech, 7.9 s
MAX_SECONDS = 25  # the served page's duration limit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="package")
def max_seconds() -> int:
    """The served page's duration limit (``tfdeepfake serve --max-seconds``)."""
    return MAX_SECONDS


@pytest.fixture(scope="package")
def served(shared_dir, tmp_path_factory):
    """`tfdeepfake serve --model aasist-l` in a subprocess on a free localhost port; its URL, process and log."""
    pytest.importorskip("gradio", reason="gradio is the web extra: pip install tfdeepfake[web]")
    if not (shared_dir / "weights" / "aasist" / "AASIST-L.pth").is_file():
        pytest.skip("../shared/weights/aasist/AASIST-L.pth not found")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "tfdeepfake.cli", "serve", "--model", "aasist-l",
                                    "--port", str(port), "--max-seconds", str(MAX_SECONDS)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"tfdeepfake serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tfdeepfake serve did not answer on {url} in 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="package")
def fake_microphone(shared_dir, tmp_path_factory):
    """The 16-bit 16 kHz WAV (the fake capture device reads that) of MICROPHONE_CLIP that Chromium plays."""
    path = tmp_path_factory.mktemp("microphone") / "speech.wav"
    sf.write(path, sf.read(shared_dir / "corpora" / MICROPHONE_CLIP, dtype="float32")[0], 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="package")
def browser_page(served, fake_microphone):
    """A Chromium page (fresh profile, no network chatter, downloads accepted) whose microphone is Chromium's
    fake capture device playing :func:`fake_microphone` in a loop."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is the browser-tests extra")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: scripts/install.sh installs Debian's chromium")
    microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={fake_microphone}"]
    profile = tempfile.mkdtemp(prefix="tfdeepfake-chromium-")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS + microphone, headless=True,
            accept_downloads=True, viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
        try:
            yield context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="package")
def reference():
    """aasist-l loaded here, apart from the server (same batch of windows): what the page must agree with."""
    from tfdeepfake.inference import Detector
    from tfdeepfake.web.app import BATCH_WINDOWS

    return Detector.load("aasist-l", batch_windows=BATCH_WINDOWS)
