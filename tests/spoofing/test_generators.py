"""Spoof generators and the final chain: real audio out, different from the source, deterministic, equal level."""
import shutil

import numpy as np
import pytest

from tfdeepfake.spoofing import tts
from tfdeepfake.spoofing.chain import (
    FinalChain,
    active_rms_dbfs,
    final_chain,
    final_chain_report,
    frame_levels_db,
    mulaw_roundtrip,
)
from tfdeepfake.spoofing.errors import GeneratorError, GeneratorInputError, GeneratorUnavailable
from tfdeepfake.spoofing.generators import (
    GENERATORS,
    Generator,
    available_generators,
    estimate_f0,
    generate,
    get_generator,
    unavailable_generators,
)

SR = 16000
TEXT = "The quick brown fox jumps over the lazy dog."
COPY = [sid for sid, g in GENERATORS.items() if g.kind == "copy-synthesis"]
TTS = [sid for sid, g in GENERATORS.items() if g.kind == "tts"]
STOCHASTIC = ["griffinlim_mel", "world_mod", "lpc", "phase_random", "phase_vocoder"]


def synthetic_voice(seconds=1.2, sr=SR, seed=0, lead=0.1, tail=0.1):
    """A vowel-like signal: harmonics of a gliding f0 shaped by three moving formants, syllable envelope."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.8 * t) + 20 * t
    phase = 2 * np.pi * np.cumsum(f0) / sr
    formants = [600 + 200 * np.sin(2 * np.pi * 1.3 * t), 1400 + 400 * np.cos(2 * np.pi * 0.9 * t), 2600 + 0 * t]
    bandwidths = [90.0, 120.0, 180.0]
    y = np.zeros(n)
    for h in range(1, int(sr / 2 / 100)):
        fh = h * f0
        amp = sum(0.6 ** k / (1 + ((fh - f) / b) ** 2) for k, (f, b) in enumerate(zip(formants, bandwidths)))
        y += amp * (fh < 0.95 * sr / 2) / np.sqrt(h) * np.sin(h * phase)
    env = 0.5 * (1 - np.cos(2 * np.pi * np.clip(t - lead, 0, None) * 2.2))
    env[(t < lead) | (t > seconds - tail)] = 0
    y = y * env + 0.002 * rng.standard_normal(n)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def log_spectral_distance(a, b, n_fft=512, hop=128):
    """Mean over frames of the RMS difference (dB) between the two log power spectra."""
    n = min(len(a), len(b))
    window = np.hanning(n_fft)
    frames = lambda x: np.lib.stride_tricks.sliding_window_view(x[:n], n_fft)[::hop] * window  # noqa: E731
    pa = np.abs(np.fft.rfft(frames(a), axis=1)) ** 2 + 1e-8
    pb = np.abs(np.fft.rfft(frames(b), axis=1)) ** 2 + 1e-8
    diff = 10 * np.log10(pa) - 10 * np.log10(pb)
    return float(np.mean(np.sqrt(np.mean(diff ** 2, axis=1))))


def assert_real_audio(y, min_db=-45.0, max_db=-3.0):
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.ndim == 1
    assert np.isfinite(y).all()
    assert min_db < rms_db(y) < max_db, rms_db(y)
    levels, _, _ = frame_levels_db(y, SR)
    assert (levels > levels.max() - 30).mean() > 0.2  # not a click in silence


def skip_if_missing(system_id):
    why = GENERATORS[system_id].missing()
    if why is not None:
        pytest.skip(f"{system_id} unavailable here: {why}")


@pytest.fixture(scope="module")
def voice():
    return synthetic_voice()


# ----------------------------------------------------------------------------------------------- registry


def test_registry_and_availability():
    assert set(COPY) == {"griffinlim_mel", "world", "world_mod", "lpc", "phase_random", "phase_vocoder",
                         "lyra_3200", "lyra_6000", "lyra_9200", "hifigan_v3_fp16", "hifigan_v3_dr"}
    assert set(TTS) == {"tts_espeak", "tts_flite", "tts_festival"}
    status = available_generators()
    assert set(status) == set(GENERATORS) and all(isinstance(v, bool) for v in status.values())
    assert set(available_generators("tts")) == set(TTS)
    missing = unavailable_generators()
    assert {sid for sid, ok in status.items() if not ok} == set(missing)
    for sid, why in missing.items():
        assert "install" in why, why
    for sid, g in GENERATORS.items():
        assert isinstance(g, Generator) and g.system_id == sid
    with pytest.raises(KeyError, match="known"):
        get_generator("no_such_system")


def test_missing_tool_raises_typed_error(monkeypatch):
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    for sid in TTS:
        g = GENERATORS[sid]
        assert not g.available()
        with pytest.raises(GeneratorUnavailable) as info:
            g(text=TEXT, seed=0)
        assert "apt-get install" in info.value.install
        assert isinstance(info.value, GeneratorError) and info.value.system_id == sid
    assert set(TTS) <= set(unavailable_generators())


def test_missing_python_package_raises_typed_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyworld" else real(name, *a))
    with pytest.raises(GeneratorUnavailable, match="pip install pyworld"):
        GENERATORS["world"](synthetic_voice(0.3), SR)


def test_bad_inputs_raise_input_errors(voice):
    with pytest.raises(GeneratorInputError, match="source"):
        generate("lpc", None, SR)
    with pytest.raises(GeneratorInputError, match="silent"):
        generate("lpc", np.zeros(SR, np.float32), SR)
    with pytest.raises(GeneratorInputError, match="NaN"):
        generate("lpc", np.full(SR, np.nan, np.float32), SR)
    with pytest.raises(GeneratorInputError, match="text"):
        generate("tts_espeak", text="   ")
    with pytest.raises(ValueError):  # GeneratorInputError is a ValueError
        generate("world", voice[:100], SR)


# ------------------------------------------------------------------------------------------ copy-synthesis


def test_f0_estimate_tracks_known_f0(voice):
    hop = 160
    f0, strength = estimate_f0(voice, SR, hop)
    t = np.arange(len(f0)) * hop / SR
    true = 120 + 40 * np.sin(2 * np.pi * 0.8 * t) + 20 * t
    voiced = f0 > 0
    assert voiced.mean() > 0.6
    assert np.median(np.abs(f0[voiced] - true[voiced]) / true[voiced]) < 0.02
    assert ((strength > 0) == voiced).all()


@pytest.mark.parametrize("system_id", COPY)
def test_copy_synthesis_output(system_id, voice):
    skip_if_missing(system_id)
    y = GENERATORS[system_id](voice, SR, seed=1)
    assert len(y) == len(voice)
    assert_real_audio(y)
    assert abs(rms_db(y) - rms_db(voice)) < 10
    lsd = log_spectral_distance(voice, y)
    assert 2.0 < lsd < 25.0, lsd  # clearly altered, still the same utterance


@pytest.mark.parametrize("system_id", COPY)
def test_copy_synthesis_deterministic(system_id, voice):
    skip_if_missing(system_id)
    g = GENERATORS[system_id]
    a, b = g(voice, SR, seed=5), g(voice, SR, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, g(voice, SR, rng=np.random.default_rng(5)))
    if system_id in STOCHASTIC:
        assert not np.array_equal(a, g(voice, SR, seed=6))


def test_world_modification_options(voice):
    skip_if_missing("world")
    plain = generate("world", voice, SR)
    higher = generate("world", voice, SR, f0_scale=1.2)
    f_plain, _ = estimate_f0(plain, SR, 160)
    f_high, _ = estimate_f0(higher, SR, 160)
    both = (f_plain > 0) & (f_high > 0)
    assert both.mean() > 0.5
    assert 1.12 < np.median(f_high[both] / f_plain[both]) < 1.28


def test_sample_rate_other_than_16k():
    x = synthetic_voice(0.6, sr=22050)
    for sid in ("lpc", "phase_vocoder", "griffinlim_mel"):
        y = generate(sid, x, 22050, seed=0)
        assert len(y) == len(x) and np.isfinite(y).all()


def test_librispeech_copy_synthesis(shared_dir):
    from tfdeepfake.audio import load_audio

    files = sorted((shared_dir / "corpora" / "librispeech-sample").rglob("*.flac"))
    if not files:
        pytest.skip("no LibriSpeech sample files")
    x, _ = load_audio(files[0])
    x = x[: 2 * SR]
    for sid in COPY:
        if GENERATORS[sid].available():
            y = generate(sid, x, SR, seed=0)
            assert len(y) == len(x) and np.isfinite(y).all()
            assert abs(rms_db(y) - rms_db(x)) < 10
            assert log_spectral_distance(x, y) > 2.0, sid


# --------------------------------------------------------------------------------------------------- TTS


@pytest.mark.parametrize("system_id", TTS)
def test_tts_output(system_id):
    skip_if_missing(system_id)
    g = GENERATORS[system_id]
    y = g(None, SR, text=TEXT, seed=3)
    assert_real_audio(y)
    seconds = len(y) / SR
    assert 0.03 * len(TEXT) < seconds < 0.2 * len(TEXT), seconds  # ~1.3 - 9 s for 44 characters
    longer = g(None, SR, text=TEXT + " " + TEXT, seed=3)
    assert len(longer) > 1.5 * len(y)
    np.testing.assert_array_equal(y, g(None, SR, text=TEXT, seed=3))
    assert len(g(None, 8000, text=TEXT, seed=3)) == pytest.approx(len(y) / 2, rel=0.01)


# ------------------------------------------------------------------------------------------- final chain


def test_final_chain_equalises_loudness(voice):
    loud = voice
    quiet = (0.02 * voice / np.abs(voice).max()).astype(np.float32)
    other = generate("phase_vocoder", voice, SR, seed=0) * np.float32(1.6)
    outs = [final_chain(x, SR) for x in (loud, quiet, other)]
    levels = [active_rms_dbfs(y, SR) for y in outs]
    assert max(levels) - min(levels) < 0.1
    assert abs(levels[0] - (-26.0)) < 0.1
    for y in outs:
        assert y.dtype == np.float32 and np.isfinite(y).all() and np.abs(y).max() < 1.0
    peaked = [final_chain(x, SR, level="peak", target_dbfs=-3.0) for x in (loud, quiet)]
    assert [round(float(np.abs(y).max()), 4) for y in peaked] == [round(10 ** (-3 / 20), 4)] * 2


def test_final_chain_trims_and_pads():
    speech = synthetic_voice(1.0, lead=0.0, tail=0.0)[: int(0.8 * SR)]
    rng = np.random.default_rng(0)
    lead, tail = np.zeros(int(0.5 * SR)), 1e-5 * rng.standard_normal(int(0.7 * SR))
    x = np.concatenate([lead, speech, tail]).astype(np.float32)
    pad = 0.1
    y, report = final_chain_report(x, SR, pad_seconds=pad)
    n_pad = int(pad * SR)
    assert np.all(y[:n_pad] == 0) and np.all(y[-n_pad:] == 0)
    assert y[n_pad:n_pad + 400].any()  # speech right after the padding
    assert abs(len(y) - (len(speech) + 2 * n_pad)) < 0.05 * SR
    start, end = report["kept_interval"]
    assert abs(start - len(lead)) < 0.03 * SR and abs(end - (len(lead) + len(speech))) < 0.03 * SR
    # same chain, same trimmed length whatever the original silence
    y2 = final_chain(np.concatenate([np.zeros(SR // 10), speech]).astype(np.float32), SR, pad_seconds=pad)
    assert abs(len(y2) - len(y)) < 0.03 * SR


def test_final_chain_rate_codecs_and_noise_floor(voice):
    x = synthetic_voice(0.8, sr=22050)
    y = final_chain(x, 22050, target_rate=SR)
    assert abs(len(y) - (0.8 - 0.2) * SR - 0.2 * SR) < 0.05 * SR
    mu = final_chain(voice, SR, codec="mulaw", codec_passes=2)
    assert abs(active_rms_dbfs(mu, SR) + 26) < 0.1
    narrow = mulaw_roundtrip(voice, SR)
    spec = np.abs(np.fft.rfft(narrow)) ** 2
    freqs = np.fft.rfftfreq(len(narrow), 1 / SR)
    assert spec[freqs > 4200].sum() < 1e-3 * spec.sum()  # band-limited to 4 kHz
    chain = FinalChain(noise_floor_dbfs=-70.0)
    a, b = chain(voice, SR, seed=1), chain(voice, SR, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a[:100].any() and not np.array_equal(a, chain(voice, SR, seed=2))
    assert chain.settings()["noise_floor_dbfs"] == -70.0
    with pytest.raises(GeneratorInputError):
        final_chain(voice, SR, codec="mp3", codec_passes=1)
    with pytest.raises(GeneratorInputError):
        final_chain(np.zeros(SR, np.float32), SR)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (apt-get install ffmpeg): no G.722")
def test_final_chain_g722(voice):
    once, report = final_chain_report(voice, SR, codec_passes=1, codec="g722")
    twice = final_chain(voice, SR, codec_passes=2, codec="g722")
    clean = final_chain(voice, SR)
    assert report["codec"] == "g722" and report["codec_passes"] == 1
    for y in (once, twice):
        assert np.isfinite(y).all() and abs(active_rms_dbfs(y, SR) + 26) < 0.1
        assert abs(len(y) - len(clean)) < 0.02 * SR
    n = min(len(once), len(clean))
    assert not np.allclose(once[:n], clean[:n], atol=1e-4)
