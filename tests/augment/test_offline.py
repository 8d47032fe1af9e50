"""Offline augmentation with real tools: codec round trips, speed, tempo, rooms, and missing-tool errors."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tfdeepfake.augment import offline

RATE = 16000
NARROWBAND = {"gsm", "alaw", "ulaw", "amrnb_7k95"}


def voiced(seconds=1.0, f0=150.0, rate=RATE):
    """A harmonic 'vowel' with a slow amplitude envelope, rich up to 8 kHz."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t) / np.sqrt(k) for k in range(1, 54) if k * f0 < rate / 2)
    return (0.3 * harmonics / np.abs(harmonics).max() * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def estimate_f0(samples, rate=RATE):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), 8 * len(samples)))
    freqs = np.fft.rfftfreq(8 * len(samples), 1 / rate)
    band = (freqs > 60) & (freqs < 400)
    return freqs[band][np.argmax(spectrum[band])]


def needs(tool_or_condition):
    if tool_or_condition in offline.INSTALL:
        if shutil.which(tool_or_condition) is None:
            pytest.skip(f"{tool_or_condition} is not installed ({offline.INSTALL[tool_or_condition]})")
        return
    try:
        offline.require(tool_or_condition)
    except offline.ToolMissing as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("codec", sorted(offline.CODECS))
def test_codec_round_trip(codec):
    needs(codec)
    clean = voiced()
    coded = offline.apply_condition(clean, RATE, codec)
    assert coded.dtype == np.float32 and len(coded) == len(clean) and np.isfinite(coded).all()
    assert offline.apply_condition(voiced(rate=22050), 22050, codec).shape == (22050,)  # other rates too
    assert not np.allclose(coded, clean, atol=1e-4)
    assert np.corrcoef(coded, clean)[0, 1] > 0.5  # aligned: encoder delay removed
    power = np.abs(np.fft.rfft(coded)) ** 2
    above = power[np.fft.rfftfreq(len(coded), 1 / RATE) > 4000].sum() / power.sum()
    if codec in NARROWBAND:
        assert above < 0.002, f"{codec} should be band-limited to 4 kHz: {above:.4f} of the energy above"
    elif codec in ("g722", "opus_24k", "mp3_32k", "aac_32k"):
        assert above > 0.005, f"{codec} is wideband, yet only {above:.4f} of the energy is above 4 kHz"


@pytest.mark.parametrize("name,factor,pitch_kept", [("speed_0.9", 0.9, False), ("speed_1.1", 1.1, False),
                                                    ("tempo_0.9", 0.9, True), ("tempo_1.1", 1.1, True)])
def test_speed_and_tempo(name, factor, pitch_kept):
    needs(name)
    clean = voiced(seconds=2.0)
    changed = offline.apply_condition(clean, RATE, name)
    assert len(changed) / len(clean) == pytest.approx(1 / factor, rel=0.01)
    expected_f0 = 150.0 if pitch_kept else 150.0 * factor
    assert estimate_f0(changed[RATE // 2: RATE]) == pytest.approx(expected_f0, rel=0.02)


def test_room_reverberates_and_is_seeded():
    needs("room")
    burst = np.zeros(RATE, np.float32)
    burst[:800] = voiced(0.05)
    first = offline.apply_condition(burst, RATE, "room", seed=1)
    assert np.array_equal(first, offline.apply_condition(burst, RATE, "room", seed=1))
    assert not np.array_equal(first[:RATE], offline.apply_condition(burst, RATE, "room", seed=2)[:RATE])

    def tail_energy(x):  # energy after the burst has ended, relative to the whole
        return np.sum(x[1600:RATE] ** 2) / np.sum(x ** 2)

    assert tail_energy(burst) == 0 and tail_energy(first) > 0.01
    assert np.isfinite(first).all() and np.abs(first).max() <= 1.0 and first.dtype == np.float32

    def decay_time(x, drop_db=20.0):  # Schroeder backward integral: seconds from -5 dB to -5-drop dB
        edc = np.cumsum((x.astype(np.float64) ** 2)[::-1])[::-1]
        db = 10 * np.log10(edc / edc[0] + 1e-30)
        return (np.argmax(db < -5 - drop_db) - np.argmax(db < -5)) / RATE

    assert decay_time(first) > 5 * decay_time(burst)  # energy decays much more slowly: reverberation


def test_missing_tools_name_the_package(monkeypatch):
    monkeypatch.setattr(offline.shutil, "which", lambda name: None)
    with pytest.raises(offline.ToolMissing, match="apt-get install ffmpeg"):
        offline.apply_condition(voiced(), RATE, "opus_12k")
    with pytest.raises(offline.ToolMissing, match="sox libsox-fmt-all"):
        offline.apply_condition(voiced(), RATE, "amrnb_7k95")
    with pytest.raises(offline.ToolMissing, match="sox libsox-fmt-all"):
        offline.apply_condition(voiced(), RATE, "tempo_1.1")
    with pytest.raises(ValueError, match="unknown condition"):
        offline.apply_condition(voiced(), RATE, "vinyl")
    assert not offline.available("g722")
    with pytest.raises(offline.ToolMissing, match="apt-get install ffmpeg"):  # before any copy is made
        next(offline.augmented_copies(voiced(), RATE, ["room", "g722"]))


def test_missing_encoder_or_format_names_the_package(monkeypatch):
    monkeypatch.setattr(offline.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(offline, "_ffmpeg_encoders", lambda path: frozenset({"g722", "aac"}))
    monkeypatch.setattr(offline, "_sox_formats", lambda path: frozenset({"wav", "flac"}))
    assert offline.available("g722") and not offline.available("opus_12k")
    with pytest.raises(offline.ToolMissing, match="no libopus encoder.*apt-get install ffmpeg"):
        offline.apply_condition(voiced(), RATE, "opus_12k")
    with pytest.raises(offline.ToolMissing, match="amr-nb.*apt-get install sox libsox-fmt-all"):
        offline.apply_condition(voiced(), RATE, "amrnb_7k95")


def test_missing_pyroomacoustics_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyroomacoustics", None)  # import now raises ImportError
    with pytest.raises(offline.ToolMissing, match="pip install pyroomacoustics"):
        offline.apply_condition(voiced(), RATE, "room")
    assert not offline.available("room")


def test_bad_audio_is_a_value_error():
    for bad in (np.zeros(0, np.float32), np.full(100, np.nan, np.float32), np.zeros((2, 100), np.float32)):
        with pytest.raises(ValueError):
            offline.g711_roundtrip(bad, RATE)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_numpy_g711_matches_ffmpeg(law):
    pcm = np.arange(-32768, 32768, 7, dtype=np.int32)
    decode = offline.ulaw_to_linear if law == "ulaw" else offline.alaw_to_linear
    encode = offline.linear_to_ulaw if law == "ulaw" else offline.linear_to_alaw
    error = np.abs(decode(encode(pcm)).astype(np.int32) - pcm)
    assert error[np.abs(pcm) < 30000].max() <= 512 + 4  # half the widest step (+ the 14-bit index)
    assert error[np.abs(pcm) < 32].max() <= (4 if law == "ulaw" else 8) + 3  # fine steps (8 or 16) near zero
    clean = voiced()
    mine = offline.g711_roundtrip(clean, RATE, law)
    assert mine.dtype == np.float32 and len(mine) == len(clean)
    needs(law)
    assert np.corrcoef(mine, offline.apply_condition(clean, RATE, law))[0, 1] > 0.999
    every = np.arange(-32768, 32768, dtype=np.int16)  # bit-exact against ffmpeg for every 16-bit input
    fmt, codec = ("mulaw", "pcm_mulaw") if law == "ulaw" else ("alaw", "pcm_alaw")
    done = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "-",
                           "-c:a", codec, "-f", fmt, "-"], input=every.tobytes(), capture_output=True, timeout=30)
    np.testing.assert_array_equal(np.frombuffer(done.stdout, np.uint8), encode(every))


def test_augmented_copies_names_each_condition():
    needs("g722")
    needs("room")
    copies = list(offline.augmented_copies(voiced(0.5), RATE, ["g722", "ulaw", "room", "room"], seed=3))
    assert [name for name, _ in copies] == ["g722", "ulaw", "room", "room"]
    assert all(x.dtype == np.float32 and np.isfinite(x).all() for _, x in copies)
    assert not np.array_equal(copies[2][1], copies[3][1])  # each room copy draws its own room
    again = dict(list(offline.augmented_copies(voiced(0.5), RATE, ["g722", "ulaw", "room"], seed=3)))
    assert np.array_equal(again["room"], copies[2][1])


def test_registry_is_described():
    assert set(offline.DESCRIPTIONS) == set(offline.CONDITIONS)
    assert {"g722", "gsm", "opus_12k", "mp3_32k", "aac_32k", "alaw", "ulaw", "amrnb_7k95", "speed_0.9",
            "tempo_1.1", "room"} <= set(offline.CONDITIONS)
