"""What the pretrained ASVspoof detectors are not: their scores on real speech and published fakes outside ASVspoof.

    python scripts/pretrained_out_of_domain.py

Each preset scores every file of ../shared/corpora (manifest.csv) through the Detector (16 kHz, windows of 64,600
samples every 32,300, mean window logit) and by the official input rule (the first window alone: the first 64,600
samples, repeat-padded). The official decision is the argmax of the two classes, i.e. spoof when our bona fide
logit is below 0. Per source: the share of files called spoof and the mean P(spoof); for hifigan-demo and
vits-demo, the EER of real against fake within the set (and per system), with a bootstrap 95% interval.
Results: results/pretrained_out_of_domain.{json,md} and the per-file scores (.csv); the Detector-rule EERs also go
to tfdeepfake/models/presets_measured.json, which the presets' model cards show.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tfdeepfake  # noqa: E402,F401

from tfdeepfake import metrics  # noqa: E402
from tfdeepfake.bundle import measured  # noqa: E402
from tfdeepfake.inference import Detector  # noqa: E402
from tfdeepfake.models.presets import MEASURED, PRESETS  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"


def group_of(row: dict) -> str:
    return row["path"].split("/", 1)[0]


def split(rows, labels, logits, group):
    real = [i for i, r in enumerate(rows) if group_of(r) == group and labels[i]]
    fake = [i for i, r in enumerate(rows) if group_of(r) == group and not labels[i]]
    return logits[real], logits[fake]


def summarise(rows, labels, logits) -> dict:
    groups = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(group_of(row), row["label"])].append(i)
    entry = {"by_source": {}, "eer": {}, "eer_by_system": {}}
    for (group, label), index in sorted(groups.items()):
        entry["by_source"][f"{group}/{label}"] = {
            "files": len(index), "called_spoof": float(np.mean(logits[index] < 0)),
            "mean_spoof_probability": float(np.mean(1 / (1 + np.exp(logits[index]))))}
    for group in ("hifigan-demo", "vits-demo"):
        real, fake = split(rows, labels, logits, group)
        entry["eer"][group] = metrics.compute_eer(real, fake)[0]
        systems = sorted({rows[i]["system"] for i in range(len(rows)) if group_of(rows[i]) == group and not labels[i]})
        entry["eer_by_system"][group] = {
            system: metrics.compute_eer(real, logits[[i for i, r in enumerate(rows) if group_of(r) == group
                                                      and r["system"] == system]])[0] for system in systems}
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=sorted(PRESETS))
    parser.add_argument("--out", default=str(ROOT / "results" / "pretrained_out_of_domain"))
    args = parser.parse_args(argv)
    rows = list(csv.DictReader(open(CORPORA / "manifest.csv")))
    labels = np.array([row["label"] == "bonafide" for row in rows])
    report = {"command": " ".join(["python scripts/pretrained_out_of_domain.py"] + (argv or sys.argv[1:])),
              "files": len(rows), "presets": {}}
    cards, scores = {}, {}
    for name in args.presets:
        detector = Detector.load(name)
        predictions = [detector.predict(CORPORA / row["path"]) for row in rows]
        rules = {"detector": np.array([p.logit for p in predictions]),
                 "first_window": np.array([p.windows[0].logit for p in predictions])}
        scores[name] = rules
        report["presets"][name] = {rule: summarise(rows, labels, logits) for rule, logits in rules.items()}
        cards[name] = [{"name": f"{group} (real vs fake of the set, 16 kHz)",
                        **measured(*split(rows, labels, rules["detector"], group)),
                        "note": f"{report['command']}; every window, mean logit"}
                       for group in ("hifigan-demo", "vits-demo")]
        print(name, json.dumps(report["presets"][name]["detector"]["eer"]), flush=True)
    with open(Path(args.out).with_suffix(".csv"), "w") as handle:
        handle.write("path,label,system," + ",".join(f"{n}:{r}" for n in scores for r in scores[n]) + "\n")
        for i, row in enumerate(rows):
            handle.write(f"{row['path']},{row['label']},{row['system']}," + ",".join(
                f"{scores[n][r][i]:.6f}" for n in scores for r in scores[n]) + "\n")
    MEASURED.write_text(json.dumps(cards, indent=1) + "\n")
    write(Path(args.out), report)
    return 0


def write(stem: Path, report: dict) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    names = list(report["presets"])
    lines = ["# Pretrained ASVspoof detectors outside ASVspoof", "", f"`{report['command']}`", "",
             "Rules: *detector* = every 64,600-sample window (hop 32,300), mean window logit, as `tfdeepfake "
             "predict` scores; *first window* = the official input rule (the first 64,600 samples, repeat-padded). "
             "Decision: spoof when the bona fide logit < 0 (the official argmax). Everything at 16 kHz.", ""]
    for rule, title in (("detector", "detector rule"), ("first_window", "official first-window rule")):
        lines += [f"## Files called spoof, mean P(spoof) in brackets ({title})", "",
                  "| source | files | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for key in report["presets"][names[0]][rule]["by_source"]:
            cells = [report["presets"][n][rule]["by_source"][key] for n in names]
            lines.append(f"| {key} | {cells[0]['files']} | " + " | ".join(
                f"{100 * c['called_spoof']:.0f}% ({c['mean_spoof_probability']:.2f})" for c in cells) + " |")
        lines += ["", f"## EER within each published set, real vs fake of that set ({title})", "",
                  "| set | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for group in ("hifigan-demo", "vits-demo"):
            lines.append(f"| {group} | " + " | ".join(f"{100 * report['presets'][n][rule]['eer'][group]:.1f}%"
                                                     for n in names) + " |")
        lines.append("")
    for group in ("hifigan-demo", "vits-demo"):
        lines += [f"## {group}: EER per system (detector rule)", "", "| system | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for system in report["presets"][names[0]]["detector"]["eer_by_system"][group]:
            lines.append(f"| {system} | " + " | ".join(
                f"{100 * report['presets'][n]['detector']['eer_by_system'][group][system]:.0f}%" for n in names)
                + " |")
        lines.append("")
    stem.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
