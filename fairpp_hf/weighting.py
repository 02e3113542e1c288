"""Fair-PP sample reweighting (paper Eq. 1): questions where the target persona stands apart from
the others weigh more, so alignment learns what is distinctive about the persona.

tier(i) = 1 + number of the other six personas whose answer differs from the target's (1..7);
N_j = number of questions in tier j; T_j = (j/K)^alpha * (1/N_j)^beta over non-empty tiers;
W_j = T_j / sum_m T_m. With alpha = beta = 1 a tier's total influence N_j * W_j is proportional to j.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from .personas import N_PERSONAS, check_persona

logger = logging.getLogger(__name__)

WeightNormalization = Literal["paper", "mean"]
WEIGHT_NORMALIZATIONS: tuple[str, ...] = ("paper", "mean")


def validate_answers(answers: object, argument: str = "answers") -> np.ndarray:
    """Return ``answers`` as an (n, 7) int64 array of codes 0/1/2, or raise naming row and column."""
    arr = np.asarray(answers)
    if arr.ndim != 2 or arr.shape[1] != N_PERSONAS:
        raise ValueError(f"{argument} must have shape (n, {N_PERSONAS}); got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty: no questions to weight")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            r, c = map(int, np.argwhere(bad)[0])
            raise ValueError(f"{argument}[{r}, {c}] = {float(arr[r, c])} (persona {c + 1}) is not an integer code")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{argument} must hold integer codes 0/1/2; got dtype {arr.dtype}")
    out_of_range = (arr < 0) | (arr > 2)
    if out_of_range.any():
        r, c = map(int, np.argwhere(out_of_range)[0])
        raise ValueError(f"{argument}[{r}, {c}] = {int(arr[r, c])} (persona {c + 1}) is not one of 0, 1, 2")
    return arr.astype(np.int64, copy=False)


def persona_tiers(answers: object, persona: int) -> np.ndarray:
    """Tier 1..7 of every question for the target persona (1 = all agree, 7 = the persona alone)."""
    arr = validate_answers(answers)
    t = check_persona(persona) - 1
    return 1 + (arr != arr[:, t : t + 1]).sum(axis=1)


def tier_weights(
    tiers: np.ndarray, *, alpha: float = 1.0, beta: float = 1.0
) -> np.ndarray:
    """W_j for tiers 1..7 from the tier of every question (0 for empty tiers: never NaN)."""
    counts = np.bincount(np.asarray(tiers), minlength=N_PERSONAS + 1)[1:].astype(np.float64)
    j = np.arange(1, N_PERSONAS + 1, dtype=np.float64)
    nonempty = counts > 0
    t = np.zeros(N_PERSONAS)
    t[nonempty] = (j[nonempty] / N_PERSONAS) ** alpha * (1.0 / counts[nonempty]) ** beta
    return t / t.sum()


def persona_weights(
    answers: object,
    persona: int = 6,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    normalize: WeightNormalization = "paper",
    reference: object | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tiers and Eq. 1 weights of every question for a target persona.

    ``answers`` is an (n, 7) array of codes. Returns ``(tiers, weights)``, both shape (n,). With
    ``normalize="paper"`` the tier weights W_j sum to 1 over non-empty tiers, as in the paper; with
    ``"mean"`` the per-question weights are rescaled to mean 1 (same ratios; handy with a plain-mean
    loss reduction). A persona that agrees with everyone everywhere has one tier: weights are then
    uniform, and a warning says so.

    ``reference`` (another (m, 7) answer array, e.g. the training split) makes N_j count the
    reference questions instead of ``answers``: the held-out split then carries the training
    split's tier weights W_j (its weighted loss estimates the training objective). A tier present in
    ``answers`` but empty in ``reference`` has no W_j; its questions get weight 0 and a warning counts them.
    """
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(value):
            raise ValueError(f"{name}={value} must be finite")
    if normalize not in WEIGHT_NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r} must be one of {WEIGHT_NORMALIZATIONS}")
    tiers = persona_tiers(answers, persona)
    ref_tiers = tiers if reference is None else persona_tiers(validate_answers(reference, "reference"), persona)
    w_tier = tier_weights(ref_tiers, alpha=alpha, beta=beta)
    weights = w_tier[tiers - 1]
    if np.unique(ref_tiers).size == 1:
        logger.warning(
            "persona %s: every question is in tier %d, so Eq. 1 weights are uniform", persona, ref_tiers[0]
        )
    if reference is not None:
        unseen = int((weights == 0).sum())
        if unseen:
            logger.warning(
                "persona %s: %d question(s) fall in tiers with no reference question and get weight 0", persona, unseen
            )
    if normalize == "mean":
        ref_weights = w_tier[ref_tiers - 1]
        weights = weights * (ref_weights.size / ref_weights.sum())
    return tiers, weights
