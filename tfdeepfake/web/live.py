"""The page's live microphone mode: chunks from the browser go through :class:`tfdeepfake.inference.StreamScorer`
and the score track (each window's P(spoof) against time, threshold line) is redrawn as it grows.

    session = LiveSession(detector)
    for rate, chunk in browser_chunks:            # what Gradio's streaming microphone sends
        session.feed(rate, chunk)                 # windows completed so far, scored now
    session.close()                               # the end-aligned last window and the whole-stream verdict
    session.figure()                              # the track as drawn on the page

The scores are those of ``Detector.stream`` on the same samples: this module only converts Gradio's integer PCM
to float and draws. With a ``record_dir`` the session also keeps what it heard, exactly as received (16-bit PCM at
the browser's rate, as a WAV written chunk by chunk: bounded memory, 96 kB per second at 48 kHz on disk), and at
close the scores shown (``live.json``): ``tfdeepfake predict heard.wav`` then gives the same window scores.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np

TRACK_GID = "live-track"  # gid of the P(spoof) line, found by tests in the figure


def pcm_to_float(samples) -> np.ndarray:
    """Gradio's microphone chunks are integer PCM (int16 as a rule); the scorer takes float32 in [-1, 1]."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    return samples.astype(np.float32)


class LiveSession:
    """One microphone stream of one detector: its scored windows so far and, once closed, the verdict."""

    def __init__(self, detector, name: str = "<microphone>", record_dir: str | None = None):
        self.detector, self.name, self.record_dir = detector, name, record_dir
        self.scorer = None
        self.windows = []
        self.summary = None
        self._heard = None  # soundfile.SoundFile of what was received, with a record_dir

    def feed(self, sample_rate: int, samples) -> list:
        """Add one browser chunk; the windows it completed. The first chunk's rate is the stream's rate."""
        if self.scorer is None:
            self.scorer = self.detector.open_stream(sample_rate=int(sample_rate), name=self.name)
        elif int(sample_rate) != self.scorer.source_rate:
            raise ValueError(f"{self.name}: the microphone's rate changed from {self.scorer.source_rate} to "
                             f"{sample_rate} Hz within one stream")
        samples = np.asarray(samples)
        if self.record_dir is not None:
            self._record(int(sample_rate), samples)
        new = self.scorer.feed(pcm_to_float(samples))
        self.windows.extend(new)
        return new

    def _record(self, sample_rate: int, samples: np.ndarray) -> None:
        """Append the chunk as received: int16 as 16-bit PCM (read back as the same floats), float as float."""
        import soundfile as sf

        if self._heard is None:
            os.makedirs(self.record_dir, exist_ok=True)
            self._heard = sf.SoundFile(os.path.join(self.record_dir, "heard.wav"), "w", sample_rate,
                                       1 if samples.ndim == 1 else samples.shape[1],
                                       "PCM_16" if samples.dtype == np.int16 else "FLOAT")
        self._heard.write(samples if samples.dtype == np.int16 else pcm_to_float(samples))

    def close(self):
        """End the stream: add the end-aligned last window and keep the whole-stream verdict (and, with a
        record_dir, finish heard.wav and write live.json)."""
        if self.scorer is None or self.summary is not None:
            return self.summary
        new, self.summary = self.scorer.close()
        self.windows.extend(new)
        if self._heard is not None:
            self._heard.close()
            with open(os.path.join(self.record_dir, "live.json"), "w", encoding="utf-8") as handle:
                json.dump(self.record(), handle, indent=1)
        return self.summary

    def record(self) -> dict:
        """What the page showed, as plain data: the stream's rate and length, every window, the verdict."""
        return {"source": self.name, "model": self.detector.model_id,
                "sample_rate": None if self.scorer is None else self.scorer.source_rate,
                "heard_seconds": self.seconds(), "windows": [w.to_dict() for w in self.windows],
                "summary": None if self.summary is None else self.summary.to_dict(windows=False)}

    def files(self) -> list[str]:
        """heard.wav and live.json once the stream is closed (with a record_dir), else nothing."""
        if self.summary is None or self._heard is None:
            return []
        return [os.path.join(self.record_dir, name) for name in ("heard.wav", "live.json")]

    def discard(self) -> None:
        """Remove the record_dir (a new recording replaces the last one's files)."""
        if self._heard is not None and not self._heard.closed:
            self._heard.close()
        if self.record_dir is not None:
            shutil.rmtree(self.record_dir, ignore_errors=True)

    def seconds(self) -> float:
        return 0.0 if self.scorer is None else self.scorer.received_samples / self.scorer.rate

    def window_seconds(self) -> float:
        rule = self.detector.input_rule
        return rule.window_samples / rule.sample_rate

    def markdown(self) -> str:
        """The running state in words: audio heard, windows, the last window's score, the verdict once closed."""
        threshold = self.detector.bundle.threshold.spoof_probability
        lines = [f"**Heard** {self.seconds():.1f} s · **windows** {len(self.windows)} · threshold {threshold:.4f}"]
        if self.windows:
            last = self.windows[-1]
            lines.append(f"last window {last.start:.2f}–{last.end:.2f} s: P(spoof) {last.spoof_probability:.4f} "
                         f"({last.decision}), scored {last.latency * 1000:.0f} ms after its audio arrived")
        if self.summary is not None:
            lines.append(f"**Verdict: {self.summary.decision}** — P(spoof) {self.summary.spoof_probability:.4f}")
        elif not self.windows:
            lines.append(f"the first score comes after {self.window_seconds():.2f} s of audio")
        return "\n\n".join(lines)

    def figure(self):
        """P(spoof) of every window so far against time (each window's span as a bar, centres joined by the
        line with gid :data:`TRACK_GID`) and the dashed threshold."""
        from matplotlib.figure import Figure

        threshold = self.detector.bundle.threshold.spoof_probability
        fig = Figure(figsize=(9, 3), layout="constrained")
        axes = fig.add_subplot()
        for window in self.windows:
            colour = "#d62728" if window.spoof_probability >= threshold else "#2ca02c"
            axes.plot([window.start, window.end], [window.spoof_probability] * 2, color=colour, linewidth=4,
                      alpha=0.5)
        centres = [(w.start + w.end) / 2 for w in self.windows]
        axes.plot(centres, [w.spoof_probability for w in self.windows], "o-", color="black", gid=TRACK_GID)
        axes.axhline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:.4f}")
        axes.set_xlim(0, max(self.seconds(), self.window_seconds()))
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlabel("time (s)")
        axes.set_ylabel("P(spoof)")
        axes.legend(loc="upper right")
        return fig


def add_live_tab(gr, catalog, model, concurrency_id: str = "detector"):
    """A "Live microphone" tab inside the current ``gr.Blocks``: stream the microphone, redraw the track; after
    Stop, offer what was heard (WAV) and the scores shown (JSON), kept until that page's next recording."""
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="tfdeepfake-live-")
    atexit.register(shutil.rmtree, folder, True)  # when the server exits normally
    with gr.Tab("Live microphone"):
        microphone = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Live microphone",
                              elem_id="live-mic")
        status = gr.Markdown("Start recording: each window is scored as soon as its audio is in.",
                             elem_id="live-status")
        track = gr.Plot(label="P(spoof) per window", show_label=False, format="png", elem_id="live-track")
        # always shown (empty until Stop): Gradio 6.17 never showed this File when it started hidden
        files = gr.File(label="What was heard (WAV) and the scores shown (JSON)", file_count="multiple",
                        interactive=False, elem_id="live-files")
        session = gr.State(None)

    def start(model_name, previous):
        if previous is not None:
            previous.discard()
        detector, _ = catalog.get(model_name)
        live = LiveSession(detector, record_dir=tempfile.mkdtemp(dir=folder))
        return live, "Listening…", None, None

    def chunk(audio, live):
        if audio is None or live is None:
            return live, gr.skip(), gr.skip()
        rate, samples = audio
        if live.summary is None and live.feed(rate, samples):
            return live, live.markdown(), live.figure()
        return live, live.markdown(), gr.skip()

    def stop(live):
        if live is None:
            return live, gr.skip(), gr.skip(), gr.skip()
        live.close()
        return live, live.markdown(), live.figure(), live.files() or None

    microphone.start_recording(start, [model, session], [session, status, track, files], concurrency_limit=1,
                               concurrency_id=concurrency_id)
    microphone.stream(chunk, [microphone, session], [session, status, track], stream_every=0.5,
                      concurrency_limit=1, concurrency_id=concurrency_id)
    microphone.stop_recording(stop, [session], [session, status, track, files], concurrency_limit=1,
                              concurrency_id=concurrency_id)
    return microphone, status, track
