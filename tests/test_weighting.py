"""Eq. 1 tiers and weights: a hand-worked example with empty tiers, an independent loop
implementation, the alpha/beta form, held-out (reference) weights and bad input."""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fairpp_hf.weighting import persona_tiers, persona_weights, tier_weights

# Six questions, target persona 1. Tiers worked out by hand:
#   q0, q1: all seven agree                 -> tier 1
#   q2: persona 2 differs                   -> tier 2
#   q3: persona 1 alone (all six others 0)  -> tier 7
#   q4, q5: three others differ             -> tier 4
# N_1 = 2, N_2 = 1, N_4 = 2, N_7 = 1; tiers 3, 5, 6 are EMPTY.
HAND = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 1],
        [0, 1, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0],
        [2, 0, 0, 1, 2, 2, 2],
        [0, 2, 2, 2, 0, 0, 0],
    ]
)


def test_hand_worked_tiers_and_weights_with_empty_tiers():
    tiers, weights = persona_weights(HAND, persona=1)
    assert tiers.tolist() == [1, 1, 2, 7, 4, 4]
    # T_j = j / N_j: 1/2, 2/1, 4/2, 7/1 -> sum 23/2; W_j = T_j / sum = 1/23, 4/23, 4/23, 14/23.
    expected = [Fraction(1, 23), Fraction(1, 23), Fraction(4, 23), Fraction(14, 23), Fraction(4, 23), Fraction(4, 23)]
    np.testing.assert_allclose(weights, [float(f) for f in expected], rtol=1e-12)
    # Empty tiers get 0 (not NaN) and the non-empty tier weights sum to 1.
    w_tier = tier_weights(tiers)
    np.testing.assert_allclose(w_tier, [1 / 23, 4 / 23, 0, 4 / 23, 0, 0, 14 / 23], rtol=1e-12)
    assert w_tier.sum() == pytest.approx(1.0)
    # A tier's total influence N_j * W_j is proportional to j.
    influence = {j: weights[tiers == j].sum() for j in (1, 2, 4, 7)}
    for j, value in influence.items():
        assert value / influence[1] == pytest.approx(j)


def test_hand_worked_alpha_beta_and_mean_normalisation():
    tiers, w = persona_weights(HAND, persona=1, alpha=2.0, beta=1.0)
    # T_j = (j/7)^2 / N_j: 1/98, 8/98, 16/98, 98/98 -> W = [1, 8, 16, 98] / 123.
    by_tier = {1: 1 / 123, 2: 8 / 123, 4: 16 / 123, 7: 98 / 123}
    np.testing.assert_allclose(w, [by_tier[t] for t in tiers], rtol=1e-12)
    _, w0 = persona_weights(HAND, persona=1, alpha=1.0, beta=0.0)
    # beta = 0 ignores tier sizes: W_j proportional to j over the non-empty tiers (1+2+4+7 = 14).
    np.testing.assert_allclose(w0, [j / 14 for j in tiers], rtol=1e-12)
    _, wm = persona_weights(HAND, persona=1, normalize="mean")
    np.testing.assert_allclose(wm, np.array([1, 1, 4, 14, 4, 4]) * 6 / 28, rtol=1e-12)
    assert wm.mean() == pytest.approx(1.0)


def test_other_target_persona_changes_tiers():
    tiers, _ = persona_weights(HAND, persona=4)
    # persona 4 answers 0, 1, 0, 0, 1, 2: q2 -> persona 2 differs -> 2; q3 -> persona 1 differs -> 2;
    # q4 -> answers 2,0,0,[1],2,2,2 -> six others differ -> 7; q5 -> 0,2,2,[2],0,0,0 -> four differ -> 5.
    assert tiers.tolist() == [1, 1, 2, 2, 7, 5]


def test_reference_counts_give_held_out_weights():
    train = HAND
    test = np.array([[0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]])  # tiers 1, 3, 7
    tiers, w = persona_weights(test, persona=1, reference=train)
    assert tiers.tolist() == [1, 3, 7]
    # Tier 3 is empty in the training answers: no W_3, weight 0; tiers 1 and 7 carry the train W_j.
    np.testing.assert_allclose(w, [1 / 23, 0.0, 14 / 23], rtol=1e-12)
    _, wm = persona_weights(test, persona=1, reference=train, normalize="mean")
    np.testing.assert_allclose(wm, np.array([1, 0, 14]) * 6 / 28, rtol=1e-12)


def _loop_weights(answers: np.ndarray, persona: int, alpha: float, beta: float) -> np.ndarray:
    """Independent reference: Eq. 1 written out with Python loops and dicts."""
    t = persona - 1
    tiers = [1 + sum(1 for k in range(7) if row[k] != row[t]) for row in answers.tolist()]
    counts: dict[int, int] = {}
    for j in tiers:
        counts[j] = counts.get(j, 0) + 1
    raw = {j: (j / 7) ** alpha * (1 / n) ** beta for j, n in counts.items()}
    total = sum(raw.values())
    return np.array([raw[j] / total for j in tiers])


@settings(max_examples=60, deadline=None)
@given(
    answers=arrays(np.int64, st.tuples(st.integers(1, 40), st.just(7)), elements=st.integers(0, 2)),
    persona=st.integers(1, 7),
    alpha=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    beta=st.sampled_from([0.0, 1.0, 1.5]),
)
def test_matches_loop_reference(answers, persona, alpha, beta):
    _, w = persona_weights(answers, persona, alpha=alpha, beta=beta)
    np.testing.assert_allclose(w, _loop_weights(answers, persona, alpha, beta), rtol=1e-10)
    assert np.isfinite(w).all()


def test_single_tier_persona_gives_uniform_weights_with_warning(caplog):
    same = np.zeros((5, 7), dtype=np.int64)
    with caplog.at_level(logging.WARNING, logger="fairpp_hf.weighting"):
        tiers, w = persona_weights(same, persona=3)
    assert tiers.tolist() == [1] * 5
    np.testing.assert_allclose(w, 1.0)  # the one tier's W_1 = 1, so every question weighs 1 (paper form)
    assert "every question is in tier 1" in caplog.text


def test_float_codes_are_accepted_when_integral():
    tiers, _ = persona_weights(HAND.astype(float), persona=1)
    assert tiers.tolist() == [1, 1, 2, 7, 4, 4]


@pytest.mark.parametrize(
    "answers, message",
    [
        (np.zeros((3, 6)), r"shape \(n, 7\)"),
        (np.zeros((0, 7)), "empty"),
        (np.array([[0, 1, 2, 0, 1, 2, np.nan]]), r"answers\[0, 6\] = nan \(persona 7\) is not an integer"),
        (np.array([[0, 1, 2, 0, 1.5, 2, 0]]), r"answers\[0, 4\] = 1.5 \(persona 5\)"),
        (np.array([[0, 1, 2, 0, 1, 3, 0]]), r"answers\[0, 5\] = 3 \(persona 6\) is not one of 0, 1, 2"),
        (np.array([["A"] * 7]), "integer codes"),
    ],
)
def test_bad_answers_name_row_and_column(answers, message):
    with pytest.raises(ValueError, match=message):
        persona_weights(answers, persona=1)


@pytest.mark.parametrize("persona", [0, 8, -1, "x", 2.5, True, None])
def test_unknown_persona_ids(persona):
    with pytest.raises(ValueError, match="persona"):
        persona_tiers(HAND, persona)


def test_bad_alpha_beta_and_normalize():
    with pytest.raises(ValueError, match="alpha"):
        persona_weights(HAND, 1, alpha=float("nan"))
    with pytest.raises(ValueError, match="beta"):
        persona_weights(HAND, 1, beta=float("inf"))
    with pytest.raises(ValueError, match="normalize"):
        persona_weights(HAND, 1, normalize="sum")
    with pytest.raises(ValueError, match=r"reference\[0, 0\]"):
        persona_weights(HAND, 1, reference=np.full((2, 7), 5))
