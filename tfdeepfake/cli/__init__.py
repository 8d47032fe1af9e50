"""The ``tfdeepfake`` command line: one entry point, one subcommand per stage.

    tfdeepfake predict recordings/ --format csv --out scores.csv
    tfdeepfake train --config configs/aasist.yaml train.epochs=1
    tfdeepfake evaluate --scores scores.txt --protocol ASVspoof2019.LA.cm.eval.trl.txt

Each subcommand is one module of this package (its options: ``tfdeepfake SUBCOMMAND --help``) that parses its
arguments and calls the library; no library module parses argv. ``python -m tfdeepfake.train`` and
``python -m tfdeepfake.build_tfrecords`` are shims onto this. Every typed error of the library (tfdeepfake.errors) becomes one ``error:`` line and
exit status 1, never a traceback.
"""
from __future__ import annotations

import importlib
import sys

from ..errors import TfDeepfakeError

# subcommand -> (module with main(argv, prog), one-line help)
COMMANDS = {
    "predict": ("tfdeepfake.cli.predict", "score audio files or folders with a detector (preset, bundle, export)"),
    "listen": ("tfdeepfake.cli.listen", "score live audio as it arrives: microphone, stream URL or stdin pipe"),
    "calibrate": ("tfdeepfake.cli.calibrate", "fit a detector's threshold (and calibration) to your own recordings"),
    "evaluate": ("tfdeepfake.cli.evaluate", "metrics and reports from score files + protocols, or a model on data"),
    "train": ("tfdeepfake.cli.train", "train or fine-tune a countermeasure from a YAML recipe"),
    "build-records": ("tfdeepfake.cli.build_records", "read a corpus and write speaker-grouped TFRecord shards"),
    "verify-records": ("tfdeepfake.cli.verify_records", "check TFRecord shards against their manifest"),
    "export": ("tfdeepfake.cli.export", "a detector -> SavedModel / TFLite (fp32, fp16, int8) / ONNX, parity-checked"),
    "convert-checkpoint": ("tfdeepfake.cli.convert_checkpoint", "official AASIST / RawGAT-ST .pth (or a preset) -> a bundle"),
    "make-demo-corpus": ("tfdeepfake.cli.make_demo_corpus", "write the demo corpus: real speech plus generated spoofs"),
    "make-vocoded-corpus": ("tfdeepfake.cli.make_vocoded_corpus", "write a vocoded corpus: real speech beside its neural and "
                                                  "classic resyntheses"),
    "probe": ("tfdeepfake.cli.probe", "linear probe on frozen WavLM / Wav2Vec2 embeddings"),
    "xvectors": ("tfdeepfake.cli.xvectors", "speaker-verification scores with WavLM x-vectors"),
    "serve": ("tfdeepfake.cli.serve", "web page to score uploaded or recorded speech (Gradio, the web extra)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return f"usage: tfdeepfake SUBCOMMAND [options]\n\nsubcommands:\n{rows}\n\n" \
           "tfdeepfake SUBCOMMAND --help shows the options of one."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from .. import __version__

        print(f"tfdeepfake {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"tfdeepfake: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return module.main(rest, prog=f"tfdeepfake {name}")
    except TfDeepfakeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def shim(name: str) -> int:
    """``python -m tfdeepfake.X ARGS`` runs as ``tfdeepfake NAME ARGS``."""
    return main([name, *sys.argv[1:]])
