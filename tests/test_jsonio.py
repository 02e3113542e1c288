"""Files the commands write are strict JSON: numpy values converted, NaN/inf written as null."""

from __future__ import annotations

import json

import numpy as np

from fairpp_hf.jsonio import to_json_value, write_json


def test_numpy_and_non_finite_values_become_strict_json(tmp_path):
    value = {1: np.float64("nan"), "a": np.arange(3), "b": (np.int64(4), float("inf")), "c": [np.float32(0.5)]}
    assert to_json_value(value) == {"1": None, "a": [0, 1, 2], "b": [4, None], "c": [0.5]}
    path = write_json(tmp_path / "x.json", value)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["1"] is None
