"""Score live audio as it arrives: the microphone, a stream URL, a file played at its own pace, or a stdin pipe.

    tfdeepfake listen --mic                                   # PulseAudio's default input (--mic alsa:hw:1 ...)
    tfdeepfake listen https://radio.example/live.mp3 --model aasist-l
    arecord -f S16_LE -r 16000 | tfdeepfake listen -          # stdin: any encoded stream ffmpeg reads
    tfdeepfake listen call.m4a --realtime --format jsonl      # a file at real-time pace (a live call replayed)

ffmpeg decodes the input to mono float32 at the model's rate; each window of the model's input rule is scored as
soon as its audio is in (tfdeepfake.stream), one line per window: its time span, P(spoof), the decision and the
latency from the arrival of the audio that completed it to its score. At the end (the input closes,
``--seconds`` is reached, or Ctrl-C) the end-aligned last window and the verdict on the whole stream are printed,
with the latency per hop (p50 / p95 / max). The exit status is 0 when anything was scored, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

import numpy as np

from ..errors import TfDeepfakeError

MIC_BACKENDS = ("pulse", "alsa")


class ListenError(TfDeepfakeError, RuntimeError):
    """The live input could not be opened or decoded."""


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="'-' (stdin), a file or a URL ffmpeg reads; omit with --mic")
    parser.add_argument("--mic", nargs="?", const="pulse:default", metavar="BACKEND:DEVICE",
                        help="record from a microphone through ffmpeg: pulse:default (the default), alsa:hw:1, ...")
    parser.add_argument("--model", default="aasist", help="preset, bundle or run dir, SavedModel, .tflite, .onnx")
    parser.add_argument("--format", choices=("table", "jsonl"), default="table")
    parser.add_argument("--chunk-seconds", type=float, default=0.1, help="audio read per step (default 0.1 s)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much audio")
    parser.add_argument("--realtime", action="store_true", help="read a file at its real-time pace (ffmpeg -re)")
    return parser


def ffmpeg_command(source: str | None, mic: str | None, rate: int, realtime: bool) -> list[str]:
    """The ffmpeg call that writes the input as mono float32 samples at ``rate`` to stdout."""
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    if mic is not None:
        backend, _, device = mic.partition(":")
        if backend not in MIC_BACKENDS:
            raise ListenError(f"--mic {mic}: the backend must be one of {MIC_BACKENDS} (as in pulse:default)")
        command += ["-f", backend, "-i", device or "default"]
    else:
        command += (["-re"] if realtime else []) + ["-i", "pipe:0" if source == "-" else source]
    return command + ["-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1"]


def _chunks(process: subprocess.Popen, chunk_samples: int, limit: int | None):
    """Float32 chunks from ffmpeg's stdout as they come; stops at ``limit`` samples."""
    read = 0
    while limit is None or read < limit:
        want = chunk_samples if limit is None else min(chunk_samples, limit - read)
        data = process.stdout.read(4 * want)
        if not data:
            return
        samples = np.frombuffer(data[:len(data) // 4 * 4], np.float32)
        read += len(samples)
        yield samples


def _window_line(window) -> str:
    return (f"{window.start:8.2f} - {window.end:8.2f} s  P(spoof) {window.spoof_probability:.4f}  "
            f"{window.decision:<8}  latency {1000 * window.latency:7.1f} ms")


def latency_summary(latencies) -> dict:
    """p50 / p95 / max of the per-window latencies, in milliseconds."""
    if not latencies:
        return {"windows": 0}
    values = 1000 * np.asarray(latencies)
    return {"windows": len(values), "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2), "max_ms": round(float(values.max()), 2)}


def main(argv=None, prog: str = "tfdeepfake listen") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if (args.source is None) == (args.mic is None):
        parser.error("give one input: a SOURCE ('-' for stdin, a file or URL) or --mic")
    if not args.chunk_seconds > 0:
        parser.error("--chunk-seconds must be > 0")
    if shutil.which("ffmpeg") is None:
        raise ListenError("ffmpeg is not installed (scripts/install.sh installs it); listen decodes through it")
    from ..inference import Detector

    detector = Detector.load(args.model)
    rate = detector.input_rule.sample_rate
    name = args.mic and f"mic:{args.mic}" or args.source
    command = ffmpeg_command(args.source, args.mic, rate, args.realtime)
    process = subprocess.Popen(command, stdin=sys.stdin.buffer if args.source == "-" else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    limit = None if args.seconds is None else int(round(args.seconds * rate))
    scorer = detector.open_stream(name=name)
    out = sys.stdout

    def emit(windows):
        for window in windows:
            print(json.dumps({"window": window.to_dict()}) if args.format == "jsonl" else _window_line(window),
                  file=out, flush=True)

    started = time.perf_counter()
    interrupted = False
    try:
        for chunk in _chunks(process, max(1, int(round(args.chunk_seconds * rate))), limit):
            emit(scorer.feed(chunk))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait()
    errors = process.stderr.read().decode("utf-8", "replace").strip()
    if scorer.received_samples == 0:
        cause = errors.splitlines()[-1] if errors else "no audio came"
        raise ListenError(f"{name}: {cause}")
    windows, summary = scorer.close()
    emit(windows)
    latency = latency_summary(scorer.latencies)
    report = {"source": name, "model": detector.model_id, "decision": summary.decision,
              "spoof_probability": summary.spoof_probability, "threshold": summary.threshold,
              "duration": summary.duration, "flags": list(summary.flags), "latency": latency,
              "wall_seconds": round(time.perf_counter() - started, 3), "interrupted": interrupted}
    if args.format == "jsonl":
        print(json.dumps({"summary": report}), file=out)
    else:
        flags = f"  flags: {', '.join(summary.flags)}" if summary.flags else ""
        print(f"{name}: {summary.decision}  P(spoof) {summary.spoof_probability:.4f} (threshold "
              f"{summary.threshold:.4f})  {summary.duration:.2f} s{flags}", file=out)
        if latency["windows"]:
            print(f"latency per window: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, max "
                  f"{latency['max_ms']} ms over {latency['windows']} windows", file=out)
    return 0
