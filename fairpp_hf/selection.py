"""Bounded-regression multi-audit model selection (Pareto-guided teacher alignment, arXiv 2606.10126).

No single alignment method wins on every audit, so a model is chosen in two steps (our design of the
abstract's "bounded-regression, multi-audit model selection"):

1. **Eligible**: against the ``baseline``, every ``target`` audit improves by more than ``min_gain``, and
   no audit (targets included) regresses by more than its bound. A bound is absolute in the audit's units
   (``0.02``) or relative to the baseline's value (``"5%"``); audits without one get ``default_bound``.
2. **Selected**: the Pareto-efficient models among the eligible ones (non-dominated over all audits),
   ranked by the mean of their target gains, each gain divided by the spread of that audit over all
   models (ties by name). ``on_frontier`` separately marks the Pareto frontier of all models, baseline
   included.

Audits are "lower is better" (gaps, disparities) unless listed in ``maximize``; by default an audit whose
name contains ``fidelity`` and does not end in ``_gap`` is maximised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .pareto import pareto_front


def _results_table(results: Any) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        table = results.copy()
    elif isinstance(results, Mapping):
        for name, audits in results.items():
            if not isinstance(audits, Mapping):
                raise TypeError(f"results[{name!r}] is a {type(audits).__name__}; expected a mapping audit -> value")
        table = pd.DataFrame.from_dict({str(k): dict(v) for k, v in results.items()}, orient="index")
    else:
        raise TypeError(f"results must be a mapping model -> {{audit: value}} or a DataFrame; got {type(results).__name__}")
    table.index = table.index.map(str)
    if not table.index.is_unique:
        raise ValueError(f"model {table.index[table.index.duplicated()][0]!r} appears twice in results")
    return table


def parse_bound(audit: str, bound: float | str, baseline_value: float) -> float:
    """An absolute bound from ``0.02`` (audit units) or ``"5%"`` (of the baseline's absolute value)."""
    if isinstance(bound, str):
        text = bound.strip()
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100.0 * abs(baseline_value)
            return float(text)
        except ValueError:
            raise ValueError(f"bound for {audit!r} must be a number or a percentage like '5%'; got {bound!r}") from None
    value = float(bound)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bound for {audit!r} must be a finite number >= 0; got {bound!r}")
    return value


@dataclass
class SelectionResult:
    """The outcome of :func:`select_models`: the per-model table and the chosen names."""

    table: pd.DataFrame
    baseline: str
    targets: list[str]
    audits: list[str]
    maximize: list[str]
    bounds: dict[str, float]
    eligible: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    frontier: list[str] = field(default_factory=list)

    @property
    def best(self) -> str | None:
        """The top-ranked selected model, or None when no model is eligible."""
        return self.selected[0] if self.selected else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (also what ``fairpp-hf select`` writes)."""
        rows = json.loads(self.table.to_json(orient="index"))
        return {"baseline": self.baseline, "targets": self.targets, "audits": self.audits,
                "maximize": self.maximize, "bounds": self.bounds, "eligible": self.eligible,
                "selected": self.selected, "best": self.best, "frontier": self.frontier, "models": rows}

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def format_table(self) -> str:
        """Readable text: per audit (rows) each model's value with its gain over the baseline in brackets
        (positive = better), then each model's verdict and why it was not selected."""
        t = self.table
        cells = {name: [f"{t.loc[name, a]:.4g} ({t.loc[name, 'gain:' + a]:+.3g})" for a in self.audits]
                 for name in t.index}
        arrows = [f"{a} {'^' if a in self.maximize else 'v'}{' *' if a in self.targets else ''}" for a in self.audits]
        values = pd.DataFrame(cells, index=arrows)
        verdict = t[["eligible", "on_frontier", "selected", "rank", "why_not"]].astype(object)
        verdict["rank"] = verdict["rank"].map(lambda r: "" if pd.isna(r) else int(r))
        with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 200):
            return (f"audit values (gain vs {self.baseline}); v lower is better, ^ higher is better, * target\n"
                    f"{values.to_string()}\n\n{verdict.to_string()}")

    def plot(self, path: str | Path, x: str | None = None, y: str | None = None) -> Path:
        """Save a PNG of two audits (default: the first two targets, else the first audits): models, baseline,
        bound lines, the Pareto frontier of all models and the selected ones."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        others = [a for a in self.audits if a not in self.targets]
        x = x or self.targets[0]
        y = y or (self.targets[1] if len(self.targets) > 1 else (others[0] if others else None))
        for a in (x, y):
            if a is not None and a not in self.audits:
                raise ValueError(f"cannot plot {a!r}: not one of the audits {self.audits}")
        t = self.table
        yv = t[y] if y else pd.Series(np.zeros(len(t)), index=t.index)
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        elig = t["eligible"].to_numpy(bool)
        ax.scatter(t[x][~elig], yv[~elig], facecolors="none", edgecolors="grey", label="not eligible")
        ax.scatter(t[x][elig], yv[elig], color="tab:blue", label="eligible")
        front = t[t["on_frontier"]].sort_values(x)
        ax.plot(front[x], yv[front.index], "--", color="tab:orange", label="Pareto frontier (all audits)")
        sel = t[t["selected"]]
        ax.scatter(sel[x], yv[sel.index], s=160, facecolors="none", edgecolors="tab:green", linewidths=2,
                   label="selected")
        ax.scatter([t.loc[self.baseline, x]], [yv[self.baseline]], marker="*", s=200, color="black", label="baseline")
        for name in t.index:
            ax.annotate(name, (t.loc[name, x], yv[name]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        for a, axis in ((x, "x"), (y, "y")):
            if a is None:
                continue
            sign = 1 if a in self.maximize else -1
            limit = t.loc[self.baseline, a] - sign * self.bounds[a]
            (ax.axvline if axis == "x" else ax.axhline)(limit, color="tab:red", lw=0.8, ls=":")
        ax.set_xlabel(f"{x} ({'higher' if x in self.maximize else 'lower'} is better)")
        ax.set_ylabel(f"{y} ({'higher' if y in self.maximize else 'lower'} is better)" if y else "")
        ax.set_title(f"Model selection vs {self.baseline} (dotted: regression bounds)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def select_models(
    results: Mapping[str, Mapping[str, float]] | pd.DataFrame,
    baseline: str,
    targets: Sequence[str],
    bounds: Mapping[str, float | str] | None = None,
    *,
    audits: Sequence[str] | None = None,
    maximize: Iterable[str] | None = None,
    default_bound: float | str = 0.0,
    min_gain: float = 0.0,
) -> SelectionResult:
    """Bounded-regression multi-audit selection of models against ``baseline`` (see the module docstring).

    ``results``: model -> {audit: value} (or a DataFrame, one row per model). ``targets``: audits that must
    improve. ``bounds``: audit -> allowed regression (absolute or "x%"). ``audits``: the audits to use
    (default: all columns). Returns a :class:`SelectionResult` whose ``table`` has, per model, each audit's
    value and ``gain:<audit>`` (positive = better than baseline), ``eligible``, ``on_frontier``,
    ``selected``, ``rank`` and ``why_not`` (the broken conditions).
    """
    table = _results_table(results)
    if baseline not in table.index:
        raise ValueError(f"baseline {baseline!r} is not among the models {list(table.index)}")
    audits = list(audits) if audits is not None else [str(c) for c in table.columns]
    missing = [a for a in audits if a not in table.columns]
    if missing:
        raise ValueError(f"audits {missing} are missing from the results (have {list(table.columns)})")
    targets = list(targets)
    if not targets:
        raise ValueError("targets must name at least one audit to improve")
    for a in targets + list(bounds or {}):
        if a not in audits:
            raise ValueError(f"{a!r} is not one of the audits {audits}")
    values = table[audits].apply(pd.to_numeric, errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        raise ValueError(f"model {values.index[r]!r} has no finite value for audit {audits[c]!r} "
                         f"({table[audits].iloc[r, c]!r})")
    maximize = [a for a in audits if a in set(maximize)] if maximize is not None else \
        [a for a in audits if "fidelity" in a.lower() and not a.endswith("_gap")]
    sign = np.array([1.0 if a in maximize else -1.0 for a in audits])
    base = values.loc[baseline].to_numpy()
    gains = (values.to_numpy() - base) * sign  # > 0: better than baseline
    gains[gains == 0] = 0.0  # no "-0" in tables
    resolved = {a: parse_bound(a, (bounds or {}).get(a, default_bound), base[i]) for i, a in enumerate(audits)}
    bound_vec = np.array([resolved[a] for a in audits])
    t_idx = [audits.index(a) for a in targets]

    regress = -gains > bound_vec + 1e-12
    improve = gains[:, t_idx] > min_gain
    eligible = improve.all(axis=1) & ~regress.any(axis=1)
    eligible[values.index.get_loc(baseline)] = False
    oriented = -values.to_numpy() * sign  # minimise every column
    on_frontier = np.zeros(len(values), dtype=bool)
    on_frontier[pareto_front(oriented)] = True
    selected = np.zeros(len(values), dtype=bool)
    elig_idx = np.flatnonzero(eligible)
    if len(elig_idx):
        selected[elig_idx[pareto_front(oriented[elig_idx])]] = True
    spread = values.to_numpy().max(axis=0) - values.to_numpy().min(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    score = (gains[:, t_idx] / spread[t_idx]).mean(axis=1)

    why = []
    for i, name in enumerate(values.index):
        reasons = [] if name != baseline else ["baseline"]
        reasons += [f"{targets[j]} gain {gains[i, t]:.4g} <= {min_gain:g}" for j, t in enumerate(t_idx)
                    if not improve[i, j] and name != baseline]
        reasons += [f"{a} regresses {-gains[i, k]:.4g} > bound {bound_vec[k]:.4g}" for k, a in enumerate(audits)
                    if regress[i, k]]
        if eligible[i] and not selected[i]:
            reasons.append("dominated by another eligible model")
        why.append("; ".join(reasons))
    out = values.copy()
    for k, a in enumerate(audits):
        out[f"gain:{a}"] = gains[:, k]
    out["target_score"] = score
    out["eligible"], out["on_frontier"], out["selected"] = eligible, on_frontier, selected
    order = sorted(np.flatnonzero(selected), key=lambda i: (-score[i], values.index[i]))
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    for r, i in enumerate(order, start=1):
        out.iloc[i, out.columns.get_loc("rank")] = r
    out["why_not"] = why
    return SelectionResult(
        table=out, baseline=baseline, targets=targets, audits=audits, maximize=maximize, bounds=resolved,
        eligible=[values.index[i] for i in elig_idx], selected=[values.index[i] for i in order],
        frontier=[values.index[i] for i in np.flatnonzero(on_frontier)],
    )


def flatten_audit_report(report: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Scalar audit values from a (nested) audit-report JSON.

    Matched-pair mean gaps are the audit values when present: ``{"persuasion": {"gender": {"mean_gap": x}}}``
    becomes ``{"persuasion.gender_gap": x}``; for audits named ``*fidelity*`` the mean score is kept too
    (``"personalization_fidelity.mean"``, higher is better). A report without any ``mean_gap`` gives all
    its numeric leaves under their dotted paths (a flat ``{"pbi_gap": 0.1, "fidelity": 0.9}`` is read as
    is). Counts (``n_*``), confidence bounds, indices and test statistics are never audit values.
    """
    gaps: dict[str, float] = {}
    leaves: dict[str, float] = {}
    skip = ("n_", "ci_", "index_")
    skip_exact = {"n", "confidence", "unmatched_rows", "gaps", "p_value", "statistic", "df", "std", "min", "max"}

    def walk(node: Mapping[str, Any], path: str) -> None:
        for key, value in node.items():
            key = str(key)
            name = f"{path}{key}"
            if isinstance(value, Mapping):
                walk(value, f"{name}.")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            elif key == "mean_gap":
                gaps[f"{path[:-1] or key}_gap"] = float(value)
            elif not key.startswith(skip) and key not in skip_exact:
                leaves[name] = float(value)

    walk(report, prefix)
    if not gaps:
        return leaves
    for name, value in leaves.items():
        if name.endswith(".scores.mean") and "fidelity" in name.lower():
            gaps[name[: -len(".scores.mean")] + ".mean"] = value
    return gaps


def load_results(paths: Sequence[str | Path]) -> dict[str, dict[str, float]]:
    """Model -> audit values from files: the ``audit.json`` of ``fairpp-hf audit`` (one model per entry of
    ``reports``), one JSON per model (name from its ``model`` key or the file stem; values under ``audits``
    or at top level, flattened by :func:`flatten_audit_report`), or a CSV/JSON table with a ``model`` column
    and one column per audit."""
    results: dict[str, dict[str, float]] = {}

    def add(name: str, values: dict[str, float], source: Path) -> None:
        if name in results:
            raise ValueError(f"model {name!r} appears twice (again in {source})")
        if not values:
            raise ValueError(f"{source}: no numeric audit values found for model {name!r}")
        results[name] = values

    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"results file {p} does not exist")
        if p.suffix == ".csv":
            frame = pd.read_csv(p)
            if "model" not in frame.columns:
                raise ValueError(f"{p}: a results table needs a 'model' column")
            for _, row in frame.iterrows():
                add(str(row["model"]), {k: float(v) for k, v in row.drop("model").items() if pd.notna(v)}, p)
            continue
        data = json.loads(p.read_text())
        if isinstance(data, list):
            for i, row in enumerate(data):
                if not isinstance(row, Mapping) or "model" not in row:
                    raise ValueError(f"{p}: entry {i} has no 'model' key")
                add(str(row["model"]), flatten_audit_report(row.get("audits", {k: v for k, v in row.items()
                                                                               if k != "model"})), p)
        elif isinstance(data, Mapping) and isinstance(data.get("reports"), Mapping):
            for name, report in data["reports"].items():
                if not isinstance(report, Mapping):
                    raise ValueError(f"{p}: reports[{name!r}] is not an object")
                ok = {a: r for a, r in report.items() if not (isinstance(r, Mapping) and "error" in r)}
                if len(ok) < len(report):
                    print(f"note: {p}: {name}: audits {sorted(set(report) - set(ok))} failed there and are left out")
                add(str(name), flatten_audit_report(ok), p)
        elif isinstance(data, Mapping):
            name = str(data.get("model", p.stem))
            add(name, flatten_audit_report(data.get("audits", {k: v for k, v in data.items() if k != "model"})), p)
        else:
            raise ValueError(f"{p}: expected a JSON object or list; got {type(data).__name__}")
    return results
