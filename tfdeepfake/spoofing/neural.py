"""Neural copy-synthesis: the Lyra v2 codec and the HiFi-GAN V3 vocoder, both as TFLite models.

Both re-create a real utterance through a trained neural network, the kind of artefact modern deepfakes carry
and the classic systems of :mod:`tfdeepfake.spoofing.generators` do not:

``lyra_3200`` / ``lyra_6000`` / ``lyra_9200``
    Lyra v2 (SoundStream encoder, residual vector quantiser with 16 / 30 / 46 of its 46 four-bit codebooks,
    LyraGAN decoder) at 16 kHz in 20 ms frames: an encode + decode round trip at that bitrate.
``hifigan_v3_fp16`` / ``hifigan_v3_dr``
    HiFi-GAN V3 (trained on LJSpeech, 22.05 kHz) fed the log-mel spectrogram of the jik876/hifi-gan recipe;
    float16 weights or dynamic-range int8 quantisation.

Audio at another rate is resampled (soxr) to the model's rate and back, and the output has exactly the
source's length and timing. Lyra's encoder and decoder keep state from frame to frame, so each utterance goes
through fresh interpreters, frame by frame, in order: the same input always gives the same output. Measured
on LibriSpeech (``benchmarks/vocoded_rtf.py``): the decoded frame k reconstructs input frame k, the
cross-correlation peak between source and output is at lag 0 at every bitrate, so :data:`LYRA_DELAY` is 0; our
HiFi-GAN output correlates 0.92-0.96 (fp16) and 0.90-0.95 (dr) at lag 0 with the published V3 copy-synthesis
of the five LJSpeech clips of the hifi-gan demo page.

The models are pinned files (URL at an upstream commit + sha256) found by :mod:`tfdeepfake.weights`
(``$TFDEEPFAKE_WEIGHTS``, ``../shared/weights``, the cache). Nothing is downloaded behind the caller's back:
without the files a generator is unavailable and says which files to put where;
:func:`download_weights` fetches them on request.
"""
from __future__ import annotations

import functools
import os
import threading
import warnings

import numpy as np

from ..audio import resample
from ..storage import sha256_file
from .errors import GeneratorFailed, GeneratorInputError, GeneratorUnavailable

LYRA_COMMIT = "47698dadf0010abff6a848e02642f55f806d4842"
HIFIGAN_COMMIT = "3872d59b80302c674ce0398a00989fabad6e6f14"
LYRA_URL = f"https://github.com/google/lyra/raw/{LYRA_COMMIT}/lyra/model_coeffs"
HIFIGAN_URL = f"https://github.com/tulasiram58827/TTS_TFLite/raw/{HIFIGAN_COMMIT}/models"

# (name under a weights folder, sha256, pinned URL); WeightsFile is built on use, as importing
# tfdeepfake.models loads TensorFlow, which the classic generators do not need
LYRA_FILES = {
    "encoder": ("lyra/soundstream_encoder.tflite", "237da0b16226fb0a68d49551c81bebf614e42142af72764448359f68581e88f1",
                f"{LYRA_URL}/soundstream_encoder.tflite"),
    "quantizer": ("lyra/quantizer.tflite", "841ee05989687d32d1f616a8ad1419fc7eda37599d3c05c7cf5a0d60ccf8ac5c",
                  f"{LYRA_URL}/quantizer.tflite"),
    "decoder": ("lyra/lyragan.tflite", "50e7839cda4f30599a3a34cfaddcd9c98449b049eee884e1a74295780448ad06",
                f"{LYRA_URL}/lyragan.tflite"),
}
HIFIGAN_FILES = {
    "fp16": ("hifigan-v3/hifigan_float16.tflite", "10bd5422fa2e601095a5f1ba3b568713b6a04bb75d01e2bcc3b7dfd3cbe049f0",
             f"{HIFIGAN_URL}/hifigan_float16.tflite"),
    "dr": ("hifigan-v3/hifigan_dr.tflite", "7c4057f26355c7b6130e5ceddc4f76fda52ee34205b19bf4ca23b74d24b20be8",
           f"{HIFIGAN_URL}/hifigan_dr.tflite"),
}
WEIGHTS_HOME = {"lyra": f"https://github.com/google/lyra/tree/{LYRA_COMMIT}/lyra/model_coeffs",
                "hifigan-v3": f"https://github.com/tulasiram58827/TTS_TFLite/tree/{HIFIGAN_COMMIT}/models"}

LYRA_RATE = 16000
LYRA_FRAME = 320  # 20 ms
LYRA_QUANTIZERS = {3200: 16, 6000: 30, 9200: 46}  # bit/s -> codebooks of 4 bits per 20 ms frame
LYRA_DELAY = 0  # samples at 16 kHz between input and decoded output (measured: cross-correlation peak at lag 0)

HIFIGAN_RATE = 22050
HIFIGAN_N_FFT = 1024
HIFIGAN_HOP = 256
HIFIGAN_WIN = 1024
HIFIGAN_MELS = 80
HIFIGAN_FMIN = 0.0
HIFIGAN_FMAX = 8000.0
HIFIGAN_CHUNK = 256  # mel frames per call (~3 s): activations grow ~150 MB per second of audio
HIFIGAN_CONTEXT = 16  # frames of context each side of a chunk: beyond the receptive field, so the seams are exact


# --------------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------------

def _weights():
    from .. import weights

    return weights


def lyra_weights() -> dict:
    """{role: WeightsFile} of the three Lyra models (encoder, quantizer, decoder)."""
    WeightsFile = _weights().WeightsFile
    return {role: WeightsFile(*entry) for role, entry in LYRA_FILES.items()}


def hifigan_weights(variant: str = "fp16"):
    """The WeightsFile of HiFi-GAN V3 ``variant`` ("fp16" or "dr")."""
    return _weights().WeightsFile(*HIFIGAN_FILES[variant])


_SHA_OK: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime) -> sha256 matches: hash each file once
_SHA_LOCK = threading.Lock()


def _matches(path, spec) -> bool:
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _SHA_LOCK:
        if key not in _SHA_OK:
            _SHA_OK[key] = sha256_file(path) == spec.sha256
        return _SHA_OK[key]


def weights_problem(specs: list) -> tuple[str, str] | None:
    """``None`` when every file of ``specs`` is on this machine with its pinned sha256, else (what is missing,
    where to put it); looks in the weights folders and the cache only, never on the network."""
    weights = _weights()
    absent, wrong = [], []
    for spec in specs:
        path = weights.local_copy(spec)
        if path is None:
            absent.append(spec.name)
        elif not _matches(path, spec):
            wrong.append(f"{path} (sha256 is not the pinned {spec.sha256[:16]}...)")
    if not absent and not wrong:
        return None
    homes = sorted({WEIGHTS_HOME[spec.name.split("/")[0]] for spec in specs})
    what = []
    if absent:
        what.append("weights file(s) " + ", ".join(absent))
    if wrong:
        what.append("a different file at " + ", ".join(wrong))
    where = os.environ.get("TFDEEPFAKE_WEIGHTS") or "$TFDEEPFAKE_WEIGHTS"
    return ("; ".join(what),
            f"put {', '.join(s.name for s in specs)} (from {' and '.join(homes)}) under {where}/ or "
            f"{weights.cache_dir()}/ keeping those relative paths, or fetch the pinned files with "
            "`tfdeepfake make-vocoded-corpus --download-weights --list-systems`")


def lyra_missing() -> tuple[str, str] | None:
    """The :class:`~tfdeepfake.spoofing.generators.Generator` check of the Lyra systems."""
    return weights_problem(list(lyra_weights().values()))


def hifigan_missing(variant: str = "fp16") -> tuple[str, str] | None:
    """The check of ``hifigan_v3_<variant>``."""
    return weights_problem([hifigan_weights(variant)])


def weights_of(system_id: str) -> list:
    """The pinned WeightsFiles a neural system needs (empty for any other system id)."""
    if system_id.startswith("lyra_"):
        return list(lyra_weights().values())
    variant = system_id[len("hifigan_v3_"):] if system_id.startswith("hifigan_v3_") else None
    return [hifigan_weights(variant)] if variant in HIFIGAN_FILES else []


def download_weights(system_ids) -> dict[str, str]:
    """Resolve (and, when absent here, download from the pinned URL into the cache) the files of the neural
    systems among ``system_ids``; returns {file name: local path}. Raises WeightsError offline."""
    found = {}
    for system_id in system_ids:
        for spec in weights_of(system_id):
            if spec.name not in found:
                found[spec.name] = _weights().resolve(spec)
    return found


def _model_path(spec, system_id: str) -> str:
    path = _weights().local_copy(spec)
    if path is None or not _matches(path, spec):
        raise GeneratorUnavailable(system_id, *weights_problem([spec]))
    return str(path)


def _interpreter(path: str, threads: int, system_id: str):
    import tensorflow as tf

    with warnings.catch_warnings():  # tf.lite.Interpreter's notice about ai_edge_litert
        warnings.simplefilter("ignore", UserWarning)
        try:
            return tf.lite.Interpreter(model_path=path, num_threads=int(threads))
        except (ValueError, RuntimeError) as error:
            raise GeneratorFailed(system_id, f"{path}: not a readable TFLite model ({error})") from error


def _runner(interpreter, signature: str, path: str, system_id: str):
    try:
        return interpreter.get_signature_runner(signature)
    except ValueError as error:
        raise GeneratorFailed(system_id, f"{path}: no {signature!r} signature "
                                         f"(has {list(interpreter.get_signature_list())})") from error


# --------------------------------------------------------------------------------------------------------
# Lyra v2
# --------------------------------------------------------------------------------------------------------


def lyra_resynthesis(source, sample_rate, rng, text=None, *, bitrate: int = 6000, threads: int = 1,
                     system_id: str = "lyra_6000") -> np.ndarray:
    """Encode ``source`` with Lyra v2 at ``bitrate`` bit/s (3200, 6000 or 9200) and decode it again.

    Frames of 320 samples at 16 kHz go in order through one encoder and one decoder interpreter made for this
    utterance (both are stateful); the last frame is zero-padded and the output cut to the source's length.
    ``rng`` is unused: the codec is deterministic.
    """
    if bitrate not in LYRA_QUANTIZERS:
        raise GeneratorInputError(system_id, f"bitrate must be one of {sorted(LYRA_QUANTIZERS)} bit/s, not {bitrate}")
    paths = {role: _model_path(spec, system_id) for role, spec in lyra_weights().items()}
    x = np.clip(resample(np.asarray(source, np.float32), int(sample_rate), LYRA_RATE), -1.0, 1.0)
    n = len(x)
    frames = -(-(n + LYRA_DELAY) // LYRA_FRAME)
    padded = np.zeros(frames * LYRA_FRAME, np.float32)
    padded[:n] = x
    encoder = _runner(_interpreter(paths["encoder"], threads, system_id), "serving_default", paths["encoder"],
                      system_id)
    quantizer = _interpreter(paths["quantizer"], threads, system_id)
    quantize = _runner(quantizer, "encode", paths["quantizer"], system_id)
    dequantize = _runner(quantizer, "decode", paths["quantizer"], system_id)
    decoder = _runner(_interpreter(paths["decoder"], threads, system_id), "serving_default", paths["decoder"],
                      system_id)
    codebooks = np.array(LYRA_QUANTIZERS[bitrate], np.int32)
    out = np.empty_like(padded)
    for k in range(frames):
        hop = padded[None, k * LYRA_FRAME:(k + 1) * LYRA_FRAME]
        features = encoder(input_audio=hop)["output_0"]
        indices = quantize(input_frames=features, num_quantizers=codebooks)["output_0"]
        decoded = decoder(input_audio=dequantize(encoding_indices=indices)["output_0"])["output_0"]
        if decoded.size != LYRA_FRAME:
            raise GeneratorFailed(system_id, f"{paths['decoder']}: gave {decoded.size} samples per frame, "
                                             f"expected {LYRA_FRAME}")
        out[k * LYRA_FRAME:(k + 1) * LYRA_FRAME] = decoded.reshape(-1)
    return resample(out[LYRA_DELAY:LYRA_DELAY + n], LYRA_RATE, int(sample_rate))


# --------------------------------------------------------------------------------------------------------
# HiFi-GAN V3
# --------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=HIFIGAN_RATE, n_fft=HIFIGAN_N_FFT, n_mels=HIFIGAN_MELS, fmin=HIFIGAN_FMIN,
                               fmax=HIFIGAN_FMAX).astype(np.float32)  # Slaney scale and norm, as in training


def hifigan_log_mel(samples: np.ndarray) -> np.ndarray:
    """[80, frames] natural-log mel magnitudes of 22.05 kHz audio, as HiFi-GAN was trained on: reflect pad of
    (n_fft - hop) / 2 = 384 both sides, Hann 1024 / hop 256 STFT without centring, sqrt(|X|^2 + 1e-9), Slaney
    mel 0-8 kHz, log(max(x, 1e-5)). ``len(samples) // 256`` frames."""
    import librosa

    x = np.asarray(samples, np.float32).reshape(-1)
    pad = (HIFIGAN_N_FFT - HIFIGAN_HOP) // 2
    if len(x) <= pad:
        raise ValueError(f"needs more than {pad} samples for the reflect padding, got {len(x)}")
    spectrum = librosa.stft(np.pad(x, pad, mode="reflect"), n_fft=HIFIGAN_N_FFT, hop_length=HIFIGAN_HOP,
                            win_length=HIFIGAN_WIN, window="hann", center=False)
    magnitude = np.sqrt(spectrum.real ** 2 + spectrum.imag ** 2 + 1e-9)
    return np.log(np.maximum(_mel_basis() @ magnitude, 1e-5)).astype(np.float32)


def _vocode(mel: np.ndarray, path: str, threads: int, system_id: str) -> np.ndarray:
    """HiFi-GAN on [80, T] mel frames -> T * 256 samples, in chunks of fixed length with context on both sides
    (one tensor size for the whole clip; memory bounded whatever the length)."""
    interpreter = _interpreter(path, threads, system_id)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    shape = list(inputs[0].get("shape_signature", inputs[0]["shape"])) if inputs else []
    if len(inputs) != 1 or len(outputs) != 1 or shape[:2] != [1, HIFIGAN_MELS] or inputs[0]["dtype"] != np.float32:
        raise GeneratorFailed(system_id, f"{path}: expected one float32 input [1, {HIFIGAN_MELS}, T] and one output, "
                                         f"got {[(d['dtype'].__name__, list(d['shape'])) for d in inputs]}")
    frames = mel.shape[1]
    window = min(frames, HIFIGAN_CHUNK + 2 * HIFIGAN_CONTEXT)
    interpreter.resize_tensor_input(inputs[0]["index"], [1, HIFIGAN_MELS, window])
    interpreter.allocate_tensors()
    audio = np.empty(frames * HIFIGAN_HOP, np.float32)
    for start in range(0, frames, HIFIGAN_CHUNK):
        end = min(start + HIFIGAN_CHUNK, frames)
        first = min(max(start - HIFIGAN_CONTEXT, 0), frames - window)
        interpreter.set_tensor(inputs[0]["index"], np.ascontiguousarray(mel[None, :, first:first + window]))
        interpreter.invoke()
        chunk = interpreter.get_tensor(outputs[0]["index"]).reshape(-1)
        if chunk.size != window * HIFIGAN_HOP:
            raise GeneratorFailed(system_id, f"{path}: {window} mel frames gave {chunk.size} samples, expected "
                                             f"{window * HIFIGAN_HOP}")
        audio[start * HIFIGAN_HOP:end * HIFIGAN_HOP] = chunk[(start - first) * HIFIGAN_HOP:(end - first) * HIFIGAN_HOP]
    return audio


def hifigan_resynthesis(source, sample_rate, rng, text=None, *, variant: str = "fp16", threads: int = 1,
                        system_id: str = "hifigan_v3_fp16") -> np.ndarray:
    """Copy synthesis with HiFi-GAN V3: source -> 22.05 kHz -> log-mel (:func:`hifigan_log_mel`, the source
    zero-padded to whole hops) -> vocoder -> back to ``sample_rate``, cut to the source's length. ``variant``
    ``"fp16"`` or ``"dr"`` picks the TFLite file; ``rng`` is unused (the vocoder is deterministic)."""
    if variant not in HIFIGAN_FILES:
        raise GeneratorInputError(system_id, f"variant must be one of {sorted(HIFIGAN_FILES)}, not {variant!r}")
    path = _model_path(hifigan_weights(variant), system_id)
    x = resample(np.asarray(source, np.float32), int(sample_rate), HIFIGAN_RATE)
    n = len(x)
    frames = -(-n // HIFIGAN_HOP)
    mel = hifigan_log_mel(np.pad(x, (0, frames * HIFIGAN_HOP - n)))
    audio = _vocode(mel, path, threads, system_id)[:n]
    return resample(audio, HIFIGAN_RATE, int(sample_rate))


# --------------------------------------------------------------------------------------------------------
# How close a resynthesis is to its source
# --------------------------------------------------------------------------------------------------------


def log_mel_distance(reference: np.ndarray, test: np.ndarray, sample_rate: int, *, n_mels: int = 80,
                     range_db: float = 80.0) -> float:
    """Mean absolute difference (dB) between the log-mel power spectrograms of two time-aligned signals.

    64 ms Hann frames, hop 16 ms, ``n_mels`` Slaney bands 0 - sr/2; both spectrograms are floored at
    ``range_db`` below the reference's loudest bin so silence does not dominate. Levels count: a gain of
    g dB adds up to |g| dB. Signals are compared over their common length.
    """
    import librosa

    n = min(len(reference), len(test))
    n_fft = 1 << int(np.round(np.log2(0.064 * sample_rate)))
    mels = [librosa.feature.melspectrogram(y=np.asarray(x[:n], np.float32), sr=sample_rate, n_fft=n_fft,
                                           hop_length=n_fft // 4, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2)
            for x in (reference, test)]
    db = [10.0 * np.log10(np.maximum(m, 1e-20)) for m in mels]
    floor = db[0].max() - range_db
    return float(np.mean(np.abs(np.maximum(db[0], floor) - np.maximum(db[1], floor))))
