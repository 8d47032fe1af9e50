"""Serve a web page that scores uploaded or recorded speech with a detector (Gradio, the ``web`` extra).

    tfdeepfake serve                                     # presets found on this machine, http://127.0.0.1:7860
    tfdeepfake serve --model aasist-l --model runs/demo --port 8080 --max-mb 20 --max-seconds 120

It listens on 127.0.0.1 unless --host says otherwise and opens a public gradio.live link only with --share.
Models load on first use and stay cached. The page shows the verdict, calibrated P(spoof), threshold, duration,
latency and flags, a spectrogram with each window's P(spoof) over time, and offers the result as JSON.
"""
from __future__ import annotations

import argparse
import sys

from ..web.analysis import DEFAULT_MAX_MB, DEFAULT_MAX_SECONDS, Limits


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], metavar="NAME|PATH",
                        help="a preset name, bundle or run folder, SavedModel folder or .tflite file to offer "
                             "(repeatable; the first is preselected). Presets whose weights are on this machine "
                             "are always offered")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every "
                             "interface)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--max-mb", type=float, default=DEFAULT_MAX_MB, metavar="N",
                        help=f"largest upload in MB (default {DEFAULT_MAX_MB:g})")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS, metavar="S",
                        help=f"longest recording in seconds (default {DEFAULT_MAX_SECONDS:g})")
    parser.add_argument("--share", action="store_true",
                        help="also open a public gradio.live link (anyone with it can use this server)")
    return parser


def main(argv=None, prog: str = "tfdeepfake serve") -> int:
    import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

    from ..web.app import ModelCatalog, build_app, launch, require_gradio

    args = build_parser(prog).parse_args(argv)
    limits = Limits.from_megabytes(args.max_mb, args.max_seconds)
    require_gradio()
    catalog = ModelCatalog(args.model)
    print(f"tfdeepfake serve: models {', '.join(catalog.names)} (loaded on first use); {limits.describe()}",
          file=sys.stderr)
    launch(build_app(catalog, limits), args.host, args.port, args.share, limits)
    return 0
