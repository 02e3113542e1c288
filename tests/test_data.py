"""Records: reading the authors' layout from CSV/parquet/JSON, answer normalisation under each
unparseable policy (with counts), Perspective surviving float round trips, the split by question,
the synthetic sample's structure, the taxonomy against the shared facts, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairpp_hf.data import (
    ANSWER_LABEL,
    PERSONA_COLUMNS,
    RECORD_FEATURES,
    answer_matrix,
    load_records,
    normalize_answers,
    records_from_frame,
    split_by_question,
)
from fairpp_hf.synthetic import FULL_SIZE, is_synthetic, synthetic_frame, synthetic_records
from fairpp_hf.taxonomy import DIMENSIONS, GROUPS, TOPICS, parse_perspective
from fairpp_hf.weighting import persona_tiers


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return synthetic_frame(120, seed=5)


def _write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_csv_parquet_json_give_the_same_records(raw, tmp_path):
    expected = records_from_frame(raw)
    csv = _write_csv(raw, tmp_path / "fp.csv")
    raw.to_parquet(tmp_path / "fp.parquet")
    raw.to_json(tmp_path / "fp.jsonl", orient="records", lines=True)
    for path in (csv, tmp_path / "fp.parquet", tmp_path / "fp.jsonl"):
        got = load_records(path)
        assert got.features == RECORD_FEATURES
        assert got.to_pandas().equals(expected.to_pandas()), path
    np.testing.assert_array_equal(answer_matrix(expected), raw[[f"gpt-4o-mini_role_{k}_answer" for k in range(1, 8)]])


def test_authors_index_column_and_folder_and_data_files(raw, tmp_path):
    raw.iloc[:60].to_csv(tmp_path / "a.csv")  # with the pandas index column "Unnamed: 0"
    raw.iloc[60:].to_csv(tmp_path / "b.csv", index=False)
    from_folder, report = load_records(tmp_path, return_report=True)
    from_files = load_records(data_files=[str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    assert len(from_folder) == len(from_files) == 120
    assert report.dropped_columns == ["Unnamed: 0"] and report.rows_read == 120
    assert set(from_folder["question_id"]) == set(records_from_frame(raw)["question_id"])


def test_perspective_survives_float_round_trips(raw, tmp_path):
    as_float = raw.assign(Perspective=raw["Perspective"].astype(float))
    csv = _write_csv(as_float, tmp_path / "float.csv")
    assert pd.read_csv(csv)["Perspective"].dtype == np.float64  # pandas itself reads floats here
    as_float.to_parquet(tmp_path / "float.parquet")
    float32_text = raw.assign(Perspective=raw["Perspective"].astype(np.float32).astype(float).astype(str))
    assert float32_text["Perspective"].str.len().max() > 3  # e.g. "1.100000023841858"
    csv32 = _write_csv(float32_text, tmp_path / "f32.csv")
    expected = list(raw["Perspective"])
    for path in (csv, tmp_path / "float.parquet", csv32):
        got = load_records(path)
        assert list(got["perspective"]) == expected, path
        dims = [DIMENSIONS[int(p.split(".")[1])].name for p in expected]
        assert list(got["dimension"]) == dims
    assert parse_perspective(1.3) == "1.3" and parse_perspective("5.5") == "5.5"
    for bad in ("1.6", "6.1", "13", "1.3.2", "x"):
        with pytest.raises(ValueError, match="Perspective"):
            parse_perspective(bad)


def test_normalize_answers_codes_letters_and_text():
    values = pd.Series(["A", "b.", "The answer is B", 1.0, np.nan, "garbage", "2", " C ", "(A)",
                        "a fair idea", "B) because", 1.5, 3, "", "option c"], dtype=object)
    codes, missing, unparseable = normalize_answers(values)
    assert codes.tolist() == [0, 1, 1, 1, -1, -1, 2, 2, 0, -1, 1, -1, -1, -1, 2]
    assert np.flatnonzero(missing).tolist() == [4, 13]
    assert np.flatnonzero(unparseable).tolist() == [5, 9, 11, 12]


def _text_answers_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw-text answer columns only (no coded columns), with hard cases in persona 2's column."""
    frame = raw.drop(columns=[c for c in raw.columns if c.endswith("_answer")]).iloc[:8].copy()
    frame["gpt-4o-mini_role_2"] = ["A", "b.", "The answer is B", 1.0, np.nan, "garbage", "C", "nonsense"]
    return frame


@pytest.mark.parametrize("policy", ["C", "drop", "error"])
def test_unparseable_policies_with_counts(raw, tmp_path, policy):
    frame = _text_answers_frame(raw)
    path = _write_csv(frame, tmp_path / "text.csv")
    if policy == "error":
        with pytest.raises(ValueError, match=r"text\.csv row 4, column 'gpt-4o-mini_role_2': answer is missing; "
                                             r"1 missing and 2 unparseable"):
            load_records(path, unparseable="error")
        return
    records, report = load_records(path, unparseable=policy, return_report=True)
    assert report.missing[2] == 1 and report.unparseable[2] == 2
    assert sum(report.missing.values()) == 1 and sum(report.unparseable.values()) == 2
    assert report.answer_source.endswith("(raw text)")
    if policy == "C":
        assert len(records) == 8 and report.coerced_to_c == 3 and report.rows_dropped == 0
        assert records["persona_2"] == [0, 1, 1, 1, 2, 2, 2, 2]
    else:
        assert len(records) == 5 and report.rows_dropped == 3 and report.coerced_to_c == 0
        assert records["persona_2"] == [0, 1, 1, 1, 2]
    assert "coerced to C" in report.summary()


def test_canonical_layout_round_trip(small_records, tmp_path):
    frame = small_records.to_pandas()
    frame.to_parquet(tmp_path / "canon.parquet")
    again = load_records(tmp_path / "canon.parquet")
    assert again.to_pandas().equals(frame)
    assert small_records.features["persona_1"] == ANSWER_LABEL


def test_split_by_question_is_disjoint_deterministic_and_keeps_duplicates_together(small_records):
    doubled = __import__("datasets").concatenate_datasets([small_records, small_records.select(range(50))])
    split = split_by_question(doubled, test_size=0.25, seed=3)
    train_q, test_q = set(split["train"]["question"]), set(split["test"]["question"])
    assert not train_q & test_q
    assert len(split["train"]) + len(split["test"]) == len(doubled)
    assert 0.1 < len(test_q) / len(train_q | test_q) < 0.4
    again = split_by_question(doubled.shuffle(seed=1), test_size=0.25, seed=3)
    assert set(again["test"]["question"]) == test_q  # independent of row order
    other = split_by_question(doubled, test_size=0.25, seed=4)
    assert set(other["test"]["question"]) != test_q
    assert len(split_by_question(doubled, test_size=0.0)["test"]) == 0
    with pytest.raises(ValueError, match="test_size"):
        split_by_question(doubled, test_size=1.0)


def test_synthetic_sample_has_structure():
    records = synthetic_records(3000, seed=0)
    assert is_synthetic(records) and "SYNTHETIC" in records.info.description
    assert all(is_synthetic(side) for side in split_by_question(records).values())  # the label survives the split
    answers = answer_matrix(records)
    # Personas differ (1 and 7 are far apart) and some agree more than others.
    agree = (answers[:, :, None] == answers[:, None, :]).mean(axis=0)
    assert agree[0, 6] < 0.5 < agree[4, 5]
    for k in range(1, 8):  # every persona uses at least five of the seven tiers
        assert len(np.unique(persona_tiers(answers, k))) >= 5
    assert (answers == 2).any()
    assert len(synthetic_records(FULL_SIZE - 5000, seed=0)) == FULL_SIZE - 5000
    assert synthetic_frame(50, seed=9).equals(synthetic_frame(50, seed=9))
    with pytest.raises(ValueError, match="n_questions"):
        synthetic_frame(FULL_SIZE + 1)


def test_taxonomy_matches_shared_facts(shared_data):
    facts = json.loads((shared_data / "fairpp_taxonomy.json").read_text())
    assert facts["groups"] == GROUPS
    assert {t: v["categories"] for t, v in facts["topics"].items()} == TOPICS
    for v in facts["topics"].values():
        for key, lens in v["dimensions"].items():
            d = DIMENSIONS[int(key.split(".")[1])]
            assert (d.first, d.second) == (lens["first"], lens["second"])
    assert sum(len(p) for cats in TOPICS.values() for p in cats.values()) == 98
    assert sum(len(g) for g in GROUPS.values()) == 29


# ---------------------------------------------------------------------------------------- bad input


def test_missing_and_misnamed_columns(raw, tmp_path):
    path = _write_csv(raw.drop(columns=["Group"]), tmp_path / "nogroup.csv")
    with pytest.raises(ValueError, match=r"nogroup\.csv: missing required column\(s\) 'Group'"):
        load_records(path)
    path = _write_csv(raw.rename(columns={"Perspective": "Perspectve"}), tmp_path / "typo.csv")
    with pytest.raises(ValueError, match=r"'Perspective' \(found 'Perspectve': misnamed\?\)"):
        load_records(path)
    path = _write_csv(raw.drop(columns=["gpt-4o-mini_role_3_answer", "gpt-4o-mini_role_3"]), tmp_path / "p3.csv")
    with pytest.raises(ValueError, match=r"persona\(s\) \[3\] are missing"):
        load_records(path)
    path = _write_csv(raw[["Topic", "Problem Category", "Specific Problem", "Group Type", "Group", "Perspective",
                           "Option", "Question"]], tmp_path / "noanswers.csv")
    with pytest.raises(ValueError, match="no persona answer columns"):
        load_records(path)


def test_unknown_persona_columns(raw, tmp_path):
    path = _write_csv(raw.assign(**{"gpt-4o-mini_role_8_answer": 0}), tmp_path / "p8.csv")
    with pytest.raises(ValueError, match=r"'gpt-4o-mini_role_8_answer' names persona 8.*1\.\.7"):
        load_records(path)


def test_non_integer_and_out_of_range_answers(raw, tmp_path):
    frame = raw.copy()
    frame["gpt-4o-mini_role_5_answer"] = frame["gpt-4o-mini_role_5_answer"].astype(float)
    frame.loc[7, "gpt-4o-mini_role_5_answer"] = 1.5
    frame.loc[9, "gpt-4o-mini_role_5_answer"] = 4
    frame = frame.drop(columns=[f"gpt-4o-mini_role_{k}" for k in range(1, 8)])  # no raw-text fallback
    path = _write_csv(frame, tmp_path / "nonint.csv")
    with pytest.raises(ValueError, match=r"nonint\.csv row 7, column 'gpt-4o-mini_role_5_answer': "
                                         r"answer is unparseable \('1\.5'\)"):
        load_records(path, unparseable="error")
    records, report = load_records(path, return_report=True)
    assert report.unparseable[5] == 2 and report.coerced_to_c == 2
    assert records["persona_5"][7] == 2 and records["persona_5"][9] == 2


def test_empty_files(raw, tmp_path):
    (tmp_path / "zero.csv").write_bytes(b"")
    with pytest.raises(ValueError, match=r"zero\.csv: the file is empty"):
        load_records(tmp_path / "zero.csv")
    raw.iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    with pytest.raises(ValueError, match=r"header\.csv: the file has no rows"):
        load_records(tmp_path / "header.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="holds no .csv"):
        load_records(tmp_path / "folder")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_records(tmp_path / "nope.csv")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_records(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="give a path"):
        load_records()


def test_nan_in_metadata_and_all_rows_dropped(raw, tmp_path):
    frame = raw.copy()
    frame.loc[4, "Question"] = np.nan
    with pytest.raises(ValueError, match=r"nanq\.csv row 4, column 'question': empty value \(1 such rows\)"):
        load_records(_write_csv(frame, tmp_path / "nanq.csv"))
    frame = raw.copy()
    frame.loc[2, "Perspective"] = "9.9"
    with pytest.raises(ValueError, match=r"badp\.csv row 2, column 'perspective'"):
        load_records(_write_csv(frame, tmp_path / "badp.csv"))
    frame = raw.drop(columns=[c for c in raw.columns if c.endswith("_answer")]).iloc[:3].copy()
    frame["gpt-4o-mini_role_1"] = "no idea"
    with pytest.raises(ValueError, match="every row was dropped"):
        load_records(_write_csv(frame, tmp_path / "alldrop.csv"), unparseable="drop")
    frame = raw.copy()
    frame["Question"] = "Which is fairer? no options here"
    with pytest.raises(ValueError, match=r"noopt\.csv row 0, column 'Question': no 'A\. \.\.\.' and 'B\. \.\.\.'"):
        load_records(_write_csv(frame, tmp_path / "noopt.csv"))
    with pytest.raises(ValueError, match="unparseable="):
        load_records(_write_csv(raw, tmp_path / "ok.csv"), unparseable="zero")


def test_single_tier_persona_data_loads_and_is_documented(raw, tmp_path, caplog):
    frame = raw.copy()
    for k in range(1, 8):
        frame[f"gpt-4o-mini_role_{k}_answer"] = 0
    records = load_records(_write_csv(frame, tmp_path / "agree.csv"))
    assert (answer_matrix(records) == 0).all() and len(records) == len(raw)
    from fairpp_hf.weighting import persona_weights

    with caplog.at_level("WARNING"):
        tiers, w = persona_weights(answer_matrix(records), 6)
    assert set(tiers) == {1} and np.allclose(w, 1.0) and "uniform" in caplog.text
    assert list(PERSONA_COLUMNS) == [f"persona_{k}" for k in range(1, 8)]


def test_hub_id_goes_through_datasets_load_dataset(raw, monkeypatch):
    import datasets

    from fairpp_hf import data as data_module

    calls = []

    def fake_load_dataset(repo, split=None, revision=None):
        calls.append((repo, split, revision))
        return datasets.Dataset.from_pandas(raw, preserve_index=False)

    monkeypatch.setattr(data_module.datasets, "load_dataset", fake_load_dataset)
    records, report = load_records("tools-o/Fair-PP", revision="abc123", return_report=True)
    assert calls == [("tools-o/Fair-PP", "test", "abc123")]
    assert report.sources == ["tools-o/Fair-PP[test]"] and len(records) == len(raw)
    broken = raw.drop(columns=["Topic"])
    monkeypatch.setattr(data_module.datasets, "load_dataset",
                        lambda repo, split=None, revision=None: datasets.Dataset.from_pandas(broken))
    with pytest.raises(ValueError, match=r"tools-o/Fair-PP\[train\]: missing required column\(s\) 'Topic'"):
        load_records("tools-o/Fair-PP", split="train")
