"""Generalisation report: detectors trained here, or pretrained on ASVspoof, scored on published TTS/vocoder sets.

    python scripts/generalisation.py --seed 0                                    # (b) demo corpus: LCNN, ResNet
    python scripts/generalisation.py --vocoded data/vocoded --records tfrecords/vocoded \\
        --models lcnn resnet --seeds 0 1 2 --epochs 6                            # (c) vocoded corpus
    python scripts/generalisation.py --vocoded data/vocoded --records tfrecords/vocoded \\
        --aasist aasist-l --seeds 0 --steps 120 --batch-size 8                   # (d) fine-tuned AASIST
    python scripts/generalisation.py --report                                    # the table only

(b) ``tfdeepfake make-demo-corpus --bonafide ../shared/corpora/librispeech-sample`` writes the benchmark corpus
    (real LibriSpeech read speech; spoofs from our generators; speakers disjoint between train/dev and eval);
    LCNN (LFCC) and ResNet (log-mel) are trained on it.
(c) The same LCNN and ResNet configs trained on a vocoded corpus (``tfdeepfake make-vocoded-corpus``: every real
    recording beside its copy-synthesis by Lyra, HiFi-GAN V3, WORLD, Griffin-Lim, ...), built into TFRecords with
    ``tfdeepfake build-records --dataset asvspoof2019-la``, one run per seed.
(d) A pretrained AASIST preset fine-tuned on that corpus (``configs/aasist.yaml``, a short schedule).
(a) The pretrained presets zero-shot are read from results/pretrained_out_of_domain.{json,csv}.

Every model scores the published sets in ../shared/corpora, hifigan-demo and vits-demo, real and fake paired
within each set, everything resampled to 16 kHz. Two scoring rules: *first crop* (the first ``crop_samples`` of
each file, repeat-padded: the TFRecord evaluation path, used for LCNN / ResNet) and *detector* (the run's bundle
through :class:`tfdeepfake.inference.Detector`: every window, hop half a window, mean window logit; used for
AASIST, as results/pretrained_out_of_domain.md scores the presets). EER per set, per system, and for the HiFi-GAN
vocoder family (systems named ``*HiFiGAN*``) apart from the other systems. Results are merged into
results/generalisation.json after every run and results/generalisation.md is rewritten from it.
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tfdeepfake  # noqa: E402,F401

from tfdeepfake import evaluate, metrics, records  # noqa: E402
from tfdeepfake.config import load_config  # noqa: E402
from tfdeepfake.corpora import assign_folds, read_csv  # noqa: E402
from tfdeepfake.pipeline import InputConfig, eval_dataset  # noqa: E402
from tfdeepfake.training import run  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
SETS = ("hifigan-demo", "vits-demo")
RESULTS = ROOT / "results" / "generalisation"
PRETRAINED = ROOT / "results" / "pretrained_out_of_domain"
ZERO_SHOT = ("aasist", "aasist-l", "aasist-asvspoof5")
MODELS = {
    "lcnn": ["model.name=lcnn", "model.params={width: 0.5, dropout: 0.5}", "features.kind=lfcc",
             "features.n_mels=20", "features.n_coeffs=20", "features.win_length=320", "features.deltas=true"],
    "resnet": ["model.name=resnet", "model.params={channels: [16, 32, 64], blocks_per_stage: 1, dropout: 0.3}",
               "features.kind=logmel", "features.n_mels=64", "features.deltas=false", "features.win_length=null"],
}


def family(system: str) -> str:
    """'hifigan' for the HiFi-GAN vocoder family (copy synthesis or behind an acoustic model), else 'other'."""
    return "hifigan" if "hifigan" in system.lower() else "other"


def manifest_rows() -> list[dict]:
    with open(SHARED / "manifest.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["path"].split("/", 1)[0] in SETS]


def set_summary(bonafide: np.ndarray, score: np.ndarray, system: np.ndarray) -> dict:
    """EER (fractions) of one published set: pooled, per system and per family, real of the set vs its fakes.
    ``score``: higher = more bona fide; ``system``: '-' for bona fide rows."""
    real, fake = score[bonafide], score[~bonafide]
    fake_system = system[~bonafide]
    out = {"eer": float(metrics.compute_eer(real, fake)[0]), "bonafide": int(real.size), "spoof": int(fake.size),
           "per_system_eer": {s: float(metrics.compute_eer(real, fake[fake_system == s])[0])
                              for s in sorted(set(fake_system))}, "family_eer": {}}
    families = np.array([family(s) for s in fake_system])
    for name in ("hifigan", "other"):
        if np.any(families == name):
            out["family_eer"][name] = float(metrics.compute_eer(real, fake[families == name])[0])
    return out


def published_sets(work: Path) -> dict[str, str]:
    """TFRecords (16 kHz) of each published set, from ../shared/corpora/manifest.csv."""
    rows = manifest_rows()
    built = {}
    for name in SETS:
        chosen = [r for r in rows if r["path"].startswith(name + "/")]
        listing_csv = work / f"{name}.csv"
        listing_csv.parent.mkdir(parents=True, exist_ok=True)
        with open(listing_csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "speaker", "attack"])
            for row in chosen:
                writer.writerow([str(SHARED / row["path"]), row["label"], row["speaker"],
                                 "-" if row["label"] == "bonafide" else row["system"]])
        listing = read_csv(str(listing_csv))
        out = work / f"{name}-tfrecords"
        if not (out / records.MANIFEST).exists():
            records.build(listing.utterances, assign_folds(listing.utterances, 1), str(out), progress=False)
        built[name] = str(out)
    return built


def score_first_crop(model, crop_samples: int, published: dict[str, str]) -> dict:
    """The TFRecord evaluation path: the first ``crop_samples`` of each file (repeat-padded), one logit."""
    out = {}
    for set_name, set_records in published.items():
        scores = evaluate.score_dataset(model, eval_dataset(
            InputConfig(set_records, splits=("train",), crop_samples=crop_samples, batch_size=16)))
        out[set_name] = set_summary(scores["label"] == 1, scores["score"], scores["attack"])
    return out


def score_detector(source: str) -> dict:
    """A bundle through the Detector: every window (hop half a window), mean window logit, as the presets."""
    from tfdeepfake.inference import Detector

    detector = Detector.load(source)
    rows = manifest_rows()
    logits = np.array([detector.predict(SHARED / row["path"]).logit for row in rows], dtype=np.float64)
    out = {}
    for set_name in SETS:
        index = [i for i, r in enumerate(rows) if r["path"].startswith(set_name + "/")]
        bonafide = np.array([rows[i]["label"] == "bonafide" for i in index])
        system = np.array(["-" if rows[i]["label"] == "bonafide" else rows[i]["system"] for i in index])
        out[set_name] = set_summary(bonafide, logits[index], system)
    return out


def shell_words(words) -> str:
    return " ".join(shlex.quote(w) for w in words)


def load_report() -> dict:
    path = RESULTS.with_suffix(".json")
    report = json.loads(path.read_text()) if path.exists() else {}
    if "models" in report and "demo_corpus" not in report:  # the first version held the demo experiment alone
        report = {"demo_corpus": report}
    return report


def save_report(report: dict) -> None:
    RESULTS.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    RESULTS.with_suffix(".md").write_text(markdown(report))


def demo_experiment(args) -> None:
    """(b): LCNN and ResNet on LibriSpeech + the demo generators (the first generalisation number)."""
    from tfdeepfake.spoofing.demo import build_demo_corpus

    work = ROOT / args.work
    corpus, tfrecords = work / "libri-demo", work / "libri-tfrecords"
    if not (corpus / "README.md").exists():
        build_demo_corpus(str(corpus), bonafide_dir=str(SHARED / "librispeech-sample"),
                          per_speaker=args.per_speaker, seed=args.seed)
    published = published_sets(work)
    part = {"command": f"python scripts/generalisation.py --seed {args.seed} --per-speaker {args.per_speaker} "
                       f"--epochs {args.epochs}", "seed": args.seed,
            "training_corpus": json.loads((corpus / "manifest.json").read_text())["counts"], "models": {}}
    for name, overrides in MODELS.items():
        run_dir = work / f"run-{name}"
        config = load_config(None, [f"data.tfrecords={tfrecords}", f"data.demo_corpus={corpus}",
                                    "data.crop_samples=48000",
                                    "data.batch_size=32", f"train.epochs={args.epochs}", f"train.seed={args.seed}",
                                    f"train.run_dir={run_dir}", "train.results=null", "train.early_stopping_patience=6",
                                    *overrides])
        started = time.time()
        summary = run(config)
        seconds = time.time() - started
        result = {"dev_eer": summary["dev"].get("eer"), "demo_eval_eer": summary.get("eval", {}).get("eer"),
                  "demo_eval_per_attack": summary.get("eval", {}).get("per_attack_eer"), "train_seconds": seconds,
                  "published": score_first_crop(load_trained(config, run_dir), config.data.crop_samples, published)}
        part["models"][name] = result
        clear()
    report = load_report()
    report["demo_corpus"] = part
    save_report(report)


def load_trained(config, run_dir: Path):
    from tfdeepfake.models import build_model

    model = build_model(config.model.name, config.features, config.data.crop_samples, **config.model.params)
    model.load_weights(str(run_dir / "checkpoints" / "best.weights.h5"))
    return model


def clear() -> None:
    import tensorflow as tf

    tf.keras.backend.clear_session()


def ensure_records(corpus: Path, tfrecords: Path) -> str:
    """TFRecords of the vocoded corpus (ASVspoof 2019 LA layout, one fold per split), built once."""
    command = ["tfdeepfake", "build-records", "--dataset", "asvspoof2019-la", "--root", str(corpus), "--out",
               str(tfrecords), "--folds", "1", "--sample-rate", "16000"]
    if not (tfrecords / records.MANIFEST).exists():
        subprocess.run(command, check=True)
    return " ".join(command).replace(f"{ROOT}/", "")


def vocoded_experiment(args) -> None:
    """(c) LCNN / ResNet or (d) a fine-tuned AASIST preset on the vocoded corpus, one run per seed."""
    corpus, tfrecords = ROOT / args.vocoded, ROOT / args.records
    if not (corpus / "manifest.json").exists():
        raise SystemExit(f"{corpus}/manifest.json not found: build it with tfdeepfake make-vocoded-corpus")
    records_command = ensure_records(corpus, tfrecords)
    published = published_sets(ROOT / args.work)
    corpus_manifest = json.loads((corpus / "manifest.json").read_text())
    report = load_report()
    part = report.setdefault("vocoded_corpus", {"runs": {}})
    part.update({"corpus": str(args.vocoded), "records_command": records_command,
                 "corpus_settings": corpus_manifest.get("settings"), "corpus_counts": corpus_manifest["counts"],
                 "corpus_hours": corpus_manifest.get("hours"),
                 "corpus_build_seconds": corpus_manifest.get("build_seconds"),
                 "holdout": corpus_manifest.get("holdout")})
    names = [f"aasist:{p}" for p in args.aasist] if args.aasist else args.models
    for name in names:
        for seed in args.seeds:
            key = f"{name}/seed{seed}"
            run_dir = ROOT / args.runs / f"{name.replace(':', '-')}-seed{seed}"
            common = [f"data.tfrecords={tfrecords}", "data.demo=false", f"train.seed={seed}",
                      f"train.run_dir={run_dir}", "train.results=null", f"train.epochs={args.epochs}"]
            if name.startswith("aasist:"):
                preset = name.split(":", 1)[1]
                overrides = ["model.name=aasist", f"model.params.preset={preset}", f"model.params.seed={seed}",
                             f"data.batch_size={args.batch_size or 8}", "data.eval_batch_size=4"]
                if args.steps:
                    overrides.append(f"train.steps_per_epoch={args.steps}")
                if args.skip_corpus_eval:
                    overrides.append("data.eval_splits=[]")
                config = load_config("aasist", [*common, *overrides])
                command = f"tfdeepfake train --config aasist {shell_words(common + overrides)}"
            else:
                overrides = ["data.crop_samples=48000", f"data.batch_size={args.batch_size or 32}",
                             "train.early_stopping_patience=6", *MODELS[name]]
                if args.steps:
                    overrides.append(f"train.steps_per_epoch={args.steps}")
                config = load_config(None, [*common, *overrides])
                command = f"python -m tfdeepfake.train {shell_words(common + overrides)}"
            command = command.replace(f"{ROOT}/", "")
            print(f"== {key}: {command}", flush=True)
            started = time.time()
            summary = run(config)
            train_seconds = time.time() - started
            started = time.time()
            result = {"model": name, "seed": seed, "run_dir": str(run_dir.relative_to(ROOT)), "command": command,
                      "train_seconds": round(train_seconds, 1), "epochs_run": summary.get("epochs_run"),
                      "dev_eer": summary["dev"].get("eer"), "corpus_eval_eer": summary.get("eval", {}).get("eer"),
                      "corpus_eval_per_attack": summary.get("eval", {}).get("per_attack_eer"), "published": {}}
            if not name.startswith("aasist:"):
                result["published"]["first_crop"] = score_first_crop(load_trained(config, run_dir),
                                                                     config.data.crop_samples, published)
            clear()
            result["published"]["detector"] = score_detector(str(run_dir))
            result["score_seconds"] = round(time.time() - started, 1)
            clear()
            report = load_report()
            report.setdefault("vocoded_corpus", part)["runs"][key] = result
            report["vocoded_corpus"].update({k: v for k, v in part.items() if k != "runs"})
            save_report(report)
            print(f"== {key}: " + json.dumps({rule: {s: round(100 * v[s]["eer"], 1) for s in SETS}
                                              for rule, v in result["published"].items()}), flush=True)


# ---------------------------------------------------------------------------------------------------- the report

def zero_shot() -> dict:
    """(a): the pretrained presets' Detector-rule EERs per set, system and family, from the per-file scores that
    scripts/pretrained_out_of_domain.py wrote (results/pretrained_out_of_domain.csv)."""
    path = PRETRAINED.with_suffix(".csv")
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["path"].split("/", 1)[0] in SETS]
    out = {}
    for preset in ZERO_SHOT:
        column = f"{preset}:detector"
        if column not in rows[0]:
            continue
        out[preset] = {}
        for set_name in SETS:
            chosen = [r for r in rows if r["path"].startswith(set_name + "/")]
            out[preset][set_name] = set_summary(np.array([r["label"] == "bonafide" for r in chosen]),
                                                np.array([float(r[column]) for r in chosen]),
                                                np.array(["-" if r["label"] == "bonafide" else r["system"]
                                                          for r in chosen]))
    return out


def pct(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}"


def minutes(seconds) -> str:
    if len(seconds) == 1:
        return f"{seconds[0] / 60:.1f} min"
    return f"{np.mean(seconds) / 60:.1f} ± {np.std(seconds, ddof=1) / 60:.1f} min"


def table_rows(report: dict) -> list[dict]:
    """One entry per table row: label, training data, rule, seeds, times, and the per-set results per seed."""
    rows = []
    for preset, sets in zero_shot().items():
        rows.append({"row": "a", "model": f"{preset} (pretrained, zero-shot)",
                     "data": "ASVspoof 5 train" if preset == "aasist-asvspoof5" else "ASVspoof 2019 LA train",
                     "rule": "detector", "seeds": "—", "train": "—", "results": [sets]})
    demo = report.get("demo_corpus", {})
    for name, result in demo.get("models", {}).items():
        if name != "lcnn":
            continue
        rows.append({"row": "b", "model": f"{name} (demo corpus)", "data": "LibriSpeech + demo generators",
                     "rule": "first crop", "seeds": str(demo.get("seed", 0)),
                     "train": minutes([result["train_seconds"]]) if result.get("train_seconds") else "not recorded",
                     "results": [result["published"]]})
    runs = report.get("vocoded_corpus", {}).get("runs", {})
    for name in dict.fromkeys(r["model"] for r in runs.values()):
        chosen = [r for r in runs.values() if r["model"] == name]
        aasist = name.startswith("aasist:")
        rules = ("detector",) if aasist else ("first_crop", "detector")
        for rule in rules:
            rows.append({"row": "d" if aasist else "c",
                         "model": f"{name.split(':')[1]} fine-tuned" if aasist else name,
                         "data": "vocoded corpus", "rule": rule.replace("_", " "),
                         "seeds": ",".join(str(r["seed"]) for r in chosen),
                         "train": minutes([r["train_seconds"] for r in chosen]),
                         "results": [r["published"][rule] for r in chosen], "runs": chosen})
    return sorted(rows, key=lambda row: row["row"])


def markdown(report: dict) -> str:
    rows = table_rows(report)
    part = report.get("vocoded_corpus", {})
    lines = ["# Generalisation: detectors scored on published TTS / vocoder sets", "",
             "EER in %, lower is better; 50% is chance. Real and fake are paired within each published set "
             "(hifigan-demo: 15 real, 100 fake; vits-demo: 10 real, 115 fake), everything at 16 kHz. Several seeds: "
             "mean ± sample sd. *HiFi-GAN*: the systems whose name holds HiFiGAN (copy synthesis or behind "
             "Tacotron2 / Glow-TTS) against the set's real files; *other*: the rest of the set's fakes (hifigan-demo: "
             "WaveNet, WaveGlow, MelGAN, Tacotron2+WaveGlow; vits-demo: VITS and its variants).", "",
             "Rules: *detector* = the model's bundle through `tfdeepfake.inference.Detector`: every window (hop half a "
             "window), mean window logit (AASIST: 64,600-sample windows, the rule of "
             "results/pretrained_out_of_domain.md); *first crop* = the first `crop_samples` (LCNN / ResNet: 48,000) "
             "of each file, repeat-padded, one logit (the TFRecord evaluation path).", "",
             "| row | model | trained on | rule | seeds | training time | hifigan-demo: all | HiFi-GAN | other "
             "| vits-demo: all "
             "| HiFi-GAN | other |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = []
        for set_name in SETS:
            per = [r[set_name] for r in row["results"]]
            cells += [pct([p["eer"] for p in per]), pct([p.get("family_eer", {}).get("hifigan") for p in per]),
                      pct([p.get("family_eer", {}).get("other") for p in per])]
        lines.append(f"| {row['row']} | {row['model']} | {row['data']} | {row['rule']} | {row['seeds']} | "
                     f"{row['train']} | " + " | ".join(cells) + " |")
    lines += ["", "Sources and commands:", "",
              "- (a) per-file Detector-rule scores of results/pretrained_out_of_domain.csv (`python "
              "scripts/pretrained_out_of_domain.py`; its pooled EERs are results/pretrained_out_of_domain.json "
              "`presets.*.detector.eer`); family EERs recomputed here from those scores.",
              f"- (b) `{report.get('demo_corpus', {}).get('command', '—')}` (the first version of this report; its "
              "per-file scores were not kept, so no family EER; training time not recorded then)."]
    if part.get("corpus"):
        settings = part.get("corpus_settings") or {}
        counts = part.get("corpus_counts", {})
        lines += [f"- Vocoded corpus `{part['corpus']}`: `{part.get('corpus_command', '—')}`; "
                  f"{settings.get('per_speaker')} recordings per speaker at most, cut at "
                  f"{settings.get('max_seconds')} s; "
                  f"held out (eval only): {', '.join(part.get('holdout') or [])}; "
                  + "; ".join(f"{split} {sum(c.values())} clips" for split, c in counts.items())
                  + f"; {part.get('corpus_hours')} h; built in {part.get('corpus_build_seconds')} s. "
                  f"Records: `{part.get('records_command', '—')}`."]
        for key, result in part.get("runs", {}).items():
            lines.append(f"- (c/d) {key}: `{result['command']}` → `{result['run_dir']}` (bundle in `bundle/`), "
                         f"{result['train_seconds'] / 60:.1f} min training with its dev"
                         f"{'' if result['corpus_eval_eer'] is None else ' + vocoded-eval'} scoring "
                         f"({result['epochs_run']} epoch(s)), published-set scoring "
                         f"{result['score_seconds']:.0f} s; vocoded dev EER {100 * result['dev_eer']:.1f}%, vocoded "
                         f"eval EER {pct([result['corpus_eval_eer']])}% (per held-out system: "
                         + ", ".join(f"{k} {100 * v:.1f}"
                                     for k, v in (result.get("corpus_eval_per_attack") or {}).items()
                                     if k in (part.get("holdout") or []) or k == "pooled") + ")")
    for set_name in SETS:
        systems = sorted({s for row in rows for r in row["results"] for s in r[set_name]["per_system_eer"]}
                         - {"pooled"})
        lines += ["", f"## {set_name}: EER per system (%)", "",
                  "| system | family | " + " | ".join(f"({row['row']}) {row['model']}, {row['rule']}" for row in rows)
                  + " |", "|---|---|" + "---|" * len(rows)]
        for system in systems:
            lines.append(f"| {system} | {family(system)} | " + " | ".join(
                pct([r[set_name]["per_system_eer"].get(system) for r in row["results"]]) for row in rows) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="(b) seed")
    parser.add_argument("--per-speaker", type=int, default=10, help="(b) demo corpus recordings per speaker")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--work", default="data/generalisation")
    parser.add_argument("--vocoded", help="(c, d) a corpus written by tfdeepfake make-vocoded-corpus")
    parser.add_argument("--corpus-command", help="the make-vocoded-corpus command line, for the report")
    parser.add_argument("--records", default="tfrecords/vocoded", help="(c, d) its TFRecords (built when missing)")
    parser.add_argument("--runs", default="runs/generalisation", help="(c, d) where the run folders go")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--aasist", nargs="+", metavar="PRESET", help="(d) fine-tune these AASIST presets instead")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="steps per epoch (default: one pass over train)")
    parser.add_argument("--batch-size", type=int, help="default: 32 (LCNN / ResNet), 8 (AASIST)")
    parser.add_argument("--skip-corpus-eval", action="store_true",
                        help="(d) do not score the vocoded corpus' eval split (dev still sets the threshold)")
    parser.add_argument("--report", action="store_true", help="rewrite results/generalisation.md from the json only")
    args = parser.parse_args()
    if args.report:
        save_report(load_report())
        return
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} not found: this benchmark needs ../shared/corpora beside the checkout")
    if args.vocoded:
        if args.corpus_command:
            report = load_report()
            report.setdefault("vocoded_corpus", {"runs": {}})["corpus_command"] = args.corpus_command
            save_report(report)
        vocoded_experiment(args)
    else:
        demo_experiment(args)
    print(RESULTS.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
