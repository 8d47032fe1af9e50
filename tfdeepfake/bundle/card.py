"""model_card.md: what the model is for, what it learned from, how well it did, where it fails, its licence."""
from __future__ import annotations

import json

from .schema import META_FILE, Bundle, finite_json


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _result_rows(results: dict) -> list[str]:
    rows = []
    for split in ("dev", "eval"):
        part = results.get(split)
        if not part:
            continue
        if "eer" not in part:
            rows.append(f"| {split} | {part.get('bonafide', 0)} / {part.get('spoof', 0)} | - | - | - | "
                        f"{part.get('note', '')} |")
            continue
        low, high = part["eer_ci95"]
        at = part.get("at_dev_threshold")
        rates = f"FRR {_percent(at['frr'])}, FAR {_percent(at['far'])}" if at else "-"
        rows.append(f"| {split} | {part['bonafide']} / {part['spoof']} | {_percent(part['eer'])} | "
                    f"{_percent(low)} - {_percent(high)} | {rates} | |")
    return rows


def _domain_calibration_lines(done: dict | None) -> list[str]:
    """The card's account of ``tfdeepfake calibrate``: on what data, to what target, with what result."""
    if not done:
        return []
    data = done["data"]
    low, high = done["false_alarm_ci95"]
    lines = ["## Calibrated to the user's recordings", "",
             f"`tfdeepfake calibrate` on {done['date']}, from model `{done['source_model']}`: "
             f"{done['bonafide_files']} real recordings ({data['bonafide_seconds']:.1f} s) from "
             f"{', '.join(data['bonafide'])}" + (f" and {done['spoof_files']} spoofed ({data['spoof_seconds']:.1f} s) "
                                                 f"from {', '.join(data['spoof'])}" if done["spoof_files"] else "")
             + f"; {done['left_out']} files left out (unreadable or without speech: {data['files']}); sha256 digest "
               f"of the files used `{data['files_sha256_digest']}`.", "",
             f"- False alarms (real recordings called spoof): target {_percent(done['false_alarm_target'])}, "
             f"achieved {_percent(done['false_alarm'])} (bootstrap 95% CI {_percent(low)} - {_percent(high)}; "
             f"expect about this on new recordings of the same kind); before: {_percent(done['false_alarm_before'])}."]
    if done["spoof_files"]:
        lines += [f"- Spoofs missed: {_percent(done['miss'])} (before: {_percent(done['miss_before'])}); EER "
                  f"{_percent(done['eer'])}; Cllr {done['cllr_before']:.4f} before, {done['cllr_after']:.4f} after "
                  "refitting the calibration on these recordings."]
    if done.get("export"):
        export, graph = done["export"], done["export"]["graph_calibration"]
        lines.append(f"- Model: a copy of the {export['format']} export `{export['from']}` as `{export['file']}`. "
                     "Its graph's own `spoof_probability` output still applies the source calibration "
                     f"(a {graph['a']:.6g}, b {graph['b']:.6g}); the Detector reads its `logit` and applies the "
                     "calibration above, and so should any other program running the export.")
    if done.get("note"):
        lines.append(f"- Note: {done['note']}.")
    return lines + [""]


def render_card(bundle: Bundle) -> str:
    """model_card.md: what the model is for, what it learned from, how well it did, where it fails, its licence."""
    rule, cal, thr, training, results = bundle.input, bundle.calibration, bundle.threshold, bundle.training, \
        bundle.metrics
    lines = [f"# Model card: {bundle.name}", "",
             f"Model id `{bundle.model_id}`, architecture `{bundle.architecture}`"
             + (f", {bundle.parameters:,} weights (BatchNorm statistics included)" if bundle.parameters else "")
             + ".", "",
             "## Intended use", "", bundle.intended_use, "",
             "## Input and output", "",
             f"- Input: {rule.describe()}.",
             "- Output: one logit per window, higher = bona fide.",
             f"- Calibration: P(spoof) = 1 / (1 + exp({cal.a:.6g} * logit + {cal.b:.6g})) at a bona fide prior of "
             f"{cal.prior:g}; {cal.fitted_on}.",
             f"- Threshold: 'spoof' when P(spoof) >= {thr.spoof_probability:.6g} ({thr.source}).", "",
             "## Training data", "", f"- {training.get('data', 'not recorded')}"]
    for key, label in (("utterances", "Utterances"), ("speakers", "Speakers"), ("attacks", "Attacks")):
        if training.get(key) is not None:
            value = training[key]
            value = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else \
                json.dumps(value) if isinstance(value, dict) else value
            lines.append(f"- {label}: {value}")
    lines += ["", "## Results", ""]
    rows = _result_rows(results)
    if rows:
        boot = next((results[s]["bootstrap"] for s in ("dev", "eval") if "bootstrap" in results.get(s, {})), {})
        lines += [f"EER with a stratified bootstrap 95% interval ({boot.get('replicates', '?')} replicates, seed "
                  f"{boot.get('seed', '?')}); eval error rates at the dev threshold.", "",
                  "| split | bona fide / spoof | EER | 95% CI | at dev threshold | note |",
                  "|---|---|---|---|---|---|", *rows, ""]
    else:
        lines += ["No results were measured in tfdeepfake for this model.", ""]
    for split in ("dev", "eval"):
        attacks = {k: v for k, v in (results.get(split) or {}).get("per_attack_eer", {}).items() if k != "pooled"}
        if attacks:
            lines += [f"Per-attack {split} EER: " + ", ".join(f"{k} {_percent(v)}" for k, v in sorted(attacks.items()))
                      + ".", ""]
    if "published" in results:
        lines += [f"Published: {results['published']['result']} ({results['published']['note']}).", ""]
    lines += ["## Out-of-domain results", ""]
    ood = results.get("out_of_domain") or []
    if ood:
        lines += ["| data | bona fide / spoof | EER | 95% CI |", "|---|---|---|---|"]
        for item in ood:
            ci = item.get("eer_ci95") or [None, None]
            lines.append(f"| {item.get('name', '?')} | {item.get('bonafide', '?')} / {item.get('spoof', '?')} | "
                         f"{_percent(item.get('eer'))} | {_percent(ci[0])} - {_percent(ci[1])} |")
        lines.append("")
    else:
        lines += ["None measured: expect higher error rates than above on any other corpus (see failure modes).", ""]
    lines += _domain_calibration_lines(results.get("domain_calibration"))
    shown = {k: v for k, v in bundle.provenance.items() if k != "config"}
    if "config" in bundle.provenance:
        shown["config"] = f"the resolved training config: {META_FILE}, provenance.config"
    lines += ["## Known failure modes", "", *[f"- {mode}" for mode in bundle.failure_modes], "",
              "## Licence", "", bundle.licence or "not recorded", "",
              "## Provenance", "", "```json", json.dumps(finite_json(shown), indent=1), "```", ""]
    return "\n".join(lines)
