"""Persona JS similarity against scipy, hand-worked margins, breakdowns and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import jensenshannon

from fairpp_hf.similarity import (
    MATRIX_LABELS,
    breakdown_from_records,
    format_table,
    js_distance,
    margin_change,
    onehot_js_distance,
    persona_similarity,
)

EYE = np.eye(3)


def _distributions(n: int, rng: np.random.Generator, zeros: bool = True) -> np.ndarray:
    p = rng.dirichlet([0.7, 0.7, 0.7], size=n)
    if zeros:  # exact zeros are the edge case of rel_entr
        p[rng.random((n, 3)) < 0.25] = 0.0
        p[p.sum(axis=1) == 0, 2] = 1.0
        p /= p.sum(axis=1, keepdims=True)
    return p


@pytest.mark.parametrize("base", [None, 2.0])
def test_js_distance_matches_scipy_pairwise(base):
    rng = np.random.default_rng(0)
    p, q = _distributions(200, rng), _distributions(200, rng)
    expected = np.array([jensenshannon(a, b, base=base) for a, b in zip(p, q, strict=True)])
    np.testing.assert_allclose(js_distance(p, q, base=base), expected, atol=1e-12, rtol=0)
    assert js_distance(p[0], p[0]) == 0.0  # identical -> exactly 0, never NaN


@pytest.mark.parametrize("base", [None, 2.0, 10.0])
def test_onehot_closed_form_matches_scipy(base):
    rng = np.random.default_rng(1)
    p = _distributions(300, rng)
    answer = rng.integers(0, 3, size=300)
    expected = np.array([jensenshannon(p[i], EYE[answer[i]], base=base) for i in range(300)])
    got = onehot_js_distance(p[np.arange(300), answer], base=base)
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)


def _scipy_reference(model: np.ndarray, answers: np.ndarray, mode: str, base=None) -> np.ndarray:
    """The 8 x 8 matrix the slow, obvious way: scipy per pair (and per question)."""
    raters = [EYE[answers[:, k]] for k in range(7)] + [model]
    out = np.ones((8, 8))
    for a in range(8):
        for b in range(8):
            if a == b:
                continue
            if mode == "pooled":
                out[a, b] = 1 - jensenshannon(raters[a].mean(axis=0), raters[b].mean(axis=0), base=base)
            else:
                out[a, b] = 1 - np.mean([jensenshannon(x, y, base=base) for x, y in zip(raters[a], raters[b], strict=True)])
    return out


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=1, max_value=25),
    mode=st.sampled_from(["pooled", "per_question"]),
    as_codes=st.booleans(),
)
def test_matrix_matches_scipy_property(data, n, mode, as_codes):
    answers = data.draw(hnp.arrays(np.int64, (n, 7), elements=st.integers(0, 2)), label="answers")
    if as_codes:
        codes = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 2)), label="codes")
        predictions, model = codes, EYE[codes]
    else:
        raw = data.draw(
            hnp.arrays(np.float64, (n, 3), elements=st.sampled_from([0.0, 0.1, 0.25, 1.0, 3.0, 7.5])), label="raw"
        )
        raw[raw.sum(axis=1) == 0, 0] = 1.0
        model = raw / raw.sum(axis=1, keepdims=True)
        predictions = model
    result = persona_similarity(predictions, answers, target_persona=3, mode=mode)
    expected = _scipy_reference(model, answers, mode)
    np.testing.assert_allclose(np.array(result["matrix"]), expected, atol=1e-9, rtol=0)
    sims = np.array([result["similarity"][k] for k in range(1, 8)])
    np.testing.assert_allclose(sims, expected[7, :7], atol=1e-9, rtol=0)
    assert result["margin_best"] == pytest.approx(sims[2] - np.delete(sims, 2).max(), abs=1e-12)
    assert result["margin_mean"] == pytest.approx(sims[2] - np.delete(sims, 2).mean(), abs=1e-12)


def test_large_random_per_question_matches_scipy():
    rng = np.random.default_rng(5)
    n = 2000
    answers = rng.integers(0, 3, size=(n, 7))
    probs = _distributions(n, rng)
    result = persona_similarity(probs, answers, mode="per_question", base=2)
    for k in (1, 6):
        expected = 1 - np.mean([jensenshannon(probs[i], EYE[answers[i, k - 1]], base=2) for i in range(n)])
        assert result["similarity"][k] == pytest.approx(expected, abs=1e-9)


def test_pooled_margins_hand_worked():
    # Four questions. The model always answers A. Persona 6 too (similarity 1); persona 1 answers
    # A, A, B, B (pooled [.5, .5, 0]); the other five always answer B (pooled [0, 1, 0]).
    answers = np.array([[0, 1, 1, 1, 1, 0, 1]] * 2 + [[1, 1, 1, 1, 1, 0, 1]] * 2)
    result = persona_similarity([0, 0, 0, 0], answers, target_persona=6, mode="pooled")
    # JS([1,0,0], [.5,.5,0]): m = [.75,.25,0]; KL(p||m) = ln(4/3); KL(q||m) = .5 ln(2/3) + .5 ln 2 = .5 ln(4/3)
    s1 = 1 - math.sqrt(0.75 * math.log(4 / 3))
    s_b = 1 - math.sqrt(math.log(2))  # disjoint one-hots: divergence ln 2
    assert result["similarity"][6] == pytest.approx(1.0, abs=1e-12)
    assert result["similarity"][1] == pytest.approx(s1, abs=1e-12)
    for k in (2, 3, 4, 5, 7):
        assert result["similarity"][k] == pytest.approx(s_b, abs=1e-12)
    assert result["target_similarity"] == pytest.approx(1.0)
    assert result["margin_best"] == pytest.approx(1 - s1, abs=1e-12)
    assert result["best_other_persona"] == 1
    assert result["margin_mean"] == pytest.approx(1 - (s1 + 5 * s_b) / 6, abs=1e-12)
    assert result["closest_persona"] == 6
    assert result["model_distribution"] == [1.0, 0.0, 0.0]
    assert result["persona_distributions"][1] == [0.5, 0.5, 0.0]


def test_per_question_hand_worked():
    # Per question with codes: similarity = 1 - sqrt(ln 2) * (share of questions answered differently).
    model = [0, 1, 2, 0]
    answers = np.array(
        [
            [0, 0, 1, 0, 0, 0, 2],
            [1, 0, 1, 1, 1, 1, 2],
            [2, 0, 1, 2, 2, 2, 2],
            [0, 0, 1, 1, 0, 0, 2],
        ]
    )
    disagreements = {1: 0, 2: 2, 3: 3, 4: 1, 5: 0, 6: 0, 7: 3}
    c = math.sqrt(math.log(2))
    result = persona_similarity(model, answers, target_persona=4, mode="per_question")
    for k, d in disagreements.items():
        assert result["similarity"][k] == pytest.approx(1 - c * d / 4, abs=1e-12)
    assert result["margin_best"] == pytest.approx(-c / 4, abs=1e-12)  # persona 4 trails 1, 5 and 6 by one question
    assert result["margin_mean"] == pytest.approx((1 - c / 4) - np.mean([1, 1 - 0.5 * c, 1 - 0.75 * c, 1, 1, 1 - 0.75 * c]))
    # persona x persona entries too: personas 2 and 3 disagree on all four questions
    assert result["matrix"][1][2] == pytest.approx(1 - c, abs=1e-12)


def test_matrix_layout_and_no_target():
    rng = np.random.default_rng(2)
    answers = rng.integers(0, 3, size=(50, 7))
    result = persona_similarity(rng.integers(0, 3, size=50), answers)
    matrix = np.array(result["matrix"])
    assert matrix.shape == (8, 8) and result["labels"] == list(MATRIX_LABELS)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert result["target_persona"] is None and result["margin_best"] is None and result["margin_mean"] is None
    assert result["n_questions"] == 50 and result["mode"] == "pooled"


def test_letters_and_float_codes_equal_int_codes():
    answers = np.array([[0, 1, 2, 0, 1, 2, 0]] * 3)
    a = persona_similarity([0, 1, 2], answers, 1)
    b = persona_similarity(["A", "b", "C"], answers.astype(float), 1)
    assert a["similarity"] == b["similarity"]


def test_breakdown_equals_subsets(small_records):
    from fairpp_hf.data import answer_matrix

    answers = answer_matrix(small_records)
    rng = np.random.default_rng(3)
    probs = _distributions(len(answers), rng)
    groups = breakdown_from_records(small_records)
    assert set(groups) == {"topic", "group_type", "dimension"}
    for mode in ("pooled", "per_question"):
        result = persona_similarity(probs, answers, target_persona=6, mode=mode, breakdown=groups)
        topics = result["breakdown"]["topic"]
        assert sum(v["n_questions"] for v in topics.values()) == len(answers)
        for label, summary in topics.items():
            mask = groups["topic"] == label
            sub = persona_similarity(probs[mask], answers[mask], target_persona=6, mode=mode)
            assert summary["similarity"] == pytest.approx(sub["similarity"], abs=1e-12)
            assert summary["margin_mean"] == pytest.approx(sub["margin_mean"], abs=1e-12)


def test_format_table_names_target_and_margins():
    answers = np.array([[0, 1, 1, 1, 1, 0, 1]] * 4)
    text = format_table(persona_similarity([0, 0, 0, 0], answers, 6), {k: f"P{k}" for k in range(1, 8)})
    assert "6 P6" in text and "<- target" in text and "margin_best" in text and "margin_mean" in text


@pytest.mark.parametrize(
    ("predictions", "references", "kwargs", "message"),
    [
        ([0, 1], [[0] * 7] * 3, {}, "predictions has 2 question(s) but references has 3"),
        ([], [[0] * 7], {}, "predictions is empty"),
        ([0], [], {}, "references is empty"),
        ([0, 3], [[0] * 7] * 2, {}, "predictions[1] = 3 is not an answer code"),
        ([0, 1.5], [[0] * 7] * 2, {}, "predictions[1] = 1.5 is not an integer answer code"),
        ([0, float("nan")], [[0] * 7] * 2, {}, "predictions[1] = nan"),
        (["A", "D"], [[0] * 7] * 2, {}, "predictions[1] = 'D'"),
        ([0, 1], [[0] * 7, [0, 0, 0, 0, 5, 0, 0]], {}, "references[1][4] (persona 5) = 5"),
        ([0, 1], [[0] * 6] * 2, {}, "references must have shape (n, 7)"),
        ([[0.5, 0.5, 0.0], [0.5, 0.6, 0.0]], [[0] * 7] * 2, {}, "predictions[1] = [0.5, 0.6, 0.0] sums to"),
        ([[0.5, 0.5, 0.0], [1.2, -0.2, 0.0]], [[0] * 7] * 2, {}, "predictions[1][1] = -0.2 is not a probability"),
        ([[0.5, 0.5], [0.5, 0.5]], [[0] * 7] * 2, {}, "got shape (2, 2)"),
        ([0, 1], [[0] * 7] * 2, {"mode": "mean"}, "mode='mean' must be one of"),
        ([0, 1], [[0] * 7] * 2, {"target_persona": 8}, "target_persona=8"),
        ([0, 1], [[0] * 7] * 2, {"breakdown": {"topic": ["a"]}}, "breakdown['topic'] has shape (1,)"),
        ([0, 1], [[0] * 7] * 2, {"breakdown": {"topic": ["a", None]}}, "breakdown['topic'][1] is missing"),
        ([0, 1], [[0] * 7] * 2, {"base": 1}, "base=1"),
    ],
)
def test_bad_input_is_named(predictions, references, kwargs, message):
    with pytest.raises(ValueError) as err:
        persona_similarity(predictions, references, **kwargs)
    assert message in str(err.value)


def test_margin_change_relative_to_baseline():
    answers = np.array([[0, 1, 1, 1, 1, 0, 1]] * 2 + [[1, 1, 1, 1, 1, 0, 1]] * 2)
    new = persona_similarity([0, 0, 0, 0], answers, target_persona=6)
    old = persona_similarity([0, 0, 0, 1], answers, target_persona=6)
    expected = (new["margin_mean"] - old["margin_mean"]) / abs(old["margin_mean"])
    assert margin_change(new, old) == pytest.approx(expected)
    with pytest.raises(ValueError, match="same"):
        margin_change(new, persona_similarity([0, 0, 0, 1], answers, target_persona=5))
