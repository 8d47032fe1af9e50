"""Audio loading: formats, downmix, resampling, and one typed error per kind of bad input.

Real speech in every container (M4A, WebM, MP4, ...) is in test_audio_formats.py; this file needs no ../shared.
"""
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from tfdeepfake import audio


def tone(rate, seconds=0.5, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype,tolerance", [
    ("WAV", "PCM_U8", 1 / 64), ("WAV", "PCM_16", 1e-4), ("WAV", "PCM_24", 1e-6), ("WAV", "PCM_32", 1e-7),
    ("WAV", "FLOAT", 0), ("FLAC", "PCM_16", 1e-4), ("OGG", "VORBIS", 0.05), ("MP3", "MPEG_LAYER_III", 0.2),
])
def test_formats_decode_to_the_written_signal(tmp_path, fmt, subtype, tolerance):
    signal = tone(16000)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, signal, 16000, format=fmt, subtype=subtype)
    samples, info = audio.load_audio(path, 16000)
    assert samples.dtype == np.float32 and info.source_rate == 16000
    n = min(len(samples), len(signal))
    if fmt == "MP3":  # encoder delay: compare level, not sample by sample
        assert abs(np.sqrt(np.mean(samples**2)) - np.sqrt(np.mean(signal**2))) < tolerance
    else:
        assert len(samples) == len(signal)
        assert np.max(np.abs(samples[:n] - signal[:n])) <= tolerance + 1e-7


def test_stereo_is_downmixed_and_resampled(tmp_path):
    left, right = tone(44100, freq=300), tone(44100, freq=500)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], 1), 44100, subtype="FLOAT")
    samples, info = audio.load_audio(path, 16000)
    assert info.source_channels == 2 and info.source_rate == 44100
    assert len(samples) == 8000
    expected = audio.resample((left + right) / 2, 44100, 16000)
    assert np.max(np.abs(samples - expected)) < 1e-6
    spectrum = np.abs(np.fft.rfft(samples))
    peaks = sorted(np.argsort(spectrum)[-2:] * 16000 / len(samples))
    assert peaks == pytest.approx([300, 500], abs=3)


def test_int16_round_trip_is_exact_for_16_bit_sources(tmp_path):
    pcm = np.random.default_rng(0).integers(-32768, 32767, 4000, dtype=np.int16)
    path = tmp_path / "pcm.flac"
    sf.write(path, pcm, 16000, subtype="PCM_16")
    samples, _ = audio.load_audio(path, 16000)
    np.testing.assert_array_equal(audio.to_int16(samples), pcm)


def test_bad_inputs_raise_typed_errors_naming_the_file(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope.wav", audio.MissingAudioError)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases["empty"] = (empty, audio.EmptyFileError)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 16000)
    cases["zero"] = (zero, audio.NoSamplesError)
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all")
    cases["text"] = (text, audio.UndecodableAudioError)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT")
    cases["nan"] = (nan, audio.NonFiniteAudioError)
    inf = tmp_path / "inf.wav"
    sf.write(inf, np.array([0.1, np.inf], np.float32), 16000, subtype="FLOAT")
    cases["inf"] = (inf, audio.NonFiniteAudioError)
    long = tmp_path / "long.wav"
    sf.write(long, tone(16000, seconds=3), 16000)
    for name, (path, error) in cases.items():
        with pytest.raises(error) as caught:
            audio.load_audio(path)
        assert str(path) in str(caught.value), name
        assert isinstance(caught.value, audio.AudioError)
    with pytest.raises(audio.TooLongAudioError, match="long.wav"):
        audio.load_audio(long, max_seconds=2.0)
    assert len(audio.load_audio(long, max_seconds=5.0)[0]) == 48000


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg (scripts/install.sh installs it) encodes these")
@pytest.mark.parametrize("suffix,codec,rate", [(".m4a", "aac", 16000), (".webm", "libopus", 48000)])
def test_ffmpeg_formats_decode_a_tone_at_its_pitch(tmp_path, suffix, codec, rate):
    signal = tone(16000, seconds=1.0)
    wav, path = tmp_path / "tone.wav", tmp_path / f"tone{suffix}"
    sf.write(wav, signal, 16000)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", codec, str(path)], check=True)
    samples, info = audio.load_audio(path, 16000)
    assert (info.decoder, info.source_rate, info.format) == ("ffmpeg", rate, audio.probe_audio(path).format)
    assert 0 <= len(samples) - len(signal) < 1024  # AAC keeps its last frame's padding (measured 384)
    assert np.argmax(np.abs(np.fft.rfft(samples[:16000]))) == 440  # 1 s at 16 kHz: 1 Hz bins
    # measured RMS ratio 1.0022 (AAC), 1.0008 (Opus)
    assert np.sqrt(np.mean(samples[:16000] ** 2)) == pytest.approx(np.sqrt(np.mean(signal**2)), rel=0.02)
    np.testing.assert_array_equal(np.concatenate(list(audio.stream_audio(path, 16000, block_seconds=0.3))), samples)
