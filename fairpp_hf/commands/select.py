"""Bounded-regression multi-audit model selection: which models improve the targeted audits while no audit
regresses beyond its bound, and the Pareto frontier.

RESULTS are audit-result files: the audit.json of `fairpp-hf audit` (one model per generations file), one
JSON per model (its name from a "model" key or the file name; values flattened from audit reports: matched-pair
mean gaps such as "persuasion_bias.gender_gap", and "personalization_fidelity.mean"), or a CSV/JSON table with
a "model" column and one column per audit. Audits are lower-is-better unless named in --maximize (default:
names containing "fidelity" that do not end in "_gap"). Bounds are absolute (0.02) or relative to the
baseline (5%).

    fairpp-hf audit base.csv dpo.csv pareto_dpo.csv --out audits/ --lexicon agency_power.csv
    fairpp-hf select audits/audit.json --baseline base \\
        --targets persuasion_bias.gender_gap formality.gender_gap \\
        --bounds personalization_fidelity.mean=0.02 emotional_framing.gender_gap=10% --output-dir out/select

Prints the table and writes OUTPUT_DIR/selection.json and OUTPUT_DIR/frontier.png.
"""

from __future__ import annotations

import argparse


def _bounds(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value:
            raise SystemExit(f"fairpp-hf select: --bounds entries look like AUDIT=0.02 or AUDIT=5%; got {item!r}")
        out[name] = value
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``fairpp-hf select``."""
    parser.add_argument("results", nargs="+", help="audit-result files (JSON per model, or a CSV/JSON table)")
    parser.add_argument("--baseline", required=True, help="name of the baseline model among the results")
    parser.add_argument("--targets", nargs="+", required=True, help="audits that must improve")
    parser.add_argument("--bounds", nargs="*", default=[], metavar="AUDIT=BOUND",
                        help="allowed regression per audit: absolute (0.02) or relative to the baseline (5%%)")
    parser.add_argument("--default-bound", default="0", help="bound for audits not in --bounds (default: 0)")
    parser.add_argument("--audits", nargs="*", default=None,
                        help="audits to consider (default: every audit present for all models)")
    parser.add_argument("--maximize", nargs="*", default=None,
                        help="higher-is-better audits (default: names containing 'fidelity', not ending in '_gap')")
    parser.add_argument("--min-gain", type=float, default=0.0, help="a target must improve by more than this")
    parser.add_argument("--plot-x", default=None, help="audit on the plot's x axis (default: first target)")
    parser.add_argument("--plot-y", default=None, help="audit on the plot's y axis (default: second target)")
    parser.add_argument("--output-dir", default="fairpp-select", help="where selection.json and frontier.png go")


def run(args: argparse.Namespace) -> int:
    """Load the results, select, print the table, write JSON and the frontier plot. Exit 1 if nothing is eligible."""
    from pathlib import Path

    from ..selection import load_results, select_models

    results = load_results(args.results)
    audits = args.audits
    if audits is None:
        common = set.intersection(*(set(v) for v in results.values()))
        audits = [a for a in next(iter(results.values())) if a in common]
        dropped = sorted(set().union(*results.values()) - common)
        if dropped:
            print(f"note: {len(dropped)} audit(s) missing for some models are left out: {', '.join(dropped)}")
    result = select_models(results, args.baseline, args.targets, _bounds(args.bounds), audits=audits,
                           maximize=args.maximize, default_bound=args.default_bound, min_gain=args.min_gain)
    out = Path(args.output_dir)
    json_path = result.to_json(out / "selection.json")
    png_path = result.plot(out / "frontier.png", x=args.plot_x, y=args.plot_y)
    print(result.format_table())
    print()
    print(f"baseline: {result.baseline}; targets: {', '.join(result.targets)}")
    print("bounds: " + ", ".join(f"{a}={b:.4g}" for a, b in result.bounds.items()))
    print(f"Pareto frontier (all models): {', '.join(result.frontier)}")
    print(f"eligible: {', '.join(result.eligible) or 'none'}")
    print(f"selected (best first): {', '.join(result.selected) or 'none'}")
    print(f"wrote {json_path} and {png_path}")
    return 0 if result.selected else 1
