"""The TFRecord build as a Beam pipeline: ``tfdeepfake build-records ... --runner direct|dataflow|flink|spark``.

The driver does what the local builder does before writing (tfdeepfake.records.prepare_build: the reader's
listing, the fold assignment, the shard plan, the resume check), stages each unfinished shard's plan in
``_progress/plans/`` and runs one pipeline element per shard: a worker decodes that shard's files with the local
builder's decoding threads and writes it with its writer (same schema, name, order, failure rows, _progress
record and checksum). When the pipeline is done the driver writes the manifest from the shards' records, as the
local builder does. A shard is the unit of work, so the parallelism is the number of shards: a smaller
``--shard-mb`` gives more. The output folder may be local or gs://; all I/O goes through tf.io.gfile.
"""
from __future__ import annotations

import json

import apache_beam as beam
import tensorflow as tf

from .. import records
from . import pipeline, run

PLANS_DIR = f"{records.PROGRESS_DIR}/plans"


def stage_plans(prepared: records.PreparedBuild) -> list[str]:
    """Write each unfinished shard's plan (utterances in order, offline conditions of its copies) for the workers;
    returns the shard names. The pipeline then carries names only, so its size does not grow with the corpus."""
    tf.io.gfile.makedirs(f"{prepared.out_dir}/{PLANS_DIR}")
    names = []
    for plan in prepared.todo:
        records.write_json_atomic(f"{prepared.out_dir}/{PLANS_DIR}/{plan.name}.json",
                                  {"plan": plan.to_json(), "copies": prepared.copies_of(plan)})
        names.append(plan.name)
    return names


class WriteShard(beam.DoFn):
    """Writes one staged shard (skipped when a retried element finds it written); yields its name."""

    def __init__(self, out_dir: str, sample_rate: int, max_seconds: float | None, workers: int | None,
                 strict: bool):
        self.out_dir, self.sample_rate, self.max_seconds = out_dir, sample_rate, max_seconds
        self.workers, self.strict = workers, strict
        self.written = beam.metrics.Metrics.counter("tfdeepfake", "records_written")
        self.failed = beam.metrics.Metrics.counter("tfdeepfake", "files_failed")

    def process(self, name: str):
        if records.shard_record(self.out_dir, name) is None:
            with tf.io.gfile.GFile(f"{self.out_dir}/{PLANS_DIR}/{name}.json") as handle:
                staged = json.load(handle)
            (record,) = records.write_shards(self.out_dir, [records.ShardPlan.from_json(staged["plan"])],
                                             staged["copies"], sample_rate=self.sample_rate,
                                             max_seconds=self.max_seconds, workers=self.workers, strict=self.strict)
            self.written.inc(record["records"])
            self.failed.inc(len(record["failures"]))
        yield name


def build(utterances, folds, out_dir: str, *, runner: str, beam_args=(), sample_rate: int = 16000,
          shard_mb: float = 150.0, max_seconds: float | None = None, workers: int | None = None,
          strict: bool = False, provenance: dict | None = None, conditions=()) -> dict:
    """:func:`tfdeepfake.records.build` with the shards written by a Beam pipeline on ``runner``; returns the
    manifest. ``workers`` is the decoding threads per shard on a worker (default: its cores)."""
    prepared = records.prepare_build(utterances, folds, out_dir, sample_rate=sample_rate, shard_mb=shard_mb,
                                     max_seconds=max_seconds, conditions=conditions)
    names = stage_plans(prepared)
    shards = pipeline(runner, list(beam_args))
    _ = (shards
         | "Shards" >> beam.Create(names)
         | "Spread" >> beam.Reshuffle()  # one shard per work item, on any worker (no fusion with Create)
         | "Write" >> beam.ParDo(WriteShard(prepared.out_dir, sample_rate, max_seconds, workers, strict)))
    run(shards, "build-records", runner)
    records.remove_partial_files(prepared.out_dir)  # left by attempts the runner retried elsewhere
    done = {p.name: r for p in prepared.plans if (r := records.shard_record(prepared.out_dir, p.name)) is not None}
    return records.finish_build(prepared, done, provenance)
