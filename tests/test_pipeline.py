"""tf.data pipeline: determinism under a seed, static shapes, no Python in the graph, eval windows."""
import numpy as np
import pytest
import soundfile as sf

from tfdeepfake import records
from tfdeepfake.corpora import assign_folds, read_csv
from tfdeepfake.features import FeatureConfig
from tfdeepfake.pipeline import AugmentConfig, InputConfig, eval_dataset, train_dataset

CROP = 4000


@pytest.fixture(scope="module")
def tfrecords(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(0)
    rows = ["path,label,speaker,attack"]
    for i in range(40):
        length = int(rng.integers(1500, 12000))
        t = np.arange(length) / 16000
        clip = 0.3 * np.sin(2 * np.pi * (150 + 10 * i) * t) + 0.01 * rng.standard_normal(length)
        sf.write(folder / f"c{i}.wav", clip.astype(np.float32), 16000, subtype="PCM_16")
        label = "bonafide" if i % 4 == 0 else "spoof"
        rows.append(f"c{i}.wav,{label},s{i % 5},{'-' if label == 'bonafide' else 'A01'}")
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    listing = read_csv(str(folder / "list.csv"))
    records.build(listing.utterances, assign_folds(listing.utterances, 1), str(folder / "out"), shard_mb=0.05,
                  progress=False, workers=1)
    return str(folder / "out")


FULL_AUGMENT = AugmentConfig(noise_p=0.5, gain_p=0.5, telephony_p=0.3, rawboost_p=0.3, spec_augment_p=0.5,
                             mixup_p=0.5, cutmix_p=0.3)


def batches(dataset, count=3):
    return [tuple(t.numpy() for t in batch) for batch in dataset.take(count)]


@pytest.mark.parametrize("features", [None, FeatureConfig(kind="logmel", n_mels=40)])
def test_same_seed_same_batches_and_static_shapes(tfrecords, features):
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=8, augment=FULL_AUGMENT)
    first = batches(train_dataset(config, features, seed=3))
    again = batches(train_dataset(config, features, seed=3))
    other = batches(train_dataset(config, features, seed=4))
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))
    spec = train_dataset(config, features, seed=3).element_spec
    assert all(s.shape.is_fully_defined() for s in spec)
    expected = [8, CROP] if features is None else [8, features.num_frames(CROP), features.num_bins()]
    assert spec[0].shape.as_list() == expected
    for x, y in first:
        assert np.isfinite(x).all() and ((y >= 0) & (y <= 1)).all()


def test_epochs_differ_and_no_python_in_the_graph(tfrecords):
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=8, augment=FULL_AUGMENT)
    dataset = train_dataset(config, seed=0)
    epoch1, epoch2 = [np.concatenate([b[0] for b in dataset]) for _ in range(2)]
    assert len(epoch1) == len(epoch2) == 40 // 8 * 8
    assert not np.array_equal(epoch1, epoch2)
    graph = dataset._as_serialized_graph().numpy()
    assert b"PyFunc" not in graph and b"EagerPyFunc" not in graph


def test_balanced_sampling_draws_both_labels_equally(tfrecords):
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=20, balanced=True)
    labels = np.concatenate([y.numpy() for _, y in train_dataset(config, seed=0).take(20)])
    assert abs(labels.mean() - 0.5) < 0.06  # 400 draws from a 1:3 corpus


def test_eval_first_window_and_full_windows(tfrecords):
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=16)
    full = {e["utt_id"].numpy().decode(): e["audio"].numpy()
            for e in records.load_dataset(tfrecords, shuffle_files=False)}
    rows = [row for batch in eval_dataset(config) for row in zip(batch["utt_id"].numpy(), batch["inputs"].numpy())]
    assert len(rows) == 40
    for utt, inputs in rows:
        audio = full[utt.decode()]
        np.testing.assert_array_equal(inputs, np.resize(audio, CROP))  # first N, repeat-padded

    hop = 2000
    windows = {}
    for batch in eval_dataset(config, windows_hop=hop):
        for utt, inputs in zip(batch["utt_id"].numpy(), batch["inputs"].numpy()):
            windows.setdefault(utt.decode(), []).append(inputs)
    for utt, audio in full.items():
        expected = 1 + max(0, -(-(len(audio) - CROP) // hop))
        assert len(windows[utt]) == expected
        if len(audio) >= CROP:
            np.testing.assert_array_equal(windows[utt][-1], audio[-CROP:])


def test_noise_from_a_folder_of_recordings(tfrecords, tmp_path):
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "hum.wav", (0.2 * np.sin(2 * np.pi * 50 * np.arange(9000) / 16000)).astype(np.float32), 16000)
    sf.write(tmp_path / "hiss.wav", (0.05 * rng.standard_normal(3000)).astype(np.float32), 16000)
    noisy = AugmentConfig(noise_p=1.0, noise_kind="folder", noise_dir=str(tmp_path), noise_snr_db=(0.0, 0.0))
    clean = InputConfig(tfrecords, crop_samples=CROP, batch_size=8)
    with_noise = InputConfig(tfrecords, crop_samples=CROP, batch_size=8, augment=noisy)
    (x0, _), = batches(train_dataset(clean, seed=2), 1)
    (x1, _), = batches(train_dataset(with_noise, seed=2), 1)
    added = x1 - x0  # same crops (same seed), so the difference is the noise, at 0 dB SNR
    np.testing.assert_allclose(np.mean(added ** 2, axis=1), np.mean(x0 ** 2, axis=1), rtol=1e-3)
    with pytest.raises(ValueError, match="noise_dir"):
        AugmentConfig(noise_p=1.0, noise_kind="folder")


def test_one_endless_iterator_reshuffles_and_redraws_every_epoch(tfrecords):
    """train.py feeds fit with dataset.repeat(): each pass must still differ, and the first equal a fresh epoch."""
    config = InputConfig(tfrecords, crop_samples=CROP, batch_size=8, augment=FULL_AUGMENT)
    steps = 40 // 8
    stream = [b[0].numpy() for b in train_dataset(config, seed=5).repeat().take(2 * steps)]
    first, second = np.concatenate(stream[:steps]), np.concatenate(stream[steps:])
    np.testing.assert_array_equal(first, np.concatenate([b[0].numpy() for b in train_dataset(config, seed=5)]))
    assert not np.array_equal(first, second)
