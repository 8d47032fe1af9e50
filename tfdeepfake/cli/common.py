"""What several subcommands share: the split of tfdeepfake's own arguments from a Beam runner's."""
from __future__ import annotations


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(tfdeepfake's arguments, the runner's): split at the first ``--`` when ``--runner`` comes before it;
    without ``--runner`` the arguments stay whole (``--`` keeps argparse's meaning there)."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in argv[:cut]):
        return argv, []
    return argv[:cut], argv[cut + 1:]
