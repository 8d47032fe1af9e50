"""``python -m tfdeepfake.cli SUBCOMMAND ...``: the ``tfdeepfake`` command."""
import sys

from . import main

sys.exit(main())
