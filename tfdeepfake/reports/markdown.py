"""report.md: the numbers of a report as Markdown tables."""
from __future__ import annotations



def _pct(value) -> str:
    return "–" if value is None else f"{100.0 * value:.4f}"


def _num(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def render_markdown(result: dict) -> str:
    """``report.md``: the metrics dict of :func:`evaluate_trials` as Markdown tables (EER in %)."""
    inputs, trials = result["inputs"], result["trials"]
    lines = ["# Countermeasure evaluation", ""]
    if inputs.get("model"):
        lines += [f"- model: `{inputs['model']}` ({inputs.get('model_id')}): {inputs.get('input_rule')}",
                  f"- data: {inputs.get('data')} ({result['kind']}); scored with {inputs.get('scoring')}"]
    else:
        lines += [f"- scores: `{inputs.get('scores')}` ({inputs.get('score_format', '?')}, higher is "
                  f"{inputs.get('higher_is', 'bonafide')} in the file)",
                  f"- protocol: `{inputs.get('protocol')}` ({result['kind']})"]
    for key, name in (("asv_scores", "ASV scores"), ("subsets", "subsets")):
        if inputs.get(key):
            lines.append(f"- {name}: `{inputs[key]}`")
    lines += ["", "## Trials", ""]
    lines += _table(list(trials), [[str(v) for v in trials.values()]])
    for kind, shown in result.get("examples", {}).items():
        lines.append(f"\n{kind} e.g.: " + ", ".join(f"`{s}`" for s in shown))
    ci = result["eer_ci95"]
    ci_text = "–" if ci is None else f"{100 * ci['low']:.4f} – {100 * ci['high']:.4f} (n={ci['n_bootstrap']})"
    tdcf = result["min_tdcf"] or {}
    rows = [["EER (%)", _pct(result["eer"])], ["EER 95% CI (%, bootstrap)", ci_text],
            ["EER threshold", _num(result["eer_threshold"], 6)],
            ["min t-DCF (2019)", _num(tdcf.get("2019", {}).get("min_tdcf"))],
            ["min t-DCF (2021)", _num(tdcf.get("2021", {}).get("min_tdcf"))],
            ["ROC AUC", _num(result["roc_auc"], 6)], ["min Cllr (bits)", _num(result["min_cllr"])],
            ["min DCF", _num(result["min_dcf"]["value"])],
            ["Cllr, raw scores as LLRs (bits)", _num(result["raw"]["cllr"])],
            ["actDCF, raw scores as LLRs", _num(result["raw"]["act_dcf"])]]
    cal = result["calibrated"]
    if cal is not None:
        rows += [["Cllr, dev-calibrated (bits)", _num(cal["cllr"])], ["actDCF, dev-calibrated", _num(cal["act_dcf"])]]
    lines += ["", "## Summary", ""] + _table(["metric", "value"], rows)
    op = result["dcf_operating_point"]
    lines += ["", f"DCF operating point: bona fide prior {op['p_target']}, Cmiss {op['c_miss']}, Cfa {op['c_fa']} "
              "(ASVspoof 5 by default). " + result["raw"]["note"]]
    if cal is not None:
        lines.append(f"Calibration: llr = {cal['a']:.6g} * score + {cal['b']:.6g}, fitted (logistic regression) on "
                     f"`{cal['dev'].get('scores')}` ({cal['dev_trials'].get('evaluated')} trials, dev EER "
                     f"{_pct(cal['dev_eer'])} %, dev Cllr {_num(cal['dev_cllr'])}).")
    if tdcf:
        t19 = tdcf["2019"]
        lines.append(f"ASV at its EER threshold {t19['asv_threshold']:.6g}: Pmiss_asv {t19['pmiss_asv']:.6f}, "
                     f"Pfa_asv {t19['pfa_asv']:.6f}, Pmiss_spoof_asv {t19['pmiss_spoof_asv']:.6f}.")
    per_attack = result["per_attack"]
    headers = ["attack", "spoof trials", "EER (%)"]
    with_tdcf = bool(per_attack) and "min_tdcf_2019" in per_attack[0]
    if with_tdcf:
        headers += ["min t-DCF 2019", "min t-DCF 2021"]
    rows = [[r["attack"], r["spoof"], _pct(r["eer"])] + ([_num(r["min_tdcf_2019"]), _num(r["min_tdcf_2021"])]
                                                          if with_tdcf else []) for r in per_attack]
    lines += ["", "## Per attack (each attack's spoofs against all bona fide trials)", ""] + _table(headers, rows)
    for name, table in result["decomposition"].items():
        lines += ["", f"## EER (%) by {name.replace('_x_', ' × ')}", ""]
        if isinstance(table, dict):
            lines += _table([name.split("_x_")[0] + " \\ codec"] + table["columns"],
                            [[r] + [_pct(v) for v in vals] for r, vals in zip(table["rows"], table["eer"])])
        else:
            lines += _table([name, "bona fide trials", "spoof trials", "EER (%)"],
                            [[r[name], r["bonafide"], r["spoof"], _pct(r["eer"])] for r in table])
    pictures = [(k, v) for k, v in result.get("files", {}).items() if v.endswith(".png")]
    if pictures:
        lines += ["", "## Plots", ""] + [f"![{k}]({v})" for k, v in pictures]
    if result["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"
