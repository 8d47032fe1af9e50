"""A mini anti-spoofing corpus made on the spot from real recordings, in the ASVspoof 2019 LA layout.

Real speech: the Debian packages asterisk-core-sounds-{en,es,fr,it,ru}-g722 (professional prompt voices,
16 kHz G.722, CC-BY-SA-3.0, Digium/Sangoma) or any folder of recordings (``bonafide_dir``). Spoofs: the
generators of :mod:`tfdeepfake.spoofing.generators`. Every clip, real or fake, leaves through the same final
chain (same rate, same number of codec passes, same loudness and silence handling), so no trivial cue
separates them. Train and dev share attacks and speakers; eval has unseen speakers, unseen attacks and one
seen attack.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import soundfile as sf

from ..audio import AudioError, load_audio
from ..corpora.base import CorpusNotFoundError, find_audio
from . import layout
from .chain import FinalChain, trim_silence
from .errors import GeneratorError, GeneratorInputError
from .generators import generate, get_generator
from .layout import SPLIT_FILES

ASTERISK_DIR = "/usr/share/asterisk/sounds"
# voice folder -> speaker (Allison records both the US English and the Mexican Spanish prompts)
ASTERISK_VOICES = {"en_US_f_Allison": "Allison", "es_MX_f_Allison": "Allison", "fr_CA_f_June": "June",
                   "it_IT_m_Carlo": "Carlo", "ru_RU_f_IvrvoiceRU": "IvrvoiceRU"}
ASTERISK_EVAL_SPEAKERS = ("Carlo", "IvrvoiceRU")
TRAIN_ATTACKS = {"D01": "griffinlim_mel", "D02": "world", "D03": "tts_espeak", "D04": "phase_random"}
EVAL_ATTACKS = {"D02": "world", "D05": "lpc", "D06": "tts_flite", "D07": "phase_vocoder", "D08": "tts_festival",
                "D09": "world_mod"}
# Harvard sentences (IEEE 1969, public domain): TTS text when a source has no prompt text
SENTENCES = (
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
)


@dataclass(frozen=True)
class Source:
    path: str
    speaker: str
    text: str
    codec_passes: int  # codec passes the real recording already went through


@dataclass(frozen=True)
class Job:
    utt_id: str
    split: str
    source: Source
    attack: str  # "-" for the real clip
    system: str | None
    seed: int


def asterisk_sources(root: str = ASTERISK_DIR) -> list[Source]:
    """Every prompt of the installed asterisk-core-sounds-*-g722 voices (text from the file name)."""
    sources = []
    for folder, speaker in ASTERISK_VOICES.items():
        directory = os.path.join(root, folder)
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(".g722"):
                text = os.path.splitext(name)[0].replace("-", " ").replace("_", " ")
                sources.append(Source(os.path.join(directory, name), speaker, text, 1))
    return sources


LIBRISPEECH_NAME = re.compile(r"^(\d+)-\d+-\d+$")  # SPEAKER-CHAPTER-UTTERANCE


def speaker_of(path: str, root: str) -> str:
    """LibriSpeech file names carry the speaker; otherwise the first folder level below ``root`` names it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    match = LIBRISPEECH_NAME.match(stem)
    if match:
        return match.group(1)
    parts = os.path.relpath(path, root).split(os.sep)
    return parts[0] if len(parts) > 1 else stem


def folder_sources(root: str) -> list[Source]:
    """Recordings below ``root`` with their speakers (:func:`speaker_of`)."""
    return [Source(path, speaker_of(path, root), SENTENCES[index % len(SENTENCES)], 0)
            for index, path in enumerate(find_audio(root))]


G722_TIMEOUT_S = 300  # a prompt decodes in milliseconds; minutes only on a machine starved of CPU


def read_source(source: Source, rate: int) -> np.ndarray:
    """Samples of a source at ``rate``; raw G.722 is decoded with ffmpeg (libsndfile cannot)."""
    if not source.path.endswith(".g722"):
        return load_audio(source.path, rate)[0]
    try:
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-f", "g722", "-i", source.path, "-f", "f32le", "-ac",
                                  "1", "-ar", str(rate), "-"], capture_output=True, timeout=G722_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:  # one stuck decode is that clip's failure row, not the build's end
        raise AudioError(source.path, f"ffmpeg did not decode G.722 within {G722_TIMEOUT_S} s") from error
    if decoded.returncode or not decoded.stdout:
        raise AudioError(source.path, f"ffmpeg could not decode G.722: {decoded.stderr.decode().strip()[:200]}")
    return np.frombuffer(decoded.stdout, dtype="<f4").copy()


def assign_speakers(sources: list[Source], seed: int) -> dict[str, str]:
    """speaker -> 'train' (train and dev) or 'eval'; asterisk voices use the documented split."""
    speakers = sorted({s.speaker for s in sources})
    if set(speakers) <= set(ASTERISK_VOICES.values()):
        return {s: "eval" if s in ASTERISK_EVAL_SPEAKERS else "train" for s in speakers}
    if len(speakers) < 2:
        raise GeneratorInputError("the demo corpus needs recordings of at least two speakers (train and eval disjoint)")
    order = np.random.default_rng(seed).permutation(speakers)
    eval_count = max(1, round(0.4 * len(speakers)))
    return {s: "eval" if i < eval_count else "train" for i, s in enumerate(order)}


def plan(sources: list[Source], per_speaker: int, seed: int, rate: int, min_seconds: float = 1.0,
         max_seconds: float = 8.0) -> list[Job]:
    """Choose real utterances (seeded), split them, and list one spoof per attack of the split for each."""
    rng = np.random.default_rng(seed)
    groups = assign_speakers(sources, seed)
    jobs, counters = [], Counter()
    by_speaker: dict[str, list[Source]] = {}
    for source in sources:
        by_speaker.setdefault(source.speaker, []).append(source)
    for speaker in sorted(by_speaker):
        chosen = []
        for index in rng.permutation(len(by_speaker[speaker])):
            source = by_speaker[speaker][index]
            seconds = source_seconds(source)
            if min_seconds <= seconds <= max_seconds:
                chosen.append(source)
            if len(chosen) == per_speaker:
                break
        for position, source in enumerate(chosen):
            split = groups[speaker] if groups[speaker] == "eval" else ("dev" if position % 4 == 3 else "train")
            attacks = EVAL_ATTACKS if split == "eval" else TRAIN_ATTACKS
            for attack, system in [("-", None), *attacks.items()]:
                counters[split] += 1
                utt_id = f"DM_{split[0].upper()}_{counters[split]:07d}"
                jobs.append(Job(utt_id, split, source, attack, system, int(rng.integers(2**31))))
    return jobs


def source_seconds(source: Source) -> float:
    """Duration of a source from its header (G.722: from its size) without decoding it."""
    if source.path.endswith(".g722"):
        return os.path.getsize(source.path) * 2 / 16000.0  # G.722: 64 kbit/s, 16 kHz
    info = sf.info(source.path)
    return info.frames / info.samplerate


def corpus_chain(rate: int) -> FinalChain:
    """The final chain of the generated corpora: ``rate``, whole-clip RMS level, 50-400 ms of silence drawn
    for each end."""
    return FinalChain(target_rate=rate, level="rms", pad_seconds=(0.05, 0.4))


def spoof_chain(chain: FinalChain, source: Source) -> FinalChain:
    """``chain`` with as many extra codec passes as the real recording already went through, so a spoof made
    from a G.722 prompt carries the codec as often as the prompt itself."""
    return FinalChain(**{**asdict(chain), "codec_passes": chain.codec_passes + source.codec_passes})


def render(job: Job, chain: FinalChain, rate: int) -> np.ndarray:
    """The clip of one job: the real recording or its spoof, through the final chain."""
    real = read_source(job.source, rate)
    if job.system is None:
        return chain(real, rate, seed=job.seed)
    if job.system.startswith("tts_"):  # speak about as long as the real prompt, or duration gives it away
        fake = tts_of_length(job, real, rate)
    else:
        fake = generate(job.system, real, rate, text=job.source.text, seed=job.seed)
    return spoof_chain(chain, job.source)(fake, rate, seed=job.seed)


def _speech_seconds(samples: np.ndarray, rate: int) -> float:
    start, end = trim_silence(samples, rate)[1]
    return max(end - start, 1) / rate


def tts_of_length(job: Job, real: np.ndarray, rate: int, max_sentences: int = 4) -> np.ndarray:
    """TTS of the prompt's text, extended with Harvard sentences while that brings its speech closer to the real
    prompt's duration, then time-stretched (pitch kept) by the small remaining ratio."""
    import librosa

    target = _speech_seconds(real, rate)
    text = job.source.text
    best = generate(job.system, None, rate, text=text, seed=job.seed)
    for extra in range(max_sentences):
        if _speech_seconds(best, rate) >= target:
            break
        text = f"{text}. {SENTENCES[(job.seed + extra) % len(SENTENCES)]}"
        longer = generate(job.system, None, rate, text=text, seed=job.seed)
        if abs(_speech_seconds(longer, rate) - target) >= abs(_speech_seconds(best, rate) - target):
            break
        best = longer
    ratio = _speech_seconds(best, rate) / target
    return librosa.effects.time_stretch(best, rate=ratio).astype(np.float32)


def build_demo_corpus(out: str, *, bonafide_dir: str | None = None, per_speaker: int = 48, seed: int = 0,
                      sample_rate: int = 16000, workers: int | None = None, progress: bool = True) -> dict:
    """Write the corpus under ``out`` (ASVspoof 2019 LA layout + README.md + manifest.json); returns the manifest."""
    sources = folder_sources(bonafide_dir) if bonafide_dir else asterisk_sources()
    if not sources:
        raise CorpusNotFoundError(f"no real recordings: install asterisk-core-sounds-en-g722 (and es, fr, it, ru) "
                                f"with apt-get, or pass --bonafide DIR (looked in {bonafide_dir or ASTERISK_DIR})")
    # ask only the systems used here: asking all would load TensorFlow for the neural ones' weights check
    missing = sorted({s for s in [*TRAIN_ATTACKS.values(), *EVAL_ATTACKS.values()]
                      if not get_generator(s).available()})
    jobs = [j for j in plan(sources, per_speaker, seed, sample_rate) if j.system not in missing]
    chain = corpus_chain(sample_rate)
    layout.prepare(out)

    def work(job: Job):
        try:
            clip = render(job, chain, sample_rate)
        except (GeneratorError, AudioError) as error:
            return job, f"{type(error).__name__}: {error}"
        layout.write_clip(layout.clip_path(out, job.split, job.utt_id), clip, sample_rate)
        return job, len(clip) / sample_rate

    from tqdm import tqdm

    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        results = list(tqdm(pool.map(work, jobs), total=len(jobs), desc="demo corpus", unit="clip",
                            disable=not progress))
    written = [(job, seconds) for job, seconds in results if not isinstance(seconds, str)]
    failures = [{"utt_id": job.utt_id, "system": job.system, "source": job.source.path, "reason": reason}
                for job, reason in results if isinstance(reason, str)]
    layout.write_protocols(out, [(job.split, job.source.speaker, job.utt_id, job.attack) for job, _ in written])
    manifest = {
        "seed": seed, "per_speaker": per_speaker, "sample_rate": sample_rate,
        "bonafide_source": bonafide_dir or ASTERISK_DIR, "final_chain": chain.settings(),
        "attacks": {"train_dev": TRAIN_ATTACKS, "eval": EVAL_ATTACKS}, "skipped_systems": missing,
        "counts": {split: dict(Counter(job.attack for job, _ in written if job.split == split))
                   for split in SPLIT_FILES},
        "speakers": {split: sorted({job.source.speaker for job, _ in written if job.split == split})
                     for split in SPLIT_FILES},
        "hours": round(sum(seconds for _, seconds in written) / 3600, 4), "failures": failures,
    }
    layout.write_json(os.path.join(out, "manifest.json"), manifest)
    layout.write_text(os.path.join(out, "README.md"), corpus_readme(manifest))
    return manifest


def corpus_readme(manifest: dict) -> str:
    rows = "\n".join(f"| {split} | {', '.join(manifest['speakers'][split])} | "
                     + ", ".join(f"{attack}: {count}" for attack, count in sorted(counts.items())) + " |"
                     for split, counts in manifest["counts"].items())
    systems = "\n".join(f"- {attack}: `{system}`" for attack, system in
                        sorted({**manifest["attacks"]["train_dev"], **manifest["attacks"]["eval"]}.items()))
    asterisk = manifest["bonafide_source"] == ASTERISK_DIR
    licence = ("Real speech: Asterisk core sound prompts (asterisk-core-sounds-{en,es,fr,it,ru}-g722), "
               "Copyright Digium, Inc. / Sangoma, CC-BY-SA-3.0. The spoofed clips derive from them and are "
               "shared under the same licence." if asterisk else
               f"Real speech from {manifest['bonafide_source']}: its own licence applies to this corpus.")
    return f"""# tfdeepfake demo corpus

Written by `tfdeepfake make-demo-corpus` (seed {manifest['seed']}, {manifest['per_speaker']} prompts per voice),
{manifest['hours']} hours at {manifest['sample_rate']} Hz, in the ASVspoof 2019 LA layout
(`ASVspoof2019_LA_{{train,dev,eval}}/flac`, protocols `SPEAKER UTT - ATTACK LABEL`).

{licence}

Every clip, real or spoofed, went through the same final chain: {json.dumps(manifest['final_chain'])};
spoofs made from G.722 recordings get as many extra G.722 passes as the real recording had.

| split | speakers | clips per attack (- = bona fide) |
|---|---|---|
{rows}

Attacks (train and dev share D01-D04; eval has unseen speakers, the seen attack D02 and unseen D05-D09):
{systems}

Skipped systems (tool missing): {', '.join(manifest['skipped_systems']) or 'none'}.
Failed clips: {len(manifest['failures'])} (listed in manifest.json).
"""
