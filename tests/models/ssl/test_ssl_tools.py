"""Green-AI probe on frozen embeddings and the speaker-verification CLI, on the tiny fixture checkpoints."""
import csv

import numpy as np
import soundfile as sf


from helpers import SSL_FIXTURES, toy_tfrecords
from tfdeepfake import cli, probe, speaker_verification  # noqa: E402
from tfdeepfake.models.ssl import load_wavlm, load_wavlm_xvector  # noqa: E402



def test_probe_on_frozen_layer_embeddings(tmp_path):
    tfrecords = toy_tfrecords(tmp_path / "toy", count=40, seconds=0.3, folds=1)
    backbone = load_wavlm(str(SSL_FIXTURES / "wavlm_base"))
    rows = probe.extract_embeddings(backbone, tfrecords, ["train"], layer=1, crop_samples=4000)
    assert rows["embedding"].shape == (40, 32) and set(rows["label"]) == {0, 1}
    search = probe.fit_probe(rows["embedding"], rows["label"], "logreg")
    assert 0.0 <= search.best_score_ <= 1.0 and "classifier__C" in search.best_params_
    assert cli.main(["probe", "--checkpoint", str(SSL_FIXTURES / "wavlm_base"), "--tfrecords", tfrecords, "--layer", "1",
                      "--eval-splits", "train", "--crop-samples", "4000", "--out", str(tmp_path / "probe")]) == 0
    assert (tmp_path / "probe" / "probe.joblib").exists() and (tmp_path / "probe" / "metrics.json").exists()


def test_verify_writes_pairwise_cosines_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for i in range(5):
        path = tmp_path / f"f{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(4000 + 500 * i)).astype(np.float32), 16000)
        files.append(str(path))
    assert cli.main(["xvectors", *files, "--checkpoint", str(SSL_FIXTURES / "wavlm_xvector"), "--out", str(tmp_path / "v")]) == 0
    with open(tmp_path / "v" / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    model = load_wavlm_xvector(str(SSL_FIXTURES / "wavlm_xvector"))
    embeddings = speaker_verification.embed_files(model, files[:2])
    a, b = embeddings
    expected = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert abs(float(rows[0]["cosine"]) - expected) < 1e-5
    assert (tmp_path / "v" / "pca.png").exists() and (tmp_path / "v" / "tsne.png").exists()
