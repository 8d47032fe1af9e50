"""A vocoded corpus: every real recording beside its copy-synthesis by each chosen system, ASVspoof 2019 LA layout.

Pairs make the cleanest test of what a detector keys on: a fake and its real source share speaker, words,
channel and length, so only the system's own traces separate them. Neural systems (Lyra v2 at three bitrates,
HiFi-GAN V3 float16 and int8) and the classic ones of :mod:`tfdeepfake.spoofing.generators` can be mixed.

* Speakers are disjoint between train, dev and eval (drawn per bona fide folder with the seed, so every
  source folder is spread over the three splits).
* Held-out systems (``holdout``) appear in eval only; every other system in all three splits.
* Every clip, real or fake, leaves through the same final chain (:func:`tfdeepfake.spoofing.demo.corpus_chain`);
  spoofs of G.722 prompts get as many extra G.722 passes as the prompt had.
* ``pairs.csv`` names the source recording of every clip.
* Resumable: clips are written under a temporary name and renamed; a second run with the same settings keeps
  every finished clip and makes only the missing ones (failed ones are tried again). One failing clip becomes a
  failure row of the manifest and never stops the others.

The ATTACK column of the protocols holds the system id itself (``lyra_6000``), so per-attack results read
without a key.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ..corpora.base import CorpusNotFoundError
from . import layout, neural
from .chain import frame_levels_db
from .demo import ASTERISK_DIR, Source, asterisk_sources, corpus_chain, folder_sources, read_source, \
    source_seconds, spoof_chain
from .errors import CorpusBuildError
from .generators import GENERATORS, generate

DEFAULT_HOLDOUT = ("hifigan_v3_dr", "lyra_3200")
DEFAULT_SPLITS = (0.6, 0.2, 0.2)  # fractions of each folder's speakers in train, dev, eval
DEFAULT_PER_SPEAKER = 40  # recordings per speaker: the four asterisk voices have ~360 prompts each
DEFAULT_MIN_SECONDS = 1.0
DEFAULT_MAX_SECONDS = 10.0
ASTERISK = "asterisk"  # a --bonafide entry that means the installed asterisk prompt voices
ID_PREFIX = "VC"
SETTINGS_KEYS = ("bonafide", "systems", "holdout", "seed", "per_speaker", "min_seconds", "max_seconds",
                 "sample_rate", "split_fractions", "final_chain")


@dataclass(frozen=True)
class Clip:
    utt_id: str
    system: str | None  # None: the real recording
    seed: int

    @property
    def attack(self) -> str:
        return "-" if self.system is None else self.system


@dataclass(frozen=True)
class Item:
    """One real recording and the clips made from it (all in one split)."""

    source: Source
    split: str
    clips: tuple[Clip, ...]


def copy_synthesis_systems() -> list[str]:
    """Every registered copy-synthesis system, in registry order (classic, then neural)."""
    return [sid for sid, g in GENERATORS.items() if g.kind == "copy-synthesis"]


def collect_sources(bonafide) -> list[tuple[str, Source]]:
    """``(group, source)`` for each real recording of each ``bonafide`` entry: a folder (group = the folder) or
    ``"asterisk"`` (the installed prompt voices). A file reached twice counts once."""
    found, seen = [], set()
    for entry in bonafide:
        if entry == ASTERISK:
            sources = asterisk_sources()
            where = f"{ASTERISK_DIR} (apt-get install asterisk-core-sounds-en-g722 and es, fr, it, ru)"
        elif os.path.isdir(entry):
            sources, where = folder_sources(entry), entry
        else:
            raise CorpusNotFoundError(f"{entry}: bona fide folder not found (give a folder of recordings or "
                                      f"{ASTERISK!r})")
        if not sources:
            raise CorpusNotFoundError(f"{where}: no recordings found")
        group = ASTERISK if entry == ASTERISK else os.path.abspath(entry)
        for source in sources:
            key = os.path.realpath(source.path)
            if key not in seen:
                seen.add(key)
                found.append((group, source))
    return found


def assign_splits(groups: dict[str, list[str]], fractions=DEFAULT_SPLITS, seed: int = 0) -> dict[str, str]:
    """speaker -> 'train' / 'dev' / 'eval', drawn separately within each group so every group reaches every
    split it can: with n speakers, eval and dev get round(fraction * n) each (at least one when n >= 3; a group
    of two gives one to train and one to eval), train the rest. A speaker already placed keeps its split."""
    split_of: dict[str, str] = {}
    for index, group in enumerate(sorted(groups)):
        speakers = sorted({s for s in groups[group] if s not in split_of})
        order = list(np.random.default_rng([seed, index]).permutation(speakers))
        n = len(order)
        n_eval = max(1, round(fractions[2] * n)) if n >= 2 else 0
        n_dev = max(1, round(fractions[1] * n)) if n >= 3 else 0
        while n_eval + n_dev >= n and n > 1:  # keep at least one training speaker
            n_dev, n_eval = (n_dev - 1, n_eval) if n_dev > n_eval else (n_dev, n_eval - 1)
        for position, speaker in enumerate(order):
            split_of[speaker] = "eval" if position < n_eval else "dev" if position < n_eval + n_dev else "train"
    return split_of


def plan(sources: list[tuple[str, Source]], systems: list[str], holdout: list[str], *, seed: int = 0,
         per_speaker: int | None = DEFAULT_PER_SPEAKER, min_seconds: float = DEFAULT_MIN_SECONDS,
         fractions=DEFAULT_SPLITS) -> tuple[list[Item], list[dict], int]:
    """Choose the recordings (seeded, at most ``per_speaker`` each, at least ``min_seconds`` long), split the
    speakers and list each recording's clips: the real one and one per system of its split.

    Returns the items, failure rows for unreadable recordings, and how many were too short."""
    rng = np.random.default_rng(seed)
    unreadable, too_short = [], 0
    by_speaker: dict[str, list[Source]] = {}
    group_of: dict[str, str] = {}
    for group, source in sources:
        try:
            seconds = source_seconds(source)
        except (RuntimeError, OSError) as error:  # soundfile's LibsndfileError is a RuntimeError
            unreadable.append({"utt_id": None, "system": None, "split": None, "source": source.path,
                               "reason": f"unreadable recording: {type(error).__name__}: {error}"})
            continue
        if seconds < min_seconds:
            too_short += 1
            continue
        by_speaker.setdefault(source.speaker, []).append(source)
        group_of.setdefault(source.speaker, group)
    groups: dict[str, list[str]] = {}
    for speaker, group in group_of.items():
        groups.setdefault(group, []).append(speaker)
    split_of = assign_splits(groups, fractions, seed)
    missing = [split for split in layout.SPLIT_FILES if split not in split_of.values()]
    if missing:
        raise CorpusBuildError(f"{len(split_of)} usable speakers cannot fill disjoint train/dev/eval splits "
                               f"(none for {', '.join(missing)}): give recordings of at least three speakers")
    items, counters = [], Counter()
    for speaker in sorted(by_speaker):
        chosen = [by_speaker[speaker][i] for i in rng.permutation(len(by_speaker[speaker]))][:per_speaker]
        split = split_of[speaker]
        for source in chosen:
            clips = []
            for system in [None, *(s for s in systems if split == "eval" or s not in holdout)]:
                counters[split] += 1
                clips.append(Clip(f"{ID_PREFIX}_{split[0].upper()}_{counters[split]:07d}", system,
                                  int(rng.integers(2**31))))
            items.append(Item(source, split, tuple(clips)))
    return items, unreadable, too_short


def crop_at_pause(samples: np.ndarray, rate: int, max_seconds: float | None) -> np.ndarray:
    """At most ``max_seconds``: a longer recording is cut at its quietest 20 ms frame within the last second
    (or last quarter) before the limit, so the cut rarely falls inside a word. Real and fake share the cut."""
    if not max_seconds or len(samples) <= max_seconds * rate:
        return samples
    limit = int(max_seconds * rate)
    levels, length, hop = frame_levels_db(samples[:limit], rate)
    window = int(min(1.0 * rate, 0.25 * limit))
    first = max(0, (limit - window) // hop)
    frame = first + int(np.argmin(levels[first:]))
    return samples[:frame * hop + length // 2]


def _settings(bonafide, systems, holdout, seed, per_speaker, min_seconds, max_seconds, sample_rate, fractions,
              chain) -> dict:
    return {"bonafide": [b if b == ASTERISK else os.path.abspath(b) for b in bonafide], "systems": list(systems),
            "holdout": sorted(holdout), "seed": int(seed), "per_speaker": per_speaker,
            "min_seconds": float(min_seconds), "max_seconds": None if not max_seconds else float(max_seconds),
            "sample_rate": int(sample_rate), "split_fractions": [float(f) for f in fractions],
            "final_chain": chain.settings()}


def _check_resume(out: str, settings: dict) -> None:
    path = os.path.join(out, "settings.json")
    if not os.path.isfile(path):
        if os.path.isfile(os.path.join(out, "manifest.json")):
            raise CorpusBuildError(f"{out}: holds another corpus (a manifest.json but no settings.json of a "
                                   "vocoded build); choose another --out")
        return
    with open(path, encoding="utf-8") as handle:
        before = json.load(handle)
    # JSON turns tuples into lists: compare both as JSON
    differ = [k for k in SETTINGS_KEYS if json.dumps(before.get(k)) != json.dumps(settings[k])]
    if differ:
        raise CorpusBuildError(f"{path}: {out} holds a vocoded corpus built with other settings ({', '.join(differ)} "
                               "differ); run with the same options to finish it, or choose another --out")


def choose_systems(systems=None, holdout=None, skip_unavailable: bool | None = None):
    """(systems, holdout, {skipped system: why}) after checking the ids. With ``systems`` None, every
    copy-synthesis system that can run here; systems asked for by name must all be available unless
    ``skip_unavailable``. ``holdout`` None: those of :data:`DEFAULT_HOLDOUT` among the systems; named held-out
    systems must be among them."""
    explicit = systems is not None
    systems = list(dict.fromkeys(systems if explicit else copy_synthesis_systems()))
    unknown = [s for s in systems if s not in GENERATORS]
    if unknown:
        raise CorpusBuildError(f"unknown system(s) {', '.join(unknown)}; copy-synthesis systems: "
                               f"{', '.join(copy_synthesis_systems())}")
    not_copy = [s for s in systems if GENERATORS[s].kind != "copy-synthesis"]
    if not_copy:
        raise CorpusBuildError(f"{', '.join(not_copy)}: text-to-speech, not copy-synthesis: a vocoded corpus pairs "
                               "each recording with its own resynthesis")
    default_holdout = holdout is None
    holdout = list(dict.fromkeys(DEFAULT_HOLDOUT if default_holdout else holdout))
    stray = [s for s in holdout if s not in systems]
    if stray and explicit and not default_holdout:
        raise CorpusBuildError(f"held-out system(s) {', '.join(stray)} are not among the systems "
                               f"({', '.join(systems)})")
    skipped = {s: why for s in systems if (why := GENERATORS[s].missing()) is not None}
    if skipped and explicit and not skip_unavailable:
        raise CorpusBuildError("cannot run " + "; ".join(f"{s}: {why}" for s, why in skipped.items())
                               + " (or pass --skip-unavailable)")
    systems = [s for s in systems if s not in skipped]
    holdout = [s for s in holdout if s in systems]
    if not [s for s in systems if s not in holdout]:
        raise CorpusBuildError(f"every system is held out ({', '.join(holdout) or 'none available'}): train and "
                               "dev would hold no spoofs")
    return systems, holdout, skipped


def build_vocoded_corpus(out: str, *, bonafide=(ASTERISK,), systems=None, holdout=None, seed: int = 0,
                         per_speaker: int | None = DEFAULT_PER_SPEAKER, min_seconds: float = DEFAULT_MIN_SECONDS,
                         max_seconds: float | None = DEFAULT_MAX_SECONDS,
                         sample_rate: int = 16000, split_fractions=DEFAULT_SPLITS, workers: int | None = None,
                         skip_unavailable: bool | None = None, progress: bool = True) -> dict:
    """Write (or finish) the vocoded corpus under ``out``; returns its manifest (also ``out/manifest.json``).

    ``bonafide``: folders of real recordings (first folder level or LibriSpeech file name = speaker) and/or
    ``"asterisk"``. ``systems``: copy-synthesis ids (default: all that can run here); ``holdout``: those that
    appear in eval only (default: :data:`DEFAULT_HOLDOUT` where chosen; ``()``: none). ``per_speaker``:
    recordings per speaker (None: all); ``max_seconds``: longer ones are cut (:func:`crop_at_pause`; None:
    kept whole). ``split_fractions``: train/dev/eval shares of the speakers.
    """
    if len(split_fractions) != 3 or min(split_fractions) < 0 or abs(sum(split_fractions) - 1.0) > 1e-6:
        raise CorpusBuildError(f"split fractions must be three shares (train dev eval) summing to 1, "
                               f"not {list(split_fractions)}")
    systems, holdout, skipped = choose_systems(systems, holdout, skip_unavailable)
    chain = corpus_chain(sample_rate)
    settings = _settings(bonafide, systems, holdout, seed, per_speaker, min_seconds, max_seconds, sample_rate,
                         split_fractions, chain)
    _check_resume(out, settings)
    sources = collect_sources(bonafide)
    items, unreadable, too_short = plan(sources, systems, holdout, seed=seed, per_speaker=per_speaker,
                                        min_seconds=min_seconds, fractions=split_fractions)
    layout.prepare(out)
    layout.remove_partial(out)
    layout.write_json(os.path.join(out, "settings.json"), settings)
    started = time.perf_counter()

    def work(item: Item) -> list[tuple[Clip, float | str, bool]]:
        """(clip, seconds written or failure reason, made in this run) for each clip of ``item``."""
        results, todo = [], []
        for clip in item.clips:
            path = layout.clip_path(out, item.split, clip.utt_id)
            try:
                results.append((clip, sf.info(path).duration, False))
            except (RuntimeError, OSError):  # not there (or not a sound file): make it
                todo.append(clip)
        if not todo:
            return results
        try:
            real = crop_at_pause(read_source(item.source, sample_rate), sample_rate, max_seconds)
        except Exception as error:  # noqa: BLE001 - an unreadable recording fails its clips, not the build
            return results + [(clip, f"{type(error).__name__}: {error}", True) for clip in todo]
        for clip in todo:
            try:
                if clip.system is None:
                    audio = chain(real, sample_rate, seed=clip.seed)
                else:
                    fake = generate(clip.system, real, sample_rate, seed=clip.seed)
                    audio = spoof_chain(chain, item.source)(fake, sample_rate, seed=clip.seed)
                layout.write_clip(layout.clip_path(out, item.split, clip.utt_id), audio, sample_rate)
                results.append((clip, len(audio) / sample_rate, True))
            except Exception as error:  # noqa: BLE001 - one failing clip is a failure row, never a lost build
                results.append((clip, f"{type(error).__name__}: {error}", True))
        return results

    from tqdm import tqdm

    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        outcomes = list(tqdm(pool.map(work, items), total=len(items), desc="vocoded corpus", unit="recording",
                             disable=not progress))
    rows, failures, written, made = [], list(unreadable), [], 0
    for item, results in zip(items, outcomes):
        by_id = {clip.utt_id: (value, fresh) for clip, value, fresh in results}
        for clip in item.clips:  # plan order, whatever order the clips finished in
            value, fresh = by_id[clip.utt_id]
            if isinstance(value, str):
                failures.append({"utt_id": clip.utt_id, "system": clip.system, "split": item.split,
                                 "source": item.source.path, "reason": value})
                continue
            made += fresh
            rows.append((item.split, item.source.speaker, clip.utt_id, clip.attack))
            written.append((item, clip, value))
    layout.write_protocols(out, rows)
    write_pairs(os.path.join(out, "pairs.csv"), written)
    manifest = {
        "kind": "vocoded", "settings": settings,
        "systems": {s: {"description": GENERATORS[s].description,
                        "splits": ["eval"] if s in holdout else list(layout.SPLIT_FILES)} for s in systems},
        "holdout": holdout, "skipped_systems": skipped,
        "counts": {split: dict(Counter(c.attack for i, c, _ in written if i.split == split))
                   for split in layout.SPLIT_FILES},
        "speakers": {split: sorted({i.source.speaker for i in items if i.split == split})
                     for split in layout.SPLIT_FILES},
        "recordings": {"used": len(items), "too_short": too_short, "unreadable": len(unreadable)},
        "complete_pairs": sum(all(not isinstance(v, str) for _, v, _ in results) for results in outcomes),
        "hours": round(sum(seconds for _, _, seconds in written) / 3600, 4),
        "bona_fide_hours": round(sum(s for _, c, s in written if c.system is None) / 3600, 4),
        "made_this_run": made, "kept_from_before": len(written) - made,
        "build_seconds": round(time.perf_counter() - started, 1), "failures": failures,
    }
    layout.write_json(os.path.join(out, "manifest.json"), manifest)
    layout.write_text(os.path.join(out, "README.md"), vocoded_readme(manifest))
    return manifest


def write_pairs(path: str, written) -> None:
    """``pairs.csv``: utt_id, split, speaker, system (``-`` bona fide) and source recording of every clip, so real
    and fake clips of one recording can be paired in an analysis."""
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["utt_id", "split", "speaker", "system", "source"])
    for item, clip, _ in written:
        writer.writerow([clip.utt_id, item.split, item.source.speaker, clip.attack, item.source.path])
    layout.write_text(path, text.getvalue())


def _licences(bonafide: list[str], systems: list[str]) -> str:
    notes = []
    for entry in bonafide:
        if entry == ASTERISK:
            notes.append("Asterisk core sound prompts (asterisk-core-sounds-{en,es,fr,it,ru}-g722), Copyright "
                         "Digium, Inc. / Sangoma, CC-BY-SA-3.0: clips made from them are shared under the same "
                         "licence.")
        elif "librispeech" in entry.lower():
            notes.append(f"LibriSpeech recordings from {entry}: CC-BY-4.0 (Panayotov et al., 2015).")
        else:
            notes.append(f"Recordings from {entry}: their own licence applies to the clips made from them.")
    if any(s.startswith("lyra_") for s in systems):
        notes.append(f"Lyra v2 models: Apache-2.0 (google/lyra @{neural.LYRA_COMMIT[:8]}).")
    if any(s.startswith("hifigan_") for s in systems):
        notes.append(f"HiFi-GAN V3 TFLite: MIT (jik876/hifi-gan), converted in tulasiram58827/TTS_TFLite "
                     f"@{neural.HIFIGAN_COMMIT[:8]} (Apache-2.0).")
    return "\n".join(f"- {note}" for note in notes)


def vocoded_readme(manifest: dict) -> str:
    """The README.md of a vocoded corpus: what it holds, how it was made, under which licences."""
    settings = manifest["settings"]
    rows = "\n".join(f"| {split} | {len(manifest['speakers'][split])} | "
                     + ", ".join(f"{attack}: {count}" for attack, count in sorted(counts.items())) + " |"
                     for split, counts in manifest["counts"].items())
    systems = "\n".join(f"- `{s}`: {info['description']} ({'eval only' if s in manifest['holdout'] else 'all splits'})"
                        for s, info in manifest["systems"].items())
    skipped = ", ".join(f"{s} ({why})" for s, why in manifest["skipped_systems"].items()) or "none"
    return f"""# tfdeepfake vocoded corpus

Written by `tfdeepfake make-vocoded-corpus` (seed {settings['seed']}, at most {settings['per_speaker'] or 'all'}
recordings per speaker, cut at {settings['max_seconds'] or 'no'} s), {manifest['hours']} hours at
{settings['sample_rate']} Hz ({manifest['bona_fide_hours']} h bona fide) in the ASVspoof 2019 LA layout
(`ASVspoof2019_LA_{{train,dev,eval}}/flac`, protocols `SPEAKER UTT - ATTACK LABEL`; ATTACK is the system id).
Each real recording sits beside its resynthesis by every system of its split; speakers are disjoint between
train, dev and eval.

| split | speakers | clips per system (- = bona fide) |
|---|---|---|
{rows}

Systems:
{systems}

Every clip, real or fake, went through the same final chain: {json.dumps(settings['final_chain'])};
spoofs made from G.722 recordings get as many extra G.722 passes as the real recording had.
Skipped systems (cannot run here): {skipped}. Failed clips: {len(manifest['failures'])} (listed in manifest.json).

Licences:
{_licences(settings['bonafide'], list(manifest['systems']))}
"""
