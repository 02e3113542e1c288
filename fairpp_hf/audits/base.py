"""Plumbing shared by the five audit modules and their ``evaluate`` shells: text validation, the
inputs every audit metric takes, and turning those inputs into the demographic table."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from fairpp_hf.grid import GRID_COLUMNS

#: ``evaluate`` input name (plural, as users pass them) -> grid column.
INPUT_COLUMNS: dict[str, str] = {
    "stances": "stance", "themes": "theme", "ages": "age", "genders": "gender", "regions": "region",
}

#: Offline default and the original classifier backend, the value every ``backend=`` accepts.
BACKENDS: tuple[str, ...] = ("offline", "transformers")


#: Every compute keyword any audit metric takes. ``evaluate.combine`` passes the same keywords to every
#: module, so each metric ignores the ones meant for another audit but still rejects unknown names.
AUDIT_COMPUTE_KWARGS: frozenset[str] = frozenset({
    "backend", "model", "n_boot", "seed", "lexicon", "top_k", "formal_label", "batch_size", "device",
    "embedding_model", "attributes", "overrides", "confidence",
})


def split_compute_kwargs(kwargs: dict[str, Any], own: Sequence[str]) -> dict[str, Any]:
    """The keywords of ``kwargs`` this metric uses (``own``); raise on names no audit metric knows,
    so a typo is never ignored silently (keywords of the other audits are dropped for ``combine``)."""
    unknown = sorted(set(kwargs) - AUDIT_COMPUTE_KWARGS - set(own))
    if unknown:
        raise ValueError(f"unknown compute argument(s) {unknown}; audit metrics take {sorted(AUDIT_COMPUTE_KWARGS)}")
    return {k: v for k, v in kwargs.items() if k in own}


def validate_texts(texts: Sequence[Any], *, name: str = "texts") -> list[str]:
    """Check that every message is a string: non-strings (None, NaN, numbers) raise a ValueError naming
    the rows; empty or whitespace-only strings are kept (scored as empty) with a warning and a count."""
    if isinstance(texts, str):
        raise ValueError(f"{name} must be a sequence of strings, not one string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        kinds = sorted({type(texts[i]).__name__ for i in bad})
        raise ValueError(f"{name}: {len(bad)} of {len(texts)} message(s) are not strings ({', '.join(kinds)}); "
                         f"first rows {bad[:5]}")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        warnings.warn(f"{name}: {len(empty)} of {len(texts)} message(s) are empty (first rows {empty[:5]}); "
                      f"they are scored as empty text", stacklevel=2)
    return texts


def check_backend(backend: str) -> str:
    """Validate a ``backend=`` argument."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}")
    return backend


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def table_from_inputs(n: int, **columns: Sequence[Any] | None) -> pd.DataFrame:
    """The demographic table for ``n`` messages from metric inputs (``genders=[...]``, ``ages=[...]``,
    ``stances``, ``themes``, ``regions``; singular names work too). A column that is absent or wholly
    blank is left out (it then does not split cells); a length mismatch raises naming the input."""
    data: dict[str, list] = {}
    for key, values in columns.items():
        col = INPUT_COLUMNS.get(key, key)
        if col not in GRID_COLUMNS:
            raise ValueError(f"unknown demographic input {key!r}; expected one of {list(INPUT_COLUMNS)}")
        if values is None:
            continue
        values = list(values)
        if len(values) != n:
            raise ValueError(f"{key} has {len(values)} entries but there are {n} messages")
        if all(_blank(v) for v in values):
            continue
        data[col] = [None if _blank(v) else str(v).strip() for v in values]
    ordered = {c: data[c] for c in GRID_COLUMNS if c in data}
    return pd.DataFrame(ordered, index=range(n))


def metric_features() -> Any:
    """The typed ``evaluate`` inputs of every audit metric: the message and its five grid attributes
    (pass ``""`` for an attribute your grid lacks; evaluate rejects an all-None column)."""
    import datasets

    return datasets.Features({
        "predictions": datasets.Value("string"),
        "genders": datasets.Value("string"),
        "ages": datasets.Value("string"),
        "stances": datasets.Value("string"),
        "themes": datasets.Value("string"),
        "regions": datasets.Value("string"),
    })


def inputs_to_table(predictions: Sequence[Any], **columns: Sequence[Any] | None) -> tuple[list[str], pd.DataFrame]:
    """Validated texts and their demographic table, the first step of every metric's ``_compute``."""
    texts = validate_texts(predictions, name="predictions")
    return texts, table_from_inputs(len(texts), **columns)
