"""Pair-aware feasibility gate, Pareto selection and training data for Pareto-guided teacher alignment.

Only the abstract of arXiv 2606.10126 is public; these rules are our design, documented here.

Inputs are precomputed scores (so the gate does not depend on how they were computed):

* ``originals``: one row per base output with ``id``, ``prompt``, ``output``, one column per audit
  (a scalar per message, or a vector such as an emotion distribution) and a fidelity column.
* ``pairs``: matched pairs of originals, columns ``id_a``/``id_b`` (ids) or ``index_a``/``index_b``
  (row positions, as :func:`fairpp_hf.grid.matched_pairs` returns), optional ``pair_id``.
* ``candidates``: teacher revisions with ``candidate_id``, ``item_id`` (the original revised), ``text``,
  optional ``status`` ("ok"/"failed") and ``error``, the same audit and fidelity columns, and
  ``stance_preserved`` / ``theme_preserved`` (bools or probabilities).

Disparity of a pair on an audit: ``|s_a - s_b|`` for scalar scores, total variation distance
``0.5 * sum|p_a - p_b|`` for vector scores (``"js"`` and callables are also accepted).

**Gate** (:func:`gate_candidates`). A candidate ``c`` for member ``a`` replaces ``a`` in every matched
pair ``(a, b)`` that contains ``a`` (one pair for a gender pair, several for age contrasts), with the
partner ``b`` kept at its original output. It is admissible only if

1. the teacher reply did not fail and every score is present;
2. for every audit ``m`` and every such pair, ``D_m(c, b) <= D_m(a, b) + tol_m`` (``tolerance``);
3. fidelity ``>= min_fidelity`` and, if ``max_fidelity_drop`` is set, ``>= fidelity(a) - max_fidelity_drop``;
4. stance and theme are preserved: score ``>= stance_threshold`` / ``theme_threshold`` (absolute), and/or
   no more than ``max_stance_drop`` / ``max_theme_drop`` below the original's score (relative; useful
   when the score is the probability of the asked value among many, as for themes);
5. with ``require_improvement``, at least one audit's objective improves by more than ``min_improvement``.

Every rejected candidate gets the list of the rules it broke (``reasons``).

**Objectives.** For audit ``m``, candidate ``c`` of member ``a`` scores ``max over a's pairs of D_m(c, b)``
(its worst pair; lower is better); the original scores the same with ``a`` itself.

**Selection** (:func:`select_candidates`). Among a member's admissible candidates, keep the Pareto front
(:func:`pareto_front`, non-dominated under minimisation). Tie-break, deterministic: smallest sum of
objectives min-max normalised over the front and the original (the point nearest the ideal in L1), then
highest fidelity, then the candidate listed first (item order, then revision index). When no candidate
is admissible the original is kept (``kept_original``) and the member yields no training rows.

**Training data** (:func:`build_training_data`). SFT warm-start rows: prompt -> selected candidate. DPO
rows: chosen = selected candidate; rejected = the original output (``rejected="original"``), or the
worst candidate of the same member that the selected one dominates (``"dominated"``, falling back to the
original when there is none; counted), or one row of each (``"both"``). Provenance columns name the
item, the candidates, the teacher, the revision indices and the pairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

DisparityKind = Literal["abs", "tv", "js"] | Callable[[np.ndarray, np.ndarray], np.ndarray]
RejectedSource = Literal["original", "dominated", "both"]
_EPS = 1e-12


@dataclass
class GateConfig:
    """Thresholds of the pair-aware feasibility gate (see the module docstring for the rules).

    ``tolerance``: allowed rise of a pair's disparity, one float for all audits or a mapping audit ->
    float. ``min_fidelity``/``max_fidelity_drop``: personalization fidelity floor and allowed drop from the
    original (None disables). ``stance_threshold``/``theme_threshold``: minimum preservation score (None
    disables the check; otherwise the column must exist). ``max_stance_drop``/``max_theme_drop``: allowed
    drop of that score below the original's (None disables). ``require_improvement``/``min_improvement``: a
    candidate must improve some audit's objective by more than this.
    """

    tolerance: float | Mapping[str, float] = 0.0
    min_fidelity: float | None = 0.5
    max_fidelity_drop: float | None = None
    stance_threshold: float | None = 0.5
    theme_threshold: float | None = 0.5
    max_stance_drop: float | None = None
    max_theme_drop: float | None = None
    require_improvement: bool = True
    min_improvement: float = 0.0
    fidelity_column: str | None = "fidelity"
    stance_column: str = "stance_preserved"
    theme_column: str = "theme_preserved"
    disparity: Mapping[str, DisparityKind] = field(default_factory=dict)

    def tol(self, audit: str) -> float:
        """The tolerance for ``audit``."""
        if isinstance(self.tolerance, Mapping):
            return float(self.tolerance.get(audit, 0.0))
        return float(self.tolerance)


def pareto_front(points: Any, maximize: Sequence[bool] | bool = False) -> np.ndarray:
    """Row indices (ascending) of the non-dominated points of an ``(n, m)`` array.

    A point dominates another if it is no worse on every objective and strictly better on one
    (minimisation unless ``maximize`` says otherwise, per column or for all). Equal points do not
    dominate each other, so duplicates are all kept. NaN is an error naming the row.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[:, None]
    if pts.ndim != 2:
        raise ValueError(f"points must be an (n, m) array; got shape {pts.shape}")
    if np.isnan(pts).any():
        raise ValueError(f"points row {int(np.where(np.isnan(pts).any(axis=1))[0][0])} contains NaN")
    flip = np.broadcast_to(np.asarray(maximize, dtype=bool), (pts.shape[1],))
    pts = np.where(flip, -pts, pts)
    n = len(pts)
    dominated = np.zeros(n, dtype=bool)
    step = max(1, 4_000_000 // max(1, n * pts.shape[1]))
    for start in range(0, n, step):  # chunks of "dominator" rows keep memory at O(step * n * m)
        block = pts[start:start + step, None, :]
        le = (block <= pts[None, :, :]).all(axis=2)
        lt = (block < pts[None, :, :]).any(axis=2)
        dominated |= (le & lt).any(axis=0)
    return np.flatnonzero(~dominated)


def _scores(frame: pd.DataFrame, col: str, what: str) -> np.ndarray:
    if col not in frame.columns:
        raise ValueError(f"{what} has no column {col!r} (columns: {list(frame.columns)})")
    values = frame[col]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    arrays = [None if v is None or (np.isscalar(v) and pd.isna(v)) else np.asarray(v, dtype=np.float64).ravel()
              for v in values]
    dims = {a.shape[0] for a in arrays if a is not None}
    if len(dims) > 1:
        raise ValueError(f"{what} column {col!r} mixes vector lengths {sorted(dims)}")
    dim = dims.pop() if dims else 1
    return np.stack([a if a is not None else np.full(dim, np.nan) for a in arrays]) if arrays else np.zeros((0, dim))


def _disparity(kind: DisparityKind | None, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if callable(kind):
        return np.asarray(kind(a, b), dtype=np.float64).reshape(len(a))
    if a.ndim == 1:
        if kind not in (None, "abs"):
            raise ValueError(f"disparity {kind!r} needs vector scores; got scalars")
        return np.abs(a - b)
    if kind in (None, "tv"):
        return 0.5 * np.abs(a - b).sum(axis=1)
    if kind == "js":
        from .audits.stats import js_distance

        return np.nan_to_num(js_distance(a, b), nan=0.0)
    raise ValueError(f"unknown disparity {kind!r}; use 'abs', 'tv', 'js' or a callable")


def _pair_positions(pairs: pd.DataFrame, originals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(originals)
    if {"id_a", "id_b"} <= set(pairs.columns):
        pos = pd.Series(np.arange(n), index=originals["id"].to_numpy())
        a, b = pairs["id_a"].map(pos), pairs["id_b"].map(pos)
        bad = a.isna() | b.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"pairs row {i}: id {pairs['id_a'].iloc[i]!r}/{pairs['id_b'].iloc[i]!r} not in originals")
        a, b = a.to_numpy(np.int64), b.to_numpy(np.int64)
    elif {"index_a", "index_b"} <= set(pairs.columns):
        a, b = pairs["index_a"].to_numpy(np.int64), pairs["index_b"].to_numpy(np.int64)
        out = (a < 0) | (a >= n) | (b < 0) | (b >= n)
        if out.any():
            raise ValueError(f"pairs row {int(np.flatnonzero(out)[0])}: index outside 0..{n - 1}")
    else:
        raise ValueError("pairs needs columns id_a/id_b or index_a/index_b")
    if (a == b).any():
        raise ValueError(f"pairs row {int(np.flatnonzero(a == b)[0])} pairs an output with itself")
    pair_ids = pairs["pair_id"].to_numpy() if "pair_id" in pairs.columns else np.arange(len(pairs))
    return a, b, pair_ids


def _check_originals(originals: pd.DataFrame) -> None:
    for col in ("id", "prompt", "output"):
        if col not in originals.columns:
            raise ValueError(f"originals has no column {col!r}")
    if not originals["id"].is_unique:
        raise ValueError(f"originals id {originals['id'][originals['id'].duplicated()].iloc[0]!r} is repeated")


def gate_candidates(
    originals: pd.DataFrame,
    pairs: pd.DataFrame,
    candidates: pd.DataFrame,
    audits: Sequence[str],
    config: GateConfig | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Apply the pair-aware feasibility gate; returns ``candidates`` plus gate columns.

    Added columns: ``admissible`` (bool), ``reasons`` (list of broken rules), ``reason`` (them joined),
    ``obj_<audit>`` (worst pair disparity with this candidate; NaN when not computable), ``orig_<audit>``
    (the same for the original) and ``pair_ids`` (the member's matched pairs). Keyword ``overrides`` set
    :class:`GateConfig` fields.
    """
    cfg = config or GateConfig()
    if overrides:
        cfg = GateConfig(**{**cfg.__dict__, **overrides})
    if not audits:
        raise ValueError("audits must name at least one score column")
    _check_originals(originals)
    originals = originals.reset_index(drop=True)
    cands = candidates.reset_index(drop=True).copy()
    for col in ("candidate_id", "item_id"):
        if col not in cands.columns:
            raise ValueError(f"candidates has no column {col!r}")
    if not cands["candidate_id"].is_unique:
        raise ValueError(f"candidate_id {cands['candidate_id'][cands['candidate_id'].duplicated()].iloc[0]!r} repeats")
    pos_of = pd.Series(np.arange(len(originals)), index=originals["id"].to_numpy())
    cpos = cands["item_id"].map(pos_of)
    if cpos.isna().any():
        i = int(np.flatnonzero(cpos.isna().to_numpy())[0])
        raise ValueError(f"candidates row {i}: item_id {cands['item_id'].iloc[i]!r} not in originals")
    cpos = cpos.to_numpy(np.int64)
    pa_, pb_, pair_ids = _pair_positions(pairs, originals)

    # edges: (member, partner, pair) in both directions; rows: (candidate, edge) for the candidate's member
    member = np.concatenate([pa_, pb_])
    partner = np.concatenate([pb_, pa_])
    edge_pair = np.concatenate([np.arange(len(pa_)), np.arange(len(pa_))])
    order = np.argsort(member, kind="stable")
    member, partner, edge_pair = member[order], partner[order], edge_pair[order]
    starts = np.searchsorted(member, cpos, side="left")
    counts = np.searchsorted(member, cpos, side="right") - starts
    row_cand = np.repeat(np.arange(len(cands)), counts)
    row_edge = (np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())).astype(np.int64)
    row_partner, row_pair = partner[row_edge], edge_pair[row_edge]

    reasons: list[list[str]] = [[] for _ in range(len(cands))]
    status_failed = np.zeros(len(cands), dtype=bool)
    if "status" in cands.columns:
        status_failed |= (cands["status"].fillna("failed") != "ok").to_numpy()
    if "text" in cands.columns:
        status_failed |= cands["text"].isna().to_numpy()
    for i in np.flatnonzero(status_failed):
        err = cands["error"].iloc[i] if "error" in cands.columns else None
        reasons[i].append(f"teacher reply failed{': ' + str(err) if isinstance(err, str) and err else ''}")
    for i in np.flatnonzero(counts == 0):
        reasons[i].append(f"item {cands['item_id'].iloc[i]!r} is in no matched pair")

    improvement = np.full(len(cands), -np.inf)
    for m in audits:
        s_orig = _scores(originals, m, "originals")
        s_cand = _scores(cands, m, "candidates")
        kind = cfg.disparity.get(m)
        d0_pair = _disparity(kind, s_orig[pa_], s_orig[pb_])
        if np.isnan(d0_pair).any():
            i = int(np.flatnonzero(np.isnan(d0_pair))[0])
            raise ValueError(f"originals: audit {m!r} missing for pair row {i}")
        d_new = _disparity(kind, s_cand[row_cand], s_orig[row_partner])
        d_old = d0_pair[row_pair]
        excess = d_new - d_old - cfg.tol(m)
        worst_new = np.full(len(cands), np.nan)
        worst_old = np.full(len(cands), np.nan)
        worst_excess = np.full(len(cands), -np.inf)
        missing = np.zeros(len(cands), dtype=bool)
        if len(row_cand):
            np.fmax.at(worst_new, row_cand, d_new)
            np.fmax.at(worst_old, row_cand, d_old)
            np.maximum.at(worst_excess, row_cand, np.where(np.isnan(excess), -np.inf, excess))
            np.logical_or.at(missing, row_cand, np.isnan(d_new))
        cands[f"obj_{m}"] = np.where(missing, np.nan, worst_new)
        cands[f"orig_{m}"] = worst_old
        improvement = np.fmax(improvement, np.where(missing, -np.inf, worst_old - worst_new))
        for i in np.flatnonzero(missing & ~status_failed):
            reasons[i].append(f"missing {m} score")
        bad_rows = np.flatnonzero((excess > _EPS) & ~status_failed[row_cand])
        if len(bad_rows):  # report each candidate's worst violating pair
            worst_row = pd.Series(excess[bad_rows], index=bad_rows).groupby(row_cand[bad_rows]).idxmax()
            for c, r in worst_row.items():
                reasons[c].append(f"{m}: pair {pair_ids[row_pair[r]]} disparity {d_new[r]:.4g} > original "
                                  f"{d_old[r]:.4g} + tolerance {cfg.tol(m):.4g}")

    if cfg.fidelity_column is not None and (cfg.min_fidelity is not None or cfg.max_fidelity_drop is not None):
        fid = _scores(cands, cfg.fidelity_column, "candidates")
        for i in np.flatnonzero(np.isnan(fid) & ~status_failed):
            reasons[i].append(f"missing {cfg.fidelity_column} score")
        if cfg.min_fidelity is not None:
            for i in np.flatnonzero((fid < cfg.min_fidelity) & ~status_failed):
                reasons[i].append(f"{cfg.fidelity_column} {fid[i]:.4g} < min_fidelity {cfg.min_fidelity:.4g}")
        if cfg.max_fidelity_drop is not None:
            fid0 = _scores(originals, cfg.fidelity_column, "originals")[cpos]
            for i in np.flatnonzero((fid < fid0 - cfg.max_fidelity_drop - _EPS) & ~status_failed):
                reasons[i].append(f"{cfg.fidelity_column} dropped {fid0[i] - fid[i]:.4g} > max_fidelity_drop "
                                  f"{cfg.max_fidelity_drop:.4g}")
    for what, col, thr, drop in (("stance", cfg.stance_column, cfg.stance_threshold, cfg.max_stance_drop),
                                 ("theme", cfg.theme_column, cfg.theme_threshold, cfg.max_theme_drop)):
        if thr is None and drop is None:
            continue
        kept = _scores(cands, col, f"candidates (set {what}_threshold and max_{what}_drop to None to skip this check)")
        if thr is not None:
            for i in np.flatnonzero(~(kept >= thr) & ~status_failed):
                reasons[i].append(f"{what} not preserved ({col}={kept[i]:.4g} < {thr:.4g})")
        if drop is not None:
            before = _scores(originals, col, f"originals (needed by max_{what}_drop)")[cpos]
            for i in np.flatnonzero(~(kept >= before - drop - _EPS) & ~status_failed):
                reasons[i].append(f"{what} not preserved ({col} dropped {before[i] - kept[i]:.4g} > "
                                  f"max_{what}_drop {drop:.4g})")
    if cfg.require_improvement:
        for i in np.flatnonzero((improvement <= cfg.min_improvement) & ~status_failed & (counts > 0)):
            reasons[i].append(f"improves no audit by more than {cfg.min_improvement:.4g}")

    cands["admissible"] = [not r for r in reasons]
    cands["reasons"] = reasons
    cands["reason"] = ["; ".join(r) for r in reasons]
    # rows are grouped by candidate in order (row_cand is sorted), so one split gives each candidate's pairs
    cands["pair_ids"] = [list(x) for x in np.split(pair_ids[row_pair], np.cumsum(counts)[:-1])] if len(cands) else []
    return cands


def rejection_counts(gated: pd.DataFrame) -> dict[str, int]:
    """How many candidates broke each rule (a candidate can break several): failed, <audit>, fidelity, ..."""
    counts: Counter = Counter()
    for reasons in gated["reasons"]:
        for r in reasons:
            key = r.split(":")[0].split(" (")[0]
            for prefix in ("teacher reply failed", "missing", "improves no audit", "stance not preserved",
                           "theme not preserved"):
                if r.startswith(prefix):
                    key = prefix
            if " is in no matched pair" in r:
                key = "no matched pair"
            elif " < min_fidelity " in r or " > max_fidelity_drop " in r:
                key = "fidelity"
            counts[key] += 1
    return dict(counts)


def _tie_break(objs: np.ndarray, ref: np.ndarray, fid: np.ndarray) -> int:
    """Position (within ``objs``) of the pick: L1-nearest to the ideal after min-max scaling, then fidelity, then order."""
    both = np.vstack([objs, ref[None, :]])
    lo, hi = both.min(axis=0), both.max(axis=0)
    span = np.where(hi - lo > _EPS, hi - lo, 1.0)
    score = ((objs - lo) / span).sum(axis=1)
    keys = np.lexsort((np.arange(len(objs)), -np.nan_to_num(fid, nan=-np.inf), np.round(score, 12)))
    return int(keys[0])


def select_candidates(gated: pd.DataFrame, originals: pd.DataFrame, audits: Sequence[str], *,
                      fidelity_column: str | None = "fidelity") -> pd.DataFrame:
    """One row per original: the selected candidate (Pareto front + tie-break) or the original kept.

    Columns: ``item_id``, ``selected_candidate_id`` (None when kept), ``kept_original``, ``n_candidates``,
    ``n_admissible``, ``front`` (candidate ids on the Pareto front), ``dominated`` (ids of this member's
    scored candidates that the selected one dominates, worst first), and ``obj_<audit>``/``orig_<audit>``.
    """
    _check_originals(originals)
    audits = list(audits)
    obj_cols = [f"obj_{m}" for m in audits]
    # numpy views of the gated table, grouped by item (stable: candidates keep their listed order)
    pos_of = pd.Series(np.arange(len(originals)), index=originals["id"].to_numpy())
    item_pos = gated["item_id"].map(pos_of).to_numpy(np.int64)
    order = np.argsort(item_pos, kind="stable")
    item_pos = item_pos[order]
    ids = gated["candidate_id"].to_numpy()[order]
    admissible = gated["admissible"].to_numpy(bool)[order]
    objs_all = gated[obj_cols].to_numpy(np.float64)[order]
    refs_all = gated[[f"orig_{m}" for m in audits]].to_numpy(np.float64)[order]
    fid_all = (gated[fidelity_column].to_numpy(np.float64)[order]
               if fidelity_column and fidelity_column in gated.columns else np.zeros(len(gated)))
    starts = np.searchsorted(item_pos, np.arange(len(originals)), side="left")
    ends = np.searchsorted(item_pos, np.arange(len(originals)), side="right")
    rows = []
    for p, item_id in enumerate(originals["id"]):
        lo_i, hi_i = starts[p], ends[p]
        row: dict[str, Any] = {"item_id": item_id, "selected_candidate_id": None, "kept_original": True,
                               "n_candidates": int(hi_i - lo_i), "n_admissible": 0, "front": [], "dominated": []}
        if hi_i > lo_i:
            adm = np.flatnonzero(admissible[lo_i:hi_i]) + lo_i
            row["n_admissible"] = len(adm)
            ref = refs_all[lo_i]
            row.update({f"orig_{m}": ref[k] for k, m in enumerate(audits)})
            if len(adm):
                objs = objs_all[adm]
                front = pareto_front(objs)
                pick = front[_tie_break(objs[front], ref, fid_all[adm][front])]
                chosen = objs[pick]
                row.update(selected_candidate_id=ids[adm[pick]], kept_original=False, front=list(ids[adm[front]]))
                row.update({f"obj_{m}": chosen[k] for k, m in enumerate(audits)})
                sobj = objs_all[lo_i:hi_i]
                scored = ~np.isnan(sobj).any(axis=1)
                dom = scored & (chosen <= sobj).all(axis=1) & (chosen < sobj).any(axis=1)
                if dom.any():
                    lo, hi = np.minimum(sobj[scored].min(0), chosen), np.maximum(sobj[scored].max(0), chosen)
                    span = np.where(hi - lo > _EPS, hi - lo, 1.0)
                    badness = ((sobj[dom] - lo) / span).sum(axis=1)
                    row["dominated"] = list(ids[lo_i:hi_i][dom][np.argsort(-badness, kind="stable")])
        rows.append(row)
    return pd.DataFrame(rows)


def build_training_data(
    selection: pd.DataFrame,
    gated: pd.DataFrame,
    originals: pd.DataFrame,
    *,
    rejected: RejectedSource = "original",
    format: Literal["standard", "conversational"] = "standard",
) -> tuple[Any, Any, dict[str, int]]:
    """SFT warm-start rows and DPO rows from a selection; returns ``(sft, dpo, counts)`` as datasets.Dataset.

    SFT: ``prompt``, ``completion``. DPO: ``prompt``, ``chosen``, ``rejected``, ``weight`` (1.0, so the
    weighted trainers accept it). Both carry provenance: ``item_id``, ``chosen_candidate_id``,
    ``chosen_revision``, ``teacher``, ``pair_ids``; DPO adds ``rejected_source`` ("original" or
    "dominated_candidate") and ``rejected_candidate_id``. ``counts`` reports rows and fallbacks.
    """
    import datasets

    if rejected not in ("original", "dominated", "both"):
        raise ValueError(f"rejected must be 'original', 'dominated' or 'both'; got {rejected!r}")
    if format not in ("standard", "conversational"):
        raise ValueError(f"format must be 'standard' or 'conversational'; got {format!r}")
    orig = originals.set_index("id")
    cand = gated.set_index("candidate_id")

    def p(text: str) -> Any:
        return text if format == "standard" else [{"role": "user", "content": text}]

    def r(text: str) -> Any:
        return text if format == "standard" else [{"role": "assistant", "content": text}]

    sft, dpo = [], []
    counts: Counter = Counter(kept_original=int(selection["kept_original"].sum()))
    for _, row in selection[~selection["kept_original"]].iterrows():
        c = cand.loc[row["selected_candidate_id"]]
        o = orig.loc[row["item_id"]]
        prov = {"item_id": str(row["item_id"]), "chosen_candidate_id": str(row["selected_candidate_id"]),
                "chosen_revision": int(c["index"]) if "index" in c and pd.notna(c["index"]) else -1,
                "teacher": str(c.get("teacher", "") or ""), "pair_ids": [str(x) for x in c["pair_ids"]]}
        sft.append({"prompt": p(o["prompt"]), "completion": r(c["text"]), **prov})
        rejects = []
        if rejected in ("original", "both"):
            rejects.append(("original", "", o["output"]))
        if rejected in ("dominated", "both"):
            dominated = [d for d in row["dominated"] if isinstance(cand.loc[d].get("text"), str)]
            if dominated:
                rejects.append(("dominated_candidate", str(dominated[0]), cand.loc[dominated[0]]["text"]))
            else:
                counts["no_dominated_candidate"] += 1
                if rejected == "dominated":
                    rejects.append(("original", "", o["output"]))
        for source, rid, text in rejects:
            dpo.append({"prompt": p(o["prompt"]), "chosen": r(c["text"]), "rejected": r(text), "weight": 1.0,
                        "rejected_source": source, "rejected_candidate_id": rid, **prov})
            counts[f"rejected_{source}"] += 1
    counts["sft_rows"], counts["dpo_rows"] = len(sft), len(dpo)
    prov_cols = ["item_id", "chosen_candidate_id", "chosen_revision", "teacher", "pair_ids"]
    sft_ds = datasets.Dataset.from_list(sft) if sft else datasets.Dataset.from_dict(
        {k: [] for k in ["prompt", "completion", *prov_cols]})
    dpo_ds = datasets.Dataset.from_list(dpo) if dpo else datasets.Dataset.from_dict(
        {k: [] for k in ["prompt", "chosen", "rejected", "weight", "rejected_source", "rejected_candidate_id",
                         *prov_cols]})
    return sft_ds, dpo_ds, dict(counts)


Scorer = Callable[[list[str], pd.DataFrame], pd.DataFrame]


@dataclass
class TeacherAlignmentData:
    """Everything the teacher pipeline produced: candidates, gate verdicts, selection, training rows, counts."""

    candidates: pd.DataFrame
    gated: pd.DataFrame
    selection: pd.DataFrame
    sft: Any
    dpo: Any
    report: dict[str, Any]


def score_frame(scorer: Scorer, texts: list[str], rows: pd.DataFrame) -> pd.DataFrame:
    """Call ``scorer(texts, rows)`` and check it returned one row of scores per text."""
    scores = pd.DataFrame(scorer(texts, rows.reset_index(drop=True)))
    if len(scores) != len(texts):
        raise ValueError(f"scorer returned {len(scores)} rows for {len(texts)} texts")
    return scores.reset_index(drop=True)


def run_teacher_pipeline(
    items: Any,
    pairs: pd.DataFrame,
    teacher: Any,
    scorer: Scorer,
    audits: Sequence[str],
    *,
    k: int = 4,
    gate: GateConfig | None = None,
    rejected: RejectedSource = "original",
    format: Literal["standard", "conversational"] = "standard",
    original_scores: pd.DataFrame | None = None,
) -> TeacherAlignmentData:
    """Base outputs -> K teacher revisions -> scores -> gate -> Pareto selection -> SFT and DPO rows.

    ``items``: rows with ``id``, ``prompt``, ``output`` and the grid attributes the scorer needs.
    ``scorer(texts, rows)`` returns a DataFrame with the audit columns, the fidelity column and the
    stance/theme columns for each text, where ``rows`` holds the matching item's attributes. Originals
    are scored the same way unless ``original_scores`` is given (same row order as ``items``).
    """
    from .revision import items_from
    from .teachers import candidates_frame

    table = pd.DataFrame(items_from(items))
    cands = candidates_frame(teacher.revise(table, k=k))
    ok = (cands["status"] == "ok").to_numpy()
    attrs = table.set_index("id").loc[cands["item_id"]].reset_index()
    attrs = attrs.rename(columns={"index": "id"}) if "id" not in attrs.columns else attrs
    scores = score_frame(scorer, list(cands.loc[ok, "text"]), attrs[ok])
    scores.index = np.flatnonzero(ok)
    cands = cands.join(scores.reindex(range(len(cands))).drop(columns=[c for c in scores.columns
                                                                        if c in cands.columns]))
    if original_scores is None:
        original_scores = score_frame(scorer, list(table["output"]), table)
    originals = pd.concat([table.reset_index(drop=True), original_scores.reset_index(drop=True)
                           .drop(columns=[c for c in original_scores.columns if c in table.columns])], axis=1)
    gated = gate_candidates(originals, pairs, cands, audits, gate)
    selection = select_candidates(gated, originals, audits,
                                  fidelity_column=(gate or GateConfig()).fidelity_column)
    sft, dpo, counts = build_training_data(selection, gated, originals, rejected=rejected, format=format)
    report = {"items": len(table), "candidates": len(cands), "failed_candidates": int((~ok).sum()),
              "admissible": int(gated["admissible"].sum()), "rejections": rejection_counts(gated),
              "teacher_stats": dict(getattr(teacher, "last_stats", {})), **counts}
    return TeacherAlignmentData(cands, gated, selection, sft, dpo, report)


#: Per-message audits of the default scorer (lexical association is a corpus-level contrast and is left to
#: model selection; personalization fidelity, stance and theme feed the gate's other rules).
DEFAULT_SCORER_AUDITS: tuple[str, ...] = ("persuasion", "formality", "emotion")


def audit_scorer(backend: str = "offline", *, audits: Sequence[str] = DEFAULT_SCORER_AUDITS, **kwargs: Any) -> Scorer:
    """The default scorer over :mod:`fairpp_hf.audits`: per text, ``persuasion`` (PBI), ``formality``
    (P(formal)), ``emotion`` (a distribution; gated by total variation), ``fidelity`` (mean personalization
    fidelity over the grid attributes in ``rows``), and ``stance_preserved``/``theme_preserved`` (the
    fidelity probabilities of the asked stance and theme). ``backend``: "offline" or "transformers" (the
    original classifiers); extra keyword arguments go to every audit function that accepts them.
    """
    import inspect

    from .audits.emotion import emotion_distributions
    from .audits.fidelity import fidelity_scores
    from .audits.formality import formality_scores
    from .audits.persuasion import persuasion_scores

    unknown = [a for a in audits if a not in DEFAULT_SCORER_AUDITS]
    if unknown:
        raise ValueError(f"audit_scorer knows {list(DEFAULT_SCORER_AUDITS)}; got {unknown}")

    def extra(fn: Callable) -> dict[str, Any]:
        names = inspect.signature(fn).parameters
        return {k: v for k, v in kwargs.items() if k in names}

    def score(texts: list[str], rows: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, Any] = {}
        if "persuasion" in audits:
            out["persuasion"] = persuasion_scores(texts, **extra(persuasion_scores))["pbi"].to_numpy(np.float64)
        if "formality" in audits:
            out["formality"] = formality_scores(texts, backend=backend, **extra(formality_scores))
        if "emotion" in audits:
            dist, _ = emotion_distributions(texts, backend=backend, **extra(emotion_distributions))
            out["emotion"] = list(np.asarray(dist, dtype=np.float64))
        fid, per_attribute = fidelity_scores(texts, rows, backend=backend, **extra(fidelity_scores))
        out["fidelity"] = fid
        for attr in ("stance", "theme"):
            if attr in per_attribute:
                out[f"{attr}_preserved"] = per_attribute[attr]
        return pd.DataFrame(out)

    return score
