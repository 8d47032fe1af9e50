"""Score many files fast: windows from several files packed into each model call.

``Detector.predictions`` runs each file's windows on their own, so a short clip makes a model call of one or two
windows and the decoder waits for the model. :func:`batch_predictions` decodes files ahead in a thread pool,
packs their windows across file boundaries into full batches, routes each logit back to its file
and yields the files' :class:`Prediction` s in input order as soon as each file is complete. A file is decoded
exactly as :meth:`Detector.predict` decodes it (same blocks, resampler, speech-activity track, windows) and scored
by the same :func:`score_windows`, so the results are the per-file ones (the model sees other batch neighbours,
which changes a logit only by float rounding). A file that cannot be read is an error row; the others go on.

``first_window_only`` scores each file by its first window alone: the official ASVspoof evaluation rule (the
first ``window_samples`` samples at the rule's rate, a shorter clip repeated to fill them), under which published
figures were measured. Decoding stops once that much is read; the row's duration is the span scored.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import audio as audio_io
from .detector import BLOCK_SECONDS, Detector
from .results import Prediction, score_windows
from .speech import EnergyTrack, SpeechActivity

DECODE_WORKERS = 2  # decoding threads
LOOKAHEAD_FILES = 16  # files decoded (or being decoded) ahead of the model
LONG_SECONDS = 60.0  # longer files are not held whole: Detector.predict streams them in bounded memory


@dataclass
class _DecodedFile:
    """One file's samples at the rule's rate, its windows' sample indices, speech activity and logits so far."""

    path: str
    samples: np.ndarray
    indices: np.ndarray
    activity: SpeechActivity
    logits: np.ndarray
    missing: int


def _decode(detector: Detector, path, first_window_only: bool = False) -> _DecodedFile | None:
    """The file's samples and speech track, read block by block exactly as :meth:`Detector.predict` reads them
    (only its first window with ``first_window_only``); None for a file longer than :data:`LONG_SECONDS`, which is
    left to the streaming per-file path."""
    rule = detector.input_rule
    energy = EnergyTrack(rule.sample_rate)
    blocks, held = [], 0
    limit = rule.window_samples if first_window_only else None
    block_seconds = min(BLOCK_SECONDS, limit / rule.sample_rate) if limit else BLOCK_SECONDS
    stream = audio_io.stream_audio(path, target_rate=rule.sample_rate, block_seconds=block_seconds)
    if limit is None and stream.info.source_frames > LONG_SECONDS * stream.info.source_rate:
        stream.close()
        return None
    try:
        for block in stream:
            block = block if limit is None else block[:limit - held]
            energy.add(block)
            blocks.append(block)
            held += len(block)
            if held == limit:
                break
    finally:
        if hasattr(stream, "close"):
            stream.close()
    samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    indices = rule.window_indices(len(samples))
    return _DecodedFile(os.fspath(path), samples, indices, energy.finish(), np.zeros(len(indices), np.float32),
                        len(indices))


def _error_row(detector: Detector, path, error: Exception) -> Prediction:
    return Prediction(os.fspath(path), detector.model_id, "error", None, detector.bundle.threshold.spoof_probability,
                      None, None, error=str(error))


def batch_predictions(detector: Detector, paths: Iterable, batch_windows: int | None = None,
                      workers: int = DECODE_WORKERS, lookahead: int = LOOKAHEAD_FILES,
                      first_window_only: bool = False) -> Iterator[Prediction]:
    """:meth:`Detector.predictions` with the windows of many files batched together (see the module docstring).

    ``batch_windows`` defaults to the detector's own (its memory bound per model call). At most ``lookahead``
    files are decoded ahead of the model, plus those with windows in the unfinished batch. ``first_window_only``:
    the official rule, one window per file (see the module docstring).
    """
    batch_windows = detector.batch_windows if batch_windows is None else batch_windows
    if batch_windows < 1 or workers < 1 or lookahead < 1:
        raise ValueError(f"batch_windows, workers and lookahead must be >= 1, got {batch_windows}, {workers}, "
                         f"{lookahead}")
    paths = iter(paths)
    decoding: deque = deque()  # (path, future) in input order
    queued: deque = deque()  # (file, window number) not yet run
    finished: deque = deque()  # files (or error rows) in input order, waiting for their logits

    def run_batch(size: int) -> None:
        batch = [queued.popleft() for _ in range(min(size, len(queued)))]
        logits = detector.runner(np.stack([file.samples[file.indices[k]] for file, k in batch]))
        for (file, k), logit in zip(batch, logits):
            file.logits[k] = logit
            file.missing -= 1

    def ready() -> Iterator[Prediction]:
        while finished and (isinstance(finished[0], Prediction) or finished[0].missing == 0):
            item = finished.popleft()
            if isinstance(item, Prediction):
                yield item
            else:
                yield score_windows(detector.bundle, item.path, item.indices[:, 0], item.logits, len(item.samples),
                                    item.activity)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tfdeepfake-decode") as pool:
        exhausted = False
        while True:
            while not exhausted and len(decoding) < lookahead:
                path = next(paths, None)
                if path is None:
                    exhausted = True
                else:
                    decoding.append((path, pool.submit(_decode, detector, path, first_window_only)))
            if not decoding:
                break
            path, future = decoding.popleft()
            try:
                file = future.result()
                if file is None:  # a long recording: scored streamed, in its turn
                    finished.append(detector.predict(path))
                    continue
            except audio_io.AudioError as error:
                finished.append(_error_row(detector, path, error))
            else:
                finished.append(file)
                queued.extend((file, k) for k in range(len(file.indices)))
            while len(queued) >= batch_windows:
                run_batch(batch_windows)
            yield from ready()
        while queued:
            run_batch(batch_windows)
        yield from ready()
