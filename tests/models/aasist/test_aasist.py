"""AASIST family and RawGAT-ST: parity with the official PyTorch forward, safe checkpoint loading, presets."""
import pickle
import shutil
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from helpers import AASIST_FIXTURES, SHARED, fixture_model
from tfdeepfake.errors import CheckpointError, WeightsError
from tfdeepfake.features import FeatureConfig
from tfdeepfake.models import build_model
from tfdeepfake.models.aasist import build_aasist, load_official_checkpoint
from tfdeepfake.models.aasist.convert import load_state
from tfdeepfake.models.aasist.layers import SincFrontEnd, sinc_bandpass_filters
from tfdeepfake.models.porting import StateDict, read_torch_checkpoint
from tfdeepfake.models.presets import PRESETS, get_preset, load_preset
from tfdeepfake.weights import WeightsFile, resolve

REFERENCE = SHARED / "weights" / "reference" / "official_outputs.npz"
TOLERANCE = 1e-4
needs_shared = pytest.mark.skipif(not REFERENCE.is_file(), reason=f"{REFERENCE} not found (../shared is absent)")


def bona_fide_logit(two_class):
    """The official [spoof, bona fide] logits as our one logit."""
    return two_class[:, 1] - two_class[:, 0]


def with_hidden(model):
    return tf.keras.Model(model.input, [model.output, model.get_layer("hidden").output]) \
        if any(layer.name == "hidden" for layer in model.layers) else tf.keras.Model(model.input, [model.output])


@pytest.mark.parametrize("name", ["aasist_tiny", "aasist_l_tiny", "rawgat_st_tiny"])
def test_tiny_configs_equal_the_official_forward(name):
    reference = np.load(AASIST_FIXTURES / "outputs.npz")
    model, samples = fixture_model(name)
    outputs = with_hidden(model).predict(reference["inputs"][:, :samples], verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    np.testing.assert_allclose(outputs[0][:, 0], bona_fide_logit(reference[f"{name}/logits"]), atol=TOLERANCE,
                               rtol=0)
    if f"{name}/hidden" in reference:
        np.testing.assert_allclose(outputs[1], reference[f"{name}/hidden"], atol=TOLERANCE, rtol=0)


@needs_shared
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_equal_the_official_forward_on_real_clips(preset):
    reference = np.load(REFERENCE)
    model = load_preset(preset)
    outputs = with_hidden(model).predict(reference["input"], verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    expected = bona_fide_logit(reference[f"{preset}/logits"])
    np.testing.assert_allclose(outputs[0][:, 0], expected, atol=TOLERANCE, rtol=0)
    if f"{preset}/hidden" in reference:
        np.testing.assert_allclose(outputs[1], reference[f"{preset}/hidden"], atol=TOLERANCE, rtol=0)
    # the official softmax probability of bona fide is our sigmoid
    logits = reference[f"{preset}/logits"]
    softmax = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    np.testing.assert_allclose(tf.sigmoid(outputs[0][:, 0]).numpy(), softmax, atol=1e-5)


@needs_shared
def test_preset_records_what_a_model_card_needs_and_counts_match_the_checkpoint():
    for name, preset in PRESETS.items():
        state = read_torch_checkpoint(resolve(preset.weights))
        trainable = sum(v.size for k, v in state.items() if "running_" not in k and "num_batches" not in k)
        assert trainable == preset.parameters, name
        card = preset.card()
        for key in ("training_data", "sample_rate", "input_rule", "published_eer", "parameters", "licence",
                    "source"):
            assert card[key], (name, key)
        assert preset.weights.url.startswith("https://") and len(preset.weights.sha256) == 64


@needs_shared
def test_preset_from_config_equals_the_one_call():
    reference = np.load(REFERENCE)["input"][:2]
    direct = load_preset("aasist-l").predict(reference, verbose=0)
    configured = build_model("aasist", FeatureConfig(), 64600, preset="aasist-l").predict(reference, verbose=0)
    np.testing.assert_array_equal(direct, configured)
    with pytest.raises(ValueError, match="rawgat_st model, not aasist"):
        build_model("aasist", FeatureConfig(), 64600, preset="rawgat-st")
    with pytest.raises(WeightsError, match="fixes gat_dims"):
        build_model("aasist", FeatureConfig(), 64600, preset="aasist", gat_dims=[8, 8])
    with pytest.raises(WeightsError, match="unknown preset"):
        get_preset("aasist-xl")


def test_sinc_filters_are_symmetric_band_passes_on_the_mel_scale():
    bank = sinc_bandpass_filters(70, 128, 16000)
    assert bank.shape == (129, 70)
    np.testing.assert_allclose(bank, bank[::-1], atol=1e-7)
    response = np.abs(np.fft.rfft(bank, n=8192, axis=0))
    peaks = np.fft.rfftfreq(8192, 1 / 16000)[response.argmax(axis=0)]
    mel = 2595 * np.log10(1 + np.linspace(0, 8000, 257) / 700)
    edges = 700 * (10 ** (np.linspace(mel.min(), mel.max(), 71) / 2595) - 1)
    centre = (edges[:-1] + edges[1:]) / 2
    width = edges[1:] - edges[:-1]
    # 129 taps resolve about 125 Hz: narrow low bands peak within that of their band, wide ones inside the band
    assert (np.abs(peaks - centre) <= np.maximum(width / 2, 125)).all()
    assert np.all(np.diff(centre) > 0) and width[-1] > 10 * width[0]


def test_frequency_mask_is_training_only_and_seeded():
    waves = tf.random.stateless_normal([2, 4000], seed=[1, 2])
    layer = SincFrontEnd(70, 32, mask_width=20, seed=3)
    inference = layer(waves, training=False)
    np.testing.assert_array_equal(inference, SincFrontEnd(70, 32)(waves))
    tf.keras.utils.set_random_seed(7)
    first = [layer(waves, training=True).numpy() for _ in range(8)]
    tf.keras.utils.set_random_seed(7)
    second = [SincFrontEnd(70, 32, mask_width=20, seed=3)(waves, training=True).numpy() for _ in range(8)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    masked = [int((np.abs(a).max(axis=(0, 1, 3)) == 0).sum()) for a in first]  # zeroed pooled bands
    assert max(masked) >= 1 and any(not np.array_equal(a, inference) for a in first)


def test_model_is_static_and_saves_and_reloads_whole(tmp_path):
    model, samples = fixture_model("aasist_tiny")
    for layer in model.layers:
        shapes = layer.output_shape if isinstance(layer.output_shape, list) else [layer.output_shape]
        assert all(None not in shape[1:] for shape in shapes), layer.name
    path = str(tmp_path / "aasist.keras")
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    waves = np.load(AASIST_FIXTURES / "outputs.npz")["inputs"][:, :samples]
    np.testing.assert_allclose(reloaded.predict(waves, verbose=0), model.predict(waves, verbose=0), atol=1e-6)


def test_fine_tuning_a_converted_model_moves_its_scores():
    model, samples = fixture_model("aasist_tiny")
    waves = np.load(AASIST_FIXTURES / "outputs.npz")["inputs"][:, :samples]
    labels = np.array([1.0, 0.0, 1.0, 0.0], np.float32)  # arbitrary: the converted weights know nothing of them
    tf.keras.utils.set_random_seed(0)
    model.compile(tf.keras.optimizers.Adam(1e-2), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    losses = model.fit(waves, labels, epochs=12, batch_size=4, verbose=0).history["loss"]
    assert min(losses[-3:]) < 0.5 * losses[0], losses  # one batch of 4 with dropout: single epochs are noisy


# --- checkpoints that must not load -------------------------------------------------------------------------


def test_wrong_sha256_is_refused(tmp_path):
    source = AASIST_FIXTURES / "aasist_tiny" / "model.pth"
    spec = WeightsFile("aasist_tiny/model.pth", "0" * 64, "http://127.0.0.1:9/model.pth")
    with pytest.raises(WeightsError, match="sha256"):
        resolve(spec, str(source))


def test_foreign_pickle_global_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (shutil.copy, (str(AASIST_FIXTURES / "README.md"), str(marker)))

    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"weight": Exploit()}, protocol=2))
    with pytest.raises(CheckpointError, match="shutil.copy"):
        read_torch_checkpoint(str(path))
    assert not marker.exists()


def test_corrupt_archives_are_named(tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes((AASIST_FIXTURES / "aasist_tiny" / "model.pth").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        read_torch_checkpoint(str(truncated))
    stripped = tmp_path / "stripped.pth"
    with zipfile.ZipFile(AASIST_FIXTURES / "aasist_tiny" / "model.pth") as source, zipfile.ZipFile(stripped, "w") as out:
        names = source.namelist()
        dropped = next(n for n in names if "/data/" in n)
        for name in names:
            if name != dropped:
                out.writestr(name, source.read(name))
    with pytest.raises(CheckpointError, match="missing from the archive"):
        read_torch_checkpoint(str(stripped))


def test_missing_misshaped_and_foreign_tensors_are_named_and_nothing_is_written():
    path = str(AASIST_FIXTURES / "aasist_tiny" / "model.pth")
    tensors = read_torch_checkpoint(path)
    model, _ = fixture_model("aasist_tiny")
    before = [w.copy() for w in model.get_weights()]

    missing = dict(tensors)
    del missing["GAT_layer_S.att_weight"]
    with pytest.raises(CheckpointError, match="'GAT_layer_S.att_weight' is missing"):
        load_state(model, StateDict(missing, path), "aasist")
    misshaped = dict(tensors, **{"pool_S.proj.weight": np.zeros((1, 99), np.float32)})
    with pytest.raises(CheckpointError, match=r"pool_S.proj.weight.*\(99, 1\).*expects \(16, 1\)"):
        load_state(model, StateDict(misshaped, path), "aasist")
    foreign = dict(tensors, **{"extra_head.weight": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointError, match="extra_head.weight"):
        load_state(model, StateDict(foreign, path), "aasist")
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    with pytest.raises(CheckpointError, match="is missing"):  # an AASIST checkpoint is no RawGAT-ST
        load_official_checkpoint(fixture_model("rawgat_st_tiny")[0], path, "rawgat_st")


def test_offline_url_fails_fast_naming_the_url_and_the_local_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDEEPFAKE_CACHE", str(tmp_path / "cache"))
    spec = WeightsFile("nowhere/model.pth", "0" * 64, "http://127.0.0.1:9/model.pth")
    start = time.time()
    with pytest.raises(WeightsError, match=r"127\.0\.0\.1:9/model\.pth.*local path"):
        resolve(spec)
    assert time.time() - start < 30
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_resolver_finds_the_cache_and_verifies_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDEEPFAKE_CACHE", str(tmp_path))
    source = AASIST_FIXTURES / "aasist_tiny" / "model.pth"
    (tmp_path / "tiny").mkdir()
    shutil.copy(source, tmp_path / "tiny" / "model.pth")
    from tfdeepfake.storage import sha256_file

    spec = WeightsFile("tiny/model.pth", sha256_file(source), "http://127.0.0.1:9/model.pth")
    assert resolve(spec) == str(tmp_path / "tiny" / "model.pth")
    (tmp_path / "tiny" / "model.pth").write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="does not match"):
        resolve(spec)


def test_builders_reject_what_they_cannot_run():
    with pytest.raises(ValueError, match="raw waveforms"):
        build_aasist(FeatureConfig(), 16000, features_input=True)
    with pytest.raises(ValueError, match="64600 samples"):
        build_model("rawgat_st", FeatureConfig(), 48000)
