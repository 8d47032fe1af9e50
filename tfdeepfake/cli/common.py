"""What several subcommands share: tfdeepfake's own arguments parsed apart from a Beam runner's."""
from __future__ import annotations


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(tfdeepfake's arguments, the runner's): split at the first ``--`` when ``--runner`` comes before it;
    without ``--runner`` the arguments stay whole (``--`` keeps argparse's meaning there)."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in argv[:cut]):
        return argv, []
    return argv[:cut], argv[cut + 1:]


def parse_with_runner(parser, argv) -> tuple:
    """(our parsed arguments, the runner's PipelineOptions): flags ``parser`` does not know are the runner's when
    ``--runner`` is given, an error as ``parse_args`` words it otherwise."""
    ours, after_dashes = split_arguments(list(argv))
    args, unknown = parser.parse_known_args(ours)
    if args.runner is None and unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args, unknown + after_dashes
