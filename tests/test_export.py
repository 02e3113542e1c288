"""Export to a Hub-ready folder: every config through ``datasets.load_dataset(folder, config)``
against the builder, the dataset card (YAML, licence, citation, SYNTHETIC label), overwrite safety,
the push to a loopback Hub (private, token never written) and the ``export-dataset`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pandas as pd
import pytest
from huggingface_hub import DatasetCard

from fairpp_hf.builder import FairPP
from fairpp_hf.export import EXPORT_MARKER, export_dataset
from fairpp_hf.synthetic import synthetic_frame


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fairpp-export") / "fair_pp_sample.csv"
    synthetic_frame(150, seed=4).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def exported(csv_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "fair-pp"
    result = export_dataset(out, data_files=str(csv_path), personas=[2, 6], progress=False)
    return out, result


def test_every_config_loads_with_load_dataset_and_matches_the_builder(exported, csv_path, tmp_path):
    out, result = exported
    expected_names = {"records", "distributions"} | {
        f"{v}_persona_{k}{s}" for v in ("pairs", "sft") for k in (2, 6) for s in ("", "_conversational")
    }
    assert set(result.configs) == expected_names
    for name in sorted(expected_names):
        loaded = datasets.load_dataset(str(out), name, cache_dir=str(tmp_path / "hf"))
        b = FairPP(config_name=name, data_files=str(csv_path), cache_dir=str(tmp_path / "builder"))
        b.download_and_prepare()
        built = b.as_dataset()
        assert set(loaded) == set(built) == {"train", "test"}, name
        for split in built:
            assert loaded[split].features == built[split].features, (name, split)
            pd.testing.assert_frame_equal(loaded[split].to_pandas(), built[split].to_pandas())
            assert result.configs[name][split] == len(built[split])


def test_dataset_card(exported):
    out, result = exported
    text = (out / "README.md").read_text()
    card = DatasetCard(text.replace(EXPORT_MARKER, ""))
    data = card.data.to_dict()
    assert data["license"] == "cc-by-nc-sa-4.0"
    assert {c["config_name"] for c in data["configs"]} == set(result.configs)
    pairs6 = next(c for c in data["configs"] if c["config_name"] == "pairs_persona_6")
    assert pairs6["data_files"] == [
        {"split": "train", "path": "pairs_persona_6/train-*.parquet"},
        {"split": "test", "path": "pairs_persona_6/test-*.parquet"},
    ]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    assert infos["pairs_persona_6"]["splits"][0]["num_examples"] == result.configs["pairs_persona_6"]["train"]
    assert "2505.11861" in card.text and "@misc{fairpp2025" in card.text
    assert "SYNTHETIC" not in text and "synthetic" not in data["tags"]
    assert "Eq. 1" in card.text and 'load_dataset("path/to/this/folder", "pairs_persona_2")' in card.text
    assert "fair_pp_sample.csv" in card.text
    assert "SYNTHETIC" not in result.summary()


def test_synthetic_export_is_labelled_everywhere(tmp_path):
    out = tmp_path / "syn"
    result = export_dataset(out, personas=[6], formats=["conversational"], views=["pairs", "records"],
                            n_questions=90, progress=False)
    assert set(result.configs) == {"pairs_persona_6_conversational", "records"} and result.synthetic
    text = (out / "README.md").read_text()
    assert "**SYNTHETIC DATA.**" in text and "pretty_name: Fair-PP (SYNTHETIC sample)" in text
    assert "- synthetic" in text and "SYNTHETIC sample" in result.summary()
    ds = datasets.load_dataset(str(out), "pairs_persona_6_conversational", cache_dir=str(tmp_path / "hf"))
    assert sum(len(d) for d in ds.values()) == 180
    assert ds["train"][0]["prompt"][0]["role"] == "user"


def test_overwrite_safety(tmp_path):
    out = tmp_path / "o"
    export_dataset(out, personas=[1], formats=["standard"], views=["records"], n_questions=30, progress=False)
    with pytest.raises(FileExistsError, match="not empty; pass overwrite=True"):
        export_dataset(out, views=["records"], n_questions=30, progress=False)
    export_dataset(out, views=["distributions"], n_questions=30, overwrite=True, progress=False)
    assert not (out / "records").exists() and (out / "distributions").is_dir()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="holds no earlier fairpp-hf export; refusing"):
        export_dataset(other, views=["records"], n_questions=30, overwrite=True, progress=False)
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"personas": [9]}, "personas=9"),
        ({"formats": ["chat"]}, "formats='chat'"),
        ({"views": ["pairs", "votes"]}, "views: 'votes'"),
        ({"personas": [], "views": ["pairs"]}, "personas is empty"),
        ({"test_size": 2.0}, "test_size=2.0"),
        ({"data_files": "missing.csv"}, "missing.csv"),
    ],
)
def test_bad_arguments(kwargs, message, tmp_path):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        export_dataset(tmp_path / "x", n_questions=20, progress=False, **kwargs)


def test_push_to_loopback_hub_private_and_token_never_written(tmp_path, monkeypatch, capsys):
    from hub_server import LoopbackHub
    from huggingface_hub import constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # conftest sets offline; 127.0.0.1 only here
    token = "hf_loopback_secret_token_123"
    out = tmp_path / "push"
    with LoopbackHub(token=token) as hub:
        result = export_dataset(out, personas=[6], formats=["standard"], n_questions=60, progress=False,
                                push_to_hub="fairpp-tester/fair-pp-views", token=token, endpoint=hub.endpoint)
        repo = hub.repo("fairpp-tester/fair-pp-views", "dataset")
        remote = hub.files("fairpp-tester/fair-pp-views", "dataset")
        creates = [json.loads(r.body) for r in hub.requests if r.path == "/api/repos/create"]
        assert creates and all(c["visibility"] == "private" and c["type"] == "dataset" for c in creates)
    assert repo.private and result.repo_url.endswith("datasets/fairpp-tester/fair-pp-views")
    local = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert remote == local
    assert not any(token.encode() in data for data in local.values())
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err
    assert "fairpp-tester/fair-pp-views" in local["README.md"].decode()
    # The pushed tree is what load_dataset reads: materialise it and load a config from it.
    snap = tmp_path / "snapshot"
    for path, data in remote.items():
        (snap / path).parent.mkdir(parents=True, exist_ok=True)
        (snap / path).write_bytes(data)
    ds = datasets.load_dataset(str(snap), "pairs_persona_6", cache_dir=str(tmp_path / "hf"))
    assert sum(len(d) for d in ds.values()) == 120


_SHIM = (
    "import argparse, sys\n"
    "from fairpp_hf.commands import export_dataset as cmd\n"
    "p = argparse.ArgumentParser(prog='fairpp-hf export-dataset')\n"
    "cmd.add_arguments(p)\n"
    "sys.exit(cmd.run(p.parse_args(sys.argv[1:])))\n"
)


def _run_command(args, cwd):
    return subprocess.run([sys.executable, "-c", _SHIM, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_export_dataset_command(tmp_path, csv_path):
    proc = _run_command(["--out", "syn", "--personas", "6", "--formats", "standard", "--synthetic-questions", "50",
                         "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC sample, not Fair-PP data" in proc.stdout and "pairs_persona_6" in proc.stdout
    assert 'datasets.load_dataset("syn", "pairs_persona_6")' in proc.stdout
    assert (tmp_path / "syn" / "pairs_persona_6" / "train-00000-of-00001.parquet").is_file()

    proc = _run_command(["--data-files", str(csv_path), "--out", "real", "--personas", "1", "--views", "sft"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC" not in proc.stdout and "kept 150" in proc.stdout
    assert "export-dataset" in proc.stderr  # the progress bar

    bad = tmp_path / "bad.csv"
    synthetic_frame(10, seed=0).drop(columns=["Question"]).to_csv(bad, index=False)
    proc = _run_command(["--data-files", str(bad), "--out", "bad"], tmp_path)
    assert proc.returncode == 2
    assert "bad.csv: missing required column(s) 'Question'" in proc.stderr
    proc = _run_command(["--data-files", str(bad), "--dataset", "tools-o/Fair-PP", "--out", "x"], tmp_path)
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_cli_entry_point_when_all_commands_exist(tmp_path):
    import importlib.util

    from fairpp_hf.cli import COMMANDS

    missing = [m for m, _ in COMMANDS.values() if importlib.util.find_spec(f"fairpp_hf.commands.{m}") is None]
    if missing:
        pytest.skip(f"other subcommands not written yet: {missing}")
    proc = subprocess.run(
        [sys.executable, "-m", "fairpp_hf.cli", "export-dataset", "--out", "o", "--views", "records",
         "--synthetic-questions", "20", "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "records" in proc.stdout
