"""``tfdeepfake evaluate --model``: a detector on a corpus (ASVspoof 2019 LA layout) or on its TFRecords.

The corpus is written here: slices of real speech (the AASIST fixture's clips) as 16-bit FLAC under an eval
protocol, one broken file and one protocol line without its file. The tiny converted AASIST scores it.
"""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import AASIST_FIXTURES
from tfdeepfake import cli, metrics
from tfdeepfake.inference import Detector


# utt id -> (fixture clip, first sample, samples, label, attack); 16000 samples = one window
CLIPS = {"LA_E_0001": (0, 0, 11000, "bonafide", "-"),  # shorter than a window: repeat-padded
         "LA_E_0002": (1, 4000, 16000, "bonafide", "-"),
         "LA_E_0003": (2, 0, 41000, "bonafide", "-"),
         "LA_E_0004": (0, 30000, 27000, "bonafide", "-"),
         "LA_E_0005": (0, 20000, 33000, "spoof", "A07"),
         "LA_E_0006": (1, 30000, 19000, "spoof", "A07"),
         "LA_E_0007": (2, 40000, 24600, "spoof", "A08"),
         "LA_E_0008": (3, 100, 52000, "spoof", "A08")}  # clip 3 is noise: flagged no-speech, still evaluated
BROKEN, ABSENT = "LA_E_0009", "LA_E_0010"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """ROOT in the ASVspoof 2019 LA layout (eval split only) with an ASV score file beside it."""
    root = tmp_path_factory.mktemp("LA")
    flac = root / "ASVspoof2019_LA_eval" / "flac"
    flac.mkdir(parents=True)
    (root / "ASVspoof2019_LA_cm_protocols").mkdir()
    inputs = np.load(AASIST_FIXTURES / "outputs.npz")["inputs"]
    lines = []
    for utt, (clip, first, count, label, attack) in CLIPS.items():
        samples = inputs[clip, first:first + count]
        if label == "spoof":  # some processing, so the classes differ: a 4-sample moving average
            samples = np.convolve(samples, np.full(4, 0.25), mode="same")
        sf.write(flac / f"{utt}.flac", samples, 16000, subtype="PCM_16")
        lines.append(f"LA_{int(utt[-2:]) % 3:04d} {utt} - {attack} {label}")
    (flac / f"{BROKEN}.flac").write_bytes(b"fLaC but not really a FLAC stream")
    lines += [f"LA_0001 {BROKEN} - A08 spoof", f"LA_0002 {ABSENT} - - bonafide"]
    (root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(3)
    asv = [f"bonafide target {s!r}" for s in rng.normal(4.0, 2.0, 200).tolist()]
    asv += [f"bonafide nontarget {s!r}" for s in rng.normal(-3.0, 2.0, 400).tolist()]
    asv += [f"{a} spoof {s!r}" for a in ("A07", "A08") for s in rng.normal(1.0, 2.0, 100).tolist()]
    (root / "asv.txt").write_text("\n".join(asv) + "\n")
    return root


def read_rows(path: Path) -> dict[str, dict]:
    return {row["utt_id"]: row for row in csv.DictReader(path.open())}


@pytest.fixture(scope="module")
def corpus_run(corpus, tiny_bundle, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("corpus_report")
    rc = cli.main(["evaluate", "--model", tiny_bundle, "--dataset", "asvspoof2019-la", "--root", str(corpus),
                   "--asv-scores", str(corpus / "asv.txt"), "--bootstrap", "50", "--out", str(out), "--quiet"])
    assert rc == 0
    return out


def test_model_on_a_corpus_scores_every_readable_file_like_the_detector(corpus, corpus_run, tiny_bundle,  # noqa: F811
                                                                         capsys):
    rows = read_rows(corpus_run / "scores.csv")
    assert sorted(rows) == sorted(CLIPS)
    detector = Detector.load(tiny_bundle)
    direct = {utt: detector.predict(str(corpus / "ASVspoof2019_LA_eval" / "flac" / f"{utt}.flac"))
              for utt in CLIPS}
    for utt, (_, _, count, label, attack) in CLIPS.items():
        row = rows[utt]
        assert (row["label"], row["attack"]) == (label, attack)
        assert float(row["logit"]) == pytest.approx(direct[utt].logit, abs=1e-5)
        assert float(row["spoof_probability"]) == pytest.approx(direct[utt].spoof_probability, abs=1e-6)
        assert row["decision"] == direct[utt].decision
    assert len(direct["LA_E_0003"].windows) == 5 and len(direct["LA_E_0001"].windows) == 1  # hop 8000

    result = json.loads((corpus_run / "metrics.json").read_text())
    bona = np.array([direct[u].logit for u, c in CLIPS.items() if c[3] == "bonafide"])
    spoof = np.array([direct[u].logit for u, c in CLIPS.items() if c[3] == "spoof"])
    eer, threshold = metrics.compute_eer(bona, spoof)
    assert result["eer"] == pytest.approx(eer, abs=1e-12) and result["eer_threshold"] == pytest.approx(threshold)
    assert result["kind"] == "asvspoof2019"
    assert rows["LA_E_0008"]["flags"] == "no-speech" and rows["LA_E_0008"]["decision"] == "undetermined"
    assert result["trials"] == {"files": 10, "unreadable": 2, "no_speech": 1, "evaluated": 8, "bonafide": 4,
                                "spoof": 4}
    assert [r["attack"] for r in result["per_attack"]] == ["A07", "A08"]
    a08 = spoof[[c[4] == "A08" for c in CLIPS.values() if c[3] == "spoof"]]
    assert result["per_attack"][1]["eer"] == pytest.approx(metrics.compute_eer(bona, a08)[0], abs=1e-12)
    assert result["min_tdcf"]["2019"]["min_tdcf"] >= 0 and result["eer_ci95"]["n_bootstrap"] == 50
    assert result["inputs"]["model_id"] == detector.model_id
    assert "2 files could not be read and were left out" in result["notes"]
    shown = result["examples"]["unreadable"]
    assert len(shown) == 2 and BROKEN in shown[0] and ABSENT in shown[1] and "not found" in shown[1]
    failures = read_rows(corpus_run / "failures.csv")
    assert sorted(failures) == [BROKEN, ABSENT] and failures[BROKEN]["path"].endswith(f"{BROKEN}.flac")
    report = (corpus_run / "report.md").read_text()
    assert f"- model: `{tiny_bundle}`" in report and "unreadable e.g.:" in report and BROKEN in report
    assert {p.name for p in corpus_run.glob("*.png")} == {"det.png", "roc.png", "histograms.png",
                                                         "calibration.png"}
    asvspoof = [line.split() for line in (corpus_run / "scores.txt").read_text().splitlines()]
    assert {u: float(s) for u, _, _, s in asvspoof} == pytest.approx({u: direct[u].logit for u in CLIPS}, abs=1e-9)

    # scores.csv reads back as a score file, and evaluates to the same numbers against the protocol
    protocol = corpus / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    assert cli.main(["evaluate", "--scores", str(corpus_run / "scores.csv"), "--protocol", str(protocol),
                     "--allow-missing", "--bootstrap", "0"]) == 0
    assert f"EER: {result['eer_percent']:.4f} %" in capsys.readouterr().out


def test_tfrecords_route_gives_the_corpus_route_logits(corpus, corpus_run, tiny_bundle, tmp_path, capsys):  # noqa: F811
    tfrecords = tmp_path / "tfrecords"
    assert cli.main(["build-records", "--dataset", "asvspoof2019-la", "--root", str(corpus), "--splits", "eval",
                     "--out", str(tfrecords), "--folds", "2", "--workers", "1", "--quiet"]) == 0
    manifest = json.loads((tfrecords / "manifest.json").read_text())
    assert manifest["records"] == 8 and len(manifest["failures"]) == 1  # the absent file: a protocol problem
    out = tmp_path / "report"
    assert cli.main(["evaluate", "--model", tiny_bundle, "--tfrecords", str(tfrecords), "--bootstrap", "0",
                     "--no-plots", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "files: 8 (0 unreadable, left out)" in printed and "unreadable:" not in printed
    via_records, via_files = read_rows(out / "scores.csv"), read_rows(corpus_run / "scores.csv")
    assert sorted(via_records) == sorted(via_files)
    for utt, row in via_records.items():
        assert float(row["logit"]) == pytest.approx(float(via_files[utt]["logit"]), abs=1e-4)
        assert (row["label"], row["attack"]) == (via_files[utt]["label"], via_files[utt]["attack"])
    result = json.loads((out / "metrics.json").read_text())
    assert result["kind"] == "asvspoof2019" and "int16 PCM" in result["inputs"]["scoring"]
    assert any(note.startswith("1 files (of any split) failed when these TFRecords were built") for note in
               result["notes"])
    assert not list(out.glob("*.png")) and not (out / "failures.csv").exists()

    # one fold of the two (speaker-grouped, seed 0): that fold's utterances with the same logits
    fold = manifest["counts"]["eval"]["1"]["label"]
    assert cli.main(["evaluate", "--model", tiny_bundle, "--tfrecords", str(tfrecords), "--folds", "1",
                     "--bootstrap", "0", "--no-plots", "--out", str(tmp_path / "fold1"), "--quiet"]) == 0
    one = read_rows(tmp_path / "fold1" / "scores.csv")
    assert len(one) == sum(fold.values()) < len(via_records)
    assert all(row["logit"] == via_records[utt]["logit"] for utt, row in one.items())


def test_argument_and_data_errors(corpus, tiny_bundle, tmp_path, capsys):  # noqa: F811
    scores = tmp_path / "s.txt"
    scores.write_text("u1 1.0\n")
    for argv, message in [
        (["--scores", str(scores), "--model", tiny_bundle], "not allowed with argument"),
        ([], "one of the arguments --scores --model is required"),
        (["--model", tiny_bundle], "needs one of --dataset NAME --root DIR, or --tfrecords DIR"),
        (["--model", tiny_bundle, "--dataset", "folders"], "--dataset folders needs --root"),
        (["--model", tiny_bundle, "--tfrecords", str(tmp_path), "--protocol", "p.txt"], "--protocol is for score"),
        (["--scores", str(scores), "--dataset", "csv"], "--dataset: only with --model"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["evaluate", *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err, argv
    assert cli.main(["evaluate", "--model", tiny_bundle, "--tfrecords", str(tmp_path / "none"), "--quiet"]) == 1
    assert "manifest.json: no manifest" in capsys.readouterr().err
    assert cli.main(["evaluate", "--model", tiny_bundle, "--dataset", "asvspoof2019-la", "--root", str(corpus),
                     "--splits", "dev", "--quiet"]) == 1
    assert "ASVspoof2019.LA.cm.dev.trl.txt: protocol file not found" in capsys.readouterr().err
    assert cli.main(["evaluate", "--model", tiny_bundle, "--dataset", "asvspoof2019-la", "--root", str(corpus),
                     "--splits", "test", "--quiet"]) == 1
    assert "unknown ASVspoof 2019 split 'test'" in capsys.readouterr().err


def test_corpus_trials_give_the_score_file_report_with_2021_codec_tables(tmp_path):
    """Trials built from a reader's utterances (what --model evaluates) equal the score file + keys join."""
    from tfdeepfake import reports
    from tfdeepfake.corpora import read_corpus

    rng = np.random.default_rng(5)
    keys, scores = [], []
    for i in range(120):
        label = "bonafide" if i % 3 == 0 else "spoof"
        attack, codec = ("-" if label == "bonafide" else f"A{7 + i % 4:02d}"), f"LA-C{1 + i % 3}"
        keys.append(f"LA_{i % 7:04d} LA_E_{i:05d} {codec} {'alaw' if i % 2 else 'ulaw'} {attack} {label} notrim "
                    f"{'eval' if i % 5 else 'progress'}")
        scores.append(f"LA_E_{i:05d} {rng.normal(1.0 if label == 'bonafide' else -1.0 + 0.3 * (i % 3)):.6f}")
    key_file = tmp_path / "keys" / "LA" / "CM" / "trial_metadata.txt"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("\n".join(keys) + "\n")
    (tmp_path / "scores.txt").write_text("\n".join(scores) + "\n")

    listing = read_corpus("asvspoof2021-la", str(tmp_path), check_audio=False, subsets={"eval"})
    score_file = reports.read_score_file(str(tmp_path / "scores.txt"))
    by_utt = dict(zip(score_file.utt_id.tolist(), score_file.score.tolist()))
    built = reports.corpus_trials(listing.utterances, [by_utt[u.utt_id] for u in listing.utterances],
                                  reports.corpus_kind("asvspoof2021-la"), {"data": "keys"})
    joined = reports.join_scores(score_file, reports.read_protocol(str(key_file)), subsets={"eval"})
    ours, theirs = (reports.evaluate_trials(t, n_bootstrap=20) for t in (built, joined))
    assert built.kind == joined.kind == "asvspoof2021-la" and len(listing.utterances) == 96
    for key in ("eer", "eer_threshold", "eer_ci95", "roc_auc", "min_cllr", "per_attack", "decomposition"):
        assert ours[key] == theirs[key], key
    assert sorted(ours["decomposition"]) == ["attack_x_codec", "codec", "transmission"]
