"""The Gradio page of ``tfdeepfake serve``: upload or record a clip, pick a detector, read the verdict and the figure.

    app = build_app(ModelCatalog(["aasist-l", "runs/demo"]), Limits.from_megabytes(50, 300))
    launch(app, host="127.0.0.1", port=7860)

Detectors load on first use and stay cached; every request goes through :func:`analysis.analyse` (the Detector
and audio.py only). A typed error (unreadable audio, limits, a model that fails to load) becomes text on the page
and the server keeps serving. Gradio is the optional ``web`` extra and is imported only when a page is built.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence

from ..errors import TfDeepfakeError
from .analysis import Limits, analyse, error_markdown, summary_markdown
from .live import add_live_tab

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or version check from a local tool

INSTALL_HINT = "pip install tfdeepfake[web]"
# windows per model call on the server: AASIST at 16 windows peaks at 3.2 GB, at 4 at 1.8 GB, equally fast on CPU
BATCH_WINDOWS = 4
TITLE = "tfdeepfake: real or spoofed speech?"
CAVEAT = ("A detector's score, not proof. The pretrained ASVspoof models are near chance on modern TTS and "
          "vocoders and call many real studio recordings spoofed (see the project README); read the per-window "
          "track, and calibrate a model on your own data before relying on it.")


class WebDependencyError(TfDeepfakeError, ImportError):
    """Gradio, needed for the web app, is not installed."""


class ModelChoiceError(TfDeepfakeError, ValueError):
    """A ``--model`` that is neither a preset name nor an existing path, or a name the page does not offer."""


def require_gradio():
    """The gradio module, or :class:`WebDependencyError` saying how to install it."""
    try:
        import gradio
    except ImportError as error:
        raise WebDependencyError(f"the web app needs Gradio, which is not installed ({error}); install it with: "
                                 f"{INSTALL_HINT}") from error
    return gradio


def local_presets() -> list[str]:
    """Presets whose weights are on this machine (weights folders or cache): offered without any download."""
    from ..models.presets import PRESETS
    from ..weights import local_copy

    return [name for name, preset in PRESETS.items() if local_copy(preset.weights) is not None]


class ModelCatalog:
    """The detectors the page offers: the ``models`` asked for, then the presets found locally; each is loaded by
    ``Detector.load`` on first use (``batch_windows`` windows per model call, bounding a request's memory) and
    cached.

    With nothing asked for and no preset weights on the machine, every preset is offered (the resolver downloads
    its weights on first use, or the page shows why it could not).
    """

    def __init__(self, models: Sequence[str] = (), batch_windows: int = BATCH_WINDOWS):
        from ..models.presets import DEFAULT_PRESET, PRESETS

        for model in models:
            if model not in PRESETS and not os.path.exists(model):
                raise ModelChoiceError(f"--model {model}: neither an existing bundle/run/SavedModel/.tflite path nor "
                                       f"a preset name (presets: {', '.join(sorted(PRESETS))})")
        names = list(dict.fromkeys([*models, *local_presets()]))
        self.names = names or list(PRESETS)
        self.default = models[0] if models else (DEFAULT_PRESET if DEFAULT_PRESET in self.names else self.names[0])
        self.batch_windows = batch_windows
        self._detectors: dict = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        """(Detector, seconds it took to load now, or None when it was cached)."""
        from ..inference import Detector

        if name not in self.names:
            raise ModelChoiceError(f"{name!r}: not one of the models this server offers ({', '.join(self.names)})")
        with self._lock:  # one load per model, even when two requests ask at once
            if name in self._detectors:
                return self._detectors[name], None
            started = time.perf_counter()
            detector = Detector.load(name, batch_windows=self.batch_windows)
            self._detectors[name] = detector
            return detector, time.perf_counter() - started


def write_result(verdict: dict, folder: str) -> str:
    """The verdict as ``<file stem>.tfdeepfake.json`` in a fresh folder under ``folder`` (one per request)."""
    stem = os.path.splitext(os.path.basename(verdict["source"]))[0] or "recording"
    path = os.path.join(tempfile.mkdtemp(dir=folder), f"{stem}.tfdeepfake.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(verdict, handle, indent=1)
    return path


def build_app(catalog: ModelCatalog, limits: Limits = Limits(), title: str = TITLE):
    """The page as a ``gr.Blocks`` (not launched): inputs, model choice, verdict, figure, JSON download."""
    gr = require_gradio()
    results = tempfile.mkdtemp(prefix="tfdeepfake-web-")

    def score(path, model_name):
        if not path:
            return "Upload a file or record a clip first.", None, gr.DownloadButton(value=None, visible=False)
        name = os.path.basename(path)
        try:
            detector, load_seconds = catalog.get(model_name)
            result = analyse(path, detector, limits, name=name)
        except TfDeepfakeError as error:
            return error_markdown(error, path, name), None, gr.DownloadButton(value=None, visible=False)
        download = write_result(result.verdict, results)
        return summary_markdown(result, load_seconds), result.figure, gr.DownloadButton(value=download,
                                                                                          visible=True)

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# {title}\n\nAny format ffmpeg reads (WAV, FLAC, MP3, M4A, Opus/WebM, OGG, the audio of "
                    f"MP4/MKV/MOV), {limits.describe()}. {CAVEAT}")
        model = gr.Dropdown(choices=catalog.names, value=catalog.default, label="Detector", elem_id="model")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                with gr.Tab("Upload a file"):
                    upload = gr.File(label="Recording (audio or video)", type="filepath", elem_id="upload")
                    upload_button = gr.Button("Analyse", variant="primary", elem_id="analyse-upload")
                with gr.Tab("Record"):
                    recording = gr.Audio(sources=["microphone"], type="filepath", label="Microphone",
                                         elem_id="record")
                    record_button = gr.Button("Analyse recording", variant="primary", elem_id="analyse-record")
                add_live_tab(gr, catalog, model)
            with gr.Column(scale=1):
                verdict = gr.Markdown("Upload a file or record a clip, then press Analyse.", elem_id="verdict")
                download = gr.DownloadButton("Download result (JSON)", visible=False, elem_id="download")
        plot = gr.Plot(label="Spectrogram and P(spoof) per window", show_label=False, format="png",
                       elem_id="figure")
        outputs = [verdict, plot, download]
        # one model call at a time, whichever button: Detectors (and TFLite interpreters) are not shared safely
        upload_button.click(score, [upload, model], outputs, concurrency_limit=1, concurrency_id="detector")
        record_button.click(score, [recording, model], outputs, concurrency_limit=1, concurrency_id="detector")
    return app


def theme():
    """Gradio's Soft theme with the system's own fonts: the page loads nothing from outside the server."""
    gr = require_gradio()
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


def launch_options(host: str = "127.0.0.1", port: int = 7860, share: bool = False,
                   limits: Limits = Limits()) -> dict:
    """``gr.Blocks.launch`` keywords: bind ``host`` only, no public link unless ``share``, uploads capped."""
    return {"server_name": host, "server_port": port, "share": bool(share), "max_file_size": limits.max_bytes,
            "ssr_mode": False, "mcp_server": False, "pwa": False, "show_error": False}


def launch(app, host: str = "127.0.0.1", port: int = 7860, share: bool = False, limits: Limits = Limits(),
           block: bool = True):
    """Serve ``app``; with ``block=False`` return once it listens (the caller closes it with ``app.close()``)."""
    return app.launch(**launch_options(host, port, share, limits), theme=theme(), prevent_thread_lock=not block)
