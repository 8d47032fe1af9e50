"""Corpus readers on the real ASVspoof protocols and on generated layouts; fold invariants."""
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from tfdeepfake.corpora import (BONAFIDE, SPOOF, UNKNOWN, CorpusNotFoundError, Utterance, assign_folds,
                                read_asvspoof2019, read_asvspoof2021, read_corpus)

EXPECTED_2019_LA = {  # split: (bona fide, spoof, speakers, attacks) as published with the corpus
    "train": (2580, 22800, 20, {f"A0{i}" for i in range(1, 7)}),
    "dev": (2548, 22296, 20, {f"A0{i}" for i in range(1, 7)}),
    "eval": (7355, 63882, 67, {f"A{i:02d}" for i in range(7, 20)}),
}


@pytest.fixture(scope="module")
def la2019(request):
    shared = request.getfixturevalue("shared_dir")
    return read_asvspoof2019("unused", protocol_dir=str(shared / "protocols"), check_audio=False)


def test_asvspoof2019_la_counts_match_the_published_protocols(la2019):
    assert la2019.problems == []
    for split, (bonafide, spoof, speakers, attacks) in EXPECTED_2019_LA.items():
        members = [u for u in la2019.utterances if u.split == split]
        labels = Counter(u.label for u in members)
        assert (labels[BONAFIDE], labels[SPOOF]) == (bonafide, spoof), split
        assert len({u.speaker for u in members}) == speakers, split
        assert {u.attack for u in members if u.label == SPOOF} == attacks, split
        assert {u.attack for u in members if u.label == BONAFIDE} == {"-"}
    assert la2019.utterances[0].path.endswith("ASVspoof2019_LA_train/flac/LA_T_1138215.flac")


def test_asvspoof2021_la_trial_list_without_keys(shared_dir, tmp_path):
    eval_dir = tmp_path / "LA" / "ASVspoof2021_LA_eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "ASVspoof2021.LA.cm.eval.trl.txt").write_bytes(
        (shared_dir / "protocols" / "ASVspoof2021.LA.cm.eval.trl.txt").read_bytes())
    listing = read_asvspoof2021(str(tmp_path), "LA", check_audio=False)
    assert len(listing.utterances) == 181566 and listing.problems == []
    assert {u.label for u in listing.utterances} == {UNKNOWN}


def write_tone(path, seconds=0.3, rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(np.arange(int(rate * seconds)) / 7.0), rate)


def test_asvspoof2019_problems_are_reported_not_dropped(tmp_path):
    protocols = tmp_path / "LA" / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    lines = ["LA_0001 LA_T_1 - - bonafide", "LA_0001 LA_T_2 - A01 spoof", "LA_0001 LA_T_2 - A01 spoof",
             "LA_0002 LA_T_3 - A02", "LA_0002 LA_T_4 - A02 maybe", "LA_0002 LA_T_5 - A02 spoof"]
    (protocols / "ASVspoof2019.LA.cm.train.trn.txt").write_text("\n".join(lines) + "\n")
    for utt in ("LA_T_1", "LA_T_2", "LA_T_4"):
        write_tone(tmp_path / "LA" / "ASVspoof2019_LA_train" / "flac" / f"{utt}.flac")
    listing = read_asvspoof2019(str(tmp_path), splits=("train",))
    assert [u.utt_id for u in listing.utterances] == ["LA_T_1", "LA_T_2"]
    kinds = Counter(p.kind for p in listing.problems)
    assert kinds == {"duplicate": 1, "malformed": 1, "bad-label": 1, "missing-audio": 1}
    assert "ASVspoof2019.LA.cm.train.trn.txt:3" in listing.report()


def test_asvspoof2019_copy_without_some_splits_builds_what_is_there(tmp_path):
    protocols = tmp_path / "LA" / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    (protocols / "ASVspoof2019.LA.cm.dev.trl.txt").write_text("LA_0069 LA_D_1 - - bonafide\n")
    write_tone(tmp_path / "LA" / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1.flac")
    listing = read_asvspoof2019(str(tmp_path), require_all=False)
    assert [u.split for u in listing.utterances] == ["dev"]
    missing = [p for p in listing.problems if p.kind == "missing-split"]
    assert [p.detail for p in missing] == ["no train protocol: split train not built",
                                           "no eval protocol: split eval not built"]
    assert "ASVspoof2019.LA.cm.train.trn.txt" in missing[0].where
    with pytest.raises(CorpusNotFoundError, match="protocol file not found"):  # a named split must exist
        read_asvspoof2019(str(tmp_path), splits=("train", "dev"))
    with pytest.raises(CorpusNotFoundError, match="none of the LA protocols"):
        read_asvspoof2019(str(tmp_path / "nothing"), require_all=False)


def test_asvspoof2019_pa_environment_and_replay_ids(tmp_path):
    protocols = tmp_path / "PA" / "ASVspoof2019_PA_cm_protocols"
    protocols.mkdir(parents=True)
    (protocols / "ASVspoof2019.PA.cm.dev.trl.txt").write_text(
        "PA_0069 PA_D_0000001 aaa - bonafide\nPA_0069 PA_D_0000010 bcc AB spoof\n")
    listing = read_corpus("asvspoof2019-pa", str(tmp_path), splits=("dev",), check_audio=False)
    first, second = listing.utterances
    assert (first.label, first.attack, first.condition) == (BONAFIDE, "-", "aaa")
    assert (second.label, second.attack, second.condition, second.split) == (SPOOF, "AB", "bcc", "dev")


def test_asvspoof2021_keys_la_and_df(tmp_path):
    keys = tmp_path / "keys" / "LA" / "CM"
    keys.mkdir(parents=True)
    (keys / "trial_metadata.txt").write_text(
        "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
        "LA_0009 LA_E_1 none - bonafide bonafide notrim progress\n"
        "LA_0009 LA_E_2 broken line\n")
    listing = read_asvspoof2021(str(tmp_path), "LA", check_audio=False)
    spoof, bonafide = listing.utterances
    assert (spoof.codec, spoof.transmission, spoof.attack, spoof.split) == ("alaw", "ita_tx", "A07", "eval")
    assert (bonafide.label, bonafide.attack, bonafide.split) == (BONAFIDE, "-", "progress")
    assert [p.kind for p in listing.problems] == ["malformed"]
    only_eval = read_asvspoof2021(str(tmp_path), "LA", check_audio=False, subsets={"eval"})
    assert [u.utt_id for u in only_eval.utterances] == ["LA_E_9332881"]

    df_keys = tmp_path / "keys" / "DF" / "CM"
    df_keys.mkdir(parents=True)
    (df_keys / "trial_metadata.txt").write_text(
        "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -\n")
    (df,) = read_asvspoof2021(str(tmp_path), "DF", check_audio=False).utterances
    assert (df.source, df.codec, df.attack, df.label) == ("asvspoof", "nocodec", "A14", SPOOF)
    assert "traditional_vocoder" in df.condition


def test_in_the_wild_wavefake_csv_and_folders(tmp_path):
    wild = tmp_path / "wild"
    write_tone(wild / "0.wav")
    write_tone(wild / "1.wav")
    (wild / "meta.csv").write_text("file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,Alec Guinness,bona-fide\n"
                                   "2.wav,Nobody,spoof\n")
    listing = read_corpus("in-the-wild", str(wild))
    assert [(u.label, u.speaker) for u in listing.utterances] == [(SPOOF, "Alec Guinness"), (BONAFIDE, "Alec Guinness")]
    assert [p.kind for p in listing.problems] == ["missing-audio"]

    fake = tmp_path / "wavefake"
    for sentence in ("LJ001-0001", "LJ001-0002"):
        write_tone(fake / "LJSpeech-1.1" / "wavs" / f"{sentence}.wav")
        write_tone(fake / "ljspeech_melgan" / f"{sentence}_gen.wav")
        write_tone(fake / "ljspeech_hifiGAN" / f"{sentence}_generated.wav")
    listing = read_corpus("wavefake", str(fake))
    assert Counter(u.attack for u in listing.utterances) == {"-": 2, "ljspeech_melgan": 2, "ljspeech_hifiGAN": 2}
    assert {u.group for u in listing.utterances} == {"LJ001-0001", "LJ001-0002"}

    folders = tmp_path / "plain"
    write_tone(folders / "real" / "a.wav")
    write_tone(folders / "fake" / "vocoderX" / "b.flac")
    write_tone(folders / "fake" / "c.wav")
    listing = read_corpus("folders", str(folders))
    assert sorted((u.label, u.attack) for u in listing.utterances) == [
        (BONAFIDE, "-"), (SPOOF, "unknown"), (SPOOF, "vocoderX")]

    (folders / "list.csv").write_text("path,label,speaker,attack\nreal/a.wav,real,s1,\nfake/c.wav,fake,s2,tts\n"
                                      "fake/c.wav,fake,s2,tts\nreal/a.wav,whatever,s1,\n")
    listing = read_corpus("csv", str(folders / "list.csv"))
    assert [(u.label, u.speaker, u.attack) for u in listing.utterances] == [(BONAFIDE, "s1", "-"), (SPOOF, "s2", "tts")]
    assert sorted(p.kind for p in listing.problems) == ["bad-label", "duplicate"]


@pytest.mark.parametrize("split", ["train", "eval"])
def test_folds_group_speakers_and_keep_label_and_attack_shares(la2019, split):
    members = [u for u in la2019.utterances if u.split == split]
    folds = assign_folds(members, 5, seed=0)
    assert set(folds) == {u.utt_id for u in members}  # every utterance exactly once
    speaker_folds = {}
    for u in members:
        speaker_folds.setdefault(u.speaker, set()).add(folds[u.utt_id])
    assert all(len(f) == 1 for f in speaker_folds.values()), "a speaker spans two folds"
    whole_label = Counter(u.label for u in members)
    whole_attack = Counter(u.attack for u in members)
    for fold in range(5):
        part = [u for u in members if folds[u.utt_id] == fold]
        labels, attacks = Counter(u.label for u in part), Counter(u.attack for u in part)
        for key in whole_label:
            assert abs(labels[key] / len(part) - whole_label[key] / len(members)) <= 0.02, (fold, key)
        for key in whole_attack:
            assert abs(attacks[key] / len(part) - whole_attack[key] / len(members)) <= 0.02, (fold, key)
    assert assign_folds(list(reversed(members)), 5, seed=0) == folds  # order does not matter


def test_folds_refuse_more_folds_than_speakers():
    members = [Utterance(f"u{i}", "x", BONAFIDE, "-", f"s{i % 3}", "train") for i in range(12)]
    with pytest.raises(ValueError, match="3 speaker groups, fewer than 5 folds"):
        assign_folds(members, 5)
