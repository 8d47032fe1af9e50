"""Offline augmentation with real tools: codec round trips, speed, tempo, rooms, and missing-tool errors."""
import shutil

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


def needs(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed ({offline.INSTALL[tool]})")


@pytest.mark.parametrize("codec", sorted(offline.CODECS))
def test_codec_round_trip(codec):
    needs(offline.CODECS[codec].tool)
    clean = voiced()
    coded = offline.apply_condition(clean, RATE, codec)
    assert coded.dtype == np.float32 and len(coded) == len(clean) and np.isfinite(coded).all()
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
    needs("sox")
    clean = voiced(seconds=2.0)
    changed = offline.apply_condition(clean, RATE, name)
    assert len(changed) / len(clean) == pytest.approx(1 / factor, rel=0.01)
    expected_f0 = 150.0 if pitch_kept else 150.0 * factor
    assert estimate_f0(changed[RATE // 2: RATE]) == pytest.approx(expected_f0, rel=0.02)


def test_room_reverberates_and_is_seeded():
    pytest.importorskip("pyroomacoustics", reason="pip install pyroomacoustics")
    burst = np.zeros(RATE, np.float32)
    burst[:800] = voiced(0.05)
    first = offline.apply_condition(burst, RATE, "room", seed=1)
    assert np.array_equal(first, offline.apply_condition(burst, RATE, "room", seed=1))
    assert not np.array_equal(first[:RATE], offline.apply_condition(burst, RATE, "room", seed=2)[:RATE])

    def tail_energy(x):  # energy after the burst has ended, relative to the whole
        return np.sum(x[1600:RATE] ** 2) / np.sum(x ** 2)

    assert tail_energy(burst) == 0 and tail_energy(first) > 0.01
    assert np.isfinite(first).all() and np.abs(first).max() <= 1.0


def test_missing_tools_name_the_package(monkeypatch):
    monkeypatch.setattr(offline.shutil, "which", lambda name: None)
    with pytest.raises(offline.ToolMissing, match="apt-get install ffmpeg"):
        offline.apply_condition(voiced(), RATE, "opus_12k")
    with pytest.raises(offline.ToolMissing, match="sox libsox-fmt-all"):
        offline.apply_condition(voiced(), RATE, "amrnb_7k95")
    with pytest.raises(ValueError, match="unknown condition"):
        offline.apply_condition(voiced(), RATE, "vinyl")


def test_augmented_copies_names_each_condition():
    needs("ffmpeg")
    names = [name for name, _ in offline.augmented_copies(voiced(), RATE, ["g722", "ulaw"], seed=0)]
    assert names == ["g722", "ulaw"]
