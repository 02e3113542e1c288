"""Formality audit: the offline register score on hand-worked sentences, disparities with a known and a
zero gap on a constructed grid, bad input, and the ``evaluate`` module (load, doctest, combine)."""

from __future__ import annotations

import doctest
import sys

import evaluate
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import fairpp_hf
from fairpp_hf.audits.formality import audit_formality, formality_cues, formality_scores, offline_formality
from fairpp_hf.grid import CLIMATE_GRID

FORMAL = [
    "The committee hereby requests the submission of documentation regarding the regulation.",
    "Consequently, the implementation of efficient energy legislation is of national importance.",
    "Furthermore, investment in infrastructure ensures the stability of the regional economy.",
    "The adoption of renewable generation reduces the environmental impact of production.",
    "Therefore, the administration supports the modernisation of the electrical network.",
]
INFORMAL = [
    "Hey folks! You'll totally love it!",
    "Wow, gonna be awesome, you guys!!",
    "Yeah, it's super cool stuff, trust me!",
    "OMG you're gonna love this, really!",
    "C'mon dude, we're totally doing it! \U0001f600",
]


def grid_table(stance: str = "Clean-Energy", theme: str = "Economy") -> pd.DataFrame:
    """One stance x theme cell of the climate grid: 4 ages x 2 genders x 5 regions = 40 rows."""
    prompts = CLIMATE_GRID.prompts()
    cell = prompts[(prompts.stance == stance) & (prompts.theme == theme)]
    return cell.drop(columns="prompt").reset_index(drop=True)


def test_cues_are_counted_as_hand_worked():
    # hey, folks: colloquial; you'll: contraction; it: pronoun; "!": exclamation -> 0 formal, 5 informal
    assert formality_cues("Hey folks! You'll love it.") == (0, 5)
    # the, of, the, of: articles/prepositions; submission, documentation: -sion/-tion nouns -> 6 formal
    assert formality_cues("The submission of the documentation of") == (6, 0)
    # curly apostrophes are contractions too; "only" is not an -ly adverb, "quickly" is
    assert formality_cues("We\u2019re only quickly") == (0, 2)
    assert offline_formality(["Hey folks! You'll love it."])[0] == pytest.approx(1 / 7)
    assert offline_formality(["plain words"])[0] == 0.5  # no cue at all -> 0.5


def test_offline_score_orders_formal_above_informal():
    formal, informal = offline_formality(FORMAL), offline_formality(INFORMAL)
    assert ((formal >= 0) & (formal <= 1)).all() and ((informal >= 0) & (informal <= 1)).all()
    assert formal.min() > 0.75 > 0.3 > informal.max()
    np.testing.assert_array_equal(formality_scores(FORMAL), formal)


def test_known_gender_gap_and_zero_age_gap():
    table = grid_table()
    region_index = table.region.map({r: i for i, r in enumerate(CLIMATE_GRID.regions)})
    texts = [FORMAL[j] if g == "Male" else INFORMAL[j] for j, g in zip(region_index, table.gender, strict=True)]
    report = audit_formality(texts, table, n_boot=200)
    f, i = offline_formality(FORMAL), offline_formality(INFORMAL)
    # every region has 4 gender pairs (one per age): the mean gap is the mean over regions
    assert report["gender"]["n_pairs"] == 20
    assert report["gender"]["mean_gap"] == pytest.approx(np.mean(np.abs(f - i)))
    assert report["gender"]["ci_low"] <= report["gender"]["mean_gap"] <= report["gender"]["ci_high"]
    # the text does not depend on age: 60 contrasts, all with a zero gap
    assert report["age"]["n_pairs"] == 60 and report["age"]["mean_gap"] == 0.0
    assert report["age"]["ci_low"] == report["age"]["ci_high"] == 0.0
    # Welch t agrees with scipy on the raw scores
    scores = np.array(report["per_message"]["formality"])
    male = (table.gender == "Male").to_numpy()
    expected = stats.ttest_ind(scores[male], scores[~male], equal_var=False)
    assert report["gender"]["group_test"]["test"] == "welch_t"
    assert report["gender"]["group_test"]["p_value"] == pytest.approx(expected.pvalue)
    assert report["gender"]["group_test"]["p_value"] < 1e-6
    assert report["audit"] == "formality" and report["backend"] == "offline"


def test_identical_texts_give_zero_gaps():
    table = grid_table()
    # texts vary with the region (fixed within every pair) but not with gender or age
    texts = [(FORMAL + INFORMAL)[CLIMATE_GRID.regions.index(r) * 2] for r in table.region]
    report = audit_formality(texts, table, n_boot=50)
    assert len(set(report["per_message"]["formality"])) >= 3  # scores differ across cells
    assert report["gender"]["mean_gap"] == report["age"]["mean_gap"] == 0.0


def test_bad_input_is_named():
    table = grid_table()
    texts = [FORMAL[0]] * len(table)
    with pytest.raises(ValueError, match="backend"):
        audit_formality(texts, table, backend="gpt")
    with pytest.raises(ValueError, match=r"1 of 40 .*not strings.*\[3\]"):
        audit_formality(texts[:3] + [None] + texts[4:], table)
    with pytest.raises(ValueError, match="rows"):
        audit_formality(texts[:-1], table)
    with pytest.raises(ValueError, match="no 'gender' column"):
        audit_formality(texts, table.drop(columns="gender"))
    with pytest.warns(UserWarning, match="1 of 40 message"):
        report = audit_formality(texts[:-1] + ["  "], table, n_boot=20)
    assert report["per_message"]["formality"][-1] == 0.5


def _metric_inputs(table: pd.DataFrame) -> dict:
    return {
        "genders": table.gender.tolist(), "ages": table.age.tolist(), "stances": table.stance.tolist(),
        "themes": table.theme.tolist(), "regions": table.region.tolist(),
    }


def test_evaluate_module_matches_library_and_its_example_runs():
    metric = evaluate.load(fairpp_hf.metric_path("formality_disparity"))
    # the runnable example of _KWARGS_DESCRIPTION gives the values it shows
    module = sys.modules[type(metric).__module__]
    test = doctest.DocTestParser().get_doctest(module._KWARGS_DESCRIPTION, {}, "formality_disparity", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert test.examples and runner.failures == 0
    table = grid_table()
    texts = [FORMAL[k % 5] if k % 2 else INFORMAL[k % 5] for k in range(len(table))]
    out = metric.compute(predictions=texts, n_boot=100, **_metric_inputs(table))
    direct = audit_formality(texts, table, n_boot=100)
    assert out["per_message"] == direct["per_message"]
    assert out["gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert out["age"]["group_test"]["p_value"] == pytest.approx(direct["age"]["group_test"]["p_value"])
    with pytest.raises(ValueError, match="unknown compute argument"):
        metric.compute(predictions=texts, n_bot=10, **_metric_inputs(table))


def test_evaluate_combine_runs_the_three_audits():
    table = grid_table()
    texts = [FORMAL[k % 5] if k % 3 else INFORMAL[k % 5] for k in range(len(table))]
    combined = evaluate.combine([
        evaluate.load(fairpp_hf.metric_path("formality_disparity")),
        evaluate.load(fairpp_hf.metric_path("emotional_framing_disparity")),
        evaluate.load(fairpp_hf.metric_path("personalization_fidelity")),
    ], force_prefix=True)
    out = combined.compute(predictions=texts, n_boot=50, **_metric_inputs(table))
    assert out["formality_disparity_audit"] == "formality"
    assert out["emotional_framing_disparity_audit"] == "emotional_framing"
    assert out["personalization_fidelity_audit"] == "personalization_fidelity"
    direct = audit_formality(texts, table, n_boot=50)
    assert out["formality_disparity_gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert out["emotional_framing_disparity_gender"]["n_pairs"] == 20
    assert len(out["personalization_fidelity_per_message"]["fidelity"]) == len(texts)
