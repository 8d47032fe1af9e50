"""Real speech through every container and codec users bring: WAV/FLAC/Ogg/MP3 via libsndfile, M4A, WebM, MP4,
MKV and MOV via ffmpeg; probing, streaming in bounded memory, and the typed errors of each path.

The source is the first LibriSpeech utterance in ../shared (the module skips without it), encoded here with
ffmpeg; the bounds in ``ENCODINGS`` were measured on it, see ``Encoding``.
"""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import ROOT
from tfdeepfake import audio

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="ffmpeg (scripts/install.sh installs it) encodes the test files")
RATE = 16000
STEREO = "pan=stereo|c0=c0|c1=0.5*c0"  # right = left / 2, so the channel mean is 0.75 x the source
VIDEO = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class Encoding:
    """How to make one test file and what decoding it must give back.

    ``rate``/``channels``/``decoder``: what the file reports. ``extra``: decoded length minus the source's at
    16 kHz, inclusive (AAC keeps its last frame's padding, < 1024 samples at the source rate: 640 measured
    at 16 kHz, 299 for 48 kHz; the others are exact, resampled ones may be off by one). ``min_corr``: Pearson
    correlation with the source at lag 0, set to 1 - 2 x (1 - measured) so a decoder change that doubles the
    error fails; on 20 utterances the medians are as high, but noisy ones with half their energy above 4 kHz
    fall to 0.65 (8 kHz) and 0.89 (Opus 32k) from band limits, not decoder faults. ``gain``: the RMS ratio to the
    source the downmix must give, within 6% (MP3 at 64 kbit/s low-passes: 0.948 measured). ``exact``: lossless
    at the source rate, so the decoded samples must equal the source's.
    """

    suffix: str
    args: tuple
    rate: int
    channels: int = 1
    decoder: str = "libsndfile"
    extra: tuple = (0, 0)
    min_corr: float = 0.99999
    gain: float = 1.0
    video: bool = False
    second_audio: bool = False
    exact: bool = False


ENCODINGS = {
    "wav_int16": Encoding(".wav", ("-c:a", "pcm_s16le"), RATE, exact=True),
    "wav_float": Encoding(".wav", ("-c:a", "pcm_f32le"), RATE, exact=True),
    "wav_8k": Encoding(".wav", ("-ar", "8000", "-c:a", "pcm_s16le"), 8000, extra=(-1, 1), min_corr=0.968),
    "wav_stereo_44k": Encoding(".wav", ("-af", f"aresample=44100,{STEREO}", "-c:a", "pcm_s16le"), 44100, 2,
                               extra=(-1, 1), min_corr=0.998, gain=0.75),
    "flac": Encoding(".flac", ("-c:a", "flac"), RATE, exact=True),
    "ogg_vorbis": Encoding(".ogg", ("-c:a", "libvorbis", "-q:a", "4"), RATE, min_corr=0.993),
    "mp3": Encoding(".mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), RATE, min_corr=0.995),
    "m4a_aac": Encoding(".m4a", ("-c:a", "aac", "-b:a", "64k"), RATE, decoder="ffmpeg", extra=(0, 1023),
                        min_corr=0.9995),
    "webm_opus": Encoding(".webm", ("-c:a", "libopus", "-b:a", "32k"), 48000, decoder="ffmpeg", min_corr=0.981),
    "ogg_opus": Encoding(".opus", ("-c:a", "libopus", "-b:a", "32k"), RATE, min_corr=0.983),
    "mp4_aac_video": Encoding(".mp4", ("-c:a", "aac", "-b:a", "96k", *VIDEO), RATE, decoder="ffmpeg",
                              extra=(0, 1023), min_corr=0.9998, video=True),
    # lossless audio in a video container: the ffmpeg pipe must be bit-exact; the second audio track (a
    # tone) must be ignored, the first one read
    "mkv_flac_video": Encoding(".mkv", ("-c:a", "flac", *VIDEO), RATE, decoder="ffmpeg", video=True,
                               second_audio=True, exact=True),
    "mov_aac_stereo_48k": Encoding(".mov", ("-af", f"aresample=48000,{STEREO}", "-c:a", "aac", "-b:a", "128k",
                                            *VIDEO), 48000, 2, "ffmpeg", (0, 342), 0.996, 0.75, video=True),
}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def encode(source: Path, seconds: float, name: str, out: Path) -> Path:
    """``source`` encoded as ``ENCODINGS[name]`` into ``out``, under a name with spaces, a colon and a leading
    dash that must reach the decoders as one argument."""
    spec = ENCODINGS[name]
    path = out / f"-{name} x:1{spec.suffix}"
    inputs, maps = ["-i", source], []
    if spec.video:  # video first, as phones write it: the reader must pick the first *audio* stream
        inputs = ["-f", "lavfi", "-i", f"color=c=black:s=32x32:r=5:d={seconds}", *inputs]
        maps = ["-map", "0:v", "-map", "1:a"]
    if spec.second_audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate={RATE}:duration={seconds}"]
        maps += ["-map", "2:a"]
    ffmpeg(*inputs, *maps, *spec.args, path)
    return path


def lag_of(x, reference, window=2000):
    """Delay of ``x`` against ``reference`` (samples) at the cross-correlation peak within +-window."""
    n = 1 << int(np.ceil(np.log2(len(x) + len(reference))))
    c = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(reference, n)), n)
    c = np.concatenate([c[-window:], c[: window + 1]])
    return int(np.argmax(c)) - window


@pytest.fixture(scope="module")
def speech(shared_dir):
    """The first utterance of the LibriSpeech sample: its path and its 16 kHz float32 samples."""
    files = sorted((shared_dir / "corpora" / "librispeech-sample").rglob("*.flac"))
    if not files:
        pytest.skip(f"no FLAC files under {shared_dir / 'corpora' / 'librispeech-sample'}")
    samples, rate = sf.read(files[0], dtype="float32")
    assert rate == RATE
    return files[0], samples


@pytest.fixture(scope="module")
def encoded(speech, tmp_path_factory):
    """Name -> the speech encoded that way (made once per module, on first use)."""
    out, cache = tmp_path_factory.mktemp("formats"), {}

    def get(name):
        if name not in cache:
            cache[name] = encode(speech[0], len(speech[1]) / RATE, name, out)
        return cache[name]
    return get


@pytest.mark.parametrize("name", ENCODINGS)
def test_format_decodes_probes_and_streams_like_the_source(speech, encoded, name):
    spec, source = ENCODINGS[name], speech[1]
    path = encoded(name)
    samples, info = audio.load_audio(path, RATE)
    assert (info.source_rate, info.source_channels, info.decoder) == (spec.rate, spec.channels, spec.decoder)
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.flags.writeable
    assert spec.extra[0] <= len(samples) - len(source) <= spec.extra[1]
    n = min(len(samples), len(source))
    assert lag_of(samples[:n], source[:n]) == 0  # encoder delay is compensated by every decoder
    assert np.corrcoef(samples[:n], source[:n])[0, 1] >= spec.min_corr
    rms = lambda x: np.sqrt(np.mean(np.square(x, dtype=np.float64)))  # noqa: E731
    assert rms(samples[:n]) / rms(source[:n]) == pytest.approx(spec.gain, rel=0.06)
    if spec.exact:
        np.testing.assert_array_equal(samples, source)

    probed = audio.probe_audio(path)
    assert (probed.source_rate, probed.source_channels, probed.decoder) == (spec.rate, spec.channels, spec.decoder)
    assert probed.format == info.format and probed.subtype == info.subtype
    # exact from libsndfile; ffmpeg containers state the length without the codec's padding (AAC: -640 frames
    # at 16 kHz, -896 at 48 kHz; WebM/Opus: +384 at 48 kHz), so within one 1024-sample codec frame
    assert abs(probed.source_frames - info.source_frames) <= (0 if spec.decoder == "libsndfile" else 1024)

    block = 0.37  # an odd size, so blocks straddle codec frames and resampler steps
    with audio.stream_audio(path, RATE, block_seconds=block) as stream:
        assert stream.info == probed
        blocks = list(stream)
    assert {len(b) for b in blocks[:-1]} == {round(block * RATE)} and 0 < len(blocks[-1]) <= round(block * RATE)
    assert all(b.dtype == np.float32 and b.flags.writeable and b.flags.c_contiguous for b in blocks)
    # measured max abs diff: 0 on every format but MP3, where libsndfile's block reads differ by 6e-8 (1 ulp)
    assert np.max(np.abs(np.concatenate(blocks) - samples)) <= 1e-7


@pytest.mark.parametrize("name", ["flac", "ogg_vorbis", "mp3", "ogg_opus", "wav_stereo_44k"])
def test_ffmpeg_fallback_agrees_with_libsndfile(speech, encoded, name):
    """Where libsndfile lacks a format (older builds have no MP3 or Opus) ffmpeg decodes it to the same signal."""
    path = str(encoded(name))
    direct, info = audio.load_audio(path, RATE)
    data, fallback_info = audio._decode_ffmpeg(path, "forced", None)
    fallback = audio.resample(audio.downmix(data), fallback_info.source_rate, RATE)
    assert fallback_info.source_channels == info.source_channels
    n = min(len(direct), len(fallback))
    assert abs(len(direct) - len(fallback)) <= 1
    if name == "ogg_opus":  # ffmpeg decodes Opus at 48 kHz, libsndfile at the 16 kHz the header asks for:
        # correlation 0.99957 measured (0.9984 to 0.99997 on 10 utterances), max abs diff 0.057
        assert np.corrcoef(direct[:n], fallback[:n])[0, 1] > 0.999
    else:  # measured max abs diff: 0 for FLAC and PCM, 1.8e-7 for Vorbis, 1.5e-6 for MP3 (float decoders both)
        assert np.max(np.abs(direct[:n] - fallback[:n])) <= 1e-5


def test_browser_webm_without_duration_is_probed_and_limited(speech, tmp_path):
    """MediaRecorder WebM has no duration: probe_audio measures it from the last packet, max_seconds still works."""
    path = tmp_path / "recording.webm"
    ffmpeg("-i", speech[0], "-c:a", "libopus", "-live", "1", "-f", "webm", path)
    seconds = len(speech[1]) / RATE
    info = audio.probe_audio(path)
    assert info.source_rate == 48000 and abs(info.source_seconds - seconds) < 0.05
    samples, _ = audio.load_audio(path, RATE)
    assert len(samples) == len(speech[1])
    np.testing.assert_array_equal(np.concatenate(list(audio.stream_audio(path, RATE))), samples)
    with pytest.raises(audio.TooLongAudioError, match="recording.webm"):
        audio.load_audio(path, max_seconds=seconds / 2)
    assert len(audio.load_audio(path, max_seconds=seconds + 0.5)[0]) == len(samples)


def test_m4a_longer_than_the_limit_is_refused(encoded):
    path = encoded("m4a_aac")
    with pytest.raises(audio.TooLongAudioError, match="m4a_aac"):
        audio.load_audio(path, max_seconds=2.0)


def test_video_without_audio_raises_no_audio_stream(tmp_path):
    path = tmp_path / "screen.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=32x32:r=5:d=1", *VIDEO, path)
    for read in (audio.load_audio, audio.probe_audio, audio.stream_audio):
        with pytest.raises(audio.NoAudioStreamError, match="no audio stream") as caught:
            read(path)
        assert str(path) in str(caught.value) and "h264" in str(caught.value)
        assert isinstance(caught.value, audio.UndecodableAudioError)


def test_text_renamed_m4a_is_undecodable_naming_the_file(tmp_path):
    path = tmp_path / "memo.m4a"
    path.write_text("Voice memo: call the bank about the account on Monday.\n" * 20)
    for read in (audio.load_audio, audio.probe_audio, audio.stream_audio):
        with pytest.raises(audio.UndecodableAudioError) as caught:
            read(path)
        assert str(path) in str(caught.value) and "ffprobe" in str(caught.value)
        assert not isinstance(caught.value, (audio.NoAudioStreamError, audio.FfmpegMissingError))


def test_relative_names_that_look_like_ffmpeg_urls_are_read_as_files(encoded, tmp_path, monkeypatch):
    """"data:x.m4a" given to ffmpeg as is would be a data: URL (ffprobe fails); the reader passes file:<abspath>."""
    monkeypatch.chdir(tmp_path)
    name = "data:x.m4a"
    Path(name).write_bytes(encoded("m4a_aac").read_bytes())
    expected, _ = audio.load_audio(encoded("m4a_aac"))
    samples, info = audio.load_audio(name)
    assert info.path == name and info.decoder == "ffmpeg"
    np.testing.assert_array_equal(samples, expected)
    assert audio.probe_audio(name).source_rate == RATE


def test_without_ffmpeg_other_formats_say_it_is_needed(encoded, tmp_path, monkeypatch):
    wav, m4a = encoded("wav_int16"), encoded("m4a_aac")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no ffmpeg or ffprobe on it
    for read in (audio.load_audio, audio.probe_audio, audio.stream_audio):
        with pytest.raises(audio.FfmpegMissingError, match="install ffmpeg") as caught:
            read(m4a)
        assert str(m4a) in str(caught.value) and ".m4a" in str(caught.value)
    assert len(audio.load_audio(wav)[0]) > 0  # libsndfile formats need no ffmpeg


@pytest.mark.parametrize("container", ["wav", "mkv"])
def test_stream_validates_like_load_audio(tmp_path, container):
    """NaN/Inf raise the same typed error on both paths, naming the time; a WAV with zero frames is NoSamplesError,
    a Matroska file with no packets has no stream ffmpeg will open (UndecodableAudioError)."""
    rate, good = RATE, np.full(RATE * 2, 0.1, np.float32)
    bad = good.copy()
    bad[int(1.5 * rate)] = np.nan
    paths = {}
    for name, samples in {"nan": bad, "empty": good[:0]}.items():
        wav = tmp_path / f"{name}.wav"
        sf.write(wav, samples, rate, subtype="FLOAT")
        paths[name] = wav
        if container == "mkv":  # the same float PCM in Matroska, which only ffmpeg reads
            paths[name] = tmp_path / f"{name}.mkv"
            ffmpeg("-i", wav, "-c:a", "copy", paths[name])
    with pytest.raises(audio.NonFiniteAudioError, match=f"nan.{container}"):
        audio.load_audio(paths["nan"])
    stream = audio.stream_audio(paths["nan"], block_seconds=0.5)
    assert len(next(stream)) == RATE // 2  # blocks before the bad sample are delivered
    with pytest.raises(audio.NonFiniteAudioError, match=r"1 non-finite samples from 1\.500 s"):
        list(stream)
    empty = audio.NoSamplesError if container == "wav" else audio.UndecodableAudioError
    for read in (audio.load_audio, lambda p: list(audio.stream_audio(p))):
        with pytest.raises(empty, match=f"empty.{container}"):
            read(paths["empty"])


def test_closing_a_stream_early_stops_ffmpeg(tmp_path):
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    if not children.exists():
        pytest.skip("needs Linux /proc to list child processes")
    path = tmp_path / "long.mkv"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:sample_rate={RATE}:duration=120", "-c:a", "flac", path)
    stream = audio.stream_audio(path, block_seconds=1.0)
    next(stream)
    assert children.read_text().split(), "ffmpeg should be running while the stream is open"
    stream.close()
    assert not children.read_text().split()


MEASURE = """
import json, resource, sys, numpy as np
from tfdeepfake import audio
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux, bytes on macOS
try:  # the resident size now (Linux), so growth counts from here, not from the import's transient peak
    with open("/proc/self/statm") as statm:
        before = int(statm.read().split()[1]) * resource.getpagesize()
except OSError:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
count, energy = 0, 0.0
with audio.stream_audio(sys.argv[1], 16000, block_seconds=10.0) as stream:
    info = stream.info.decoder
    for block in stream:
        count += len(block)
        energy += float(np.square(block, dtype=np.float64).sum())  # not a BLAS dot: its threads fight the decoder
try:  # this process image's own peak (ru_maxrss also counts the forking parent's size on Linux)
    with open("/proc/self/status") as status:
        after = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
print(json.dumps({"count": count, "energy": energy, "growth": after - before, "decoder": info}))
"""


def test_one_hour_streams_in_bounded_memory(speech, tmp_path):
    """An hour of speech (230 MB as float32) streams through both decoders with < 100 MB peak RSS growth."""
    pcm, _ = sf.read(speech[0], dtype="int16")
    hour, minute = 3600 * RATE, np.tile(pcm, -(-60 * RATE // len(pcm)))[: 60 * RATE]
    flac = tmp_path / "hour.flac"
    with sf.SoundFile(flac, "w", RATE, 1, "PCM_16", format="FLAC") as handle:
        for _ in range(60):
            handle.write(minute)
    mkv = tmp_path / "hour.mkv"
    ffmpeg("-i", flac, "-c:a", "copy", mkv)  # the same FLAC stream, in a container only ffmpeg reads
    expected_energy = 60 * float(np.sum(np.square(minute / audio.PCM_SCALE)))
    for path, decoder in [(flac, "libsndfile"), (mkv, "ffmpeg")]:
        done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                              cwd=ROOT)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["decoder"] == decoder and result["count"] == hour
        assert result["energy"] == pytest.approx(expected_energy, rel=1e-6)
        assert result["growth"] < 100e6, f"{decoder}: peak RSS grew {result['growth'] / 1e6:.0f} MB"
