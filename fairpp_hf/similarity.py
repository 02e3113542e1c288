"""Persona Jensen-Shannon similarity: where a model sits among the seven Fair-PP personas.

Similarity is ``1 - JS distance`` with :func:`scipy.spatial.distance.jensenshannon`'s definition
(distance = square root of the JS divergence, natural log unless ``base`` is given), over the three
answer options A/B/C. Two modes:

``"pooled"`` (the paper's)
    Each rater's answers are pooled over all questions into one A/B/C distribution (the model's is
    the mean of its per-question distributions: one-hot codes or probability vectors), and
    similarity is ``1 - JS(pooled model, pooled persona)``. Two raters that give A and B equally
    often score 1 even if they never agree on a question, so high values (0.98) are easy to reach.

``"per_question"`` (stricter, as GlobalOpinionQA does)
    For every question the model's distribution is compared with the persona's one-hot answer, and
    similarity is ``1 - mean over questions of JS(model_i, onehot(persona_i))``. Between two personas
    (both one-hot) this is ``1 - sqrt(ln 2) * disagreement rate``. With the natural log the JS
    distance is at most ``sqrt(ln 2) ~ 0.833``, so similarities lie in ``[0.167, 1]``.

Margins for a target persona ``t`` with similarities ``s_k``:

* ``margin_best = s_t - max_{k != t} s_k``: positive exactly when the target is strictly the closest
  persona; its size is the lead over the runner-up.
* ``margin_mean = s_t - mean_{k != t} s_k``: how far the target stands above the others on average
  (the paper's "margin from other personas"; it reports relative changes of this between methods).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import rel_entr

from .personas import N_PERSONAS, PERSONA_IDS, check_persona
from .prompts import OPTION_LETTERS

SimilarityMode = Literal["pooled", "per_question"]
SIMILARITY_MODES: tuple[str, ...] = ("pooled", "per_question")
#: Row/column labels of the (7 + 1) x (7 + 1) similarity matrix.
MATRIX_LABELS: tuple[str, ...] = (*(f"persona_{k}" for k in PERSONA_IDS), "model")
#: Record columns offered as breakdowns by :func:`breakdown_from_records`.
BREAKDOWN_COLUMNS: tuple[str, ...] = ("topic", "group_type", "dimension")
_N_OPTIONS = len(OPTION_LETTERS)
_ROW_SUM_TOL = 1e-6


def js_distance(p: np.ndarray, q: np.ndarray, *, base: float | None = None) -> np.ndarray:
    """Jensen-Shannon distance along the last axis, broadcasting the leading axes.

    The same formula as :func:`scipy.spatial.distance.jensenshannon` (inputs normalised to sum 1,
    ``rel_entr`` so that zero probabilities contribute 0), vectorized, and clipped at 0 so that
    rounding never turns an identical pair into NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    div = rel_entr(p, m).sum(axis=-1) + rel_entr(q, m).sum(axis=-1)
    if base is not None:
        div = div / np.log(base)
    return np.sqrt(np.clip(div / 2.0, 0.0, None))


def onehot_js_distance(prob_of_answer: np.ndarray, *, base: float | None = None) -> np.ndarray:
    """JS distance between a distribution ``p`` and the one-hot answer ``a``, from ``x = p[a]`` alone.

    With ``m = (p + onehot(a)) / 2``: KL(onehot || m) = ln 2 - ln(1 + x) and KL(p || m) = (1 - x) ln 2
    + x ln(2x / (1 + x)), so the divergence depends on ``x`` only. This is :func:`js_distance` for
    that case without materialising the (n, 7, 3) arrays (the per-question metric's hot path).
    """
    x = np.asarray(prob_of_answer, dtype=np.float64)
    div = (2.0 - x) * np.log(2.0) - np.log1p(x) + rel_entr(x, (1.0 + x) / 2.0)
    if base is not None:
        div = div / np.log(base)
    return np.sqrt(np.clip(div / 2.0, 0.0, None))


def _show(value: Any) -> Any:
    """A numpy scalar as a plain Python value for error messages (5.0 -> 5)."""
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _check_codes(arr: np.ndarray, argument: str, persona_axis: bool) -> np.ndarray:
    """Integer codes 0/1/2 from ints, integral floats or letters A/B/C; raise naming the first bad cell."""

    def where(idx: tuple[int, ...]) -> str:
        cell = f"{argument}[{idx[0]}]" if len(idx) == 1 else f"{argument}[{idx[0]}][{idx[1]}]"
        return cell + (f" (persona {idx[1] + 1})" if persona_axis and len(idx) == 2 else "")

    if arr.dtype.kind in "USO":
        letters = np.char.upper(np.char.strip(arr.astype(str)))
        codes = np.full(arr.shape, -1, dtype=np.int64)
        for code, letter in enumerate(OPTION_LETTERS):
            codes[letters == letter] = code
        for code in range(_N_OPTIONS):
            codes[letters == str(code)] = code
        bad = codes < 0
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where(idx)} = {_show(arr[idx])!r} is not an answer code 0/1/2 or a letter A/B/C")
        return codes
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{argument} must hold answer codes 0/1/2 (A/B/C); got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where(idx)} = {_show(arr[idx])!r} is not an integer answer code 0/1/2")
    bad = (arr < 0) | (arr >= _N_OPTIONS)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{where(idx)} = {_show(arr[idx])!r} is not an answer code 0/1/2 (A/B/C)")
    return arr.astype(np.int64)


def model_distributions(predictions: object, argument: str = "predictions") -> np.ndarray:
    """The model's (n, 3) per-question A/B/C distributions.

    ``predictions`` is either n answer codes (0/1/2 or letters A/B/C; one-hot per question) or an
    (n, 3) array of probabilities (non-negative, each row summing to 1 within 1e-6).
    """
    try:
        arr = np.asarray(predictions)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{argument} must be n codes or an (n, 3) array of probabilities: {err}") from None
    if arr.dtype == object and arr.ndim == 1 and len(arr) and isinstance(arr[0], (list, tuple, np.ndarray)):
        lengths = {len(row) for row in arr}
        raise ValueError(f"{argument} rows have different lengths {sorted(lengths)}; expected 3 probabilities each")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty: give one answer code or A/B/C probability vector per question")
    if arr.ndim == 1:
        codes = _check_codes(arr, argument, persona_axis=False)
        return np.eye(_N_OPTIONS)[codes]
    if arr.ndim != 2 or arr.shape[1] != _N_OPTIONS:
        raise ValueError(f"{argument} must be n codes or an (n, 3) array of A/B/C probabilities; got shape {arr.shape}")
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise ValueError(f"{argument} probabilities must be numbers; got dtype {arr.dtype}")
    probs = arr.astype(np.float64)
    bad = ~np.isfinite(probs) | (probs < 0)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{argument}[{r}][{c}] = {_show(probs[r, c])!r} is not a probability (finite, >= 0)")
    sums = probs.sum(axis=1)
    off = np.abs(sums - 1.0) > _ROW_SUM_TOL
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"{argument}[{r}] = {probs[r].tolist()} sums to {sums[r]!r}, not 1: give A/B/C probabilities "
            f"({int(off.sum())} row(s) affected)"
        )
    return probs / sums[:, None]


def persona_answers(references: object, argument: str = "references") -> np.ndarray:
    """The personas' (n, 7) int answer codes, validated; errors name row and persona."""
    try:
        arr = np.asarray(references)
    except ValueError as err:
        raise ValueError(f"{argument} must be an (n, {N_PERSONAS}) array of answer codes: {err}") from None
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty: give the {N_PERSONAS} personas' answer codes per question")
    if arr.ndim != 2 or arr.shape[1] != N_PERSONAS:
        raise ValueError(f"{argument} must have shape (n, {N_PERSONAS}): one code per persona; got shape {arr.shape}")
    return _check_codes(arr, argument, persona_axis=True)


def _matrix(model: np.ndarray, answers: np.ndarray, mode: str, base: float | None) -> np.ndarray:
    """The 8 x 8 similarity matrix: personas 1..7, then the model."""
    onehot = np.eye(_N_OPTIONS)[answers]  # (n, 7, 3)
    n = len(answers)
    if mode == "pooled":
        dists = np.concatenate([onehot.mean(axis=0), model.mean(axis=0, keepdims=True)])  # (8, 3)
        out = 1.0 - js_distance(dists[:, None, :], dists[None, :, :], base=base)
        np.fill_diagonal(out, 1.0)
        return out
    # per question: persona vs persona is a constant distance times the disagreement rate.
    out = np.ones((N_PERSONAS + 1, N_PERSONAS + 1))
    disjoint = float(onehot_js_distance(np.zeros(1), base=base)[0])
    flat = onehot.reshape(n, N_PERSONAS * _N_OPTIONS)
    agree = np.einsum("kclc->kl", (flat.T @ flat).reshape(N_PERSONAS, _N_OPTIONS, N_PERSONAS, _N_OPTIONS)) / n
    out[:N_PERSONAS, :N_PERSONAS] = 1.0 - disjoint * (1.0 - agree)
    model_vs = 1.0 - onehot_js_distance(np.take_along_axis(model, answers, axis=1), base=base).mean(axis=0)
    out[N_PERSONAS, :N_PERSONAS] = model_vs
    out[:N_PERSONAS, N_PERSONAS] = model_vs
    np.fill_diagonal(out, 1.0)
    return out


def _summary(model: np.ndarray, answers: np.ndarray, mode: str, base: float | None, target: int | None) -> dict:
    matrix = _matrix(model, answers, mode, base)
    sims = matrix[N_PERSONAS, :N_PERSONAS]
    out: dict[str, Any] = {
        "n_questions": int(len(answers)),
        "similarity": {k: float(sims[k - 1]) for k in PERSONA_IDS},
        "closest_persona": int(np.argmax(sims)) + 1,
        "target_persona": target,
        "target_similarity": None,
        "margin_best": None,
        "margin_mean": None,
        "best_other_persona": None,
        "matrix": matrix.tolist(),
        "model_distribution": model.mean(axis=0).tolist(),
        "persona_distributions": {
            k: (np.bincount(answers[:, k - 1], minlength=_N_OPTIONS) / len(answers)).tolist() for k in PERSONA_IDS
        },
    }
    if target is not None:
        others = np.delete(sims, target - 1)
        other_ids = np.delete(np.arange(1, N_PERSONAS + 1), target - 1)
        out.update(
            target_similarity=float(sims[target - 1]),
            margin_best=float(sims[target - 1] - others.max()),
            margin_mean=float(sims[target - 1] - others.mean()),
            best_other_persona=int(other_ids[np.argmax(others)]),
        )
    return out


def persona_similarity(
    predictions: object,
    references: object,
    target_persona: int | None = None,
    mode: SimilarityMode = "pooled",
    breakdown: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
    *,
    base: float | None = None,
) -> dict[str, Any]:
    """Similarity of a model's answers to each persona's, with margins and the 8 x 8 matrix.

    ``predictions``: n answer codes (0/1/2 or A/B/C) or an (n, 3) array of A/B/C probabilities.
    ``references``: (n, 7) persona answer codes for the same questions. ``mode``: ``"pooled"``
    (the paper's) or ``"per_question"`` (see the module docstring for both and for the margins).
    ``breakdown``: name -> n labels (e.g. ``{"topic": [...]}``, see :func:`breakdown_from_records`);
    each label gets its own summary under ``result["breakdown"][name][label]``. ``base``: log base
    of the JS divergence (``None`` = natural log, as the paper and scipy's default).

    Returns a dict with ``similarity`` {persona: float}, ``target_similarity``, ``margin_best``,
    ``margin_mean``, ``best_other_persona``, ``closest_persona``, ``matrix`` (8 x 8 list, rows and
    columns :data:`MATRIX_LABELS`), ``labels``, ``model_distribution``, ``persona_distributions``,
    ``mode``, ``base``, ``n_questions`` and ``breakdown`` (when asked).
    """
    if mode not in SIMILARITY_MODES:
        raise ValueError(f"mode={mode!r} must be one of {SIMILARITY_MODES}")
    if base is not None and (not np.isfinite(base) or base <= 0 or base == 1):
        raise ValueError(f"base={base!r} must be a positive log base other than 1 (or None for the natural log)")
    target = None if target_persona is None else check_persona(target_persona, "target_persona")
    model = model_distributions(predictions)
    answers = persona_answers(references)
    if len(model) != len(answers):
        raise ValueError(
            f"predictions has {len(model)} question(s) but references has {len(answers)}: give one of each per question"
        )
    result = _summary(model, answers, mode, base, target)
    result.update(mode=mode, base=base, labels=list(MATRIX_LABELS))
    if breakdown:
        result["breakdown"] = _breakdown(model, answers, mode, base, target, breakdown)
    return result


def _breakdown(model, answers, mode, base, target, breakdown: Mapping) -> dict[str, dict[str, dict]]:
    if not isinstance(breakdown, Mapping):
        raise ValueError(f"breakdown must map a name to one label per question; got {type(breakdown).__name__}")
    out: dict[str, dict[str, dict]] = {}
    for name, labels in breakdown.items():
        arr = np.asarray(labels)
        if arr.shape != (len(answers),):
            raise ValueError(f"breakdown[{name!r}] has shape {arr.shape}; expected one label per question ({len(answers)},)")
        missing = np.flatnonzero(pd.isna(arr))
        if len(missing):
            raise ValueError(f"breakdown[{name!r}][{int(missing[0])}] is missing: every question needs a label")
        keys = arr.astype(str)
        uniques, codes = np.unique(keys, return_inverse=True)
        groups: dict[str, dict] = {}
        for g, label in enumerate(uniques):
            mask = codes == g
            summary = _summary(model[mask], answers[mask], mode, base, target)
            del summary["persona_distributions"]
            groups[str(label)] = summary
        out[str(name)] = groups
    return out


def margin_change(result: Mapping[str, Any], baseline: Mapping[str, Any], key: str = "margin_mean") -> float:
    """Relative change of a margin against a baseline run, ``(new - old) / |old|`` (the paper quotes
    WDPO's margin as +10-12% over DPO/SFT this way). Both results need the same target persona."""
    if key not in ("margin_mean", "margin_best"):
        raise ValueError(f"key={key!r} must be 'margin_mean' or 'margin_best'")
    if result.get("target_persona") is None or result.get("target_persona") != baseline.get("target_persona"):
        raise ValueError("result and baseline need the same (non-empty) target_persona")
    old, new = baseline[key], result[key]
    if old == 0:
        raise ValueError(f"baseline {key} is 0: a relative change is undefined")
    return float((new - old) / abs(old))


def breakdown_from_records(records: Any, columns: Sequence[str] = BREAKDOWN_COLUMNS) -> dict[str, np.ndarray]:
    """Breakdown labels (``topic``, ``group_type``, ``dimension`` by default) from Fair-PP records,
    in record order, for :func:`persona_similarity`'s ``breakdown`` argument."""
    from .data import column

    if isinstance(records, Mapping):
        missing = [c for c in columns if c not in records]
        if missing:
            raise ValueError(f"records lack breakdown column(s) {missing}")
        return {c: np.asarray(records[c]) for c in columns}
    return {c: column(records, c) for c in columns}


def format_table(result: Mapping[str, Any], names: Mapping[int, str] | None = None) -> str:
    """A plain-text table of one :func:`persona_similarity` result (for CLIs and logs)."""
    target = result.get("target_persona")
    lines = [f"{'persona':<32} {'similarity':>10}"]
    for k, sim in result["similarity"].items():
        label = f"{k} {names[int(k)]}" if names else str(k)
        mark = "  <- target" if target is not None and int(k) == target else ""
        lines.append(f"{label:<32} {sim:>10.4f}{mark}")
    if target is not None:
        lines.append(f"margin_best (target - best other, persona {result['best_other_persona']}): {result['margin_best']:+.4f}")
        lines.append(f"margin_mean (target - mean of others): {result['margin_mean']:+.4f}")
    lines.append(f"closest persona: {result['closest_persona']}  ({result['mode']}, n = {result['n_questions']})")
    return "\n".join(lines)
