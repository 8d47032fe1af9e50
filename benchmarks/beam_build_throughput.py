"""TFRecord build throughput: the Beam pipeline on the DirectRunner (2 processes) against the local builder.

    python benchmarks/beam_build_throughput.py --corpus shared --repeats 2 --seed 0

Both build the same listing with the same folds, shard size and settings, one after the other in the same run,
each into a fresh folder, after an untimed read of every file; the median of ``--repeats`` runs counts. Local: ``tfdeepfake.records.build`` (decoding
threads, one per core). Beam: ``tfdeepfake.beam.records.build`` on the FnApiRunner with
``direct_running_mode=multi_processing`` and ``direct_num_workers=2`` (worker start-up included: it is part of
every run). "beam start-up" times that start alone: the same pipeline options, two elements, each only importing
tfdeepfake.records (TensorFlow) on a worker. The corpus is ../shared/corpora (591 real FLAC clips at 16 and
22.05 kHz, resampled to 16 kHz), or ``--corpus generated`` synthetic 16 kHz FLAC clips. The shards of both are
checked to be byte-identical.
The last line printed is ``speedup: X.XX`` (Beam over local; reported, not a target).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from build_throughput import make_clips  # noqa: E402  (the generated corpus of the local build benchmark)
from tfdeepfake import records  # noqa: E402
import apache_beam as beam  # noqa: E402
from tfdeepfake.beam import pipeline, run  # noqa: E402
from tfdeepfake.beam import records as beam_records  # noqa: E402
from tfdeepfake.corpora import assign_folds, read_csv  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"


def shared_listing(folder: Path) -> Path:
    """../shared/corpora/manifest.csv as the ``path,label,speaker,attack`` CSV the csv reader takes."""
    rows = ["path,label,speaker,attack"]
    with (SHARED / "manifest.csv").open(newline="") as handle:
        for entry in csv.DictReader(handle):
            attack = "-" if entry["label"] == "bonafide" else entry["system"]
            rows.append(",".join([str(SHARED / entry["path"]), entry["label"], entry["speaker"] or "unknown",
                                  attack.replace(",", ";")]))
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    return folder / "list.csv"


def start_up(beam_args: list[str]) -> None:
    """A pipeline whose workers do nothing but import what WriteShard imports."""
    root = pipeline("direct", beam_args)
    _ = root | beam.Create([0, 1]) | beam.Reshuffle() | beam.Map(lambda _: __import__("tfdeepfake.records").__name__)
    run(root, "start-up", "direct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=("shared", "generated"), default="shared")
    parser.add_argument("--clips", type=int, default=1500, help="generated corpus: number of clips")
    parser.add_argument("--seed", type=int, default=0, help="fold assignment (and the generated corpus)")
    parser.add_argument("--shard-mb", type=float, default=12.0, help="the work item of the Beam pipeline")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--results", default=str(ROOT / "results" / "beam_build_throughput.json"))
    args = parser.parse_args()
    if args.corpus == "shared" and not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: run with --corpus generated")
    beam_args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        csv_path = shared_listing(tmp) if args.corpus == "shared" else make_clips(tmp / "clips", args.clips,
                                                                                  args.seed)[0]
        listing = read_csv(str(csv_path))
        folds = assign_folds(listing.utterances, 5, seed=args.seed)
        files = len(listing.utterances)
        for utterance in listing.utterances:  # untimed: both contenders then read from the page cache
            Path(utterance.path).read_bytes()
        settings = dict(shard_mb=args.shard_mb, provenance={"benchmark": "beam_build_throughput"})
        contenders = {
            "local": lambda out: records.build(listing.utterances, folds, out, progress=False, **settings),
            "beam": lambda out: beam_records.build(listing.utterances, folds, out, runner="direct",
                                                   beam_args=beam_args, **settings),
        }
        timings: dict[str, list[float]] = {name: [] for name in (*contenders, "beam start-up")}
        manifests = {}
        for repeat in range(args.repeats):
            for name, build in contenders.items():
                out = tmp / f"{name}-{repeat}"
                start = time.perf_counter()
                manifests[name] = build(str(out))
                timings[name].append(time.perf_counter() - start)
                if repeat < args.repeats - 1:
                    shutil.rmtree(out)
            start = time.perf_counter()
            start_up(beam_args)
            timings["beam start-up"].append(time.perf_counter() - start)
        identical = [(s["name"], s["sha256"]) for s in manifests["local"]["shards"]] == \
                    [(s["name"], s["sha256"]) for s in manifests["beam"]["shards"]]
    seconds = {name: statistics.median(values) for name, values in timings.items()}
    manifest = manifests["local"]
    report = {
        "command": f"python benchmarks/beam_build_throughput.py --corpus {args.corpus} --repeats {args.repeats} "
                   f"--seed {args.seed} --shard-mb {args.shard_mb:g}"
                   + (f" --clips {args.clips}" if args.corpus == "generated" else ""),
        "seed": args.seed, "corpus": "../shared/corpora" if args.corpus == "shared" else "generated 16 kHz FLAC",
        "files": files, "records": manifest["records"], "failures": len(manifest["failures"]),
        "audio_hours": manifest["hours"], "shards": len(manifest["shards"]), "shard_mb": args.shard_mb,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "beam_options": beam_args,
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "results": {name: {"seconds_median": round(seconds[name], 2), "seconds": [round(t, 2) for t in timings[name]],
                           "files_per_s": round(files / seconds[name], 1)} for name in contenders},
        "beam_start_up": {"seconds_median": round(seconds["beam start-up"], 2),
                          "seconds": [round(t, 2) for t in timings["beam start-up"]]},
        "identical_shards": identical,
        "speedup": round(seconds["local"] / seconds["beam"], 2),
    }
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, Path(args.results).with_suffix(".md"))
    for name, row in report["results"].items():
        print(f"{name:6s} {row['seconds_median']:8.2f} s  {row['files_per_s']:8.1f} files/s  (runs: {row['seconds']})")
    print(f"beam start-up alone {report['beam_start_up']['seconds_median']:.2f} s")
    print(f"identical shards: {identical}")
    print(f"speedup: {report['speedup']:.2f}")


def write_markdown(report: dict, path: Path) -> None:
    local, beam, start = report["results"]["local"], report["results"]["beam"], report["beam_start_up"]
    path.write_text(f"""# TFRecord build: Beam pipeline (DirectRunner, 2 processes) against the local builder

Command: `{report['command']}` (figures in `{path.with_suffix('.json').name}`). Machine: {report['machine']}.
Corpus: {report['corpus']}, {report['files']} files ({report['records']} records, {report['failures']} failed,
{report['audio_hours']:.3f} h at 16 kHz), 5 speaker-grouped folds (seed {report['seed']}),
{report['shards']} shards of about {report['shard_mb']:g} MB; files read once, untimed, before the runs.
Median of {len(local['seconds'])} runs, the
contenders one after the other in the same run (runs: local {local['seconds']}, Beam {beam['seconds']} s).
The machine was shared: 1-minute load average {report['load_average_1min']['before']} before and
{report['load_average_1min']['after']} after the run, on {os.cpu_count()} cores.

| contender | seconds (median) | files/s |
|---|---|---|
| local builder (`records.build`, decoding threads, one per core) | {local['seconds_median']} | {local['files_per_s']} |
| Beam (`--runner direct {' '.join(report['beam_options'])}`) | {beam['seconds_median']} | {beam['files_per_s']} |
| Beam start-up alone (2 workers importing tfdeepfake.records, no files) | {start['seconds_median']} | - |

speedup (Beam over local): **{report['speedup']:.2f}x**; shards byte-identical: {report['identical_shards']}.
Start-up alone, per run: {start['seconds']} s. With other jobs on the machine single runs vary by up to 2x, so
only the order of magnitude of these figures carries over.

Both contenders have the same two cores here. The local builder's threads keep them busy; the pipeline adds the
start-up of its worker processes (each imports Apache Beam and TensorFlow) and the runner's own work, which on a
corpus this small weigh more than the decoding. The pipeline is for spreading shards over the machines of a
Dataflow, Flink or Spark cluster, not for one machine.
""")


if __name__ == "__main__":
    main()
