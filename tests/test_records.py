"""TFRecord round trip, manifest, verify, failures, strict mode and resume after a real kill."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from helpers import ROOT, make_corpus
from tfdeepfake import audio, records
from tfdeepfake.cli import main as tfdeepfake_cli
from tfdeepfake.corpora import METADATA_FIELDS, assign_folds, read_csv



def build(csv_path, out, **options):
    listing = read_csv(str(csv_path))
    folds = assign_folds(listing.utterances, 3, seed=0)
    options.setdefault("workers", 1)
    return listing, records.build(listing.utterances, folds, str(out), progress=False, **options)


def read_all(out, **selection):
    return {ex["utt_id"].numpy().decode(): ex for ex in records.load_dataset(str(out), shuffle_files=False,
                                                                             **selection)}


def test_round_trip_returns_identical_samples_and_metadata(tmp_path):
    csv_path = make_corpus(tmp_path)
    listing, manifest = build(csv_path, tmp_path / "out")
    examples = read_all(tmp_path / "out")
    assert len(examples) == manifest["records"] == 24
    assert [f["utt_id"] for f in manifest["failures"]] == ["broken"]
    assert "broken.wav" in manifest["failures"][0]["reason"]
    folds = assign_folds(listing.utterances, 3, seed=0)
    for utterance in listing.utterances:
        if utterance.utt_id == "broken":
            continue
        example = examples[utterance.utt_id]
        expected, _ = audio.load_audio(utterance.path, 16000)
        got = example["audio"].numpy()
        assert got.shape == expected.shape and int(example["num_samples"]) == len(expected)
        np.testing.assert_array_equal(audio.to_int16(got), audio.to_int16(expected))
        int16_range = np.clip(expected, -1.0, 32767 / 32768)  # resampling may overshoot full scale
        assert np.max(np.abs(got - int16_range)) <= 0.5 / 32768 + 1e-7
        for name in METADATA_FIELDS:
            assert example[name].numpy().decode() == getattr(utterance, name), name
        assert int(example["label_id"]) == utterance.label_id
        assert int(example["fold"]) == folds[utterance.utt_id]
        assert int(example["sample_rate"]) == 16000
    assert records.verify(str(tmp_path / "out")) == []


def test_manifest_counts_and_fold_selection(tmp_path):
    _, manifest = build(make_corpus(tmp_path), tmp_path / "out")
    total = sum(sum(cell["label"].values()) for cell in manifest["counts"]["train"].values())
    assert total == manifest["records"] == sum(s["records"] for s in manifest["shards"])
    assert manifest["hours"] == pytest.approx(sum(s["seconds"] for s in manifest["shards"]) / 3600, abs=1e-5)
    fold_zero = read_all(tmp_path / "out", splits=["train"], folds=[0])
    assert len(fold_zero) == sum(manifest["counts"]["train"]["0"]["label"].values())
    assert {int(e["fold"]) for e in fold_zero.values()} == {0}
    with pytest.raises(ValueError, match="no shard"):
        records.load_dataset(str(tmp_path / "out"), splits=["eval"])


def test_verify_detects_a_changed_shard(tmp_path):
    build(make_corpus(tmp_path), tmp_path / "out")
    shard = sorted((tmp_path / "out").glob("*.tfrecord"))[0]
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = records.verify(str(tmp_path / "out"))
    assert any("checksum" in p and shard.name in p for p in problems)
    assert tfdeepfake_cli(["verify-records", str(tmp_path / "out")]) == 1


def test_strict_stops_and_keeps_what_was_written(tmp_path):
    csv_path = make_corpus(tmp_path)
    with pytest.raises(records.BuildError, match="broken.wav"):
        build(csv_path, tmp_path / "out", strict=True, shard_mb=0.001)
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    finished = list((tmp_path / "out").glob("*.tfrecord"))
    for shard in finished:  # every shard on disk is complete and has its progress record
        record = json.loads((tmp_path / "out" / "_progress" / f"{shard.name}.json").read_text())
        assert sum(1 for _ in tf.data.TFRecordDataset(str(shard))) == record["records"]


def test_other_inputs_in_the_same_folder_are_refused(tmp_path):
    csv_path = make_corpus(tmp_path)
    build(csv_path, tmp_path / "out")
    with pytest.raises(records.BuildError, match="other inputs"):
        build(csv_path, tmp_path / "out", sample_rate=8000)


def test_dataset_under_a_distribution_strategy(tmp_path):
    build(make_corpus(tmp_path), tmp_path / "out", shard_mb=0.002)
    strategy = tf.distribute.get_strategy()
    seen = []

    def dataset_fn(context):
        data = records.load_dataset(str(tmp_path / "out"), input_context=context, seed=1)
        return data.map(lambda e: e["num_samples"]).batch(4)

    for batch in strategy.distribute_datasets_from_function(dataset_fn):
        seen.extend(batch.numpy().tolist())
    assert len(seen) == 24


def cli(csv_path, out):
    return [sys.executable, "-m", "tfdeepfake.build_tfrecords", "--dataset", "csv", "--root", str(csv_path),
            "--out", str(out), "--folds", "3", "--shard-mb", "0.0005", "--workers", "1", "--quiet"]


def test_killed_build_resumes_to_the_same_result(tmp_path):
    csv_path = make_corpus(tmp_path, count=300, speakers=10, rates=(22050, 44100), seconds=(2.0, 3.0))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(cli(csv_path, tmp_path / "whole"), check=True, env=env, cwd=ROOT, capture_output=True)

    partial = tmp_path / "partial"
    process = subprocess.Popen(cli(csv_path, partial), env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if len(list(partial.glob("*.tfrecord"))) >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert not (partial / "manifest.json").exists()
    written_before = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.tfrecord")}

    subprocess.run(cli(csv_path, partial), check=True, env=env, cwd=ROOT, capture_output=True)
    whole = json.loads((tmp_path / "whole" / "manifest.json").read_text())
    resumed = json.loads((partial / "manifest.json").read_text())
    for manifest in (whole, resumed):
        manifest.pop("created")
        manifest.pop("root")
    assert resumed.pop("shards") == whole.pop("shards")
    assert resumed == whole
    assert all(partial.joinpath(name).stat().st_mtime_ns == mtime for name, mtime in written_before.items()), \
        "finished shards were rewritten"
    assert not [p for p in partial.rglob("*") if ".tmp-" in p.name]
    a, b = read_all(tmp_path / "whole"), read_all(partial)
    assert a.keys() == b.keys() and len(a) == 300
    for key in a:
        np.testing.assert_array_equal(a[key]["audio"].numpy(), b[key]["audio"].numpy())


def test_offline_conditions_add_marked_copies_in_the_same_fold(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    csv_path = make_corpus(tmp_path, count=9)
    _, manifest = build(csv_path, tmp_path / "out", conditions=("ulaw",))
    examples = read_all(tmp_path / "out")
    assert manifest["records"] == 2 * 9 and len(examples) == 18
    for utt, example in examples.items():
        if utt.endswith("+ulaw"):
            original = examples[utt[: -len("+ulaw")]]
            assert example["condition"].numpy() == b"ulaw"
            assert int(example["fold"]) == int(original["fold"])
            assert example["num_samples"] == original["num_samples"]
            assert not np.array_equal(example["audio"].numpy(), original["audio"].numpy())
    with pytest.raises(ValueError, match="unknown condition 'vinyl'"):
        build(csv_path, tmp_path / "other", conditions=("vinyl",))
