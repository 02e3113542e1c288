"""Run the five fairness audits (persuasion bias, formality, emotional framing, lexical association,
personalization fidelity) on one or more files of generations with the demographic grid's columns.

Prints a table (matched-pair mean gap with bootstrap CI and the group-level test per audit and
contrast), and writes ``audit.json`` (full reports, per-message scores), ``audit_scores.csv`` and
``audit_groups.png`` (per-group mean scores) into ``--out``.

Example:
    fairpp-hf audit gpt4o_climate.csv llama3.3_climate.csv --out audits/ --lexicon agency_power.csv
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Any

from ..jsonio import to_json_value

logger = logging.getLogger(__name__)

#: Audit name -> (module under fairpp_hf.audits, function).
AUDITS: dict[str, tuple[str, str]] = {
    "persuasion_bias": ("persuasion", "audit_persuasion"),
    "formality": ("formality", "audit_formality"),
    "emotional_framing": ("emotion", "audit_emotion"),
    "lexical_association": ("lexical", "audit_lexical"),
    "personalization_fidelity": ("fidelity", "audit_fidelity"),
}
CONTRASTS = ("gender", "age")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``audit`` options."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="CSV or JSONL generations with the grid's columns "
                        "(age, gender; ideally stance, theme, region) and a text column (output/text/...)")
    parser.add_argument("--out", required=True, help="folder for audit.json, audit_scores.csv and audit_groups.png")
    parser.add_argument("--text-column", default=None, help="column holding the messages (default: output, text, ...)")
    parser.add_argument("--audits", nargs="+", choices=sorted(AUDITS), default=list(AUDITS),
                        help="audits to run (default: all five)")
    parser.add_argument("--backend", choices=("offline", "transformers"), default="offline",
                        help="offline scorers (default) or the original classifiers through transformers pipelines")
    parser.add_argument("--lexicon", default=None, help="agency lexicon CSV for persuasion bias "
                        "(default: cached download of the public file)")
    parser.add_argument("--formality-model", default=None, help="classifier for --backend transformers "
                        "(default s-nlp/roberta-base-formality-ranker)")
    parser.add_argument("--emotion-model", default=None, help="classifier for --backend transformers "
                        "(default SamLowe/roberta-base-go_emotions)")
    parser.add_argument("--nli-model", default=None, help="NLI model for fidelity with --backend transformers")
    parser.add_argument("--embedding-model", default=None, help="sentence-transformers model for the lexical audit "
                        "(default: the packaged all-MiniLM-L6-v2; 'hashing' for the character 3-gram fallback)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def _audit_kwargs(name: str, args: argparse.Namespace) -> dict[str, Any]:
    common: dict[str, Any] = {"n_boot": args.n_boot, "seed": args.seed}
    if name == "persuasion_bias":
        return {**common, "lexicon": args.lexicon}
    if name == "lexical_association":
        return {**common, "model": args.embedding_model}
    model = {"formality": args.formality_model, "emotional_framing": args.emotion_model,
             "personalization_fidelity": args.nli_model}[name]
    return {**common, "backend": args.backend, **({"model": model} if model else {})}


def summary_rows(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per file x audit x contrast: pairs, mean gap with CI, test, statistic, p-value."""
    rows = []
    for file, by_audit in reports.items():
        for audit, report in by_audit.items():
            for contrast in CONTRASTS:
                if "error" in report:
                    rows.append({"file": file, "audit": audit, "contrast": contrast, "error": report["error"]})
                    continue
                entry = report.get(contrast)
                if not entry:
                    continue
                test = entry.get("group_test") or {}
                rows.append({
                    "file": file, "audit": audit, "contrast": contrast, "n_pairs": entry.get("n_pairs"),
                    "unmatched": entry.get("unmatched_rows"), "mean_gap": entry.get("mean_gap"),
                    "ci_low": entry.get("ci_low"), "ci_high": entry.get("ci_high"), "test": test.get("test"),
                    "statistic": test.get("statistic"), "p_value": test.get("p_value"),
                })
    return rows


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return str(x)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The stdout table: one line per file x audit x contrast."""
    header = ["file", "audit", "contrast", "pairs", "mean_gap", "95% CI", "test", "stat", "p"]
    lines = []
    for r in rows:
        if "error" in r:
            lines.append([r["file"], r["audit"], r["contrast"], "-", "ERROR", r["error"][:60], "", "", ""])
            continue
        lines.append([r["file"], r["audit"], r["contrast"], _fmt(r["n_pairs"]), _fmt(r["mean_gap"]),
                      f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]", _fmt(r["test"]), _fmt(r["statistic"], 3),
                      _fmt(r["p_value"], 3)])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


def _group_means(by_audit: dict[str, Any], audit: str, contrast: str) -> dict[str, Any]:
    """Per-group mean scores of one audit and contrast in one file's reports ({} when absent or failed)."""
    entry = (by_audit.get(audit) or {}).get(contrast) or {}
    return entry.get("group_test", {}).get("group_means") or {}


def plot_groups(reports: dict[str, dict[str, Any]], path: Path) -> None:
    """Bar charts of per-group mean scores: one panel per audit x contrast, one bar colour per file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    audits = list(dict.fromkeys(a for by in reports.values() for a in by))
    fig, axes = plt.subplots(len(audits), 2, figsize=(12, 2.6 * max(1, len(audits))), squeeze=False)
    width = 0.8 / max(1, len(reports))
    for i, audit in enumerate(audits):
        for j, contrast in enumerate(CONTRASTS):
            ax = axes[i][j]
            groups: list[str] = []
            for by in reports.values():
                groups += [g for g in _group_means(by, audit, contrast) if g not in groups]
            for k, (file, by) in enumerate(reports.items()):
                means = _group_means(by, audit, contrast)
                values = [np.nan if means.get(g) is None else means[g] for g in groups]
                ax.bar(np.arange(len(groups)) + k * width, values, width, label=file)
            ax.set_xticks(np.arange(len(groups)) + width * (len(reports) - 1) / 2)
            ax.set_xticklabels([g.split(" (")[0] if len(g) > 14 else g for g in groups], fontsize=7)
            ax.set_title(f"{audit} by {contrast}", fontsize=9)
            ax.tick_params(axis="y", labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _per_message_frame(file: str, table: Any, by_audit: dict[str, Any]) -> Any:
    import pandas as pd

    frame = table.copy()
    frame.insert(0, "file", file)
    for audit, report in by_audit.items():
        per = report.get("per_message") if isinstance(report, dict) else None
        if isinstance(per, dict):
            for key, values in per.items():
                frame[f"{audit}.{key}"] = values
        elif isinstance(per, list) and per and not isinstance(per[0], list):
            frame[audit] = per
        elif isinstance(per, list) and per:  # distributions: one column per label
            labels = report.get("labels") or [str(i) for i in range(len(per[0]))]
            frame = pd.concat([frame, pd.DataFrame(per, columns=[f"{audit}.{lab}" for lab in labels])], axis=1)
    return frame


def run(args: argparse.Namespace) -> int:
    """Run the selected audits on every file; write JSON, CSV and PNG; print the table. Returns 1 if any
    audit failed (the others still run and are written)."""
    import importlib
    import sys

    import pandas as pd
    from tqdm.auto import tqdm

    from fairpp_hf.audits.base import validate_texts
    from fairpp_hf.grid import read_generations

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports: dict[str, dict[str, Any]] = {}
    frames = []
    failed = 0
    names = [Path(f).stem for f in args.files]
    if len(set(names)) != len(names):
        names = [str(f) for f in args.files]
    inputs = []
    for file in args.files:  # read and check every file before any audit runs
        try:
            table = read_generations(file, text_column=args.text_column)
            validate_texts(table["text"].tolist(), name=f"{file}: texts")
        except (OSError, ValueError) as exc:
            print(f"fairpp-hf audit: error: {exc}", file=sys.stderr)
            return 2
        inputs.append(table)
    for file, name, table in zip(args.files, names, inputs, strict=True):
        texts = table["text"].tolist()
        demo = table.drop(columns=["text"])
        reports[name] = {}
        for audit in tqdm(args.audits, desc=f"audits on {name}", disable=None):
            module, func = AUDITS[audit]
            try:
                fn = getattr(importlib.import_module(f"fairpp_hf.audits.{module}"), func)
                reports[name][audit] = fn(texts, demo, **_audit_kwargs(audit, args))
            except Exception as exc:  # one audit failing must not lose the others; reported below
                failed += 1
                logger.error("%s on %s failed: %s", audit, file, exc)
                reports[name][audit] = {"error": f"{type(exc).__name__}: {exc}"}
        frames.append(_per_message_frame(name, table, reports[name]))
    rows = summary_rows(reports)
    print(format_table(rows))
    with open(out / "audit.json", "w") as fh:
        payload = {"files": dict(zip(names, map(str, args.files), strict=True)), "summary": rows, "reports": reports}
        fh.write(json.dumps(to_json_value(payload), indent=1, default=str, allow_nan=False))
    pd.concat(frames, ignore_index=True).to_csv(out / "audit_scores.csv", index=False)
    plot_groups(reports, out / "audit_groups.png")
    print(f"\nwrote {out / 'audit.json'}, {out / 'audit_scores.csv'}, {out / 'audit_groups.png'}")
    if failed:
        print(f"{failed} audit run(s) failed; see the ERROR rows above")
    return 1 if failed else 0
