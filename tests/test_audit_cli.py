"""`fairpp-hf audit`: all five audits on a file of generations -> table, JSON, CSV, PNG."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "fairpp_hf.cli", "audit", *map(str, args)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def small_file(shared_data, tmp_path_factory):
    # rows 0-39: one stance x theme, 4 ages x 2 genders x 5 regions -> 20 gender pairs, 60 age contrasts
    path = tmp_path_factory.mktemp("gen") / "small.csv"
    pd.read_csv(shared_data / "gpt4o_climate.csv").iloc[:40].to_csv(path, index=False)
    return path


def test_audit_runs_all_five(tmp_path, small_file, shared_data):
    res = _cli(tmp_path, small_file, "--out", "out", "--lexicon", shared_data / "agency_power.csv", "--n-boot", 100)
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "out"
    report = json.loads((out / "audit.json").read_text())
    audits = report["reports"]["small"]
    assert set(audits) == {"persuasion_bias", "formality", "emotional_framing", "lexical_association",
                           "personalization_fidelity"}
    for name, rep in audits.items():
        assert "error" not in rep, name
        assert rep["gender"]["n_pairs"] == 20 and rep["age"]["n_pairs"] == 60
        assert rep["gender"]["group_test"]["test"] == "welch_t" and rep["age"]["group_test"]["test"] == "anova"
    assert len(report["summary"]) == 10
    for name in audits:
        assert name in res.stdout
    scores = pd.read_csv(out / "audit_scores.csv")
    assert len(scores) == 40 and "persuasion_bias.pbi" in scores.columns
    assert (out / "audit_groups.png").read_bytes()[:4] == b"\x89PNG"


def test_audit_bad_inputs(tmp_path, small_file, shared_data):
    bad = tmp_path / "nogender.csv"
    pd.read_csv(small_file).drop(columns=["gender"]).to_csv(bad, index=False)
    res = _cli(tmp_path, bad, "--out", "o1", "--audits", "persuasion_bias", "--lexicon", shared_data / "agency_power.csv")
    assert res.returncode == 2 and "error:" in res.stderr and "missing demographic column(s) ['gender']" in res.stderr
    nulls = tmp_path / "nulls.jsonl"
    frame = pd.read_csv(small_file).drop(columns=["Unnamed: 0"])
    frame.loc[[3, 7], "output"] = None
    frame.to_json(nulls, orient="records", lines=True)
    res = _cli(tmp_path, nulls, "--out", "o3", "--audits", "persuasion_bias", "--lexicon", shared_data / "agency_power.csv")
    assert res.returncode == 2 and "2 of 40 message(s) are not strings" in res.stderr and "[3, 7]" in res.stderr
    # one audit failing (missing lexicon) is reported, the other still runs and is written
    res = _cli(tmp_path, small_file, "--out", "o2", "--audits", "persuasion_bias", "lexical_association",
               "--lexicon", tmp_path / "nope.csv", "--embedding-model", "hashing", "--n-boot", 50)
    assert res.returncode == 1
    assert "ERROR" in res.stdout and "1 audit run(s) failed" in res.stdout
    report = json.loads((tmp_path / "o2" / "audit.json").read_text())["reports"]["small"]
    assert "agency lexicon not found" in report["persuasion_bias"]["error"]
    assert report["lexical_association"]["gender"]["n_pairs"] == 20
