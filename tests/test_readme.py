"""The README's Python examples run as written (on a small synthetic Fair-PP.csv, a tiny model and 40
real climate messages), so what users copy from it works. The Hub block is covered by test_hub.py."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch, shared_data):
    from fairpp_hf.synthetic import synthetic_frame
    from fairpp_hf.tiny import build_tiny_model

    monkeypatch.chdir(tmp_path)
    synthetic_frame(60, seed=0).to_csv("Fair-PP.csv", index=False)
    model, tokenizer = build_tiny_model(tmp_path / "tiny")
    climate = pd.read_csv(shared_data / "gpt4o_climate.csv").head(40)
    text = README.read_text(encoding="utf-8").replace(
        '"agency_power.csv"', repr(str(shared_data / "agency_power.csv"))
    )
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5, "README lost its Python examples"
    namespace = {
        "model": model, "tokenizer": tokenizer, "texts": climate["output"].tolist(),
        "genders": climate["gender"].tolist(), "ages": climate["age"].tolist(),
        "stances": climate["stance"].tolist(), "themes": climate["theme"].tolist(),
        "regions": climate["region"].tolist(),
    }
    ran = 0
    for block in blocks:
        if "push_adapter" in block:
            continue
        exec(compile(block, f"README block {ran}", "exec"), namespace)
        ran += 1
    assert ran >= 5
    # What the examples promise users they get back.
    assert set(namespace["ds"]) == {"train", "test"} and "weight" in namespace["ds"]["train"].column_names
    out = namespace["out"]
    assert set(out["similarity"]) == {str(k) for k in range(1, 8)} or set(out["similarity"]) == set(range(1, 8))
    assert abs(out["margin_mean"] - (out["target_similarity"] - sum(
        v for k, v in out["similarity"].items() if int(k) != 6) / 6)) < 1e-9
    assert namespace["result"]["gender"]["n_pairs"] > 0
