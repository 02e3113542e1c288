"""Statistics shared by the five audits: matched-pair gaps, bootstrap intervals, the group-level tests
of prior work (Welch t for gender, one-way ANOVA + Tukey HSD for age) and the common audit report.

Every audit metric scores each message, then calls :func:`audit_report` with those scores and the
table of demographic attributes; the report is what the ``evaluate`` modules return.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

#: The attributes an audit report contrasts: gender pairs (Welch t) and age contrasts (ANOVA).
DEFAULT_VARY: tuple[str, ...] = ("gender", "age")


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon distance (natural log, scipy's definition) between two (m, k) arrays
    of non-negative weights; each row is normalised to a distribution first."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.ndim == 1:
        return np.asarray(jensenshannon(p, q))
    return np.asarray(jensenshannon(p, q, axis=1))


def _apply_distance(distance: Callable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Call ``distance`` on whole (m, k) arrays; fall back to one call per row for scalar distances
    (e.g. ``scipy.spatial.distance.cosine``) that reject 2-D input or return the wrong shape."""
    m = a.shape[0]
    try:
        out = np.asarray(distance(a, b), dtype=float)
        if out.shape == (m,):
            return out
    except (ValueError, TypeError):
        pass
    return np.fromiter((float(distance(x, y)) for x, y in zip(a, b, strict=True)), dtype=float, count=m)


def pair_gaps(scores: np.ndarray, pairs: pd.DataFrame, distance: Callable | None = None) -> np.ndarray:
    """Gap of every matched pair: ``|s_a - s_b|`` for scalar scores (n,), ``distance(vec_a, vec_b)``
    for vector scores (n, k) (default: Jensen-Shannon distance between distributions).

    ``pairs`` needs integer columns ``index_a`` and ``index_b`` (row positions into ``scores``), as
    :func:`fairpp_hf.grid.matched_pairs` returns them.
    """
    scores = np.asarray(scores, dtype=float)
    for col in ("index_a", "index_b"):
        if col not in pairs.columns:
            raise ValueError(f"pairs needs integer columns index_a and index_b; missing {col!r}")
    ia = pairs["index_a"].to_numpy()
    ib = pairs["index_b"].to_numpy()
    if len(ia) == 0:
        return np.zeros(0, dtype=float)
    if not (np.issubdtype(ia.dtype, np.integer) and np.issubdtype(ib.dtype, np.integer)):
        raise ValueError("pairs columns index_a/index_b must hold integers (row positions into scores)")
    n = scores.shape[0]
    bad = (ia < 0) | (ia >= n) | (ib < 0) | (ib >= n)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} pair(s) point outside scores of length {n} (first pair row {int(np.argmax(bad))})")
    if scores.ndim == 1:
        if distance is not None:
            return _apply_distance(distance, scores[ia, None], scores[ib, None])
        return np.abs(scores[ia] - scores[ib])
    if scores.ndim != 2:
        raise ValueError(f"scores must be (n,) or (n, k); got shape {scores.shape}")
    return _apply_distance(distance or js_distance, scores[ia], scores[ib])


def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (``scipy.stats.bootstrap``, vectorised resampling).
    NaN values are ignored; fewer than two values give ``(mean, mean)`` or ``(nan, nan)``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1; got {n_boot}")
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    if values.size == 1 or np.all(values == values[0]):
        return (float(values[0]), float(values[0]))
    res = sps.bootstrap(
        (values,), np.mean, n_resamples=n_boot, confidence_level=confidence, method="percentile",
        vectorized=True, rng=np.random.default_rng(seed),
    )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def _clean(x: float) -> float | None:
    """A float for JSON: NaN becomes None."""
    x = float(x)
    return None if math.isnan(x) else x


def json_floats(values: Any) -> list[float | None]:
    """Per-message floats for a JSON report: NaN becomes None."""
    return [_clean(x) for x in values]


def group_test(scores: np.ndarray, groups: Sequence) -> dict[str, Any]:
    """The group-level test of prior work: Welch's t-test for two groups, one-way ANOVA (plus Tukey
    HSD pairwise p-values) for more. NaN scores are left out and counted; a single group present
    gives a warning and ``test=None``."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1:
        raise ValueError(f"group_test needs one scalar score per message; got shape {scores.shape}")
    groups = pd.Series(list(groups), dtype=object)
    if len(groups) != len(scores):
        raise ValueError(f"groups has {len(groups)} entries but scores has {len(scores)}")
    missing_group = groups.isna().to_numpy()
    nan_score = np.isnan(scores)
    keep = ~(missing_group | nan_score)
    frame = pd.DataFrame({"g": groups[keep].astype(str).to_numpy(), "s": scores[keep]})
    order = list(dict.fromkeys(frame["g"]))
    samples = [frame.loc[frame["g"] == g, "s"].to_numpy() for g in order]
    out: dict[str, Any] = {
        "test": None, "statistic": None, "p_value": None,
        "group_means": {g: _clean(s.mean()) for g, s in zip(order, samples, strict=True)},
        "n_per_group": {g: int(s.size) for g, s in zip(order, samples, strict=True)},
        "n_excluded": {"nan_score": int(nan_score.sum()), "missing_group": int((missing_group & ~nan_score).sum())},
    }
    if len(order) < 2:
        msg = f"only {len(order)} group present ({order}); no group-level test"
        warnings.warn(msg, stacklevel=2)
        out["note"] = msg
        return out
    small = [g for g, s in zip(order, samples, strict=True) if s.size < 2]
    if small:
        msg = f"groups with fewer than 2 scored messages: {small}; test statistic undefined"
        warnings.warn(msg, stacklevel=2)
        out["note"] = msg
        out["test"] = "welch_t" if len(order) == 2 else "anova"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant groups: scipy warns and returns nan
        if len(order) == 2:
            res = sps.ttest_ind(samples[0], samples[1], equal_var=False)
            out.update(test="welch_t", statistic=_clean(res.statistic), p_value=_clean(res.pvalue))
        else:
            res = sps.f_oneway(*samples)
            out.update(test="anova", statistic=_clean(res.statistic), p_value=_clean(res.pvalue))
            try:
                tk = sps.tukey_hsd(*samples)
                out["tukey_hsd"] = [
                    {"group_a": order[i], "group_b": order[j], "p_value": _clean(tk.pvalue[i, j])}
                    for i in range(len(order)) for j in range(i + 1, len(order))
                ]
            except ValueError as exc:  # e.g. zero variance in every group
                out["tukey_hsd"] = None
                out["note"] = f"Tukey HSD not computed: {exc}"
    return out


def summarize(scores: np.ndarray) -> dict[str, Any]:
    """Mean, std, min, max and count of per-message scores (per column for vector scores)."""
    scores = np.asarray(scores, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if scores.ndim == 1:
            return {
                "n": int(scores.size), "n_nan": int(np.isnan(scores).sum()),
                "mean": _clean(np.nanmean(scores)) if scores.size else None,
                "std": _clean(np.nanstd(scores)) if scores.size else None,
                "min": _clean(np.nanmin(scores)) if scores.size else None,
                "max": _clean(np.nanmax(scores)) if scores.size else None,
            }
        return {
            "n": int(scores.shape[0]), "n_nan": int(np.isnan(scores).any(axis=1).sum()),
            "mean": [_clean(x) for x in np.nanmean(scores, axis=0)] if scores.size else None,
        }


def audit_report(
    scores: np.ndarray,
    table: pd.DataFrame,
    *,
    distance: Callable | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    vary: Sequence[str] = DEFAULT_VARY,
    group_scores: np.ndarray | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The common output of every audit: a summary of the per-message ``scores``, and for each
    attribute in ``vary`` the matched pairs (:func:`fairpp_hf.grid.matched_pairs`), their mean
    absolute gap (or ``distance`` for vector scores) with a bootstrap CI, the per-pair gaps, the count
    of rows matching no pair, and the group-level test (Welch t for gender, ANOVA for age).

    For vector scores (n, k) the group test needs one number per message: pass ``group_scores``
    (e.g. the probability of one label); otherwise it is skipped with a note.
    """
    from fairpp_hf.grid import matched_pairs

    scores = np.asarray(scores, dtype=float)
    if scores.ndim not in (1, 2):
        raise ValueError(f"scores must be (n,) or (n, k); got shape {scores.shape}")
    if len(table) != scores.shape[0]:
        raise ValueError(f"scores has {scores.shape[0]} rows but the table has {len(table)}")
    table = table.reset_index(drop=True)
    if group_scores is None and scores.ndim == 1:
        group_scores = scores
    report: dict[str, Any] = {"n_messages": int(scores.shape[0]), "scores": summarize(scores)}
    for attribute in vary:
        if attribute not in table.columns:
            raise ValueError(f"the table has no {attribute!r} column (columns: {list(table.columns)}); "
                             f"pass vary= without it to skip that contrast")
        pairs = matched_pairs(table, vary=attribute)
        gaps = pair_gaps(scores, pairs, distance)
        nan_gaps = np.isnan(gaps)
        if nan_gaps.any():
            warnings.warn(f"{attribute}: {int(nan_gaps.sum())} of {len(gaps)} pair gaps are NaN (unscored "
                          f"messages) and are left out of the mean", stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_gap = float(np.nanmean(gaps)) if (~nan_gaps).any() else math.nan
        low, high = bootstrap_ci(gaps, n_boot=n_boot, confidence=confidence, seed=seed)
        entry: dict[str, Any] = {
            "n_pairs": int(len(pairs)),
            "n_pairs_nan": int(nan_gaps.sum()),
            "unmatched_rows": int(pairs.attrs.get("unmatched_rows", 0)),
            "mean_gap": _clean(mean_gap),
            "ci_low": _clean(low),
            "ci_high": _clean(high),
            "confidence": confidence,
            "index_a": pairs["index_a"].astype(int).tolist(),
            "index_b": pairs["index_b"].astype(int).tolist(),
            "gaps": json_floats(gaps),
        }
        if group_scores is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                entry["group_test"] = group_test(np.asarray(group_scores, dtype=float), table[attribute].tolist())
            for w in caught:
                warnings.warn(f"{attribute}: {w.message}", stacklevel=2)
        else:
            entry["group_test"] = {"test": None, "note": "vector scores: pass group_scores= for a group-level test"}
        report[attribute] = entry
    return report
