"""Our first generalisation number: train on real LibriSpeech + demo-generator spoofs, test on published TTS/vocoders.

    python scripts/generalisation.py --seed 0

1. ``python -m tfdeepfake.demo --bonafide ../shared/corpora/librispeech-sample`` writes the benchmark corpus
   (real LibriSpeech read speech; spoofs from our generators; speakers disjoint between train/dev and eval).
2. LCNN (LFCC) and ResNet (log-mel) are trained on it with ``python -m tfdeepfake.train``.
3. Both score the real published sets in ../shared/corpora: hifigan-demo and vits-demo, real and fake paired
   within each set, everything resampled to 16 kHz. EER per set and per system go to
   results/generalisation.json and results/generalisation.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tfdeepfake  # noqa: E402,F401

from tfdeepfake import evaluate, metrics, records  # noqa: E402
from tfdeepfake.config import load_config  # noqa: E402
from tfdeepfake.corpora import assign_folds, read_csv  # noqa: E402
from tfdeepfake.pipeline import InputConfig, eval_dataset  # noqa: E402
from tfdeepfake.spoofing.demo import build_demo_corpus  # noqa: E402
from tfdeepfake.training import run  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
SETS = ("hifigan-demo", "vits-demo")
MODELS = {
    "lcnn": ["model.name=lcnn", "model.params={width: 0.5, dropout: 0.5}", "features.kind=lfcc",
             "features.n_mels=20", "features.n_coeffs=20", "features.win_length=320", "features.deltas=true"],
    "resnet": ["model.name=resnet", "model.params={channels: [16, 32, 64], blocks_per_stage: 1, dropout: 0.3}",
               "features.kind=logmel", "features.n_mels=64", "features.deltas=false", "features.win_length=null"],
}


def published_sets(work: Path) -> dict[str, str]:
    """TFRecords (16 kHz) of each published set, from ../shared/corpora/manifest.csv."""
    with open(SHARED / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    built = {}
    for name in SETS:
        chosen = [r for r in rows if r["path"].startswith(name + "/")]
        listing_csv = work / f"{name}.csv"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-speaker", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--work", default="data/generalisation")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} not found: this benchmark needs ../shared/corpora beside the checkout")
    work = ROOT / args.work
    corpus, tfrecords = work / "libri-demo", work / "libri-tfrecords"
    if not (corpus / "README.md").exists():
        build_demo_corpus(str(corpus), bonafide_dir=str(SHARED / "librispeech-sample"),
                          per_speaker=args.per_speaker, seed=args.seed)
    published = published_sets(work)
    report = {"command": f"python scripts/generalisation.py --seed {args.seed} --per-speaker {args.per_speaker} "
                         f"--epochs {args.epochs}", "seed": args.seed,
              "training_corpus": json.loads((corpus / "manifest.json").read_text())["counts"], "models": {}}
    for name, overrides in MODELS.items():
        run_dir = work / f"run-{name}"
        config = load_config(None, [f"data.tfrecords={tfrecords}", f"data.demo_corpus={corpus}", "data.crop_samples=48000",
                                    "data.batch_size=32", f"train.epochs={args.epochs}", f"train.seed={args.seed}",
                                    f"train.run_dir={run_dir}", "train.results=null", "train.early_stopping_patience=6",
                                    *overrides])
        summary = run(config)
        import tensorflow as tf
        from tfdeepfake.models import build_model

        model = build_model(config.model.name, config.features, config.data.crop_samples, **config.model.params)
        model.load_weights(str(run_dir / "checkpoints" / "best.weights.h5"))
        result = {"dev_eer": summary["dev"].get("eer"), "demo_eval_eer": summary.get("eval", {}).get("eer"),
                  "demo_eval_per_attack": summary.get("eval", {}).get("per_attack_eer"), "published": {}}
        for set_name, set_records in published.items():
            scores = evaluate.score_dataset(model, eval_dataset(
                InputConfig(set_records, splits=("train",), crop_samples=config.data.crop_samples, batch_size=16)))
            bonafide = scores["score"][scores["label"] == 1]
            spoof = scores["score"][scores["label"] == 0]
            result["published"][set_name] = {
                "eer": float(metrics.compute_eer(bonafide, spoof)[0]), "bonafide": int(len(bonafide)),
                "spoof": int(len(spoof)),
                "per_system_eer": {k: float(v) for k, v in
                                   metrics.per_attack_eer(scores["score"], scores["label"], scores["attack"]).items()}}
        report["models"][name] = result
        tf.keras.backend.clear_session()
    (ROOT / "results" / "generalisation.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = ["# Generalisation: LibriSpeech + demo generators -> published TTS/vocoder sets\n",
             f"Command: `{report['command']}` (seed {args.seed}). EER in %, lower is better; 50% is chance.\n",
             "| model | dev EER | demo eval EER | " + " | ".join(f"{s} EER" for s in SETS) + " |",
             "|---|---|---|" + "---|" * len(SETS)]
    for name, result in report["models"].items():
        lines.append(f"| {name} | {100 * result['dev_eer']:.1f} | {100 * (result['demo_eval_eer'] or float('nan')):.1f} | "
                     + " | ".join(f"{100 * result['published'][s]['eer']:.1f}" for s in SETS) + " |")
    for name, result in report["models"].items():
        for set_name in SETS:
            per = result["published"][set_name]["per_system_eer"]
            lines.append(f"\n{name} on {set_name}, per system: " +
                         ", ".join(f"{k} {100 * v:.1f}" for k, v in sorted(per.items())))
    (ROOT / "results" / "generalisation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
