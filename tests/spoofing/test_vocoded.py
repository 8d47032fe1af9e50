"""The vocoded corpus: ASVspoof 2019 LA layout read by the reader and build-records, real/fake pairs, disjoint
speakers, eval-only systems, resuming, and failure rows instead of a stopped build."""
import csv
import json
import os
from collections import Counter, defaultdict

import numpy as np
import pytest
import soundfile as sf

from tfdeepfake import cli
from tfdeepfake.corpora import read_asvspoof2019
from tfdeepfake.spoofing import vocoded
from tfdeepfake.spoofing.errors import CorpusBuildError, GeneratorFailed
from tfdeepfake.spoofing.generators import GENERATORS, Generator
from tfdeepfake.spoofing.vocoded import assign_splits, build_vocoded_corpus, choose_systems, crop_at_pause

SPLITS = ("train", "dev", "eval")
SECONDS = 2.0  # every recording is cut to this: a few seconds of audio per system in all


@pytest.fixture(scope="module")
def bonafide(shared_dir, tmp_path_factory):
    """Two LibriSpeech files of each of three test-other speakers (links), plus a corrupt file of a fourth."""
    root = shared_dir / "corpora" / "librispeech-sample" / "librispeech_test-other"
    speakers = sorted(p for p in root.iterdir() if p.is_dir())[:3] if root.is_dir() else []
    if len(speakers) < 3:
        pytest.skip(f"fewer than three LibriSpeech speakers under {root}")
    folder = tmp_path_factory.mktemp("bonafide")
    for speaker in speakers:
        (folder / speaker.name).mkdir()
        for path in sorted(speaker.glob("*.flac"))[:2]:
            os.symlink(path, folder / speaker.name / path.name)
    (folder / "9999").mkdir()
    (folder / "9999" / "9999-1-0001.flac").write_bytes(b"fLaC but nothing after it")
    return folder


def runnable(systems):
    return [s for s in systems if GENERATORS[s].available()]


SYSTEMS = ["lpc", "phase_vocoder", "lyra_6000", "lyra_3200", "hifigan_v3_fp16"]


@pytest.fixture(scope="module")
def corpus(bonafide, tmp_path_factory):
    """Built through the command line; lyra_3200 held out (when the neural weights are here)."""
    out = tmp_path_factory.mktemp("vocoded")
    systems = runnable(SYSTEMS)
    holdout = [s for s in ("lyra_3200", "phase_vocoder") if s in systems][:1]
    status = cli.main(["make-vocoded-corpus", "--bonafide", str(bonafide), "--out", str(out), "--systems", *systems,
                       "--holdout", *holdout, "--max-seconds", str(SECONDS), "--per-speaker", "2", "--workers", "2",
                       "--seed", "0", "--quiet"])
    assert status == 0
    return out, json.loads((out / "manifest.json").read_text()), systems, holdout


def test_read_by_the_asvspoof_2019_reader(corpus):
    out, manifest, systems, _ = corpus
    listing = read_asvspoof2019(str(out))
    assert listing.problems == []
    counts = {split: dict(Counter(u.attack for u in listing.utterances if u.split == split)) for split in SPLITS}
    assert counts == manifest["counts"]
    # six recordings (two in eval), each with its real clip and one per system; held-out ones in eval only
    assert len(listing.utterances) == 6 * (1 + len(systems)) - 4 * len(manifest["holdout"])
    assert all(u.label == ("bonafide" if u.attack == "-" else "spoof") for u in listing.utterances)
    assert manifest["recordings"] == {"used": 6, "too_short": 0, "unreadable": 1}
    [failure] = manifest["failures"]  # the corrupt file, reported, not fatal
    assert failure["source"].endswith("9999-1-0001.flac") and "unreadable" in failure["reason"]
    for utterance in listing.utterances:
        samples, rate = sf.read(utterance.path, dtype="float32")
        assert rate == 16000 and 0.5 < len(samples) / rate < SECONDS + 0.81  # + at most 0.4 s of padding each end
        assert np.isfinite(samples).all() and 0.01 < np.sqrt(np.mean(samples ** 2)) < 0.3


def test_pairs_speakers_and_held_out_systems(corpus):
    out, manifest, systems, holdout = corpus
    with open(out / "pairs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_source = defaultdict(list)
    for row in rows:
        by_source[row["source"]].append(row)
    assert len(by_source) == 6
    for source, clips in by_source.items():
        split = {c["split"] for c in clips}
        assert len(split) == 1, source  # a recording and all its fakes sit in one split
        expected = ["-", *(s for s in systems if split == {"eval"} or s not in holdout)]
        assert sorted(c["system"] for c in clips) == sorted(expected), source
    speakers = {split: {r["speaker"] for r in rows if r["split"] == split} for split in SPLITS}
    assert all(len(speakers[s]) == 1 for s in SPLITS), speakers
    assert not (speakers["train"] & speakers["dev"] or speakers["train"] & speakers["eval"]
                or speakers["dev"] & speakers["eval"])
    seen = {r["system"] for r in rows if r["split"] in ("train", "dev")}
    assert not seen & set(holdout) and set(holdout) <= {r["system"] for r in rows if r["split"] == "eval"}
    listing = read_asvspoof2019(str(out))
    assert {u.utt_id for u in listing.utterances} == {r["utt_id"] for r in rows}
    assert {u.utt_id: u.speaker for u in listing.utterances} == {r["utt_id"]: r["speaker"] for r in rows}


def test_build_records_reads_the_corpus(corpus, tmp_path):
    out, manifest, _, _ = corpus
    records = tmp_path / "records"
    assert cli.main(["build-records", "--dataset", "asvspoof2019-la", "--root", str(out), "--out", str(records),
                     "--folds", "1", "--workers", "1", "--quiet"]) == 0
    built = json.loads((records / "manifest.json").read_text())
    assert built["records"] == sum(sum(c.values()) for c in manifest["counts"].values()) and not built["failures"]
    assert cli.main(["verify-records", str(records)]) == 0


def test_same_command_again_keeps_everything_and_fills_gaps(corpus, bonafide):
    out, manifest, systems, holdout = corpus
    clips = sorted((out).rglob("*.flac"))
    before = {p: p.stat().st_mtime_ns for p in clips}
    victims = [clips[len(clips) // 2], clips[-1]]
    contents = {victim: victim.read_bytes() for victim in victims}
    for victim in victims:
        victim.unlink()
    (victims[0].parent / f".{victims[0].name}.part").write_bytes(b"left by a stopped build")
    again = build_vocoded_corpus(str(out), bonafide=[str(bonafide)], systems=systems, holdout=holdout,
                                 max_seconds=SECONDS, per_speaker=2, workers=1, seed=0, progress=False)
    assert again["made_this_run"] == 2 and again["kept_from_before"] == len(clips) - 2
    for path, content in contents.items():
        assert path.read_bytes() == content  # made again, bit for bit
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p not in contents)
    assert again["counts"] == manifest["counts"]
    assert not list(out.rglob("*.part"))
    with pytest.raises(CorpusBuildError, match="other settings.*seed"):
        build_vocoded_corpus(str(out), bonafide=[str(bonafide)], systems=systems, holdout=holdout,
                             max_seconds=SECONDS, per_speaker=2, seed=1, progress=False)


def test_a_failing_clip_is_a_row_not_a_stop(bonafide, tmp_path, monkeypatch):
    calls = Counter()

    def flaky(source, sample_rate, rng, text=None, *, system_id="flaky"):
        calls["n"] += 1
        if calls["n"] == 2:
            raise GeneratorFailed(system_id, "no usable audio this time")
        if calls["n"] == 4:
            raise LookupError("an error no generator means to raise")
        return source[::-1].copy()

    monkeypatch.setitem(GENERATORS, "flaky", Generator("flaky", "copy-synthesis", "time-reversed source", flaky))
    out = tmp_path / "flaky"
    options = dict(bonafide=[str(bonafide)], systems=["lpc", "flaky"], holdout=(), max_seconds=1.5, per_speaker=2,
                   workers=1, seed=0, progress=False)
    manifest = build_vocoded_corpus(str(out), **options)
    failed = [f for f in manifest["failures"] if f["system"] == "flaky"]
    assert [f["reason"].split(":")[0] for f in failed] == ["GeneratorFailed", "LookupError"]
    listing = read_asvspoof2019(str(out))
    assert len(listing.utterances) == 6 * 3 - 2
    assert not {f["utt_id"] for f in failed} & {u.utt_id for u in listing.utterances}
    retried = build_vocoded_corpus(str(out), **options)  # the failed clips are tried again, and now succeed
    assert retried["made_this_run"] == 2 and [f["system"] for f in retried["failures"]] == [None]
    assert len(read_asvspoof2019(str(out)).utterances) == 6 * 3


def test_system_choice_is_checked(tmp_path, monkeypatch):
    from tfdeepfake import weights

    with pytest.raises(CorpusBuildError, match="unknown system"):
        choose_systems(["lpc", "no_such_system"])
    with pytest.raises(CorpusBuildError, match="text-to-speech"):
        choose_systems(["lpc", "tts_espeak"])
    with pytest.raises(CorpusBuildError, match="not among the systems"):
        choose_systems(["lpc", "world"], holdout=["lyra_3200"])
    with pytest.raises(CorpusBuildError, match="every system is held out"):
        choose_systems(["lpc"], holdout=["lpc"])
    assert choose_systems(["lpc", "world"])[1] == []  # the default hold-out applies where it can
    if GENERATORS["lyra_3200"].available():
        assert choose_systems(["lpc", "lyra_3200", "lyra_6000"])[1] == ["lyra_3200"]
    monkeypatch.setenv("TFDEEPFAKE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TFDEEPFAKE_CACHE", str(tmp_path))
    monkeypatch.setattr(weights, "SHARED", tmp_path / "absent")
    with pytest.raises(CorpusBuildError, match="lyra_6000.*lyra/quantizer.tflite.*--skip-unavailable"):
        choose_systems(["lpc", "lyra_6000"])
    systems, holdout, skipped = choose_systems(["lpc", "lyra_6000"], skip_unavailable=True)
    assert systems == ["lpc"] and holdout == [] and list(skipped) == ["lyra_6000"]
    systems, _, skipped = choose_systems()  # default: whatever runs here
    assert not {s for s in systems if s.startswith(("lyra", "hifigan"))} and "hifigan_v3_dr" in skipped


def test_cli_errors_are_one_line(bonafide, tmp_path, capsys):
    assert cli.main(["make-vocoded-corpus", "--bonafide", str(bonafide), "--out", str(tmp_path / "x"),
                     "--systems", "lpc", "tts_flite"]) == 1
    assert "error:" in capsys.readouterr().err
    assert cli.main(["make-vocoded-corpus", "--bonafide", str(tmp_path / "nowhere"), "--out", str(tmp_path / "y"),
                     "--systems", "lpc"]) == 1
    assert "bona fide folder not found" in capsys.readouterr().err
    assert cli.main(["make-vocoded-corpus", "--list-systems"]) == 0
    assert "lyra_6000" in capsys.readouterr().out


def test_speaker_splits_are_disjoint_and_reach_every_group():
    groups = {"libri": [f"s{i}" for i in range(10)], "asterisk": ["Allison", "June", "Carlo", "IvrvoiceRU"],
              "pair": ["a", "b"], "one": ["solo"]}
    split_of = assign_splits(groups, (0.6, 0.2, 0.2), seed=3)
    assert set(split_of) == {s for speakers in groups.values() for s in speakers}
    libri = Counter(split_of[s] for s in groups["libri"])
    assert libri == {"train": 6, "dev": 2, "eval": 2}
    assert Counter(split_of[s] for s in groups["asterisk"]) == {"train": 2, "dev": 1, "eval": 1}
    assert Counter(split_of[s] for s in groups["pair"]) == {"train": 1, "eval": 1}
    assert split_of["solo"] == "train"
    assert split_of == assign_splits(groups, (0.6, 0.2, 0.2), seed=3)
    assert split_of != assign_splits(groups, (0.6, 0.2, 0.2), seed=4)
    with pytest.raises(CorpusBuildError, match="at least three speakers"):
        vocoded.plan([], ["lpc"], [])


def test_long_recordings_are_cut_in_a_pause():
    rate = 16000
    t = np.arange(int(12 * rate)) / rate
    speech = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    gap = (t > 9.4) & (t < 9.6)
    speech[gap] = 0.0
    cut = crop_at_pause(speech, rate, 10.0)
    assert 9.4 * rate < len(cut) < 9.6 * rate
    assert len(crop_at_pause(speech[:5 * rate], rate, 10.0)) == 5 * rate
    assert len(crop_at_pause(speech, rate, None)) == len(speech)
