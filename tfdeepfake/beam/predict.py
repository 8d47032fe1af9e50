"""Batch scoring as a Beam pipeline with RunInference: ``tfdeepfake predict PATHS --model EXPORT --runner ...``.

PATHS are audio files, folders (walked for audio) and ``.txt`` lists of either, one per line, local or gs://.
A worker decodes each file exactly as the Detector does and cuts it into the bundle's windows
(``InputRule.window_indices``); Beam's RunInference sends the windows, batched across files, through the exported
SavedModel's ``serving_default`` signature; each file's window logits are then aggregated, calibrated and
thresholded by the bundle (``InputRule.aggregate``, ``Calibration``, ``Threshold``) with the Detector's speech
check, so every row equals ``Detector.predict`` on that file. Rows go to CSV or JSON-lines shards
(``OUT-00000-of-00002.csv``), in no particular order; a file that cannot be read is an error row and the
others go on.
"""
from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import sys
from dataclasses import dataclass, replace

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference

from .. import audio, storage
from ..bundle import Bundle, BundleError
from ..inference import BLOCK_SECONDS, BATCH_WINDOWS, Detector, Prediction, SpeechActivity, score_windows, \
    speech_activity
from ..audio import AUDIO_SUFFIXES
from ..score_files import COLUMNS, PredictInputError, audio_files, row
from . import pipeline, run

LIST_SUFFIX = ".txt"
NAMESPACE = "tfdeepfake"


# ---------------------------------------------------------------- inputs


def input_files(paths) -> list[str]:
    """Audio files named by ``paths``: files as they are, folders walked (local as ``tfdeepfake predict`` walks
    them, URLs through tf.io.gfile), ``.txt`` lists read line by line (relative lines from the list's folder).

    A URL with an audio suffix is taken as a file without looking it up (a worker reports it if it is missing);
    any other URL is listed as a folder. A file named twice is scored once (rows are keyed by path).
    """
    local, found = [], []
    for path in map(os.fspath, paths):
        if path.endswith(LIST_SUFFIX):
            listed = _listed(path)
            if not listed:
                raise PredictInputError(f"{path}: the list names no file or folder")
            found += input_files(listed)
        elif storage.is_url(path):
            found += [path] if path.lower().endswith(AUDIO_SUFFIXES) else _remote_folder(path)
        else:
            local.append(path)
    if local:
        found = audio_files(local) + found
    if not found:
        raise PredictInputError(f"no audio file ({', '.join(AUDIO_SUFFIXES)}) in {list(map(os.fspath, paths))}")
    return list(dict.fromkeys(found))


def _listed(list_path: str) -> list[str]:
    try:
        with storage.open_text(list_path) as handle:
            lines = [line.strip() for line in handle]
    except FileNotFoundError as error:
        raise PredictInputError(f"{list_path}: no such list file") from error
    folder = storage.folder_of(list_path)
    return [storage.resolve(line, folder) for line in lines if line and not line.startswith("#")]


def _remote_folder(url: str) -> list[str]:
    import tensorflow as tf

    try:
        found = [posixpath.join(folder, name) for folder, _, names in tf.io.gfile.walk(url.rstrip("/"))
                 for name in names if name.lower().endswith(AUDIO_SUFFIXES)]
    except tf.errors.OpError as error:
        raise PredictInputError(f"{url}: cannot be listed ({storage.first_line(error.message)})") from error
    if not found:
        raise PredictInputError(f"{url}: no audio file ({', '.join(AUDIO_SUFFIXES)}) in this folder")
    return sorted(found)


# ---------------------------------------------------------------- the pipeline's steps


@dataclass(frozen=True)
class Clip:
    """What the scoring step needs of a decoded file besides its window logits."""

    samples: int
    starts: np.ndarray  # window starts, in samples
    activity: SpeechActivity


def error_row(bundle: Bundle, path: str, error: Exception) -> Prediction:
    """The row of a file that could not be read (as ``Detector.predictions`` gives it)."""
    return Prediction(path, bundle.model_id, "error", None, bundle.threshold.spoof_probability, None, None,
                      error=str(error))


class CutWindows(beam.DoFn):
    """A path -> ``((path, index), window)`` for RunInference and ``(path, Clip)`` tagged ``clips``; a file that
    cannot be read -> its error row tagged ``errors``. Decoded as the Detector decodes (stream_audio's blocks)."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def process(self, path: str):
        rule = self.bundle.input
        try:
            with audio.local_copy(path) as local:
                blocks = audio.stream_audio(local, target_rate=rule.sample_rate, block_seconds=BLOCK_SECONDS)
                samples = np.concatenate(list(blocks))
        except audio.AudioError as error:
            yield beam.pvalue.TaggedOutput("errors", error_row(self.bundle, path, error))
            return
        indices = rule.window_indices(len(samples))
        yield beam.pvalue.TaggedOutput("clips", (path, Clip(len(samples), indices[:, 0],
                                                            speech_activity(samples, rule.sample_rate))))
        for number, chosen in enumerate(indices):
            yield (path, number), samples[chosen]


class WindowLogits(ModelHandler):
    """RunInference's model: the export's ``serving_default`` (through the Detector's SavedModel runner), loaded
    once per worker process from a local or gs:// folder; a batch of windows -> their logits."""

    def __init__(self, model_path: str, batch_windows: int = BATCH_WINDOWS):
        super().__init__(min_batch_size=1, max_batch_size=batch_windows)
        self.model_path = model_path

    def load_model(self):
        return Detector.load(storage.local_folder(self.model_path)).runner

    def run_inference(self, batch, model, inference_args=None):
        return [float(logit) for logit in model(np.stack(batch))]

    def get_num_bytes(self, batch) -> int:
        return sum(window.nbytes for window in batch)

    def get_metrics_namespace(self) -> str:
        return NAMESPACE


def score(bundle: Bundle, path: str, clip: Clip, logits: dict[int, float]) -> Prediction:
    """A file's row from its window logits, by the Detector's own rule (:func:`inference.score_windows`)."""
    values = np.array([logits[i] for i in range(len(clip.starts))], np.float64)
    return score_windows(bundle, path, clip.starts, values, clip.samples, clip.activity)


def _score_joined(joined: tuple, bundle: Bundle) -> Prediction:
    """:func:`score` of one file's CoGroupByKey result: its path, its one Clip and its ``(index, logit)`` pairs."""
    path, parts = joined
    (clip,) = parts["clips"]
    return score(bundle, path, clip, dict(parts["logits"]))


class FormatRow(beam.DoFn):
    """A Prediction -> one CSV line (``tfdeepfake predict --format csv``'s columns) or one JSON line (with its
    windows, as ``--format jsonl``), counting scored and failed files."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.scored = beam.metrics.Metrics.counter(NAMESPACE, "files_scored")
        self.failed = beam.metrics.Metrics.counter(NAMESPACE, "files_failed")

    def process(self, prediction: Prediction):
        (self.scored if prediction.ok else self.failed).inc()
        if self.fmt == "jsonl":
            yield json.dumps(prediction.to_dict(windows=True))
            return
        line = io.StringIO()
        csv.DictWriter(line, COLUMNS, lineterminator="").writerow(row(prediction))
        yield line.getvalue()


def add_scoring(root, paths: list[str], bundle: Bundle, model_path: str, fmt: str, out: str,
                batch_windows: int = BATCH_WINDOWS):
    """The scoring steps on pipeline ``root``: paths -> windows -> RunInference -> rows -> text shards at ``out``."""
    cut = (root
           | "Paths" >> beam.Create(paths)
           | "Spread" >> beam.Reshuffle()
           | "Cut" >> beam.ParDo(CutWindows(bundle)).with_outputs("clips", "errors", main="windows"))
    logits = (cut.windows
              | "Infer" >> RunInference(KeyedModelHandler(WindowLogits(model_path, batch_windows)))
              | "ByFile" >> beam.MapTuple(lambda key, logit: (key[0], (key[1], logit))))
    scored = ({"clips": cut.clips, "logits": logits}
              | "Join" >> beam.CoGroupByKey()
              | "Score" >> beam.Map(_score_joined, bundle))
    suffix = f".{fmt}"
    return ((scored, cut.errors)
            | "Rows" >> beam.Flatten()
            | "Format" >> beam.ParDo(FormatRow(fmt))
            | "Write" >> beam.io.WriteToText(out, file_name_suffix=suffix,
                                             header=",".join(COLUMNS) if fmt == "csv" else None))


# ---------------------------------------------------------------- command line


def load_export(model: str, hop: float | None, aggregation: str | None) -> Bundle:
    """The bundle an exported SavedModel folder carries (loaded and checked once here, before any worker starts),
    with the command's hop and aggregation."""
    local = storage.local_folder(model) if storage.is_url(model) else model
    if not os.path.isfile(os.path.join(local, "saved_model.pb")):
        raise BundleError(f"{model}: --runner scores an exported SavedModel folder (saved_model.pb + bundle.json: "
                          "tfdeepfake export MODEL --format savedmodel --out DIR)")
    detector = Detector.load(local)
    if hop is not None or aggregation is not None:
        detector = detector.with_input(hop, aggregation)
    return replace(detector.bundle, path=None)


def run_predict(paths, model: str, runner: str, out: str, fmt: str, beam_args=(), hop: float | None = None,
                aggregation: str | None = None, strict: bool = False) -> int:
    """``tfdeepfake predict ... --runner R``: exit status as the local command's (0 when a file was scored, and
    with ``strict`` none failed)."""
    if fmt not in ("csv", "jsonl"):
        raise PredictInputError("--runner writes CSV or JSON-lines shards: add --format csv or --format jsonl")
    if not out:
        raise PredictInputError("--runner needs --out PREFIX (local or gs://): shards PREFIX-00000-of-000NN."
                                f"{fmt} are written")
    try:
        beam.io.filesystems.FileSystems.get_filesystem(out)  # before any work: gs:// needs apache-beam[gcp]
    except ValueError as error:
        raise PredictInputError(f"--out {out}: {error}") from error
    files = input_files(paths)
    bundle = load_export(model, hop, aggregation)
    print(f"{len(files)} files to score with {bundle.model_id} on the {runner} runner", file=sys.stderr)
    root = pipeline(runner, list(beam_args))
    add_scoring(root, files, bundle, model, fmt, out)
    result = run(root, "predict", runner)
    scored, failed = (_counter(result, name) for name in ("files_scored", "files_failed"))
    print(f"{scored} scored, {failed} failed with {bundle.model_id}; rows in {out}-*.{fmt}", file=sys.stderr)
    return 0 if scored and not (strict and failed) else 1


def _counter(result, name: str) -> int:
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))["counters"]
    return int(sum((c.committed if c.committed is not None else c.attempted) or 0 for c in found))
