"""Real-time factor of every copy-synthesis system on real speech, and what a full vocoded corpus costs.

    python benchmarks/vocoded_rtf.py --clips 6 --seconds 8 --seed 0

Clips: ``--clips`` LibriSpeech recordings of different speakers from ../shared/corpora/librispeech-sample (drawn
with the seed), ``--seconds`` each from 0.5 s in, 16 kHz. Each system runs once on a 1 s clip first (imports,
model loading), then on every clip, one after another in this process (TFLite with one thread, as each worker
of ``make-vocoded-corpus`` runs). Real-time factor = seconds of compute per second of audio (wall clock; CPU
seconds of the process beside it). Also measured on the same clips: the mean absolute log-mel difference (dB,
:func:`tfdeepfake.spoofing.neural.log_mel_distance`) between source and resynthesis and between the source and
another speaker's resynthesis, and the lag of the waveform cross-correlation peak (Lyra's codec delay).
The estimate of a full build sums RTF x audio over the clips that ``make-vocoded-corpus`` would make from
the LibriSpeech sample and the asterisk voices (its planning, default settings) and divides by the workers.
Writes ``results/vocoded_rtf.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tfdeepfake.audio import load_audio  # noqa: E402
from tfdeepfake.spoofing import vocoded  # noqa: E402
from tfdeepfake.spoofing.demo import corpus_chain, source_seconds  # noqa: E402
from tfdeepfake.spoofing.generators import GENERATORS, generate  # noqa: E402
from tfdeepfake.spoofing.neural import log_mel_distance  # noqa: E402

SHARED = ROOT.parent / "shared"
LIBRISPEECH = SHARED / "corpora" / "librispeech-sample"
RATE = 16000


def pick_clips(count: int, seconds: float, seed: int) -> list[tuple[str, np.ndarray]]:
    """``count`` recordings of distinct speakers at least ``seconds`` + 0.5 s long, cut to ``seconds``."""
    files = sorted(LIBRISPEECH.rglob("*.flac"))
    if not files:
        raise SystemExit(f"{LIBRISPEECH}: no LibriSpeech sample (../shared is needed)")
    rng = np.random.default_rng(seed)
    chosen, speakers = [], set()
    for index in rng.permutation(len(files)):
        path = files[index]
        speaker = path.name.split("-")[0]
        if speaker in speakers:
            continue
        samples = load_audio(path)[0]
        if len(samples) >= (seconds + 0.5) * RATE:
            chosen.append((str(path.relative_to(SHARED)), samples[RATE // 2:RATE // 2 + int(seconds * RATE)]))
            speakers.add(speaker)
        if len(chosen) == count:
            break
    return chosen


def correlation_lag(y: np.ndarray, x: np.ndarray) -> tuple[int, float]:
    c = scipy.signal.correlate(y, x, mode="full", method="fft")
    lags = scipy.signal.correlation_lags(len(y), len(x))
    best = int(np.argmax(np.abs(c)))
    return int(lags[best]), float(c[best] / np.sqrt(np.sum(np.square(x, dtype=np.float64))
                                                    * np.sum(np.square(y, dtype=np.float64))))


def measure(system: str, clips: list[np.ndarray]) -> dict:
    generate(system, clips[0][:RATE], RATE, seed=0)  # warm-up: imports, model files, first allocation
    outputs, wall, cpu = [], [], []
    for i, x in enumerate(clips):
        started, started_cpu = time.perf_counter(), time.process_time()
        outputs.append(generate(system, x, RATE, seed=i))
        wall.append((time.perf_counter() - started) / (len(x) / RATE))
        cpu.append((time.process_time() - started_cpu) / (len(x) / RATE))
    same = [log_mel_distance(x, y, RATE) for x, y in zip(clips, outputs)]
    other = [log_mel_distance(x, outputs[(i + 1) % len(clips)], RATE) for i, x in enumerate(clips)]
    lags = [correlation_lag(y, x) for x, y in zip(clips, outputs)]
    whole = correlation_lag(np.concatenate(outputs), np.concatenate(clips))
    return {"rtf_wall_median": float(np.median(wall)), "rtf_wall": wall, "rtf_cpu_median": float(np.median(cpu)),
            "logmel_db_to_source": same, "logmel_db_to_other": other,
            "xcorr_lag_per_clip": [lag for lag, _ in lags], "xcorr_peak_per_clip": [peak for _, peak in lags],
            "xcorr_lag_all": whole[0], "xcorr_peak_all": whole[1]}


def chain_rtf(clips: list[np.ndarray]) -> float:
    chain = corpus_chain(RATE)
    chain(clips[0], RATE, seed=0)
    started = time.perf_counter()
    for i, x in enumerate(clips):
        chain(x, RATE, seed=i)
    return (time.perf_counter() - started) / (sum(map(len, clips)) / RATE)


def planned_audio(systems: list[str], bonafide: list[str],
                  per_speaker: int | None = vocoded.DEFAULT_PER_SPEAKER) -> dict:
    """Seconds of audio per system (and bona fide) that make-vocoded-corpus would make from ``bonafide``, from
    its own plan (default settings otherwise)."""
    chosen, holdout, _ = vocoded.choose_systems(systems)
    items, _, _ = vocoded.plan(vocoded.collect_sources(bonafide), chosen, holdout, per_speaker=per_speaker)
    seconds = {"-": 0.0, **{s: 0.0 for s in chosen}}
    for item in items:
        length = min(source_seconds(item.source), vocoded.DEFAULT_MAX_SECONDS)
        for clip in item.clips:
            seconds[clip.attack] += length
    return {"bonafide": bonafide, "recordings": len(items), "holdout": holdout, "seconds": seconds,
            "clips": sum(len(item.clips) for item in items)}


def estimate_hours(report: dict, seconds: dict, key: str) -> float:
    """Hours of one core for ``seconds`` of audio per system at the measured RTFs (``key``) + the final chain."""
    return sum(length * (report["final_chain_rtf"] + (report["systems"][s][key] if s != "-" else 0.0))
               for s, length in seconds.items()) / 3600


def check_build(report: dict, systems: list[str], per_speaker: int, workers: int) -> dict:
    """Build a small real corpus (the asterisk voices, ``per_speaker`` prompts each) and set its time beside the
    estimate for the same plan: what the RTFs leave out (decoding, G.722 passes, writing, threads)."""
    import tempfile

    planned = planned_audio(systems, [vocoded.ASTERISK], per_speaker)
    def children_cpu() -> float:  # ffmpeg decoding the prompts and running the G.722 passes
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    with tempfile.TemporaryDirectory() as out:
        started, started_cpu, started_children = time.perf_counter(), time.process_time(), children_cpu()
        manifest = vocoded.build_vocoded_corpus(out, bonafide=[vocoded.ASTERISK], systems=systems,
                                                per_speaker=per_speaker, workers=workers, progress=False)
        wall = time.perf_counter() - started
        cpu = time.process_time() - started_cpu + children_cpu() - started_children
    return {"per_speaker": per_speaker, "workers": workers, "recordings": planned["recordings"],
            "clips": sum(sum(c.values()) for c in manifest["counts"].values()), "failures": len(manifest["failures"]),
            "wall_seconds": wall, "cpu_seconds": cpu,
            "estimated_cpu_seconds": 3600 * estimate_hours(report, planned["seconds"], "rtf_cpu_median"),
            "estimated_wall_seconds": 3600 * estimate_hours(report, planned["seconds"], "rtf_wall_median") / workers}


def markdown(report: dict) -> str:
    rows = []
    for system, m in report["systems"].items():
        same, other = m["logmel_db_to_source"], m["logmel_db_to_other"]
        rows.append(f"| `{system}` | {m['rtf_wall_median']:.3f} | {m['rtf_cpu_median']:.3f} | "
                    f"{np.mean(same):.2f} ({min(same):.2f}-{max(same):.2f}) | {np.mean(other):.1f} | "
                    f"{m['xcorr_lag_all']} ({m['xcorr_peak_all']:.2f}) |")
    estimate = report["full_corpus"]
    hours = {k: v / 3600 for k, v in estimate["seconds"].items()}
    return f"""# Vocoded corpus: real-time factor per system

Command: `{report['command']}` (seed {report['seed']}; figures in `vocoded_rtf.json`). Machine: {report['machine']},
{report['cores']} cores shared with other work (load average {report['load_average'][0]:.1f} at the start), TensorFlow
{report['tensorflow']}, TFLite with one thread per generator. {len(report['clips'])} LibriSpeech recordings of
different speakers, {report['seconds']} s each (16 kHz): {', '.join(Path(c).stem for c in report['clips'])}.
Peak memory of the process: {report['peak_rss_mb']:.0f} MB.

RTF = seconds of compute per second of audio, median over the clips, after one warm-up call (wall clock; CPU:
process CPU seconds). Log-mel: mean |difference| in dB of 80-band log-mel power spectrograms, source against its
resynthesis (mean, range) and against another speaker's resynthesis. Cross-correlation: lag (samples at 16 kHz)
of the waveform cross-correlation peak over all clips together, and its normalised height: Lyra keeps the
waveform in time (lag 0: no delay to compensate), the mel vocoders and WORLD keep only the spectrum.

| system | RTF (wall) | RTF (CPU) | log-mel dB to source | to another speaker | cross-corr lag (peak) |
|---|---|---|---|---|---|
{chr(10).join(rows)}

The final chain (resample, levels, trim, pad, limiter) adds {report['final_chain_rtf']:.3f} s per second of
audio to every clip, real or fake.

## A full vocoded corpus from ../shared

`tfdeepfake make-vocoded-corpus --bonafide ../shared/corpora/librispeech-sample asterisk --out data/vocoded`
(default settings: every system that runs here, {', '.join(estimate['holdout'])} in eval only, at most 40
recordings per speaker, cut at 10 s) plans {estimate['recordings']} recordings and {estimate['clips']} clips:
{hours['-']:.2f} h bona fide, {sum(v for k, v in hours.items() if k != '-'):.2f} h of resyntheses. At the CPU RTFs above
that is {report['estimate_cpu_hours']:.2f} h of one core, about **{report['estimate_free_hours']:.2f} h** with its
{report['workers']} workers on {report['workers']} free cores; at the wall-clock RTFs measured here (cores shared)
{report['estimate_shared_hours']:.2f} h.
{checked(report.get('check_build'), report['cores'])}"""


def checked(check: dict | None, cores: int) -> str:
    if not check:
        return ""
    cpu_ratio = check["cpu_seconds"] / check["estimated_cpu_seconds"]
    share = check["cpu_seconds"] / check["wall_seconds"]
    return f"""
Checked on a real build in the same run: the asterisk voices, {check['per_speaker']} prompts each
({check['recordings']} recordings, {check['clips']} clips, {check['failures']} failed, {check['workers']} workers) took
{check['wall_seconds']:.0f} s wall and {check['cpu_seconds']:.0f} CPU s (ffmpeg included), against
{check['estimated_wall_seconds']:.0f} s and {check['estimated_cpu_seconds']:.0f} CPU s estimated from the RTFs: {cpu_ratio:.1f}x
the CPU estimate (decoding the G.722 prompts, the extra G.722 pass of their spoofs through ffmpeg, FLAC
writing). It got {share:.1f} of the {cores} cores here. Scaled by that factor the full corpus takes about
**{check['full_free_hours']:.2f} h** on two free cores.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", nargs="+", help="default: every copy-synthesis system that runs here")
    parser.add_argument("--workers", type=int, default=2, help="workers assumed in the full-corpus estimate")
    parser.add_argument("--check-per-speaker", type=int, default=4,
                        help="prompts per asterisk voice of the real check build (0: no check build)")
    parser.add_argument("--out", default=str(ROOT / "results" / "vocoded_rtf"))
    args = parser.parse_args()
    import tensorflow as tf

    load = os.getloadavg()
    systems = args.systems or [s for s in vocoded.copy_synthesis_systems() if GENERATORS[s].available()]
    picked = pick_clips(args.clips, args.seconds, args.seed)
    clips = [x for _, x in picked]
    report = {"command": "python benchmarks/vocoded_rtf.py " + " ".join(sys.argv[1:]), "seed": args.seed,
              "seconds": args.seconds, "clips": [name for name, _ in picked], "machine": platform.processor()
              or platform.machine(), "cores": os.cpu_count(), "load_average": load, "tensorflow": tf.__version__,
              "systems": {}}
    for system in systems:
        print(f"{system} ...", file=sys.stderr, flush=True)
        report["systems"][system] = measure(system, clips)
    report["final_chain_rtf"] = chain_rtf(clips)
    bonafide = [str(LIBRISPEECH)] + ([vocoded.ASTERISK] if vocoded.asterisk_sources() else [])
    estimate = planned_audio(systems, bonafide)
    cpu_hours = estimate_hours(report, estimate["seconds"], "rtf_cpu_median")
    report.update(full_corpus=estimate, workers=args.workers, estimate_cpu_hours=cpu_hours,
                  estimate_free_hours=cpu_hours / args.workers,
                  estimate_shared_hours=estimate_hours(report, estimate["seconds"], "rtf_wall_median") / args.workers)
    if args.check_per_speaker and vocoded.asterisk_sources():
        print("check build ...", file=sys.stderr, flush=True)
        check = check_build(report, systems, args.check_per_speaker, args.workers)
        check["full_free_hours"] = cpu_hours * check["cpu_seconds"] / check["estimated_cpu_seconds"] / args.workers
        report["check_build"] = check
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=1))
    Path(args.out + ".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
