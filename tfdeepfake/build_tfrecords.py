"""Read a corpus and write it as speaker-grouped, stratified K-fold TFRecord shards with a manifest.

    tfdeepfake build-records --dataset asvspoof2019-la --root DIR --out DIR --folds 5
    tfdeepfake verify-records DIR

:func:`build_from_corpus` is what ``tfdeepfake build-records`` (tfdeepfake.cli.build_records) and training's demo
set-up call. Running the same build again after an interruption finishes the missing shards only; with
``runner`` the same shards are written by an Apache Beam pipeline (tfdeepfake.beam.records).
``python -m tfdeepfake.build_tfrecords ARGS`` runs ``tfdeepfake build-records ARGS`` (``verify DIR``:
``tfdeepfake verify-records DIR``).
"""
from __future__ import annotations

import sys

import tfdeepfake  # noqa: F401  (Keras 2 switch before TensorFlow loads)

from . import records
from .corpora import assign_folds, read_corpus


def reader_options(dataset: str, splits=None, protocol_dir: str | None = None, keys: str | None = None) -> dict:
    """The options the ``dataset`` reader understands, from the build's (and evaluate's) choices."""
    options = {}
    if dataset.startswith("asvspoof2019"):
        options.update(splits=tuple(splits or ("train", "dev", "eval")), protocol_dir=protocol_dir,
                       require_all=bool(splits))
    elif dataset.startswith("asvspoof2021") and keys:
        options["keys"] = keys
    return options


def build_from_corpus(dataset: str, root: str, out: str, *, folds: int = 5, seed: int = 0, splits=None,
                      protocol_dir: str | None = None, keys: str | None = None, sample_rate: int = 16000,
                      max_seconds: float | None = None, shard_mb: float = 150.0, workers: int | None = None,
                      conditions=(), strict: bool = False, progress: bool = True, runner: str | None = None,
                      beam_args=()) -> dict:
    """Read ``dataset`` at ``root``, assign speaker-grouped folds and write the shards to ``out``; returns the
    manifest. ``strict`` stops at protocol problems and at the first bad file instead of reporting them."""
    options = reader_options(dataset, splits, protocol_dir, keys)
    listing = read_corpus(dataset, root, **options)
    print(f"{dataset}: {len(listing.utterances)} utterances; {listing.report()}", file=sys.stderr)
    if strict and listing.problems:
        raise records.BuildError(f"--strict: protocol problems\n{listing.report()}")
    fold_of = assign_folds(listing.utterances, folds, seed)
    problems = [{"kind": p.kind, "where": p.where, "detail": p.detail} for p in listing.problems]
    provenance = {
        "dataset": dataset, "root": root, "folds": folds, "seed": seed, "conditions": list(conditions),
        "reader": {"name": dataset, "options": {k: v for k, v in options.items() if v is not None}},
        "protocol_problems": problems,
    }
    settings = dict(sample_rate=sample_rate, shard_mb=shard_mb, max_seconds=max_seconds, workers=workers,
                    strict=strict, provenance=provenance, conditions=tuple(conditions))
    if runner:
        from .beam.records import build as beam_build

        provenance["beam_runner"] = runner
        manifest = beam_build(listing.utterances, fold_of, out, runner=runner, beam_args=beam_args, **settings)
    else:
        manifest = records.build(listing.utterances, fold_of, out, progress=progress, **settings)
    print(f"{manifest['records']} records, {manifest['hours']:.3f} h in {len(manifest['shards'])} shards; "
          f"{len(manifest['failures'])} files failed; manifest: {out}/{records.MANIFEST}", file=sys.stderr)
    return manifest


if __name__ == "__main__":
    from .cli import main as cli

    verify = sys.argv[1:2] == ["verify"]
    sys.exit(cli(["verify-records", *sys.argv[2:]] if verify else ["build-records", *sys.argv[1:]]))
