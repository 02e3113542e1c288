"""The demographic grid: published climate counts, matched pairs, reading generation files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fairpp_hf.grid import CLIMATE_GRID, GRID_COLUMNS, VACCINATION_GRID, grid_prompts, matched_pairs, read_generations


def test_climate_grid_reproduces_the_published_prompts(shared_data):
    table = read_generations(shared_data / "gpt4o_climate.csv")
    prompts = CLIMATE_GRID.prompts()
    assert len(prompts) == len(CLIMATE_GRID) == 440
    pd.testing.assert_frame_equal(prompts[list(GRID_COLUMNS) + ["prompt"]], table[list(GRID_COLUMNS) + ["prompt"]],
                                  check_dtype=False)


def test_climate_counts_on_shared_file(shared_data):
    table = read_generations(shared_data / "gpt4o_climate.csv")
    gender = matched_pairs(table, vary="gender")
    age = matched_pairs(table, vary="age")
    assert (len(table), len(gender), len(age)) == (440, 220, 660)
    assert gender.attrs["unmatched_rows"] == age.attrs["unmatched_rows"] == 0
    # every gender pair differs in gender only
    a, b = table.loc[gender.index_a].reset_index(drop=True), table.loc[gender.index_b].reset_index(drop=True)
    for col in ("stance", "theme", "age", "region"):
        assert (a[col] == b[col]).all()
    assert (a.gender == "Male").all() and (b.gender == "Female").all()
    # age contrasts: 110 cells x C(4, 2), each differing in age only
    a, b = table.loc[age.index_a].reset_index(drop=True), table.loc[age.index_b].reset_index(drop=True)
    assert (a.age != b.age).all() and (a.gender == b.gender).all() and (a.region == b.region).all()
    assert age.groupby(["stance", "theme", "gender", "region"]).size().eq(6).all()
    assert len(age.groupby(["stance", "theme", "gender", "region"])) == 110


def test_vaccination_grid_has_the_same_shape():
    prompts = grid_prompts("vaccination")
    assert len(prompts) == len(VACCINATION_GRID) == 440
    assert len(matched_pairs(prompts, "gender")) == 220 and len(matched_pairs(prompts, "age")) == 660
    assert prompts.prompt.str.contains("Vaccination").all()
    with pytest.raises(ValueError, match="unknown grid"):
        grid_prompts("nope")


def test_grid_without_theme_and_region(shared_data):
    table = read_generations(shared_data / "gpt4o_climate_wo_theme_region_non_US.csv")
    assert len(matched_pairs(table, "gender")) == 8
    assert len(matched_pairs(table, "age")) == 24  # 2 stances x 2 genders x C(4, 2)


def test_unmatched_rows_are_counted_and_warned():
    # rows 0-4: Male in 5 regions, 5-9: Female, 10-11: Male of the next age; keep 0, 1, 2, 5, 6, 10, 11
    table = CLIMATE_GRID.prompts().iloc[[0, 1, 2, 5, 6, 10, 11]].reset_index(drop=True)
    with pytest.warns(UserWarning, match=r"3 of 7 row\(s\) match no pair \(first rows \[2, 5, 6\]\)"):
        pairs = matched_pairs(table, "gender")
    assert pairs[["index_a", "index_b"]].values.tolist() == [[0, 3], [1, 4]]
    assert pairs.attrs["unmatched_rows"] == 3


def test_replicates_pair_in_order_and_missing_values_warn():
    base = CLIMATE_GRID.prompts().iloc[[0, 5]]  # Male/Female of one cell
    table = pd.concat([base, base, base.iloc[[0]]], ignore_index=True)  # two replicates + one extra Male
    with pytest.warns(UserWarning, match="1 of 5"):
        pairs = matched_pairs(table, "gender")
    assert pairs[["index_a", "index_b"]].values.tolist() == [[0, 1], [2, 3]]
    table.loc[1, "region"] = None
    with pytest.warns(UserWarning) as caught:
        matched_pairs(table, "gender")
    assert any("1 row(s) have missing values in ['region']" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="no such column"):
        matched_pairs(table.drop(columns=["age"]), "age")


def test_read_generations_errors(tmp_path):
    frame = CLIMATE_GRID.prompts().iloc[:4].assign(output=["a", "b", "c", "d"])
    frame.drop(columns=["gender"]).to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(ValueError, match=r"missing demographic column\(s\) \['gender'\]"):
        read_generations(tmp_path / "g.csv")
    with (tmp_path / "g.jsonl").open("w") as fh:
        for row in frame.to_dict("records"):
            fh.write(json.dumps(row) + "\n")
    table = read_generations(tmp_path / "g.jsonl")
    assert table.text.tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="text column 'msg' not found"):
        read_generations(tmp_path / "g.jsonl", text_column="msg")
    (tmp_path / "g.txt").write_text("x")
    with pytest.raises(ValueError, match="expected a .csv"):
        read_generations(tmp_path / "g.txt")
    frame.assign(region=["", "West", "West", "West"]).to_csv(tmp_path / "e.csv", index=False)
    with pytest.warns(UserWarning, match="'region' is empty in 1 row"):
        read_generations(tmp_path / "e.csv")
