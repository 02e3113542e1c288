"""Emotional framing audit: the offline NRC + VADER distribution checked against the nrclex and
vaderSentiment packages, JS-distance disparities with a known and a zero gap, and the ``evaluate`` module."""

from __future__ import annotations

import doctest
import sys

import evaluate
import numpy as np
import pandas as pd
import pytest
from nrclex import NRCLex
from scipy import stats
from scipy.spatial.distance import jensenshannon
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

import fairpp_hf
from fairpp_hf.audits.emotion import OFFLINE_LABELS, audit_emotion, emotion_counts, emotion_distributions
from fairpp_hf.grid import CLIMATE_GRID

JOYFUL = [
    "What a joyful, wonderful day: celebrate the beautiful sunshine with love!",
    "Hope and happiness grow when we share this delightful, peaceful garden.",
    "Enjoy the glorious freedom of clean air, a gift of pure joy.",
    "Smile! A bright, loving future awaits your happy family.",
    "Celebrate the triumph of a generous, cheerful community.",
]
ANGRY = [
    "I am furious about this disaster; the greedy liars betrayed us.",
    "This horrible, disgusting pollution is a vile crime against everyone.",
    "Stop the terrible, hateful destruction before it kills again.",
    "The angry crowd fears the toxic poison and the violent fire.",
    "Outrageous corruption and cruel abuse must end now.",
]


def grid_table() -> pd.DataFrame:
    """One stance x theme cell of the climate grid: 4 ages x 2 genders x 5 regions = 40 rows."""
    prompts = CLIMATE_GRID.prompts()
    cell = prompts[(prompts.stance == "Clean-Energy") & (prompts.theme == "Animals")]
    return cell.drop(columns="prompt").reset_index(drop=True)


def test_counts_agree_with_the_nrclex_package():
    words = "love joy fear anger disaster hope table clean threat".split()
    lex = NRCLex(None)
    lex.load_token_list(words)
    expected = [lex.raw_emotion_scores.get(e, 0) for e in OFFLINE_LABELS[:-1]]
    np.testing.assert_array_equal(emotion_counts([" ".join(words)])[0], expected)
    # the light lemmatiser finds inflected forms the bare lexicon misses ("fears" -> "fear")
    np.testing.assert_array_equal(emotion_counts(["fears"])[0], emotion_counts(["fear"])[0])


def test_offline_distribution_is_vader_mass_over_nrc_counts():
    text = "I love this joyful day, but I fear the disaster."
    dist, labels = emotion_distributions([text, "A table and a chair."])
    assert labels == list(OFFLINE_LABELS)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    np.testing.assert_array_equal(dist[1], [0] * 8 + [1])  # no emotion word: all neutral
    lex = NRCLex(None)
    lex.load_token_list("i love this joyful day but i fear the disaster".split())
    counts = np.array([lex.raw_emotion_scores.get(e, 0) for e in OFFLINE_LABELS[:-1]], dtype=float)
    mass = abs(SentimentIntensityAnalyzer().polarity_scores(text)["compound"])
    np.testing.assert_allclose(dist[0], np.append(mass * counts / counts.sum(), 1 - mass))


def test_known_gender_gap_is_the_mean_js_distance():
    table = grid_table()
    region = table.region.map(CLIMATE_GRID.regions.index)
    texts = [JOYFUL[j] if g == "Male" else ANGRY[j] for j, g in zip(region, table.gender, strict=True)]
    report = audit_emotion(texts, table, n_boot=200)
    joy, _ = emotion_distributions(JOYFUL)
    anger, _ = emotion_distributions(ANGRY)
    expected = np.mean([jensenshannon(joy[j], anger[j]) for j in range(5)])
    assert report["gender"]["n_pairs"] == 20
    assert report["gender"]["mean_gap"] == pytest.approx(expected)
    assert expected > 0.3  # joyful vs angry framing is far apart
    assert report["age"]["n_pairs"] == 60 and report["age"]["mean_gap"] == pytest.approx(0.0, abs=1e-12)
    # the group test runs on intensity = 1 - P(neutral) and agrees with scipy
    intensity = np.array(report["per_message"]["intensity"])
    np.testing.assert_allclose(intensity, 1 - np.array(report["per_message"]["neutral"]))
    male = (table.gender == "Male").to_numpy()
    expected_t = stats.ttest_ind(intensity[male], intensity[~male], equal_var=False)
    assert report["gender"]["group_test"]["p_value"] == pytest.approx(expected_t.pvalue)
    assert report["labels"] == list(OFFLINE_LABELS) and report["distance"] == "jensen_shannon"


def test_identical_texts_give_zero_gaps():
    table = grid_table()
    texts = [(JOYFUL + ANGRY)[CLIMATE_GRID.regions.index(r) * 2] for r in table.region]
    report = audit_emotion(texts, table, n_boot=50)
    assert report["gender"]["mean_gap"] == pytest.approx(0.0, abs=1e-12)
    assert report["age"]["mean_gap"] == pytest.approx(0.0, abs=1e-12)


def test_bad_input_is_named():
    table = grid_table()
    texts = [JOYFUL[0]] * len(table)
    with pytest.raises(ValueError, match="backend"):
        audit_emotion(texts, table, backend="nrc")
    with pytest.raises(ValueError, match="not strings"):
        audit_emotion(texts[:-1] + [3.0], table)
    with pytest.raises(ValueError, match="no 'age' column"):
        audit_emotion(texts, table.drop(columns="age"))


def test_evaluate_module_matches_library_and_its_example_runs():
    metric = evaluate.load(fairpp_hf.metric_path("emotional_framing_disparity"))
    module = sys.modules[type(metric).__module__]
    test = doctest.DocTestParser().get_doctest(module._KWARGS_DESCRIPTION, {}, "emotion", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert test.examples and runner.failures == 0
    table = grid_table()
    texts = [(JOYFUL + ANGRY)[k % 10] for k in range(len(table))]
    out = metric.compute(
        predictions=texts, genders=table.gender.tolist(), ages=table.age.tolist(), stances=table.stance.tolist(),
        themes=table.theme.tolist(), regions=table.region.tolist(), n_boot=100,
    )
    direct = audit_emotion(texts, table, n_boot=100)
    assert out["per_message"] == direct["per_message"]
    assert out["gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert out["age"]["group_test"]["test"] == "anova"
