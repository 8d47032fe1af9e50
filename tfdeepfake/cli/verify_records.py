"""Check TFRecord shards against their manifest: every shard present, its size, sha256 and record counts.

    tfdeepfake verify-records DIR
"""
from __future__ import annotations

import argparse

from .. import records


def main(argv=None, prog: str = "tfdeepfake verify-records") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Check TFRecord shards against their manifest.")
    parser.add_argument("directory", help="TFRecord folder (local or gs://)")
    problems = records.verify(parser.parse_args(argv).directory)
    for problem in problems:
        print(problem)
    print("verified: manifest and shards agree" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0
