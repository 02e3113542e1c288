"""The FairPP builder: every config through download_and_prepare/as_dataset against the library
functions, streaming equal to non-streaming, cache invalidation on input and code changes, the
SYNTHETIC label, test-split weights and bad configs."""

from __future__ import annotations

import importlib
import sys

import datasets
import numpy as np
import pandas as pd
import pytest

from fairpp_hf import builder as builder_module
from fairpp_hf.builder import FairPP, config_name, fingerprint, parse_config_name
from fairpp_hf.data import answer_matrix, load_records, split_by_question
from fairpp_hf.pairs import build_distributions, build_pairs, build_sft
from fairpp_hf.synthetic import synthetic_frame
from fairpp_hf.weighting import persona_tiers, tier_weights


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fairpp") / "fair_pp_sample.csv"
    synthetic_frame(160, seed=11).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def reference_splits(csv_path):
    return split_by_question(load_records(csv_path), test_size=0.1, seed=0)


def _expected(splits, view, persona, fmt, kw):
    train = splits["train"]
    out = {}
    for name, recs in splits.items():
        ref = None if name == "train" or kw.get("test_weights") == "own" else train
        if view == "records":
            out[name] = recs
        elif view == "pairs":
            out[name] = build_pairs(recs, persona, format=fmt, reference=ref,
                                    include_non_target_pair=kw.get("include_non_target_pair", False))
        elif view == "sft":
            out[name] = build_sft(recs, persona, format=fmt, reference=ref)
        else:
            out[name] = build_distributions(recs)
    return out


CASES = [
    ("records", {}, ("records", 6, "standard")),
    ("pairs", {"persona": 6}, ("pairs", 6, "standard")),
    ("pairs", {"persona": 2, "include_non_target_pair": True, "test_weights": "own"}, ("pairs", 2, "standard")),
    ("sft", {"persona": 4, "format": "conversational"}, ("sft", 4, "conversational")),
    ("distributions", {}, ("distributions", 6, "standard")),
    ("pairs_persona_3_conversational", {}, ("pairs", 3, "conversational")),
    ("sft_persona_7", {}, ("sft", 7, "standard")),
]


@pytest.mark.parametrize("name, kwargs, expect", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_config_matches_library_and_streaming(name, kwargs, expect, csv_path, reference_splits, tmp_path):
    b = FairPP(config_name=name, data_files=str(csv_path), cache_dir=str(tmp_path), **kwargs)
    b.download_and_prepare()
    ds = b.as_dataset()
    assert set(ds) == {"train", "test"}
    view, persona, fmt = expect
    expected = _expected(reference_splits, view, persona, fmt, kwargs)
    assert "SYNTHETIC" not in ds["train"].info.description
    for split in ("train", "test"):
        assert ds[split].features == expected[split].features
        pd.testing.assert_frame_equal(ds[split].to_pandas(), expected[split].to_pandas())
    streamed = b.as_streaming_dataset()
    for split in ("train", "test"):
        rows = list(streamed[split])
        assert rows == ds[split].to_list()
        assert streamed[split].features == ds[split].features


def test_train_weights_are_eq1_and_test_weights_use_training_counts(csv_path, tmp_path):
    b = FairPP(config_name="sft", persona=5, data_files=str(csv_path), cache_dir=str(tmp_path))
    b.download_and_prepare()
    ds = b.as_dataset()
    train_rec = split_by_question(load_records(csv_path), test_size=0.1, seed=0)
    w_tier = tier_weights(persona_tiers(answer_matrix(train_rec["train"]), 5))
    for split in ("train", "test"):
        tiers = np.array(ds[split]["tier"])
        np.testing.assert_allclose(np.array(ds[split]["weight"]), w_tier[tiers - 1])
    np.testing.assert_allclose(np.unique(np.array(ds["train"]["weight"]) * 0).sum(), 0)
    assert not set(ds["train"]["question_id"]) & set(ds["test"]["question_id"])


def test_synthetic_default_is_labelled(tmp_path):
    b = FairPP(config_name="records", n_questions=150, seed=2, cache_dir=str(tmp_path))
    b.download_and_prepare()
    ds = b.as_dataset()
    assert sum(len(d) for d in ds.values()) == 150
    assert ds["train"].info.description.startswith("SYNTHETIC")
    assert b.info.description.startswith("SYNTHETIC")
    b2 = FairPP(config_name="records", n_questions=150, seed=3, cache_dir=str(tmp_path))
    assert b2.cache_dir != b.cache_dir


def test_test_size_zero_and_tiny_data(tmp_path, csv_path, caplog):
    b = FairPP(config_name="pairs", data_files=str(csv_path), test_size=0.0, cache_dir=str(tmp_path))
    b.download_and_prepare()
    assert list(b.as_dataset()) == ["train"]
    b = FairPP(config_name="distributions", n_questions=2, test_size=0.01, cache_dir=str(tmp_path))
    with caplog.at_level("WARNING", logger="fairpp_hf.builder"):
        b.download_and_prepare()
    ds = b.as_dataset()
    assert list(ds) == ["train"] and len(ds["train"]) == 2
    assert "only a train split" in caplog.text
    b = FairPP(config_name="records", n_questions=1, test_size=0.999, seed=1, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="puts all 1 question"):
        b.download_and_prepare()


def test_cache_is_reused_and_invalidated_by_input_content(tmp_path):
    csv = tmp_path / "data.csv"
    frame = synthetic_frame(80, seed=1)
    frame.to_csv(csv, index=False)
    cache = str(tmp_path / "cache")
    first = FairPP(config_name="records", data_files=str(csv), cache_dir=cache)
    first.download_and_prepare()
    before = first.as_dataset()["train"]["persona_1"]

    again = FairPP(config_name="records", data_files=str(csv), cache_dir=cache)
    assert again.cache_dir == first.cache_dir
    again.download_and_prepare()
    assert not hasattr(again, "_views")  # served from the cache, nothing regenerated
    assert again.as_dataset()["train"]["persona_1"] == before

    frame["gpt-4o-mini_role_1_answer"] = 2 - frame["gpt-4o-mini_role_1_answer"].clip(upper=1)
    frame.to_csv(csv, index=False)  # same path, new content
    changed = FairPP(config_name="records", data_files=str(csv), cache_dir=cache)
    assert changed.cache_dir != first.cache_dir
    changed.download_and_prepare()
    assert changed.as_dataset()["train"]["persona_1"] != before


def test_fingerprint_follows_code_changes(tmp_path, monkeypatch):
    mod_file = tmp_path / "fairpp_fake_dep.py"
    mod_file.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = importlib.import_module("fairpp_fake_dep")
    monkeypatch.setattr(builder_module, "_CODE_MODULES", (*builder_module._CODE_MODULES, fake))
    before = fingerprint()
    mod_file.write_text("VALUE = 2  # changed\n")
    importlib.reload(fake)
    assert fingerprint() != before
    sys.modules.pop("fairpp_fake_dep", None)
    assert FairPP(config_name="records", hash="fixed", cache_dir=str(tmp_path)).hash == "fixed"


def test_local_dataset_folder(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    synthetic_frame(40, seed=0).to_parquet(folder / "part.parquet")
    b = FairPP(config_name="records", dataset=str(folder), cache_dir=str(tmp_path / "c"))
    b.download_and_prepare()
    assert sum(len(d) for d in b.as_dataset().values()) == 40


def test_config_names():
    assert config_name("pairs", 6) == "pairs_persona_6"
    assert config_name("sft", 2, "conversational") == "sft_persona_2_conversational"
    assert config_name("records", 3, "conversational") == "records"
    assert parse_config_name("pairs_persona_6_conversational") == ("pairs", 6, "conversational")
    assert set(FairPP.builder_configs) >= {"records", "pairs", "sft", "distributions", "sft_persona_1_conversational"}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"config_name": "pairs", "persona": 9}, ValueError, "persona=9"),
        ({"config_name": "pairs_persona_6", "persona": 3}, ValueError, "is for persona 6 but persona=3"),
        ({"config_name": "pairs_persona_6", "format": "conversational"}, ValueError, "in the standard format"),
        ({"config_name": "pears"}, ValueError, "BuilderConfig 'pears' not found"),
        ({"config_name": "pairs", "format": "chat"}, ValueError, "format='chat'"),
        ({"config_name": "pairs", "test_size": 1.0}, ValueError, "test_size=1.0"),
        ({"config_name": "pairs", "normalize": "sum"}, ValueError, "normalize='sum'"),
        ({"config_name": "pairs", "test_weights": "x"}, ValueError, "test_weights='x'"),
        ({"config_name": "records", "unparseable": "zero"}, ValueError, "unparseable='zero'"),
        ({"config_name": "records", "n_questions": 10**6}, ValueError, "n_questions=1000000"),
        ({"config_name": "records", "data_files": "no_such_file.csv"}, FileNotFoundError, "no_such_file.csv"),
    ],
)
def test_bad_configs(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=message):
        FairPP(cache_dir=str(tmp_path), **kwargs)


def test_bad_input_file_is_reported_with_its_name(tmp_path):
    bad = tmp_path / "broken.csv"
    synthetic_frame(20, seed=0).drop(columns=["Group"]).to_csv(bad, index=False)
    b = FairPP(config_name="pairs", data_files=str(bad), cache_dir=str(tmp_path / "c"))
    with pytest.raises(ValueError, match=r"broken\.csv: missing required column\(s\) 'Group'"):
        b.download_and_prepare()
    with pytest.raises(ValueError, match=r"broken\.csv"):
        list(FairPP(config_name="pairs", data_files=str(bad), cache_dir=str(tmp_path / "c")).as_streaming_dataset(
            split="train"))


def test_single_tier_data_builds_with_uniform_weights(tmp_path):
    frame = synthetic_frame(60, seed=0)
    for k in range(1, 8):
        frame[f"gpt-4o-mini_role_{k}_answer"] = 1
    frame.to_csv(tmp_path / "agree.csv", index=False)
    b = FairPP(config_name="pairs", data_files=str(tmp_path / "agree.csv"), cache_dir=str(tmp_path / "c"))
    b.download_and_prepare()
    train = b.as_dataset()["train"]
    assert set(train["tier"]) == {1} and np.allclose(train["weight"], 1.0)
    assert isinstance(train, datasets.Dataset)


def test_relative_data_files_resolve_from_the_working_directory(tmp_path, monkeypatch):
    synthetic_frame(30, seed=2).to_csv(tmp_path / "rel.csv", index=False)
    monkeypatch.chdir(tmp_path)
    b = FairPP(config_name="records", data_files="rel.csv", cache_dir=str(tmp_path / "c"))
    b.download_and_prepare()
    assert sum(len(d) for d in b.as_dataset().values()) == 30


def test_hub_ready_shell_reexports_the_builder():
    import importlib.util
    from pathlib import Path

    from fairpp_hf.resources import dataset_script_path

    folder = Path(dataset_script_path())
    spec = importlib.util.spec_from_file_location("fair_pp_shell", folder / "fair_pp.py")
    shell = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shell)
    assert shell.FairPP is FairPP and shell.FairPPConfig is builder_module.FairPPConfig
    card = (folder / "README.md").read_text()
    assert "license: cc-by-nc-sa-4.0" in card and "2505.11861" in card
    import fairpp_hf

    assert fairpp_hf.FairPP is FairPP
