"""The demo corpus: ASVspoof 2019 LA layout, attack and speaker splits, determinism, and no trivial cue."""
import hashlib
import os
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from tfdeepfake.corpora import read_asvspoof2019
from tfdeepfake.spoofing.demo import ASTERISK_DIR, EVAL_ATTACKS, TRAIN_ATTACKS, build_demo_corpus


@pytest.fixture(scope="module")
def source_dir(request):
    """The asterisk voices (installed by scripts/install.sh), else the LibriSpeech sample in ../shared."""
    if os.path.isdir(ASTERISK_DIR):
        return None
    shared = request.getfixturevalue("shared_dir")
    return str(shared / "corpora" / "librispeech-sample")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, source_dir):
    out = tmp_path_factory.mktemp("demo")
    manifest = build_demo_corpus(str(out), bonafide_dir=source_dir, per_speaker=12, seed=0, progress=False)
    return out, manifest


def test_layout_is_read_by_the_asvspoof_reader(corpus):
    out, manifest = corpus
    listing = read_asvspoof2019(str(out))
    assert listing.problems == [] and manifest["failures"] == []
    counts = {split: dict(Counter(u.attack for u in listing.utterances if u.split == split))
              for split in ("train", "dev", "eval")}
    assert counts == manifest["counts"]
    assert all(u.label == ("bonafide" if u.attack == "-" else "spoof") for u in listing.utterances)
    assert "CC-BY-SA-3.0" in (out / "README.md").read_text() or manifest["bonafide_source"] != ASTERISK_DIR


def test_attacks_and_speakers_per_split(corpus):
    out, manifest = corpus
    listing = read_asvspoof2019(str(out))
    attacks = {split: {u.attack for u in listing.utterances if u.split == split} - {"-"}
               for split in ("train", "dev", "eval")}
    available = set(manifest["attacks"]["train_dev"]) | set(manifest["attacks"]["eval"])
    skipped = {a for a, s in {**TRAIN_ATTACKS, **EVAL_ATTACKS}.items() if s in manifest["skipped_systems"]}
    assert attacks["train"] == attacks["dev"] == set(TRAIN_ATTACKS) - skipped
    assert attacks["eval"] == set(EVAL_ATTACKS) - skipped and available
    assert len(attacks["eval"] & attacks["train"]) == 1, "eval holds exactly one seen attack"
    speakers = {split: {u.speaker for u in listing.utterances if u.split == split} for split in ("train", "eval")}
    assert speakers["train"] and speakers["eval"] and not speakers["train"] & speakers["eval"]


def test_clips_are_real_audio_and_spoofs_differ_from_their_source(corpus):
    out, _ = corpus
    listing = read_asvspoof2019(str(out))
    for utterance in listing.utterances[:40]:
        samples, rate = sf.read(utterance.path, dtype="float32")
        assert rate == 16000 and 0.5 < len(samples) / rate < 12
        assert np.isfinite(samples).all() and 0.01 < np.sqrt(np.mean(samples**2)) < 0.3


def test_same_seed_same_corpus(tmp_path, source_dir):
    digests = []
    for name in ("a", "b"):
        build_demo_corpus(str(tmp_path / name), bonafide_dir=source_dir, per_speaker=1, seed=3, progress=False)
        digest = hashlib.sha256()
        for path in sorted((tmp_path / name).rglob("*.flac")):
            digest.update(path.name.encode() + path.read_bytes())
        digests.append(digest.hexdigest())
    assert digests[0] == digests[1]


def trivial_features(path):
    import librosa

    samples, rate = sf.read(path, dtype="float32")
    spectrum = np.abs(librosa.stft(samples, n_fft=512))
    peak = np.abs(samples).max()
    return [len(samples) / rate, 20 * np.log10(np.sqrt(np.mean(samples**2))), 20 * np.log10(peak),
            librosa.feature.spectral_rolloff(S=spectrum, sr=rate).mean(),
            librosa.feature.spectral_bandwidth(S=spectrum, sr=rate).mean(),
            np.argmax(np.abs(samples) > 0.1 * peak) / rate]


def test_trivial_features_do_not_separate_real_from_fake(corpus):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out, _ = corpus
    listing = read_asvspoof2019(str(out))
    features = np.array([trivial_features(u.path) for u in listing.utterances])
    labels = np.array([u.label == "bonafide" for u in listing.utterances])
    model = make_pipeline(StandardScaler(), LogisticRegression())
    auc = cross_val_score(model, features, labels, scoring="roc_auc",
                          cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    assert auc <= 0.65, f"duration/RMS/peak/roll-off/bandwidth/leading silence separate real from fake: AUC {auc:.3f}"


def test_speakers_from_librispeech_names_or_folders(tmp_path):
    from tfdeepfake.spoofing.demo import speaker_of

    root = str(tmp_path)
    assert speaker_of(f"{root}/test-other/1688/1688-142285-0000.flac", root) == "1688"
    assert speaker_of(f"{root}/train-clean-100/7113-86041-0000.flac", root) == "7113"
    assert speaker_of(f"{root}/alice/take1.wav", root) == "alice"
    assert speaker_of(f"{root}/bob.wav", root) == "bob"



def test_a_stuck_g722_decode_is_that_clips_error_not_the_builds(monkeypatch, tmp_path):
    """ffmpeg past its timeout raises an AudioError naming the prompt, which the build records as a failure row."""
    import subprocess

    from tfdeepfake.audio import AudioError
    from tfdeepfake.spoofing import demo

    def stuck(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(demo.subprocess, "run", stuck)
    with pytest.raises(AudioError, match=r"prompt\.g722.*did not decode G\.722 within 300 s"):
        demo.read_source(demo.Source(str(tmp_path / "prompt.g722"), "speaker", "text", 1), 16000)
