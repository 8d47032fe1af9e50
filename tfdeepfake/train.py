"""``python -m tfdeepfake.train ARGS`` runs ``tfdeepfake train ARGS`` (tfdeepfake.cli.train)."""
import sys

if __name__ == "__main__":
    from .cli import shim

    sys.exit(shim("train"))
