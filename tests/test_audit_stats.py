"""Shared audit statistics checked against independent computations (scipy, numpy, hand-worked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import cosine, jensenshannon

from fairpp_hf.audits.base import table_from_inputs, validate_texts
from fairpp_hf.audits.stats import audit_report, bootstrap_ci, group_test, pair_gaps
from fairpp_hf.grid import CLIMATE_GRID


def test_pair_gaps_scalar_and_vector():
    pairs = pd.DataFrame({"index_a": [0, 2], "index_b": [1, 3]})
    assert pair_gaps(np.array([1.0, 3.5, -1.0, -1.0]), pairs).tolist() == [2.5, 0.0]
    p = np.array([[0.5, 0.5, 0.0], [0.1, 0.1, 0.8], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    expected = [jensenshannon(p[0], p[1]), 0.0]
    np.testing.assert_allclose(pair_gaps(p, pairs), expected, atol=1e-12)
    # a scalar-only distance falls back to one call per pair
    np.testing.assert_allclose(pair_gaps(p, pairs, cosine), [cosine(p[0], p[1]), 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="outside scores"):
        pair_gaps(np.zeros(2), pairs)
    with pytest.raises(ValueError, match="index_b"):
        pair_gaps(np.zeros(4), pairs.drop(columns=["index_b"]))


def test_bootstrap_ci_matches_a_numpy_percentile_bootstrap():
    rng = np.random.default_rng(1)
    values = rng.exponential(size=300)
    low, high = bootstrap_ci(values, n_boot=4000, seed=3)
    idx = np.random.default_rng(7).integers(0, values.size, (4000, values.size))
    ref = np.percentile(values[idx].mean(axis=1), [2.5, 97.5])
    assert low < values.mean() < high
    np.testing.assert_allclose([low, high], ref, atol=0.02)
    assert bootstrap_ci(np.zeros(10)) == (0.0, 0.0)
    assert np.isnan(bootstrap_ci(np.array([]))[0])
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(values, confidence=1.5)


def test_group_test_welch_anova_and_single_group():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(0, 1, 40), rng.normal(0.8, 2, 30), rng.normal(0.2, 1, 20)
    res = group_test(np.r_[a, b], ["M"] * 40 + ["F"] * 30)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert res["test"] == "welch_t"
    assert res["statistic"] == pytest.approx(ref.statistic) and res["p_value"] == pytest.approx(ref.pvalue)
    assert res["n_per_group"] == {"M": 40, "F": 30}
    res = group_test(np.r_[a, b, c, [np.nan]], ["x"] * 40 + ["y"] * 30 + ["z"] * 21)
    ref = sps.f_oneway(a, b, c)
    assert res["test"] == "anova" and res["p_value"] == pytest.approx(ref.pvalue)
    assert res["n_excluded"]["nan_score"] == 1 and len(res["tukey_hsd"]) == 3
    with pytest.warns(UserWarning, match="only 1 group"):
        res = group_test(a, ["M"] * 40)
    assert res["test"] is None and "note" in res


def _grid_table():
    return CLIMATE_GRID.prompts()


def test_audit_report_known_gap_and_zero_gap():
    table = _grid_table()
    scores = np.where(table.gender == "Female", 1.0, 0.0) + np.arange(len(table)) * 0.0
    report = audit_report(scores, table, n_boot=200)
    assert report["gender"]["n_pairs"] == 220 and report["gender"]["mean_gap"] == pytest.approx(1.0)
    assert report["gender"]["ci_low"] == report["gender"]["ci_high"] == pytest.approx(1.0)
    assert report["age"]["n_pairs"] == 660 and report["age"]["mean_gap"] == 0.0
    assert report["gender"]["group_test"]["test"] == "welch_t"
    assert report["age"]["group_test"]["test"] == "anova"
    # scores depend on age only: age gap = mean |code_a - code_b| over the 6 contrasts per cell
    codes = table.age.map({a: i for i, a in enumerate(CLIMATE_GRID.ages)}).to_numpy(float)
    report = audit_report(codes, table, n_boot=200)
    assert report["age"]["mean_gap"] == pytest.approx((1 + 2 + 3 + 1 + 2 + 1) / 6)
    assert report["gender"]["mean_gap"] == 0.0


def test_audit_report_vector_scores_and_errors():
    table = _grid_table()
    dist = np.tile([0.2, 0.3, 0.5], (len(table), 1))
    report = audit_report(dist, table, n_boot=50)
    assert report["gender"]["mean_gap"] == 0.0 and report["gender"]["group_test"]["test"] is None
    report = audit_report(dist, table, n_boot=50, group_scores=dist[:, 0])
    assert report["age"]["group_test"]["test"] == "anova"
    with pytest.raises(ValueError, match="no 'age' column"):
        audit_report(np.zeros(len(table)), table.drop(columns=["age"]))
    with pytest.raises(ValueError, match="rows but the table"):
        audit_report(np.zeros(3), table)


def test_base_helpers():
    with pytest.raises(ValueError, match=r"2 of 4 message\(s\) are not strings .*first rows \[1, 3\]"):
        validate_texts(["a", None, "b", 3.0])
    with pytest.warns(UserWarning, match="1 of 2 message"):
        validate_texts(["a", "  "])
    t = table_from_inputs(2, genders=["Male", "Female"], ages=["x", "x"], themes=[None, ""], regions=None)
    assert list(t.columns) == ["age", "gender"]
    with pytest.raises(ValueError, match="genders has 1 entries"):
        table_from_inputs(2, genders=["Male"])
