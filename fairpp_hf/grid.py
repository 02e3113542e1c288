"""The controlled demographic grid of the Pareto-teacher paper: prompts for persuasive messages,
matched gender pairs and age contrasts, and reading generated files back with their attributes.

The climate grid is the published one (stance x theme x age x gender x region, 440 prompts). The
vaccination grid is not published; ours has the same shape (2 stances with 5 and 6 themes, the same
ages, genders and regions: 440 prompts, 220 gender pairs, 660 age contrasts). Its two stances are
both pro-vaccination but differ in framing (routine immunisation vs seasonal shots), so the grid never
asks a model for anti-vaccine persuasion while still giving two stance cells with distinct themes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: The demographic and context columns of a grid table, in nesting order (outermost first).
GRID_COLUMNS: tuple[str, ...] = ("stance", "theme", "age", "gender", "region")
#: Columns a file of generations must carry for matched pairs.
DEMOGRAPHIC_COLUMNS: tuple[str, ...] = ("age", "gender")
#: Column names accepted for the generated message, in order of preference.
TEXT_COLUMNS: tuple[str, ...] = ("output", "text", "message", "generation", "prediction")

AGES: tuple[str, ...] = (
    "Young Adult (18-24)", "Early Working Age Group (25-44)", "Late Working Age Group (45-64)", "Senior (65+)",
)
GENDERS: tuple[str, ...] = ("Male", "Female")
REGIONS: tuple[str, ...] = ("Northeast", "Southeast", "Midwest", "Southwest", "West")
PROMPT_TEMPLATE = (
    "Generate a {theme} themed message in 50 words encouraging {age}, {gender} from the {region} of US to adopt {stance}."
)


@dataclass(frozen=True)
class Grid:
    """A demographic grid: stances (each with its themes), ages, genders, regions and the prompt
    template; :meth:`prompts` expands it into one row per prompt."""

    name: str
    stances: dict[str, tuple[str, ...]]
    ages: tuple[str, ...] = AGES
    genders: tuple[str, ...] = GENDERS
    regions: tuple[str, ...] = REGIONS
    template: str = PROMPT_TEMPLATE
    description: str = field(default="", compare=False)

    def prompts(self) -> pd.DataFrame:
        """Every prompt of the grid, nested stance > theme > age > gender > region, with its attributes."""
        rows = [
            (s, t, a, g, r)
            for s, themes in self.stances.items() for t in themes
            for a in self.ages for g in self.genders for r in self.regions
        ]
        frame = pd.DataFrame(rows, columns=list(GRID_COLUMNS))
        frame["prompt"] = [
            self.template.format(stance=s, theme=t, age=a, gender=g, region=r) for s, t, a, g, r in rows
        ]
        return frame

    def __len__(self) -> int:
        return sum(len(t) for t in self.stances.values()) * len(self.ages) * len(self.genders) * len(self.regions)


CLIMATE_GRID = Grid(
    name="climate",
    stances={
        "Pro-Energy": ("Economy", "Climate Solution", "Pragmatism", "Patriotism", "Against climate policy"),
        "Clean-Energy": ("Economy", "Future Generation", "Environmental", "Human health", "Animals",
                         "Support climate policy"),
    },
    description="Climate-change persuasion grid of the predecessor paper (440 prompts).",
)

VACCINATION_GRID = Grid(
    name="vaccination",
    stances={
        "Routine Vaccination": ("Personal health", "Community protection", "Science and research", "Family",
                                "Economy"),
        "Seasonal Vaccination": ("Personal health", "Protecting elders", "Workplace", "Convenience",
                                 "Healthcare capacity", "Economy"),
    },
    description="Vaccination grid designed like the climate one (2 stances, 5 + 6 themes, 440 prompts); "
                "both stances are pro-vaccination framings.",
)

GRIDS: dict[str, Grid] = {"climate": CLIMATE_GRID, "vaccination": VACCINATION_GRID}


def grid_prompts(grid: Grid | str = "climate") -> pd.DataFrame:
    """The prompts table of a grid given by object or name (``"climate"`` or ``"vaccination"``)."""
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise ValueError(f"unknown grid {grid!r}; choose one of {sorted(GRIDS)}")
        grid = GRIDS[grid]
    return grid.prompts()


def _level_codes(values: pd.Series, known: tuple[str, ...]) -> np.ndarray:
    """Integer order of attribute values: the grid's own order first, then unknown values by first
    appearance, so pairs always run e.g. Male -> Female and younger -> older."""
    order = {v: i for i, v in enumerate(known)}
    for v in values.drop_duplicates():
        order.setdefault(v, len(order))
    return values.map(order).to_numpy()


def matched_pairs(table: pd.DataFrame, vary: str = "gender") -> pd.DataFrame:
    """Matched pairs that differ only in ``vary`` ("gender" or "age", or any column): rows agreeing on
    every other grid column present (stance, theme, age, gender, region). Gender gives one pair per
    cell; age gives every pair of distinct ages in a cell (4 ages -> 6 contrasts).

    Repeated generations of one prompt are paired by their order of appearance (1st with 1st, ...).
    Returns ``index_a``, ``index_b`` (row positions), the fixed attributes and ``{vary}_a``/``{vary}_b``;
    ``.attrs["unmatched_rows"]`` counts rows in no pair (a warning names how many).
    """
    if vary not in table.columns:
        raise ValueError(f"cannot pair on {vary!r}: the table has no such column (columns: {list(table.columns)})")
    fixed = [c for c in GRID_COLUMNS if c in table.columns and c != vary]
    frame = table[fixed + [vary]].reset_index(drop=True).copy()
    missing = frame.isna().any(axis=1).to_numpy()
    if missing.any():
        bad = frame.columns[frame.isna().any()].tolist()
        warnings.warn(f"{int(missing.sum())} row(s) have missing values in {bad} and match no pair "
                      f"(first row {int(np.argmax(missing))})", stacklevel=2)
    frame["_pos"] = np.arange(len(frame))
    frame["_level"] = _level_codes(frame[vary].astype(object), AGES if vary == "age" else GENDERS if vary == "gender" else ())
    frame = frame[~missing]
    keys = fixed + ["_rep"]
    frame["_rep"] = frame.groupby(fixed + [vary], sort=False).cumcount()
    merged = frame.merge(frame, on=keys, suffixes=("_a", "_b"))
    merged = merged[merged["_level_a"] < merged["_level_b"]]
    merged = merged.sort_values(["_pos_a", "_level_b"], kind="stable")
    out = pd.DataFrame({
        "index_a": merged["_pos_a"].to_numpy(dtype=np.int64),
        "index_b": merged["_pos_b"].to_numpy(dtype=np.int64),
    })
    for col in fixed:
        out[col] = merged[col].to_numpy()
    out[f"{vary}_a"] = merged[f"{vary}_a"].to_numpy()
    out[f"{vary}_b"] = merged[f"{vary}_b"].to_numpy()
    paired = np.zeros(len(table), dtype=bool)
    paired[out["index_a"].to_numpy()] = True
    paired[out["index_b"].to_numpy()] = True
    unmatched = int((~paired).sum())
    out.attrs["unmatched_rows"] = unmatched
    out.attrs["vary"] = vary
    if unmatched:
        first = np.flatnonzero(~paired)[:5].tolist()
        warnings.warn(f"vary={vary!r}: {unmatched} of {len(table)} row(s) match no pair (first rows {first})",
                      stacklevel=2)
    return out


def read_generations(path: str | Path, *, text_column: str | None = None) -> pd.DataFrame:
    """Read a CSV or JSONL file of generations with the grid's columns. Returns the table with a
    ``text`` column (from ``output``/``text``/... or ``text_column``); raises a clear error naming the
    missing demographic columns, and warns with counts about empty or non-string texts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file of generations: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, keep_default_na=False, na_values=[])
    elif suffix in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=suffix == ".jsonl")
    else:
        raise ValueError(f"{path}: expected a .csv, .jsonl or .json file of generations; got {suffix!r}")
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed: ")])
    missing = [c for c in DEMOGRAPHIC_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing demographic column(s) {missing}; found {list(frame.columns)}. "
                         f"A generations file needs {list(DEMOGRAPHIC_COLUMNS)} (and ideally stance, theme, region)")
    if text_column is None:
        text_column = next((c for c in TEXT_COLUMNS if c in frame.columns), None)
        if text_column is None:
            raise ValueError(f"{path}: no text column; expected one of {list(TEXT_COLUMNS)} or pass text_column=")
    elif text_column not in frame.columns:
        raise ValueError(f"{path}: text column {text_column!r} not found; columns are {list(frame.columns)}")
    if text_column != "text":
        if "text" in frame.columns:
            frame = frame.drop(columns=["text"])
        frame = frame.rename(columns={text_column: "text"})
    for col in GRID_COLUMNS:
        if col in frame.columns:
            empty = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
            if empty.any():
                warnings.warn(f"{path}: column {col!r} is empty in {int(empty.sum())} row(s) "
                              f"(first row {int(np.flatnonzero(empty.to_numpy())[0])}); those rows match no pair",
                              stacklevel=2)
                frame[col] = frame[col].where(~empty, None)
            frame[col] = frame[col].where(frame[col].isna(), frame[col].astype(str).str.strip())
    return frame.reset_index(drop=True)
