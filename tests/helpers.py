"""What several test modules share: paths, the tiny model configs and fixtures, and small generated corpora
(tones with harmonics as bona fide against noisy buzz as spoof)."""
from pathlib import Path

import numpy as np
import soundfile as sf

from tfdeepfake import records
from tfdeepfake.corpora import assign_folds, read_csv

ROOT = Path(__file__).resolve().parents[1]  # the checkout
SHARED = ROOT.parent / "shared"  # real corpora, protocols and weights beside it (our machines and CI)
CORPORA = SHARED / "corpora"
AASIST_FIXTURES = ROOT / "tests" / "fixtures" / "aasist"
SSL_FIXTURES = ROOT / "tests" / "fixtures" / "ssl"



def toy_tfrecords(folder: Path, count: int = 48, seconds: float = 0.5, folds: int = 2, seed: int = 0) -> str:
    """A separable two-class corpus as TFRecords (split 'train', ``folds`` speaker-grouped folds)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,label,speaker,attack"]
    for i in range(count):
        t = np.arange(int(16000 * seconds)) / 16000
        f0 = rng.uniform(100, 250)
        if i % 2 == 0:
            clip, label, attack = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)), "bonafide", "-"
        else:
            clip, label, attack = np.sign(np.sin(2 * np.pi * f0 * t)) + rng.standard_normal(len(t)), "spoof", "T01"
        sf.write(folder / f"c{i}.wav", (0.2 * clip / np.abs(clip).max()).astype(np.float32), 16000)
        rows.append(f"c{i}.wav,{label},s{i % 8},{attack}")
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    listing = read_csv(str(folder / "list.csv"))
    out = folder / "tfrecords"
    records.build(listing.utterances, assign_folds(listing.utterances, folds, seed), str(out), progress=False,
                  workers=1)
    return str(out)


TINY_CONFORMER = {"dmodel": 16, "num_blocks": 1, "head_size": 8, "num_heads": 2, "kernel_size": 3, "dropout": 0.0,
                  "subsampling": {"type": "conv2d", "filters": 16, "kernel_size": 3, "strides": 2}}
TINY_CONTEXTNET = {"alpha": 0.25, "blocks": [{"nlayers": 1, "kernel_size": 3, "filters": 32, "strides": 2,
                                              "residual": False, "activation": "silu"}]}
TINY = {"lcnn": {"width": 0.125, "dropout": 0.0},
        "resnet": {"channels": [4, 8], "blocks_per_stage": 1, "dropout": 0.0},
        "efficientnet": {"dropout": 0.0},
        "conformer": {"encoder": TINY_CONFORMER, "dropout": 0.0},
        "contextnet": {"encoder": TINY_CONTEXTNET, "dropout": 0.0},
        "aasist": {"first_conv": 32, "filts": [70, [1, 8], [8, 8], [8, 16], [16, 16]], "gat_dims": [16, 8],
                   "dropout": 0.0},
        "rawgat_st": {"filts": [8, [8, 8], [8, 16], [16, 16]]},
        "ssl": {"checkpoint": str(SSL_FIXTURES / "wavlm_base"), "train_layers": 2,
                "dropout": 0.0},
        "ssl_aasist": {"config": {"hidden_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2,
                                  "intermediate_size": 32, "conv_dim": [8, 8], "conv_stride": [5, 4],
                                  "conv_kernel": [10, 8], "num_conv_pos_embeddings": 8,
                                  "num_conv_pos_embedding_groups": 2, "mask_time_prob": 0.0},
                       "dropout": 0.0},
        "composed": {"frontend": {"name": "features"}, "backend": {"name": "asp_mlp", "attention_dim": 8,
                                                                   "hidden": [8], "dropout": 0.0}}}

SAMPLES = {"rawgat_st": 64600}  # its node projections fix the input length


def toy_batch(samples=8000, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    waves, labels = [], []
    for i in range(batch):
        f0 = rng.uniform(100, 250)
        if i % 2 == 0:
            waves.append(sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)))
        else:
            waves.append(np.sign(np.sin(2 * np.pi * f0 * t)) + rng.standard_normal(samples))
        labels.append(1.0 - i % 2)
    waves = np.stack(waves)
    return (0.2 * waves / np.abs(waves).max(axis=1, keepdims=True)).astype(np.float32), np.array(labels, np.float32)


def fixture_model(name):
    """A tiny official-format AASIST / RawGAT-ST checkpoint (tests/fixtures/aasist) built and loaded: (model, samples)."""
    import json

    from tfdeepfake.features import FeatureConfig
    from tfdeepfake.models import build_model
    from tfdeepfake.models.aasist.convert import from_official_config, load_official_checkpoint

    architecture, samples, params = from_official_config(json.loads((AASIST_FIXTURES / name / "config.json").read_text()))
    model = build_model(architecture, FeatureConfig(), samples, **params)
    load_official_checkpoint(model, str(AASIST_FIXTURES / name / "model.pth"), architecture)
    return model, samples


def make_corpus(folder: Path, count=24, seed=0, speakers=6, rates=(16000, 22050, 8000), seconds=(0.2, 0.6)):
    """Generated clips at several rates and formats, described by a CSV, with one undecodable file."""
    rng = np.random.default_rng(seed)
    rows = ["path,label,speaker,attack"]
    for i in range(count):
        rate = rates[i % len(rates)]
        label = "bonafide" if i % 3 == 0 else "spoof"
        name = f"clip{i:03d}." + ("flac" if i % 2 else "wav")
        signal_ = (0.3 * rng.standard_normal(int(rate * rng.uniform(*seconds)))).clip(-1, 1)
        sf.write(folder / name, signal_, rate, subtype="PCM_16")
        rows.append(f"{name},{label},spk{i % speakers},{'-' if label == 'bonafide' else 'A0' + str(i % 2 + 1)}")
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    rows.append("broken.wav,spoof,spk0,A01")
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    return folder / "list.csv"


def assert_refused_untouched(load, state, tensor: str, change: str, watched: list) -> None:
    """``load(state)`` with ``tensor`` removed (``change == "missing"``) or given a wrong shape raises a
    CheckpointError naming it, and every ``watched`` variable keeps its value (nothing was half-loaded)."""
    import pytest

    from tfdeepfake.errors import CheckpointError

    before = [variable.numpy().copy() for variable in watched]
    if change == "missing":
        del state.tensors[tensor]
    else:
        state.tensors[tensor] = np.zeros((2, 3), np.float32)
    with pytest.raises(CheckpointError, match=tensor.replace(".", r"\.")):
        load(state)
    for variable, value in zip(watched, before):
        np.testing.assert_array_equal(variable.numpy(), value)
