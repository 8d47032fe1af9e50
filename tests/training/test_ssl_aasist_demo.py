"""A tiny SSL-AASIST (configs/ssl_aasist_demo.yaml: random-init wav2vec 2.0 front-end, narrowed back-end) learns
the demo corpus through the training entry point that ``tfdeepfake train`` calls.

A smaller corpus than the recipe's, built first: 12 prompts per voice (the test_demo size; train 18 bona fide and
72 spoofed clips, dev 6 and 24), the recipe's 2 s crops, 30 epochs (18 more than the recipe, which has 4× the
training clips), no eval scoring. Bound: the best epoch's dev EER below 0.25. Random scores reach 0.25 or less
with probability 0.9% on 6 bona fide / 24 spoofed clips (20,000 draws, tfdeepfake.metrics.compute_eer), and a
constant output scores 0.5. Measured in this set-up, seeds 0, 1, 2: 0.167, 0.021, 0.000 (eval EER 0.17, 0.13,
0.17 on the reduced corpus); with 20 epochs (1 s or 2 s crops) seeds 1 and 2 ended at 0.29-0.33, hence 30."""
import os

import pytest

from helpers import ROOT
from tfdeepfake.config import load_config
from tfdeepfake.spoofing.demo import ASTERISK_DIR, build_demo_corpus
from tfdeepfake.training import run

BOUND = 0.25


@pytest.mark.heavy  # about 5 minutes on 2 idle cores: by hand, pytest -m heavy
def test_tiny_ssl_aasist_learns_the_demo_corpus(tmp_path):
    if not os.path.isdir(ASTERISK_DIR):
        pytest.skip(f"{ASTERISK_DIR} not found: the demo corpus's real speech (scripts/install.sh installs it)")
    corpus = tmp_path / "demo"
    build_demo_corpus(str(corpus), per_speaker=12, seed=0, progress=False)
    config = load_config(str(ROOT / "configs" / "ssl_aasist_demo.yaml"), [
        f"data.demo_corpus={corpus}", f"data.tfrecords={tmp_path / 'tfrecords'}", "data.eval_splits=[]",
        "train.epochs=30", f"train.run_dir={tmp_path / 'run'}", "train.results=null"])
    results = run(config)  # data.demo: TFRecords of the corpus are built by the loop itself
    assert results["dev"]["bonafide"] == 6 and results["dev"]["spoof"] == 24
    assert results["dev"]["eer"] < BOUND, results["dev_eer_per_epoch"]
