"""Bounded-regression model selection on a hand-worked example, result loading and the select command."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from fairpp_hf.selection import flatten_audit_report, load_results, parse_bound, select_models

# lower is better for the gaps; "fidelity" is maximised by default
RESULTS = {
    "base": {"gap_g": 0.30, "gap_a": 0.20, "fidelity": 0.80},
    "m1": {"gap_g": 0.20, "gap_a": 0.21, "fidelity": 0.79},  # eligible, frontier
    "m2": {"gap_g": 0.10, "gap_a": 0.30, "fidelity": 0.80},  # gap_a regresses 0.10 > 0.02
    "m3": {"gap_g": 0.25, "gap_a": 0.20, "fidelity": 0.80},  # eligible, frontier
    "m4": {"gap_g": 0.22, "gap_a": 0.22, "fidelity": 0.78},  # eligible (regressions == bounds), dominated by m1
    "m5": {"gap_g": 0.35, "gap_a": 0.10, "fidelity": 0.90},  # target worse
}
BOUNDS = {"gap_a": 0.02, "fidelity": 0.02}


def test_hand_worked_selection():
    r = select_models(RESULTS, "base", ["gap_g"], BOUNDS)
    assert r.maximize == ["fidelity"]
    assert r.eligible == ["m1", "m3", "m4"]
    assert r.frontier == ["m1", "m2", "m3", "m5"]  # base is dominated by m3
    # m1 gain 0.10 / spread 0.25 = 0.4 beats m3 0.05 / 0.25 = 0.2
    assert r.selected == ["m1", "m3"] and r.best == "m1"
    t = r.table
    assert t.loc["m1", "gain:gap_g"] == pytest.approx(0.10) and t.loc["m1", "gain:fidelity"] == pytest.approx(-0.01)
    assert t.loc["m2", "why_not"] == "gap_a regresses 0.1 > bound 0.02"
    assert t.loc["m4", "why_not"] == "dominated by another eligible model"
    assert t.loc["m5", "why_not"].startswith("gap_g gain -0.05 <= 0")
    assert t.loc["base", "why_not"] == "baseline" and not t.loc["base", "eligible"]
    assert list(t["rank"].dropna()) == [1, 2]


def test_bounds_and_independent_check():
    strict = select_models(RESULTS, "base", ["gap_g"], {"gap_a": "0%", "fidelity": "5%"})
    assert strict.bounds["fidelity"] == pytest.approx(0.04) and strict.bounds["gap_a"] == 0
    assert strict.eligible == ["m3"]
    # independent re-computation of eligibility from the definitions
    base = RESULTS["base"]
    for name, vals in RESULTS.items():
        if name == "base":
            continue
        gains = {a: (vals[a] - base[a]) if a == "fidelity" else (base[a] - vals[a]) for a in base}
        bounds = {"gap_g": 0.0, "gap_a": 0.0, "fidelity": 0.04}
        ok = gains["gap_g"] > 0 and all(-gains[a] <= bounds[a] + 1e-12 for a in base)
        assert ok == (name in strict.eligible), name
    two = select_models(RESULTS, "base", ["gap_g", "gap_a"], BOUNDS, min_gain=0.0)
    assert two.eligible == [] and two.selected == [] and two.best is None
    frame = select_models(pd.DataFrame(RESULTS).T, "base", ["gap_g"], {"gap_a": 0.02}, audits=["gap_g", "gap_a"])
    assert "fidelity" not in frame.table.columns and frame.eligible == ["m1", "m3", "m4"]
    assert frame.selected == ["m1", "m3"]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="baseline 'nope'"):
        select_models(RESULTS, "nope", ["gap_g"])
    with pytest.raises(ValueError, match="'x' is not one of the audits"):
        select_models(RESULTS, "base", ["x"])
    bad = {**RESULTS, "m6": {"gap_g": float("nan"), "gap_a": 0.1, "fidelity": 0.8}}
    with pytest.raises(ValueError, match="model 'm6' has no finite value for audit 'gap_g'"):
        select_models(bad, "base", ["gap_g"])
    with pytest.raises(ValueError, match="percentage"):
        parse_bound("a", "five%", 1.0)


def test_flatten_and_load(tmp_path):
    report = {"persuasion": {"n_messages": 10, "scores": {"mean": 0.1, "std": 0.2},
                             "gender": {"mean_gap": 0.3, "ci_low": 0.1, "ci_high": 0.5, "n_pairs": 5, "gaps": [0.3]},
                             "age": {"mean_gap": 0.2}},
              "fidelity": {"gender": {"mean_gap": 0.05}}}
    report["fidelity"]["scores"] = {"mean": 0.7, "std": 0.1}
    assert flatten_audit_report(report) == {"persuasion.gender_gap": 0.3, "persuasion.age_gap": 0.2,
                                            "fidelity.gender_gap": 0.05, "fidelity.mean": 0.7}
    audit_json = {"files": {}, "summary": [], "reports": {"base": report, "tuned": {
        "persuasion": {"gender": {"mean_gap": 0.1}, "age": {"mean_gap": 0.2}},
        "fidelity": {"gender": {"mean_gap": 0.04}, "scores": {"mean": 0.69}}, "formality": {"error": "boom"}}}}
    (tmp_path / "audit.json").write_text(json.dumps(audit_json))
    loaded = load_results([tmp_path / "audit.json"])
    assert loaded["tuned"] == {"persuasion.gender_gap": 0.1, "persuasion.age_gap": 0.2, "fidelity.gender_gap": 0.04,
                               "fidelity.mean": 0.69}
    sel = select_models(loaded, "base", ["persuasion.gender_gap"], {"fidelity.mean": 0.02})
    assert sel.maximize == ["fidelity.mean"] and sel.selected == ["tuned"]
    assert flatten_audit_report({"a": 1, "b": {"c": 2.5}, "n_x": 3}) == {"a": 1.0, "b.c": 2.5}
    (tmp_path / "base.json").write_text(json.dumps({"audits": RESULTS["base"]}))
    (tmp_path / "other.json").write_text(json.dumps({"model": "m1", "audits": RESULTS["m1"]}))
    pd.DataFrame([{"model": k, **v} for k, v in RESULTS.items() if k not in ("base", "m1")]).to_csv(
        tmp_path / "rest.csv", index=False)
    loaded = load_results([tmp_path / "base.json", tmp_path / "other.json", tmp_path / "rest.csv"])
    assert loaded == RESULTS
    with pytest.raises(ValueError, match="'m1' appears twice"):
        load_results([tmp_path / "other.json", tmp_path / "other.json"])


def test_select_command(tmp_path, capsys):
    from fairpp_hf.commands import select

    pd.DataFrame([{"model": k, **v} for k, v in RESULTS.items()]).to_csv(tmp_path / "all.csv", index=False)
    parser = argparse.ArgumentParser()
    select.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "all.csv"), "--baseline", "base", "--targets", "gap_g",
                              "--bounds", "gap_a=0.02", "fidelity=2.5%", "--output-dir", str(tmp_path / "out")])
    assert select.run(args) == 0
    out = capsys.readouterr().out
    assert "selected (best first): m1, m3" in out and "0.2 (+0.1)" in out
    saved = json.loads((tmp_path / "out" / "selection.json").read_text())
    assert saved["best"] == "m1" and saved["models"]["m2"]["eligible"] is False
    assert (tmp_path / "out" / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = parser.parse_args([str(tmp_path / "all.csv"), "--baseline", "base", "--targets", "gap_g", "gap_a",
                              "--output-dir", str(tmp_path / "out2")])
    assert select.run(args) == 1  # nothing eligible: non-zero exit


def test_cli_entry_point(tmp_path, capsys):
    from fairpp_hf.cli import main

    pd.DataFrame([{"model": k, **v} for k, v in RESULTS.items()]).to_csv(tmp_path / "all.csv", index=False)
    rc = main(["select", str(tmp_path / "all.csv"), "--baseline", "base", "--targets", "gap_g", "--bounds",
               "gap_a=0.02", "fidelity=0.02", "--output-dir", str(tmp_path / "sel")])
    assert rc == 0 and "selected (best first): m1, m3" in capsys.readouterr().out
    assert json.loads((tmp_path / "sel" / "selection.json").read_text())["selected"] == ["m1", "m3"]
