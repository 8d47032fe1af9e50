"""Tests of tfdeepfake.reports and the score-file command line of tfdeepfake.evaluate.

The acceptance check reproduces the official ASVspoof 2019 tool's numbers for the RawGAT-ST eval scores
(from ../shared); the rest runs on small files written here, whose metrics are recomputed directly.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from helpers import SHARED
from tfdeepfake import cli, evaluate, metrics, reports
from tfdeepfake.errors import TfDeepfakeError
from tfdeepfake.reports import ScoreFileError, ScoreFileNotFoundError, ScoreMatchError

RAWGAT = SHARED / "weights" / "rawgat-st" / "RawGAT_ST_mul_LA_eval_scores.txt"
EVAL_PROTOCOL = SHARED / "protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
EVAL_ASV = SHARED / "protocols" / "asv_scores" / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"


def write(path: Path, lines) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def brute_force_eer(bona, spoof):
    """Every threshold (each score, one below all), bona fide iff score > t; first smallest |FAR - FRR|."""
    pooled = np.concatenate((bona, spoof))
    best = None
    for t in np.concatenate(([pooled.min() - 1.0], np.sort(pooled))):
        frr, far = np.mean(bona <= t), np.mean(spoof > t)
        if best is None or abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2.0)
    return best[1]


def toy_2019(tmp_path: Path, seed: int = 0, n_bona: int = 60, shifts=None, prefix: str = "E"):
    """A 2019-format protocol and a 4-column score file: attack A01 separable, A02 inverted, A03 overlapping."""
    shifts = shifts or {"A01": None, "A02": "inverted", "A03": 1.0}
    rng = np.random.default_rng(seed)
    protocol, score_lines, truth = [], [], {}
    bona = rng.normal(2.0, 1.0, n_bona)
    for i, s in enumerate(bona):
        utt = f"LA_{prefix}_B{i:03d}"
        protocol.append(f"LA_0001 {utt} - - bonafide")
        score_lines.append(f"{utt} - bonafide {float(s)!r}")
        truth[utt] = ("-", 1, s)
    for attack, shift in shifts.items():
        n = 40
        if shift is None:
            values = rng.uniform(bona.min() - 5.0, bona.min() - 0.5, n)
        elif shift == "inverted":
            values = rng.uniform(bona.max() + 0.5, bona.max() + 5.0, n)
        else:
            values = rng.normal(shift, 1.0, n)
        for i, s in enumerate(values):
            utt = f"LA_{prefix}_{attack}_{i:03d}"
            protocol.append(f"LA_0002 {utt} - {attack} spoof")
            score_lines.append(f"{utt} {attack} spoof {float(s)!r}")
            truth[utt] = (attack, 0, s)
    return (write(tmp_path / f"protocol_{prefix}.txt", protocol), write(tmp_path / f"scores_{prefix}.txt", score_lines),
            truth)


def toy_asv(tmp_path: Path, attacks=("A01", "A02"), seed: int = 1) -> str:
    """ASV scores ``SOURCE TYPE SCORE`` with named spoof attacks (A03 deliberately absent)."""
    rng = np.random.default_rng(seed)
    lines = [f"bonafide target {float(s)!r}" for s in rng.normal(5.0, 2.0, 300)]
    lines += [f"bonafide nontarget {float(s)!r}" for s in rng.normal(-2.0, 2.0, 900)]
    for k, attack in enumerate(attacks):
        lines += [f"{attack} spoof {float(s)!r}" for s in rng.normal(1.0 + k, 2.0, 200)]
    return write(tmp_path / "asv.txt", lines)


# ------------------------------------------------------------------------------------ acceptance


def test_rawgat_st_eval_scores_give_the_official_numbers(shared_dir, tmp_path):
    """Official ASVspoof 2019 tool on RawGAT-ST's eval scores: EER 1.0601 %, min t-DCF 0.0335."""
    result = reports.evaluate_scores(str(RAWGAT), str(EVAL_PROTOCOL), asv_scores=str(EVAL_ASV), n_bootstrap=30)
    assert round(result["eer_percent"], 4) == 1.0601
    assert round(result["min_tdcf"]["2019"]["min_tdcf"], 4) == 0.0335
    assert 0.0335 < result["min_tdcf"]["2021"]["min_tdcf"] < 1.0  # the revised t-DCF adds the ASV's own cost C0
    assert result["trials"] == {"score_lines": 71237, "duplicates": 0, "protocol_trials": 71237, "unmatched": 0,
                                "missing": 0, "excluded_by_subset": 0, "evaluated": 71237, "bonafide": 7355,
                                "spoof": 63882}
    assert result["eer_ci95"]["low"] < result["eer"] < result["eer_ci95"]["high"]

    # per-attack EERs against a direct computation from independently parsed files
    attack_of = {cols[1]: cols[3] for cols in (line.split() for line in EVAL_PROTOCOL.read_text().splitlines())}
    rows = [line.split() for line in RAWGAT.read_text().splitlines()]
    score = np.array([float(r[3]) for r in rows])
    attack = np.array([attack_of[r[0]] for r in rows])
    bona = score[attack == "-"]
    table = {r["attack"]: r for r in result["per_attack"]}
    assert sorted(table) == [f"A{i:02d}" for i in range(7, 20)]
    for name, row in table.items():
        assert row["spoof"] == 4914
        assert row["eer"] == metrics.compute_eer(bona, score[attack == name])[0]
    asv = reports.read_asv_scores(str(EVAL_ASV))
    assert (asv.target.size, asv.nontarget.size, asv.spoof.size) == (5370, 33327, 63882)
    a17 = metrics.compute_min_tdcf(bona, score[attack == "A17"], asv_target=asv.target, asv_nontarget=asv.nontarget,
                                   asv_spoof=asv.spoof_of("A17"))
    assert table["A17"]["min_tdcf_2019"] == a17.min_tdcf


# ------------------------------------------------------------------------------------ tables


def test_per_attack_table_matches_direct_computation(tmp_path):
    protocol, scores, truth = toy_2019(tmp_path)
    asv_path = toy_asv(tmp_path)
    trials = reports.join_scores(reports.read_score_file(scores), reports.read_protocol(protocol))
    asv = reports.read_asv_scores(asv_path)
    result = reports.evaluate_trials(trials, asv=asv, n_bootstrap=0)
    bona = np.array([s for a, y, s in truth.values() if y == 1])
    table = {r["attack"]: r for r in result["per_attack"]}
    assert table["A01"]["eer"] == 0.0  # every spoof below every bona fide score
    assert table["A02"]["eer"] == 1.0  # every spoof above
    for attack in ("A01", "A02", "A03"):
        spoof = np.array([s for a, y, s in truth.values() if a == attack])
        assert table[attack]["spoof"] == 40
        assert table[attack]["eer"] == pytest.approx(brute_force_eer(bona, spoof), abs=1e-12)
    # A01 / A02 use their own ASV spoof scores; A03 is not in the ASV file, so it uses the pooled ones
    for attack, asv_spoof in (("A01", asv.spoof_of("A01")), ("A03", asv.spoof)):
        spoof = np.array([s for a, y, s in truth.values() if a == attack])
        for version in ("2019", "2021"):
            direct = metrics.compute_min_tdcf(bona, spoof, asv_target=asv.target, asv_nontarget=asv.nontarget,
                                              asv_spoof=asv_spoof, version=version)
            assert table[attack][f"min_tdcf_{version}"] == pytest.approx(direct.min_tdcf, abs=1e-12)
    assert asv.spoof_of("A03") is None
    assert any("A03" in note and "pooled" in note for note in result["notes"])
    pooled = metrics.compute_min_tdcf(bona, trials.spoof, asv_target=asv.target, asv_nontarget=asv.nontarget,
                                      asv_spoof=asv.spoof)
    assert result["min_tdcf"]["2019"]["min_tdcf"] == pooled.min_tdcf
    assert result["eer"] == pytest.approx(brute_force_eer(bona, trials.spoof), abs=1e-12)
    assert result["roc_auc"] == metrics.roc_auc(bona, trials.spoof)


def la_2021_keys(tmp_path: Path):
    """A small 2021 LA key file + ``UTT SCORE`` file: codec alaw separable, gsm inverted, none overlapping."""
    rng = np.random.default_rng(5)
    keys, scores, rows = [], [], []
    n = 0
    for subset in ("eval", "progress"):
        for codec, shift in (("none", 1.0), ("alaw", None), ("gsm", "inverted")):
            for transmission in ("ita_tx", "sin_tx"):
                bona = rng.normal(2.0, 1.0, 6)
                for s in bona:
                    rows.append((f"LA_E_{n:05d}", codec, transmission, "-", 1, subset, s))
                    n += 1
                for attack in ("A07", "A08"):
                    if shift is None:
                        spoof = rng.uniform(-8.0, -6.0, 5)
                    elif shift == "inverted":
                        spoof = rng.uniform(10.0, 12.0, 5)
                    else:
                        spoof = rng.normal(shift + (0.5 if attack == "A08" else 0.0), 1.0, 5)
                    for s in spoof:
                        rows.append((f"LA_E_{n:05d}", codec, transmission, attack, 0, subset, s))
                        n += 1
    for utt, codec, transmission, attack, label, subset, s in rows:
        shown = "bonafide" if label else attack  # the released keys put 'bonafide' in the attack column
        keys.append(f"LA_0009 {utt} {codec} {transmission} {shown} {'bonafide' if label else 'spoof'} notrim {subset}")
        scores.append(f"{utt} {float(s)!r}")
    return write(tmp_path / "trial_metadata.txt", keys), write(tmp_path / "score.txt", scores), rows


def test_2021_la_keys_decompose_by_codec_transmission_and_attack(tmp_path):
    keys, scores, rows = la_2021_keys(tmp_path)
    protocol = reports.read_protocol(keys)
    assert protocol.kind == "asvspoof2021-la"
    trials = reports.join_scores(reports.read_score_file(scores), protocol, subsets=["eval"])
    evaluated = [r for r in rows if r[5] == "eval"]
    assert trials.counts["evaluated"] == len(evaluated) == 3 * 2 * (6 + 10)
    assert trials.counts["excluded_by_subset"] == len(rows) - len(evaluated)
    assert trials.counts["missing"] == trials.counts["unmatched"] == 0
    assert set(trials.attack[trials.label == 1].tolist()) == {"-"}
    result = reports.evaluate_trials(trials, n_bootstrap=0)
    tables = result["decomposition"]

    def pick(codec=None, transmission=None, attack=None, label=None):
        return np.array([r[6] for r in evaluated if (codec is None or r[1] == codec)
                         and (transmission is None or r[2] == transmission)
                         and (attack is None or r[3] == attack) and (label is None or r[4] == label)])

    by_codec = {r["codec"]: r for r in tables["codec"]}
    assert sorted(by_codec) == ["alaw", "gsm", "none"]
    assert by_codec["alaw"]["eer"] == 0.0 and by_codec["gsm"]["eer"] == 1.0
    for codec, row in by_codec.items():
        assert (row["bonafide"], row["spoof"]) == (12, 20)
        assert row["eer"] == pytest.approx(brute_force_eer(pick(codec, label=1), pick(codec, label=0)), abs=1e-12)
    for row in tables["transmission"]:
        t = row["transmission"]
        assert row["eer"] == pytest.approx(brute_force_eer(pick(transmission=t, label=1),
                                                           pick(transmission=t, label=0)), abs=1e-12)
    cross = tables["attack_x_codec"]
    assert cross["rows"] == ["A07", "A08"] and cross["columns"] == ["alaw", "gsm", "none"]
    for i, attack in enumerate(cross["rows"]):
        for j, codec in enumerate(cross["columns"]):
            direct = brute_force_eer(pick(codec, label=1), pick(codec, attack=attack))
            assert cross["eer"][i][j] == pytest.approx(direct, abs=1e-12)
    per_attack = {r["attack"]: r["eer"] for r in result["per_attack"]}
    assert per_attack["A08"] == pytest.approx(brute_force_eer(pick(label=1), pick(attack="A08")), abs=1e-12)
    markdown = reports.render_markdown(result)
    assert "## EER (%) by codec" in markdown and "## EER (%) by attack × codec" in markdown
    assert f"| alaw | 12 | 20 | {0:.4f} |" in markdown

    # without a subset filter the progress trials count too
    everything = reports.join_scores(reports.read_score_file(scores), protocol)
    assert everything.counts["evaluated"] == len(rows)
    with pytest.raises(ScoreMatchError, match="hidden_track"):
        reports.join_scores(reports.read_score_file(scores), protocol, subsets=["hidden_track"])


def test_2021_df_keys_give_vocoder_and_source_tables(tmp_path):
    rng = np.random.default_rng(9)
    keys, scores, truth = [], [], []
    for i in range(60):
        utt, label = f"DF_E_{i:05d}", "bonafide" if i % 3 == 0 else "spoof"
        codec, source = ("nocodec", "low_mp3")[i % 2], ("asvspoof", "vcc2020")[(i // 2) % 2]
        vocoders = ("traditional_vocoder", "neural_vocoder_autoregressive")
        vocoder = "bonafide" if label == "bonafide" else vocoders[i % 3 - 1]
        attack = "bonafide" if label == "bonafide" else ("A14", "A16")[i % 3 - 1]
        s = rng.normal(1.5 if label == "bonafide" else 0.0, 1.0)
        keys.append(f"LA_0023 {utt} {codec} {source} {attack} {label} notrim eval {vocoder} - - - -")
        scores.append(f"{utt} {float(s)!r}")
        truth.append((codec, source, vocoder, label == "bonafide", s))
    protocol = reports.read_protocol(write(tmp_path / "df_keys.txt", keys))
    assert protocol.kind == "asvspoof2021-df"
    trials = reports.join_scores(reports.read_score_file(write(tmp_path / "df_scores.txt", scores)), protocol)
    tables = reports.evaluate_trials(trials, n_bootstrap=0)["decomposition"]
    bona = np.array([t[4] for t in truth if t[3]])
    for row in tables["vocoder"]:
        spoof = np.array([t[4] for t in truth if not t[3] and t[2] == row["vocoder"]])
        assert row["eer"] == pytest.approx(brute_force_eer(bona, spoof), abs=1e-12)
    assert sorted(r["vocoder"] for r in tables["vocoder"]) == ["neural_vocoder_autoregressive", "traditional_vocoder"]
    for row in tables["source"]:
        b = np.array([t[4] for t in truth if t[3] and t[1] == row["source"]])
        s = np.array([t[4] for t in truth if not t[3] and t[1] == row["source"]])
        assert row["eer"] == pytest.approx(brute_force_eer(b, s), abs=1e-12)
    assert tables["vocoder_x_codec"]["columns"] == ["low_mp3", "nocodec"]


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("lines,line_no,message", [
    (["LA_E_1 A01 spoof 0.5", "LA_E_2 A01 spoof 0.7", "LA_E_3 A01 spoof high"], 3, "not a number"),
    (["LA_E_1 0.5", "LA_E_2 A01 spoof 0.7"], 2, "expected 2 columns"),
    (["LA_E_1 A01 maybe 0.5"], 1, "neither bonafide nor spoof"),
    (["LA_E_1 0.5", "", "# a comment", "LA_E_2 nan"], 4, "finite"),
    (["LA_E_1 x y"], 1, "expected 2 columns"),
    (["utt_id,attack,label,score", "LA_E_1,A01,spoof,0.3", "LA_E_2,A01,spoof"], 3, "expected 4 columns"),
    (["name,value", "LA_E_1,0.3"], 1, "header"),
])
def test_malformed_score_lines_name_the_file_and_line(tmp_path, lines, line_no, message):
    path = write(tmp_path / "bad_scores.txt", lines)
    with pytest.raises(ScoreFileError, match=message) as caught:
        reports.read_score_file(path)
    assert f"{path}:{line_no}:" in str(caught.value)
    assert isinstance(caught.value, TfDeepfakeError)


def test_malformed_protocol_asv_and_missing_files_are_errors(tmp_path):
    protocol = write(tmp_path / "p.txt", ["LA_0001 LA_E_1 - - bonafide", "LA_0001 LA_E_2 - A01",
                                          "LA_0001 LA_E_3 - A01 spoofy", "LA_0001 LA_E_1 - - bonafide"])
    with pytest.raises(ScoreFileError) as caught:
        reports.read_protocol(protocol)
    text = str(caught.value)
    assert "3 unusable protocol lines" in text
    assert f"{protocol}:2" in text and f"{protocol}:3" in text and f"{protocol}:4" in text
    keys = write(tmp_path / "k.txt", ["LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim eval",
                                      "LA_0009 LA_E_2 alaw ita_tx A07 spoof notrim"])
    with pytest.raises(ScoreFileError, match=f"{keys}:2"):
        reports.read_protocol(keys)
    with pytest.raises(ScoreFileError, match="without labels"):
        reports.read_protocol(write(tmp_path / "trl.txt", ["LA_E_1", "LA_E_2"]))
    asv = write(tmp_path / "asv.txt", ["bonafide target 1.0", "bonafide impostor 0.2"])
    with pytest.raises(ScoreFileError, match=f"{asv}:2: trial type"):
        reports.read_asv_scores(asv)
    with pytest.raises(ScoreFileError, match="no spoof"):
        reports.read_asv_scores(write(tmp_path / "asv2.txt", ["bonafide target 1.0", "bonafide nontarget 0.2"]))
    with pytest.raises(ScoreFileError, match="empty"):
        reports.read_score_file(write(tmp_path / "empty.txt", [""]))
    with pytest.raises(ScoreFileNotFoundError) as missing:
        reports.read_score_file(str(tmp_path / "nope.txt"))
    assert isinstance(missing.value, FileNotFoundError) and isinstance(missing.value, TfDeepfakeError)


def test_missing_unmatched_and_duplicate_utterances_are_counted(tmp_path):
    lines = [f"LA_0001 U{i} - - bonafide" if i < 4 else f"LA_0001 U{i} - A01 spoof" for i in range(10)]
    protocol = reports.read_protocol(write(tmp_path / "p.txt", lines))
    lines = [f"U{i} {float(i)!r}" for i in range(8)] + ["X1 0.5", "X2 0.6", "U3 99.0"]
    scores = reports.read_score_file(write(tmp_path / "s.txt", lines))
    with pytest.raises(ScoreMatchError) as caught:
        reports.join_scores(scores, protocol)
    text = str(caught.value)
    assert "1 utterances scored more than once (e.g. U3 (line 11, first at line 4))" in text
    assert "2 protocol trials have no score (e.g. U8, U9)" in text
    assert "2 scored utterances are not in the protocol (e.g. X1 (line 9), X2 (line 10))" in text
    with pytest.raises(ScoreMatchError, match="no score"):
        reports.join_scores(scores, protocol, allow_duplicates=True, allow_unmatched=True)
    trials = reports.join_scores(scores, protocol, allow_missing=True, allow_unmatched=True, allow_duplicates=True)
    assert {k: trials.counts[k] for k in ("missing", "unmatched", "duplicates", "evaluated", "bonafide", "spoof")} == {
        "missing": 2, "unmatched": 2, "duplicates": 1, "evaluated": 8, "bonafide": 4, "spoof": 4}
    assert trials.score[trials.utt_id == "U3"].tolist() == [3.0]  # the first score of a duplicate is kept
    result = reports.evaluate_trials(trials, n_bootstrap=0)
    assert result["examples"]["missing"] == ["U8", "U9"]
    assert any(note.startswith("2 protocol trials have no score") for note in result["notes"])
    # a score file whose own labels contradict the protocol is refused whatever is allowed
    wrong = reports.read_score_file(write(tmp_path / "w.txt", ["U0 A01 spoof 0.1", "U5 A01 spoof 0.2"]))
    with pytest.raises(ScoreMatchError, match="1 score lines contradict.*U0 \\(line 1: spoof, protocol: bonafide\\)"):
        reports.join_scores(wrong, protocol, allow_missing=True)
    with pytest.raises(ScoreMatchError, match="has no labels"):
        reports.join_scores(scores, None)


# ------------------------------------------------------------------------------------ outputs


def png_pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(str(path))


def test_report_files_plots_and_score_file(tmp_path):
    protocol, scores, truth = toy_2019(tmp_path, seed=3, shifts={"A01": None, "A03": 1.0, "A04": 0.0})
    dev_protocol, dev_scores, _ = toy_2019(tmp_path, seed=4, shifts={"A01": 0.5, "A03": 1.0}, prefix="D")
    out = tmp_path / "report"
    result = reports.evaluate_scores(scores, protocol, asv_scores=toy_asv(tmp_path, ("A01", "A03", "A04")),
                                     dev_scores=dev_scores, dev_protocol=dev_protocol, out_dir=str(out),
                                     n_bootstrap=50)
    for name in ("report.md", "metrics.json", "scores.txt", "scores_calibrated.txt", "det.png", "roc.png",
                 "histograms.png", "calibration.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("det.png", "roc.png", "histograms.png", "calibration.png"):
        pixels = png_pixels(out / name)
        assert min(pixels.shape[:2]) >= 200
        assert pixels[..., :3].std() > 0.05, f"{name} looks blank"
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(result))
    report = (out / "report.md").read_text()
    assert f"| EER (%) | {result['eer_percent']:.4f} |" in report
    assert f"| min t-DCF (2019) | {result['min_tdcf']['2019']['min_tdcf']:.4f} |" in report
    assert "| A04 | 40 |" in report and "![det_plot](det.png)" in report
    # the ASVspoof-format score file reads back to the same trials, losslessly
    written = reports.read_score_file(str(out / "scores.txt"))
    assert written.format == "asvspoof"
    back = {u: (a, y, s) for u, a, y, s in zip(written.utt_id, written.attack, written.label, written.score)}
    assert back == {u: (a, "bonafide" if y else "spoof", s) for u, (a, y, s) in truth.items()}
    calibrated = reports.read_score_file(str(out / "scores_calibrated.txt"))
    cal = result["calibrated"]
    np.testing.assert_allclose(calibrated.score, cal["a"] * written.score + cal["b"], rtol=0, atol=1e-12)
    # a file whose higher scores mean spoof, read with higher_is="spoof", gives the same evaluation
    flipped = write(tmp_path / "flipped.txt", [f"{u} {-float(s)!r}" for u, (_, _, s) in truth.items()])
    again = reports.evaluate_scores(flipped, protocol, higher_is="spoof", n_bootstrap=0)
    assert again["eer"] == result["eer"] and again["per_attack"] == [
        {k: v for k, v in row.items() if not k.startswith("min_tdcf")} for row in result["per_attack"]]


def test_cli_scores_command(tmp_path, capsys):
    protocol, scores, _ = toy_2019(tmp_path, seed=6)
    out = tmp_path / "cli"
    rc = cli.main(["evaluate", "--scores", scores, "--protocol", protocol, "--asv-scores", toy_asv(tmp_path),
                        "--out", str(out), "--bootstrap", "20", "--no-plots"])
    printed = capsys.readouterr().out
    assert rc == 0
    result = json.loads((out / "metrics.json").read_text())
    assert f"EER: {result['eer_percent']:.4f} %" in printed and "min t-DCF (2019)" in printed
    assert not list(out.glob("*.png")) and (out / "report.md").is_file()
    assert result["eer_ci95"]["n_bootstrap"] == 20
    rc = cli.main(["evaluate", "--scores", str(tmp_path / "absent.txt"), "--protocol", protocol])
    assert rc == 1 and "absent.txt: file not found" in capsys.readouterr().err
    # the options are reusable on any parser
    import argparse

    from tfdeepfake.cli import evaluate as cli_evaluate

    args = cli_evaluate.add_score_arguments(argparse.ArgumentParser()).parse_args(["--scores", "s.txt"])
    assert (args.higher_is, args.bootstrap, args.protocol, args.subset) == ("bonafide", 1000, None, None)


def test_scores_csv_from_write_scores_evaluates_without_protocol(tmp_path):
    """The CSV of evaluate.write_scores (what train.py writes) reads back and can carry its own labels."""
    utt = np.array(["a", "b", "c", "d", "e"])
    data = {"utt_id": utt, "attack": np.array(["-", "-", "A01", "A02", "A02"]), "label": np.array([1, 1, 0, 0, 0]),
            "score": np.array([2.5, 1.0, -1.0, 1.5, -3.0])}
    path = str(tmp_path / "eval_scores.csv")
    evaluate.write_scores(path, data)
    read = reports.read_score_file(path)
    assert read.format == "csv" and read.utt_id.tolist() == utt.tolist()
    assert read.label.tolist() == ["bonafide", "bonafide", "spoof", "spoof", "spoof"]
    np.testing.assert_allclose(read.score, data["score"], atol=1e-6)
    trials = reports.join_scores(read)
    result = reports.evaluate_trials(trials, n_bootstrap=0)
    assert result["eer"] == evaluate.summarise(data)["eer"] == brute_force_eer(np.array([2.5, 1.0]),
                                                                                np.array([-1.0, 1.5, -3.0]))


# ------------------------------------------------------------------------------------ calibration


def gaussian_llr_cllr(d: float) -> float:
    """Cllr of the true LLRs of N(+d/2, 1) vs N(-d/2, 1): LLR ~ N(+-d^2/2, d^2), by numerical integration."""
    m, sd = d * d / 2.0, d
    x = np.linspace(m - 12 * sd, m + 12 * sd, 400001)
    density = np.exp(-0.5 * ((x - m) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    return float(np.sum(density * np.logaddexp(0.0, -x)) * (x[1] - x[0]) / math.log(2.0))


def gaussian_trials(seed: int, n_bona: int, n_spoof: int, d: float, scale: float = 1.0, shift: float = 0.0,
                    prefix: str = "E") -> reports.Trials:
    rng = np.random.default_rng(seed)
    x = np.concatenate((rng.normal(d / 2, 1.0, n_bona), rng.normal(-d / 2, 1.0, n_spoof)))
    llr = d * x  # log N(x; d/2, 1) - log N(x; -d/2, 1)
    label = np.concatenate((np.ones(n_bona, int), np.zeros(n_spoof, int)))
    return reports.Trials(np.array([f"{prefix}{i}" for i in range(x.size)]), scale * llr + shift, label,
                          np.where(label == 1, "-", "A01"), "score-file-labels", {},
                          {"evaluated": x.size, "bonafide": n_bona, "spoof": n_spoof})


def test_true_gaussian_llrs_are_calibrated():
    d = 2.0
    trials = gaussian_trials(0, 4000, 16000, d)
    result = reports.evaluate_trials(trials, n_bootstrap=0, n_bins=10)
    theory = gaussian_llr_cllr(d)
    assert 0.3 < theory < 0.6
    assert result["raw"]["cllr"] == pytest.approx(theory, abs=0.015)
    assert result["min_cllr"] <= result["raw"]["cllr"] < result["min_cllr"] + 0.02
    curve = result["raw"]["reliability"]
    assert curve["prior"] == pytest.approx(0.2)
    for predicted, observed, count in zip(curve["predicted"], curve["observed"], curve["counts"]):
        if count >= 300:  # sampling noise of a frequency from n trials is below 0.5 / sqrt(n) < 0.03
            assert observed == pytest.approx(predicted, abs=0.05)
    assert result["raw"]["ece"] < 0.02
    # at the Bayes threshold true LLRs cost no more than the best threshold, up to sampling noise
    assert result["raw"]["act_dcf"] == pytest.approx(result["min_dcf"]["value"], abs=0.03)


def test_miscalibrated_scores_are_repaired_by_dev_calibration():
    d = 2.0
    eval_trials = gaussian_trials(1, 3000, 12000, d, scale=3.0, shift=5.0)
    dev_trials = gaussian_trials(2, 3000, 12000, d, scale=3.0, shift=5.0, prefix="D")
    result = reports.evaluate_trials(eval_trials, dev=dev_trials, n_bootstrap=0)
    assert result["raw"]["cllr"] > result["min_cllr"] + 0.2 and result["raw"]["ece"] > 0.1
    cal = result["calibrated"]
    assert cal["a"] == pytest.approx(1 / 3, abs=0.03) and cal["b"] == pytest.approx(-5 / 3, abs=0.1)
    assert cal["cllr"] == pytest.approx(gaussian_llr_cllr(d), abs=0.02)
    assert cal["cllr"] < result["min_cllr"] + 0.02 and cal["ece"] < 0.03
    assert cal["act_dcf"] == pytest.approx(result["min_dcf"]["value"], abs=0.02)
    assert result["raw"]["act_dcf"] > cal["act_dcf"] + 0.05  # the shifted scores put the Bayes threshold off
    markdown = reports.render_markdown(result)
    assert f"| Cllr, dev-calibrated (bits) | {cal['cllr']:.4f} |" in markdown


def test_reliability_curve_by_hand():
    curve = metrics.reliability_curve([math.log(3.0)], [-math.log(3.0)], n_bins=4, prior=0.5)
    np.testing.assert_allclose(curve.predicted, [0.25, 0.75])  # posteriors 1/4 (spoof) and 3/4 (bona fide)
    np.testing.assert_allclose(curve.observed, [0.0, 1.0])
    assert curve.counts.tolist() == [1, 1]
    assert curve.bin_low.tolist() == [0.25, 0.75] and curve.bin_high.tolist() == [0.5, 1.0]  # empty bins dropped
    assert curve.ece == pytest.approx(0.25)
    np.testing.assert_allclose(metrics.llr_to_posterior([0.0, math.log(9.0)], 0.1), [0.1, 0.5])
    with pytest.raises(metrics.MetricInputError, match="prior"):
        metrics.llr_to_posterior([0.0], 1.0)
