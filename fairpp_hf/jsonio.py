"""Strict JSON for every file the commands write: numpy values become Python values, dict keys
become strings, and NaN/inf become ``null`` (so the files parse in any JSON reader)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def to_json_value(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (dicts, lists, tuples, numpy scalars/arrays, floats)."""
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return to_json_value(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, value: Any, *, indent: int = 2) -> Path:
    """Write ``value`` as strict JSON (see :func:`to_json_value`); other objects are written as strings."""
    path = Path(path)
    path.write_text(json.dumps(to_json_value(value), indent=indent, default=str, allow_nan=False) + "\n")
    return path
