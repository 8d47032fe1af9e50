"""TFRecord schema, the resumable sharded writer with its manifest, and the tf.data reader.

The schema is defined here once; the writer and the reader both use it. Each example holds the whole
utterance as int16 PCM plus every field of its :class:`~tfdeepfake.corpora.Utterance` and its fold.
"""
from __future__ import annotations

import hashlib
import json
import itertools
import os
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace

import numpy as np
import tensorflow as tf

from .errors import TfDeepfakeError
from .storage import is_url, sha256_file

from .audio import AudioError, PCM_SCALE, load_audio, to_int16
from .augment import offline
from .corpora.base import METADATA_FIELDS, Utterance
from .input_rule import DEFAULT_SAMPLE_RATE

MANIFEST = "manifest.json"
PROGRESS_DIR = "_progress"
FORMAT_VERSION = 1
# rough decoded-bytes-per-file-byte ratios, used only to size shards before decoding anything
EXPANSION = {".flac": 1.8, ".wav": 1.0, ".ogg": 10.0, ".mp3": 10.0}

INT_FIELDS = ("sample_rate", "num_samples", "label_id", "fold")
FEATURE_SPEC = {
    "audio": tf.io.FixedLenFeature([], tf.string),
    **{name: tf.io.FixedLenFeature([], tf.int64) for name in INT_FIELDS},
    **{name: tf.io.FixedLenFeature([], tf.string, default_value="") for name in METADATA_FIELDS},
}


class BuildError(TfDeepfakeError, RuntimeError):
    """A build that cannot go on (strict mode failure, or an output folder from another build)."""


# ---------------------------------------------------------------- examples

def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def encode_example(utterance: Utterance, fold: int, pcm: np.ndarray, sample_rate: int) -> bytes:
    """Serialize one utterance: int16 little-endian PCM bytes plus all metadata."""
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError(f"{utterance.utt_id}: expected 1-D int16 PCM, got {pcm.dtype} {pcm.shape}")
    feature = {"audio": _bytes(pcm.astype("<i2", copy=False).tobytes())}
    ints = {"sample_rate": sample_rate, "num_samples": len(pcm), "label_id": utterance.label_id, "fold": fold}
    feature.update((name, _int(value)) for name, value in ints.items())
    feature.update((name, _bytes(getattr(utterance, name).encode())) for name in METADATA_FIELDS)
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)  # stable map order: same input, same bytes


def parse_example(serialized: tf.Tensor, pcm: bool = False, fields=None) -> dict[str, tf.Tensor]:
    """One serialized example to a dict of tensors; ``audio`` is float32 in [-1, 1] of length num_samples,
    or the stored int16 PCM with ``pcm=True`` (crop first, convert after: less work per example).
    ``fields`` parses only those (the training path needs just audio and label_id)."""
    spec = FEATURE_SPEC if fields is None else {name: FEATURE_SPEC[name] for name in fields}
    parsed = tf.io.parse_single_example(serialized, spec)
    if "audio" in parsed:
        samples = tf.io.decode_raw(parsed["audio"], tf.int16, little_endian=True)
        parsed["audio"] = samples if pcm else pcm_to_float(samples)
    return parsed


def pcm_to_float(samples: tf.Tensor) -> tf.Tensor:
    """int16 PCM tensor to float32 in [-1, 1] (the inverse of the writer's conversion)."""
    return tf.cast(samples, tf.float32) / PCM_SCALE


# ---------------------------------------------------------------- shard planning

@dataclass(frozen=True)
class ShardPlan:
    """One output shard: its file name, split, fold, index within the cell and utterances in write order."""

    name: str
    split: str
    fold: int
    index: int
    utterances: tuple  # of Utterance

    def to_json(self) -> dict:
        return {"name": self.name, "split": self.split, "fold": self.fold, "index": self.index,
                "utterances": [asdict(u) for u in self.utterances]}

    @classmethod
    def from_json(cls, data: dict) -> ShardPlan:
        return cls(data["name"], data["split"], data["fold"], data["index"],
                   tuple(Utterance(**u) for u in data["utterances"]))


def _estimated_bytes(path: str) -> float:
    """Decoded size guessed from the file size; 0 for a file that cannot be stat'ed (it fails later, reported)."""
    try:
        size = tf.io.gfile.stat(path).length if is_url(path) else os.path.getsize(path)
    except (OSError, tf.errors.OpError):
        return 0.0
    return size * EXPANSION.get(os.path.splitext(path)[1].lower(), 1.0)


def plan_shards(utterances: list[Utterance], folds: dict[str, int], shard_mb: float) -> list[ShardPlan]:
    """Deterministic shards per (split, fold), each about ``shard_mb`` of decoded PCM.

    File sizes are read in parallel: for a corpus on gs:// each one is a network round trip.
    """
    cells: dict[tuple[str, int], list[Utterance]] = defaultdict(list)
    for utterance in sorted(utterances, key=lambda u: u.utt_id):
        cells[(utterance.split, folds[utterance.utt_id])].append(utterance)
    with ThreadPoolExecutor(32 if any(is_url(u.path) for u in utterances) else 1) as pool:
        estimated = dict(zip((u.path for u in utterances), pool.map(_estimated_bytes, (u.path for u in utterances))))
    plans = []
    for (split, fold), members in sorted(cells.items()):
        sizes = np.array([estimated[u.path] for u in members])
        count = max(1, int(round(sizes.sum() / (shard_mb * 2**20))))
        # contiguous chunks of roughly equal estimated size
        edges = np.searchsorted(np.cumsum(sizes), np.linspace(0, sizes.sum(), count + 1)[1:-1], side="right")
        chunks = [c for c in np.split(np.arange(len(members)), edges) if len(c)]
        for index, chunk in enumerate(chunks):
            name = f"{split}-fold{fold}-{index:04d}-of-{len(chunks):04d}.tfrecord"
            plans.append(ShardPlan(name, split, fold, index, tuple(members[i] for i in chunk)))
    return plans


def _plan_digest(plans: list[ShardPlan], settings: dict) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for plan in plans:
        digest.update(plan.name.encode())
        for utterance in plan.utterances:
            digest.update(json.dumps(asdict(utterance), sort_keys=True).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- writing

def write_json_atomic(path: str, payload: dict) -> None:
    """Write JSON under a temporary name and rename it into place: readers never see half a file."""
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        handle.write(json.dumps(payload, indent=1, sort_keys=True))
    tf.io.gfile.rename(temporary, path, overwrite=True)


def _decode(utterance: Utterance, sample_rate: int, max_seconds: float | None, copies: dict[str, str]):
    """Samples of one utterance (through its offline condition when it is an augmented copy), or the error
    that explains why there are none."""
    try:
        samples = load_audio(utterance.path, sample_rate, max_seconds)[0]
        if utterance.utt_id in copies:
            seed = int(hashlib.sha256(utterance.utt_id.encode()).hexdigest()[:8], 16)
            samples = offline.apply_condition(samples, sample_rate, copies[utterance.utt_id], seed)
        return samples
    except (AudioError, offline.ToolFailed) as error:
        return error


def augmented_copies(utterances: list[Utterance], folds: dict[str, int], conditions) -> tuple[list, dict, dict]:
    """Utterances, folds and {copy id: condition} with one copy per offline condition of every utterance.

    A copy keeps its original's fold (so speakers stay grouped) and names its condition in ``condition``.
    """
    unknown = sorted(set(conditions) - set(offline.CONDITIONS))
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; choose from {list(offline.CONDITIONS)}")
    for condition in conditions:
        offline.require(condition)
    copies, all_folds, names = [], dict(folds), {}
    for condition in conditions:
        for utterance in utterances:
            copy = replace(utterance, utt_id=f"{utterance.utt_id}+{condition}",
                           condition="+".join(filter(None, (utterance.condition, condition))))
            copies.append(copy)
            all_folds[copy.utt_id] = folds[utterance.utt_id]
            names[copy.utt_id] = condition
    return list(utterances) + copies, all_folds, names


def decoded_stream(utterances, sample_rate: int, max_seconds: float | None, pool: ThreadPoolExecutor,
                   lookahead: int, copies: dict[str, str] | None = None):
    """(utterance, samples or AudioError) in input order, decoded ``lookahead`` files ahead on ``pool``.

    libsndfile, soxr and numpy release the GIL, so threads keep every core busy without the start-up
    cost of processes, and memory stays bounded by the look-ahead.
    """
    pending: deque = deque()
    queue = iter(utterances)
    for utterance in queue:
        pending.append((utterance, pool.submit(_decode, utterance, sample_rate, max_seconds, copies or {})))
        if len(pending) >= lookahead:
            break
    while pending:
        utterance, future = pending.popleft()
        following = next(queue, None)
        if following is not None:
            pending.append((following, pool.submit(_decode, following, sample_rate, max_seconds, copies or {})))
        yield utterance, future.result()


def write_shard(out_dir: str, plan: ShardPlan, decoded, sample_rate: int, strict: bool) -> dict:
    """Write one shard from ``decoded`` (its utterances in order) under a temporary name, record it in
    _progress/, then rename it into place: a shard file that exists is complete and has its record."""
    final = f"{out_dir}/{plan.name}"
    temporary = f"{final}.tmp-{uuid.uuid4().hex}"
    failures, written, seconds = [], [], 0.0
    try:
        with tf.io.TFRecordWriter(temporary) as writer:
            for utterance, samples in itertools.islice(decoded, len(plan.utterances)):
                if isinstance(samples, Exception):
                    if strict:
                        raise BuildError(f"--strict: {samples}")
                    failures.append({"utt_id": utterance.utt_id, "path": utterance.path, "reason": str(samples)})
                    continue
                writer.write(encode_example(utterance, plan.fold, to_int16(samples), sample_rate))
                written.append(utterance)
                seconds += len(samples) / sample_rate
        record = {"name": plan.name, "split": plan.split, "fold": plan.fold, "index": plan.index,
                  "records": len(written), "seconds": seconds, "bytes": tf.io.gfile.stat(temporary).length,
                  "sha256": sha256_file(temporary), "failures": failures, "utterances": _counts(written)}
        write_json_atomic(f"{out_dir}/{PROGRESS_DIR}/{plan.name}.json", record)
        tf.io.gfile.rename(temporary, final, overwrite=True)
        return record
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)


def _counts(utterances) -> dict:
    labels, attacks = defaultdict(int), defaultdict(int)
    for utterance in utterances:
        labels[utterance.label] += 1
        attacks[utterance.attack] += 1
    return {"label": dict(labels), "attack": dict(attacks)}


def shard_record(out_dir: str, name: str) -> dict | None:
    """The _progress record of a finished shard; None while the shard is not written."""
    progress = f"{out_dir}/{PROGRESS_DIR}/{name}.json"
    if tf.io.gfile.exists(f"{out_dir}/{name}") and tf.io.gfile.exists(progress):
        with tf.io.gfile.GFile(progress) as handle:
            return json.load(handle)
    return None


@dataclass(frozen=True)
class PreparedBuild:
    """An output folder checked against its plan: every shard it will hold, in manifest order, and the finished
    ones' records. The local builder and the Beam pipeline (tfdeepfake.beam) both start from it."""

    out_dir: str
    plans: tuple  # of ShardPlan
    done: dict  # shard name -> its _progress record
    copies: dict  # augmented copy id -> offline condition
    sample_rate: int
    max_seconds: float | None

    @property
    def todo(self) -> list[ShardPlan]:
        return [p for p in self.plans if p.name not in self.done]

    def copies_of(self, plan: ShardPlan) -> dict[str, str]:
        """The offline conditions of the augmented copies in one shard."""
        return {u.utt_id: self.copies[u.utt_id] for u in plan.utterances if u.utt_id in self.copies}


def prepare_build(utterances: list[Utterance], folds: dict[str, int], out_dir: str, *, sample_rate: int = DEFAULT_SAMPLE_RATE,
                  shard_mb: float = 150.0, max_seconds: float | None = None, conditions=()) -> PreparedBuild:
    """Plan the shards, refuse a folder holding another build, drop half-written files of a killed one, and find
    the shards already finished (a resumed build writes only the others)."""
    out_dir = out_dir.rstrip("/")
    utterances, folds, copies = augmented_copies(utterances, folds, conditions)
    tf.io.gfile.makedirs(f"{out_dir}/{PROGRESS_DIR}")
    plans = plan_shards(utterances, folds, shard_mb)
    settings = {"sample_rate": sample_rate, "max_seconds": max_seconds, "shard_mb": shard_mb,
                "format_version": FORMAT_VERSION, "conditions": list(conditions)}
    digest = _plan_digest(plans, settings)
    plan_file = f"{out_dir}/{PROGRESS_DIR}/plan.json"
    if tf.io.gfile.exists(plan_file):
        with tf.io.gfile.GFile(plan_file) as handle:
            if json.load(handle)["digest"] != digest:
                raise BuildError(f"{out_dir} holds a build with other inputs or settings; "
                                 "resume with the same command or choose a new --out")
    else:
        write_json_atomic(plan_file, {"digest": digest, "shards": [p.name for p in plans]})
    remove_partial_files(out_dir)
    done = {p.name: r for p in plans if (r := shard_record(out_dir, p.name)) is not None}
    return PreparedBuild(out_dir, tuple(plans), done, copies, sample_rate, max_seconds)


def remove_partial_files(out_dir: str) -> None:
    """Delete half-written shards and records of a killed build (one build per folder at a time)."""
    patterns = (f"{out_dir}/*.tmp-*", f"{out_dir}/{PROGRESS_DIR}/*.tmp-*", f"{out_dir}/{PROGRESS_DIR}/*/*.tmp-*")
    for stale in (path for pattern in patterns for path in tf.io.gfile.glob(pattern)):
        tf.io.gfile.remove(stale)


def write_shards(out_dir: str, plans, copies: dict[str, str], *, sample_rate: int, max_seconds: float | None,
                 workers: int | None = None, strict: bool = False):
    """Write ``plans`` in order, yielding each shard's record as it is finished.

    ``workers`` decoding threads (default: one per core) feed the writer, decoding ahead across shard ends.
    """
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
        decoded = decoded_stream((u for p in plans for u in p.utterances), sample_rate, max_seconds,
                                 pool, lookahead=4 * workers, copies=copies)
        try:
            for plan in plans:
                yield write_shard(out_dir, plan, decoded, sample_rate, strict)
        finally:
            decoded.close()


def finish_build(prepared: PreparedBuild, records: dict, provenance: dict | None = None) -> dict:
    """Write the manifest of a build whose every shard has its record in ``records``; returns it."""
    missing = [p.name for p in prepared.plans if p.name not in records]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise BuildError(f"{prepared.out_dir}: {len(missing)} shards not written ({shown}); run the same build "
                         "again to finish them")
    manifest = _manifest([records[p.name] for p in prepared.plans], prepared.sample_rate, provenance or {})
    write_json_atomic(f"{prepared.out_dir}/{MANIFEST}", manifest)
    return manifest


def build(utterances: list[Utterance], folds: dict[str, int], out_dir: str, *, sample_rate: int = DEFAULT_SAMPLE_RATE,
          shard_mb: float = 150.0, max_seconds: float | None = None, workers: int | None = None,
          strict: bool = False, provenance: dict | None = None, progress: bool = True, conditions=()) -> dict:
    """Write the shards (resuming any finished ones) and the manifest; returns the manifest.

    ``workers`` decoding threads (default: one per core) feed the writer, which writes shards in order.
    ``conditions`` (offline augmentation names) add one copy of every utterance per condition.
    """
    prepared = prepare_build(utterances, folds, out_dir, sample_rate=sample_rate, shard_mb=shard_mb,
                             max_seconds=max_seconds, conditions=conditions)
    done, todo = dict(prepared.done), prepared.todo
    total = sum(len(p.utterances) for p in prepared.plans)
    bar = _progress_bar(total, total - sum(len(p.utterances) for p in todo), progress)
    try:
        for record in write_shards(prepared.out_dir, todo, prepared.copies, sample_rate=sample_rate,
                                   max_seconds=max_seconds, workers=workers, strict=strict):
            done[record["name"]] = record
            bar.update(record["records"] + len(record["failures"]))
    finally:
        bar.close()
    return finish_build(prepared, done, provenance)


def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="utt", desc="tfrecords", disable=not enabled)


def _manifest(records: list[dict], sample_rate: int, provenance: dict) -> dict:
    counts: dict = {}
    for record in records:
        cell = counts.setdefault(record["split"], {}).setdefault(str(record["fold"]), {"label": {}, "attack": {}})
        for kind in ("label", "attack"):
            for key, value in record["utterances"][kind].items():
                cell[kind][key] = cell[kind].get(key, 0) + value
    return {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sample_rate": sample_rate,
        "records": sum(r["records"] for r in records),
        "hours": round(sum(r["seconds"] for r in records) / 3600.0, 6),
        "counts": counts,
        "shards": [{k: r[k] for k in ("name", "split", "fold", "index", "records", "seconds", "bytes", "sha256")}
                   for r in records],
        "failures": [f for r in records for f in r["failures"]],
        **provenance,
    }


# ---------------------------------------------------------------- reading

def read_manifest(directory: str) -> dict:
    path = f"{directory.rstrip('/')}/{MANIFEST}"
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no manifest; build the TFRecords first (python -m tfdeepfake.build_tfrecords)")
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def require_sample_rate(manifest: dict, directory: str, sample_rate: int) -> None:
    """Refuse TFRecords written at another rate than the one the model is to be trained or scored at: their
    windows would hold other durations and every frequency would be misread."""
    stored = manifest.get("sample_rate")
    if stored != sample_rate:
        raise BuildError(f"{directory}/{MANIFEST}: the TFRecords hold {stored} Hz audio but the config says "
                         f"data.sample_rate={sample_rate}; set data.sample_rate={stored} or rebuild the records with "
                         f"tfdeepfake build-records --sample-rate {sample_rate}")


def verify(directory: str) -> list[str]:
    """Re-count every shard and re-hash it against the manifest; returns the mismatches (empty when sound)."""
    manifest = read_manifest(directory)
    problems = []
    for shard in manifest["shards"]:
        path = f"{directory.rstrip('/')}/{shard['name']}"
        if not tf.io.gfile.exists(path):
            problems.append(f"{path}: missing")
            continue
        try:
            count = sum(1 for _ in tf.data.TFRecordDataset(path))
        except tf.errors.DataLossError as error:
            problems.append(f"{path}: corrupted record ({error.message.split(' [Op')[0]})")
            count = None
        if count is not None and count != shard["records"]:
            problems.append(f"{path}: {count} records, manifest says {shard['records']}")
        if sha256_file(path) != shard["sha256"]:
            problems.append(f"{path}: checksum differs from the manifest")
    return problems


def shard_files(directory: str, splits=None, folds=None) -> list[str]:
    """Shard paths of the chosen splits and folds (all when None), from the manifest."""
    manifest = read_manifest(directory)
    chosen = [f"{directory.rstrip('/')}/{s['name']}" for s in manifest["shards"]
              if (splits is None or s["split"] in splits) and (folds is None or s["fold"] in folds)]
    if not chosen:
        raise ValueError(f"{directory}: no shard for splits={splits} folds={folds}; "
                         f"manifest has splits {sorted(manifest['counts'])}")
    return chosen


def load_dataset(directory: str, splits=None, folds=None, *, shuffle_files: bool = True, seed: int = 0,
                 cycle_length: int = 8, input_context: tf.distribute.InputContext | None = None,
                 deterministic: bool | None = None, pcm: bool = False, parse: bool = True) -> tf.data.Dataset:
    """Parsed examples of the chosen splits/folds, files shuffled and interleaved.

    ``pcm=True`` keeps ``audio`` as int16 (see :func:`parse_example`); ``parse=False`` yields the serialized
    records, for a pipeline that parses inside its own per-example map (one map stage instead of two). Under a
    distribution strategy pass the ``input_context`` of ``distribute_datasets_from_function``: each input
    pipeline then reads its own subset of files.
    """
    files = shard_files(directory, splits, folds)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle_files:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if not parse:
        return dataset
    return dataset.map(lambda serialized: parse_example(serialized, pcm), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=deterministic)
