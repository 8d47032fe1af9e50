"""Beam pipelines on the DirectRunner: the TFRecord build against the local builder (examples per split and fold,
failure rows, manifest, resume, strict mode), batch scoring with RunInference against Detector.predict, and URL
paths (ram:// in memory, gs:// without network) kept exactly as written."""
import csv
import io
import json
import os
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

beam = pytest.importorskip("apache_beam", reason="Apache Beam is not installed (pip install 'tfdeepfake[beam]')")

import tensorflow as tf  # noqa: E402

from helpers import AASIST_FIXTURES, make_corpus
from tfdeepfake import cli, records, storage  # noqa: E402
from tfdeepfake.beam import BeamError, pipeline, run  # noqa: E402
from tfdeepfake.cli.common import split_arguments  # noqa: E402
from tfdeepfake.beam import predict as beam_predict  # noqa: E402
from tfdeepfake.corpora import METADATA_FIELDS, Utterance, read_csv  # noqa: E402
from tfdeepfake.export import export_model  # noqa: E402
from tfdeepfake.inference import Detector  # noqa: E402
from tfdeepfake.score_files import PredictInputError  # noqa: E402

OFFLINE_BUCKET = "gs://tfdeepfake-offline-test-bucket"  # never reachable from the tests; only its name matters


def build_cli(csv_path, out, *extra):
    return cli.main(["build-records", "--dataset", "csv", "--root", str(csv_path), "--out", str(out), "--folds",
                     "3", "--shard-mb", "0.02", "--workers", "1", "--quiet", *extra])


def examples_by_cell(directory: str) -> dict:
    """{(split, fold): Counter of examples}, each example every parsed field as a hashable tuple."""
    manifest = records.read_manifest(directory)
    cells: dict = {}
    for shard in manifest["shards"]:
        for serialized in tf.data.TFRecordDataset(f"{directory}/{shard['name']}"):
            parsed = records.parse_example(serialized, pcm=True)
            example = tuple(sorted((k, v.numpy().tobytes() if k == "audio" else v.numpy())
                                   for k, v in parsed.items()))
            cells.setdefault((shard["split"], shard["fold"]), Counter())[example] += 1
    return cells


def comparable(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in ("created", "beam_runner")}


# ---------------------------------------------------------------- build-records --runner


def test_beam_build_holds_the_local_builders_examples_shards_and_manifest(tmp_path):
    csv_path = make_corpus(tmp_path, count=30, speakers=6)
    assert build_cli(csv_path, tmp_path / "local") == 0
    assert build_cli(csv_path, tmp_path / "beam", "--runner", "direct", "--",
                     "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    local, beamed = (records.read_manifest(str(tmp_path / name)) for name in ("local", "beam"))
    assert beamed["beam_runner"] == "direct" and "beam_runner" not in local
    assert comparable(beamed) == comparable(local)  # counts, shards (names, sizes, sha256), failures, provenance
    assert len(local["shards"]) > 4, "several shards, so several work items"
    assert [f["utt_id"] for f in beamed["failures"]] == ["broken"] and "broken.wav" in beamed["failures"][0]["reason"]
    # the same examples per split and fold (as multisets); the design even keeps shard names and order
    by_cell = examples_by_cell(str(tmp_path / "beam"))
    assert by_cell == examples_by_cell(str(tmp_path / "local"))
    assert sum(sum(c.values()) for c in by_cell.values()) == 30 and len(by_cell) == 3
    assert cli.main(["verify-records", str(tmp_path / "beam")]) == 0


def test_beam_build_resumes_only_the_missing_shards(tmp_path):
    csv_path = make_corpus(tmp_path, count=18)
    out = tmp_path / "beam"
    assert build_cli(csv_path, out, "--runner", "direct") == 0
    whole = records.read_manifest(str(out))
    shards = sorted(out.glob("*.tfrecord"))
    lost = shards[1]
    lost.unlink()
    (out / records.PROGRESS_DIR / f"{lost.name}.json").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in shards if p != lost}
    assert build_cli(csv_path, out, "--runner", "direct") == 0
    assert lost.exists() and {p.name: p.stat().st_mtime_ns for p in shards if p != lost} == kept
    assert comparable(records.read_manifest(str(out))) == comparable(whole)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert build_cli(csv_path, out, "--runner", "direct", "--sample-rate", "8000") == 1  # other settings: refused


def test_beam_build_strict_fails_naming_the_file(tmp_path, capsys):
    csv_path = make_corpus(tmp_path, count=6)
    assert build_cli(csv_path, tmp_path / "beam", "--runner", "direct", "--strict") == 1
    message = capsys.readouterr().err
    assert "error: " in message and "--strict" in message and "broken.wav" in message
    assert not (tmp_path / "beam" / records.MANIFEST).exists()


def test_runner_options_are_passed_on_and_unknown_flags_refused_without_a_runner(tmp_path, capsys):
    assert split_arguments(["--dataset", "csv", "--runner", "flink", "--flink_master=h:8081", "--", "--a", "1"]) == \
        (["--dataset", "csv", "--runner", "flink", "--flink_master=h:8081"], ["--a", "1"])
    assert split_arguments(["a.wav", "--", "-odd.wav"]) == (["a.wav", "--", "-odd.wav"], [])  # argparse's '--'
    with pytest.raises(SystemExit) as stopped:
        build_cli(make_corpus(tmp_path, count=3), tmp_path / "out", "--direct_num_workers=2")
    assert stopped.value.code == 2 and "unrecognized arguments: --direct_num_workers=2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["predict", "a.wav", "--frobnicate=1"])
    assert stopped.value.code == 2 and "unrecognized arguments: --frobnicate=1" in capsys.readouterr().err
    with pytest.raises(BeamError, match="give the runner once"):
        pipeline("direct", ["--runner=DataflowRunner"])
    failing = pipeline("direct", [])
    _ = failing | beam.Create([1]) | beam.Map(lambda x: 1 / 0)
    with pytest.raises(BeamError, match="failed on the direct runner: .*division by zero"):
        run(failing, "test", "direct")


# ---------------------------------------------------------------- URLs


def write_remote(url: str, data: bytes) -> None:
    """A file on a URL file system, its folders made (ram:// lists only folders made explicitly, as gs:// lists
    the prefixes of its objects)."""
    tf.io.gfile.makedirs(url.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(url, "wb") as handle:
        handle.write(data)


def test_url_paths_are_kept_and_a_build_on_a_url_file_system_matches_the_local_one(tmp_path):
    assert storage.is_url("gs://b/x.flac") and storage.is_url("ram://x") and not storage.is_url("/a/gs:/b")
    assert storage.resolve("clips/a.flac", "gs://b/corpus") == "gs://b/corpus/clips/a.flac"
    assert storage.resolve("s3://other/a.flac", "/data") == "s3://other/a.flac"
    assert storage.folder_of("gs://b/corpus/list.csv") == "gs://b/corpus"

    csv_path = make_corpus(tmp_path, count=12)
    remote = f"ram://{uuid.uuid4().hex}"
    for path in tmp_path.iterdir():  # the same corpus on a URL file system (TensorFlow's in-memory one)
        write_remote(f"{remote}/corpus/{path.name}", path.read_bytes())
    listing = read_csv(f"{remote}/corpus/list.csv")
    assert {u.path for u in listing.utterances} == {f"{remote}/corpus/{p.name}" for p in tmp_path.glob("*.*")
                                                    if p.suffix != ".csv"}
    assert build_cli(f"{remote}/corpus/list.csv", f"{remote}/out", "--runner", "direct") == 0
    assert records.verify(f"{remote}/out") == []
    assert build_cli(csv_path, tmp_path / "local") == 0
    manifest, local = records.read_manifest(f"{remote}/out"), records.read_manifest(str(tmp_path / "local"))
    assert [f["path"] for f in manifest["failures"]] == [f"{remote}/corpus/broken.wav"]
    assert manifest["failures"][0]["reason"].startswith(f"{remote}/corpus/broken.wav: not decodable")
    assert [s["records"] for s in manifest["shards"]] == [s["records"] for s in local["shards"]]

    def without_paths(cells):
        return {cell: Counter(tuple(kv for kv in example if kv[0] != "path") for example in counter.elements())
                for cell, counter in cells.items()}
    assert without_paths(examples_by_cell(f"{remote}/out")) == without_paths(examples_by_cell(str(tmp_path / "local")))


def test_unreachable_gs_files_become_failure_rows_under_their_own_name(tmp_path):
    csv_path = make_corpus(tmp_path, count=6)
    with csv_path.open("a") as handle:
        handle.write(f"{OFFLINE_BUCKET}/clips/far away.flac,spoof,spk9,A01\n")
    listing = read_csv(str(csv_path))
    assert listing.problems == []  # a URL is not looked up while listing
    assert build_cli(csv_path, tmp_path / "out", "--runner", "direct") == 0
    failures = {f["path"]: f for f in records.read_manifest(str(tmp_path / "out"))["failures"]}
    url = f"{OFFLINE_BUCKET}/clips/far away.flac"
    assert url in failures and failures[url]["utt_id"] == f"{OFFLINE_BUCKET}/clips/far away"
    assert failures[url]["reason"].startswith(f"{url}: ")
    assert records.verify(str(tmp_path / "out")) == []


# ---------------------------------------------------------------- predict --runner


@pytest.fixture(scope="module")
def exported(tiny_bundle, tmp_path_factory):  # noqa: F811
    """The tiny AASIST bundle exported as a SavedModel by tfdeepfake.export (bundle.json inside)."""
    out = tmp_path_factory.mktemp("export") / "saved_model"
    export_model(tiny_bundle, "savedmodel", str(out))
    return str(out)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Speech-like clips of several lengths and rates, a silent one, a broken one, and a .txt list naming a folder
    and a file (one line relative, one absolute)."""
    root = tmp_path_factory.mktemp("clips")
    inputs = np.load(AASIST_FIXTURES / "outputs.npz")["inputs"]
    (root / "folder" / "deeper").mkdir(parents=True)
    sf.write(root / "folder" / "short.wav", inputs[0, :9000], 16000, subtype="FLOAT")  # repeat-padded
    sf.write(root / "folder" / "deeper" / "resampled.flac", inputs[1, :40000], 22050)
    long = np.concatenate([inputs[2], inputs[3], inputs[0]])[:16000 * 10 + 1234]  # 20 windows: > one batch
    sf.write(root / "folder" / "long.wav", long, 16000, subtype="FLOAT")
    sf.write(root / "silence.wav", np.zeros(20000, np.float32), 16000)
    sf.write(root / "single.wav", inputs[3, 20000:44000], 16000, subtype="PCM_16")
    (root / "folder" / "broken.wav").write_bytes(b"RIFF but nothing else")
    (root / "list.txt").write_text(f"# a comment line\nfolder\n\n{root / 'silence.wav'}\n")
    return root


def beam_rows(paths, model, out: Path, fmt: str, *extra) -> tuple[int, list[dict]]:
    status = cli.main(["predict", *map(str, paths), "--model", model, "--format", fmt, "--out", str(out),
                       "--runner", "direct", *extra])
    lines = [line for shard in sorted(out.parent.glob(f"{out.name}-*-of-*.{fmt}"))
             for line in shard.read_text().splitlines()]
    if fmt == "csv":
        return status, list(csv.DictReader(io.StringIO("\n".join(lines))))
    return status, [json.loads(line) for line in lines]


def test_beam_predict_equals_the_detector_on_the_same_files(exported, clips, tmp_path, capsys):
    status, rows = beam_rows([clips / "list.txt", clips / "single.wav", clips / "silence.wav"], exported,
                             tmp_path / "scores", "jsonl")  # silence.wav twice (also in the list): one row
    assert status == 0
    found = {row["source"]: row for row in rows}
    expected = sorted(str(p) for p in clips.rglob("*") if p.suffix in (".wav", ".flac"))
    assert sorted(found) == expected and len(rows) == len(expected)  # every file once, the broken one included
    detector = Detector.load(exported)
    for prediction in detector.predictions(expected):
        row = found[prediction.source]
        if not prediction.ok:
            assert row["decision"] == "error" and row["error"] == prediction.error and row["logit"] is None
            continue
        assert row["logit"] == pytest.approx(prediction.logit, abs=1e-5)
        assert row["spoof_probability"] == pytest.approx(prediction.spoof_probability, abs=1e-5)
        assert (row["decision"], row["flags"], row["duration"]) == \
            (prediction.decision, list(prediction.flags), prediction.duration)
        assert row["speech_seconds"] == pytest.approx(prediction.speech_seconds, abs=1e-9)
        assert [(w["start"], w["end"]) for w in row["windows"]] == [(w.start, w.end) for w in prediction.windows]
        np.testing.assert_allclose([w["logit"] for w in row["windows"]], [w.logit for w in prediction.windows],
                                   atol=1e-5)
        assert [w["speech"] for w in row["windows"]] == pytest.approx([w.speech for w in prediction.windows])
    assert len(found[str(clips / "folder" / "long.wav")]["windows"]) == 20  # windows from several batches
    assert found[str(clips / "silence.wav")]["decision"] == "undetermined"
    assert np.ptp([r["logit"] for r in rows if r["logit"] is not None]) > 1e-3  # the files differ: the check bites
    assert "5 scored, 1 failed" in capsys.readouterr().err


def test_beam_predict_csv_rows_hop_aggregation_and_exit_status(exported, clips, tmp_path, capsys):
    long = clips / "folder" / "long.wav"
    status, rows = beam_rows([long, clips / "folder" / "broken.wav"], exported, tmp_path / "rows", "csv",
                             "--hop", "0.75", "--aggregation", "max-spoof")
    assert status == 0 and [r["path"] for r in sorted(rows, key=lambda r: r["path"])] == \
        [str(clips / "folder" / "broken.wav"), str(long)]
    reference = Detector.load(exported).with_input(0.75, "max-spoof").predict(str(long))
    scored = next(r for r in rows if r["path"] == str(long))
    assert float(scored["logit"]) == pytest.approx(reference.logit, abs=1e-5)
    assert int(scored["windows"]) == len(reference.windows) == 14 and scored["decision"] == reference.decision
    assert cli.main(["predict", str(long), str(clips / "folder" / "broken.wav"), "--model", exported, "--format",
                     "csv", "--out", str(tmp_path / "strict"), "--runner", "direct", "--strict"]) == 1
    assert cli.main(["predict", str(long), "--model", exported, "--out", str(tmp_path / "t"), "--runner",
                     "direct"]) == 1  # the table format is not written as shards
    assert "--format csv or --format jsonl" in capsys.readouterr().err
    assert cli.main(["predict", str(long), "--model", str(clips), "--format", "csv", "--out", str(tmp_path / "t"),
                     "--runner", "direct"]) == 1
    assert "exported SavedModel folder" in capsys.readouterr().err


def test_beam_predict_refuses_an_output_it_cannot_write_before_any_work(exported, clips, capsys):
    try:
        beam.io.filesystems.FileSystems.get_filesystem(f"{OFFLINE_BUCKET}/scores")
        pytest.skip("apache-beam[gcp] is installed: gs:// is writable in principle")
    except ValueError:
        pass
    assert cli.main(["predict", str(clips / "single.wav"), "--model", exported, "--format", "csv", "--out",
                     f"{OFFLINE_BUCKET}/scores", "--runner", "direct"]) == 1
    message = capsys.readouterr().err
    assert f"--out {OFFLINE_BUCKET}/scores" in message and "apache-beam[gcp]" in message
    assert "files to score" not in message  # refused before the inputs were listed or the model loaded


def test_beam_predict_reads_model_and_clips_from_a_url_file_system(exported, clips, tmp_path):
    remote = f"ram://{uuid.uuid4().hex}"
    for folder, _, names in os.walk(exported):
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), exported).replace(os.sep, "/")
            write_remote(f"{remote}/model/{relative}", Path(folder, name).read_bytes())
    for name in ("single.wav", "silence.wav"):
        write_remote(f"{remote}/clips/{name}", (clips / name).read_bytes())
    write_remote(f"{remote}/clips/sub/resampled.flac", (clips / "folder" / "deeper" / "resampled.flac").read_bytes())
    write_remote(f"{remote}/list.txt", b"clips/sub/\n")
    missing = f"{OFFLINE_BUCKET}/far/away.wav"
    files = beam_predict.input_files([f"{remote}/clips/single.wav", f"{remote}/list.txt", missing])
    assert files == [f"{remote}/clips/single.wav", f"{remote}/clips/sub/resampled.flac", missing]
    with pytest.raises(PredictInputError, match="no audio file"):
        beam_predict.input_files([f"{remote}/nothing-here/"])

    status, rows = beam_rows([f"{remote}/clips/", missing], f"{remote}/model", tmp_path / "remote", "jsonl")
    assert status == 0
    found = {row["source"]: row for row in rows}
    assert sorted(found) == sorted([f"{remote}/clips/{n}" for n in ("single.wav", "silence.wav",
                                                                    "sub/resampled.flac")] + [missing])
    assert found[missing]["decision"] == "error" and found[missing]["error"].startswith(f"{missing}: ")
    detector = Detector.load(exported)
    for name, local in (("single.wav", clips / "single.wav"),
                        ("sub/resampled.flac", clips / "folder" / "deeper" / "resampled.flac")):
        assert found[f"{remote}/clips/{name}"]["logit"] == pytest.approx(detector.predict(str(local)).logit, abs=1e-5)


def test_metadata_fields_survive_the_plan_staging():
    """The staged plan of a shard carries every Utterance field (the workers rebuild it from JSON)."""
    utterance = Utterance(
        "u", "gs://b/u.flac", "spoof", "A01", "spk", "train", codec="gsm", transmission="t", condition="c",
        source="s", group="g")
    plan = records.ShardPlan("train-fold0-0000-of-0001.tfrecord", "train", 0, 0, (utterance,))
    again = records.ShardPlan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan and all(getattr(again.utterances[0], f) == getattr(utterance, f) for f in METADATA_FIELDS)
