"""``fairpp-hf align`` end to end on a tiny setting: DPO and WDPO trained, positioned, compared, carded, pushed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hub_server import LoopbackHub
from scipy.spatial.distance import jensenshannon

from fairpp_hf.experiment import AlignConfig, _load_data, compare_runs

TOKEN = "hf_AlignLoopbackToken_1234567890"


@pytest.fixture(scope="module")
def align_run(tmp_path_factory):
    """One tiny `align` run in a subprocess (cwd = a temp dir), pushing both adapters to a loopback Hub."""
    tmp = tmp_path_factory.mktemp("align")
    with LoopbackHub(token=TOKEN) as hub:
        env = dict(os.environ, HF_TOKEN=TOKEN, HF_HUB_OFFLINE="0", HF_HOME=str(tmp / "hf_home"),
                   HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false")
        cmd = [sys.executable, "-m", "fairpp_hf.commands.align", "--n-questions", "50", "--test-size", "0.3",
               "--max-steps", "4", "--batch-size", "4", "--out", "out", "--no-progress",
               "--push-to-hub", "fairpp-tester/smoke", "--hub-endpoint", hub.endpoint]
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        pushed = {repo_id: hub.files(repo_id) for (_, repo_id) in hub.repos}
        private = {repo_id: repo.private for (_, repo_id), repo in hub.repos.items()}
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((tmp / "out" / "results.json").read_text())
    return {"dir": tmp, "out": tmp / "out", "stdout": proc.stdout, "stderr": proc.stderr, "results": results,
            "pushed": pushed, "private": private}


def test_align_computes_margins_for_both_runs(align_run):
    results = align_run["results"]
    assert results["smoke_scale"] and results["synthetic"] and results["persona"] == 6
    assert set(results["runs"]) == {"base", "dpo", "wdpo"}
    for name in ("dpo", "wdpo"):
        run = results["runs"][name]
        assert run["steps"] == 4 and math.isfinite(run["train_loss"])
    for name, run in results["runs"].items():
        for mode in ("pooled", "per_question"):
            sim = run["similarity_by_mode"][mode]
            values = {int(k): v for k, v in sim["similarity"].items()}
            others = [v for k, v in values.items() if k != 6]
            # the margins are what they claim to be
            assert sim["target_similarity"] == pytest.approx(values[6])
            assert sim["margin_best"] == pytest.approx(values[6] - max(others))
            assert sim["margin_mean"] == pytest.approx(values[6] - np.mean(others))
        # pooled similarity agrees with scipy's JS distance on the reported distributions
        pooled = run["similarity_by_mode"]["pooled"]
        for k, dist in pooled["persona_distributions"].items():
            expected = 1 - jensenshannon(pooled["model_distribution"], dist)
            assert pooled["similarity"][k] == pytest.approx(expected, abs=1e-9), (name, k)
    changes = results["comparison"]["pooled"]["changes"]["wdpo_vs_dpo"]
    dpo, wdpo = (results["runs"][n]["similarity"]["margin_mean"] for n in ("dpo", "wdpo"))
    assert changes["margin_mean_change"] == pytest.approx((wdpo - dpo) / abs(dpo))
    # DPO and WDPO differ only in the weights: same steps, different training
    assert results["runs"]["dpo"]["train_loss"] != results["runs"]["wdpo"]["train_loss"]
    assert results["n_pairs"] == 2 * results["n_train_questions"]
    assert sum(results["tier_counts"].values()) == results["n_train_questions"]


def test_align_prints_summary_and_writes_files(align_run):
    out, stdout = align_run["out"], align_run["stdout"]
    assert "SMOKE-SCALE" in stdout and "SYNTHETIC DATA" in stdout
    assert "6 Disengaged Traditionalists" in stdout and "<- target" in stdout
    assert "margin_mean" in stdout and "WDPO vs DPO: margin_mean" in stdout
    for png in ("similarity_runs.png", "heatmap_base.png", "heatmap_dpo.png", "heatmap_wdpo.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    for run in ("dpo", "wdpo"):
        adapter = out / run / "adapter"
        config = json.loads((adapter / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == "fairpp-hf/tiny-llama-smoke"
        card = (adapter / "README.md").read_text()
        assert "**SMOKE-SCALE RUN.**" in card and "**SYNTHETIC DATA.**" in card and "stand-in id" in card
        assert "| 6 Disengaged Traditionalists **(target)** |" in card
    assert TOKEN not in stdout + align_run["stderr"]


def test_align_pushed_both_adapters_privately(align_run):
    pushed = align_run["pushed"]
    assert set(pushed) == {"fairpp-tester/smoke-dpo-persona6", "fairpp-tester/smoke-wdpo-persona6"}
    assert all(align_run["private"].values())
    for repo_id, files in pushed.items():
        assert {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(files)
        assert "fairness_card.json" not in files
        for name, content in files.items():
            assert TOKEN.encode() not in content, (repo_id, name)
    wdpo_card = pushed["fairpp-tester/smoke-wdpo-persona6"]["README.md"].decode()
    assert "**Method:** WDPO" in wdpo_card and "| Persona | this model | base | DPO |" in wdpo_card


def test_saved_adapter_reproduces_reported_positioning(align_run):
    """Reload base + WDPO adapter from disk and position the same held-out questions: same distribution."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fairpp_hf.positioning import position

    out = align_run["out"]
    results = align_run["results"]
    cfg = AlignConfig(n_questions=50, test_size=0.3)
    test = _load_data(cfg)[0]["test"]
    assert len(test) == results["n_test_questions"]
    base = AutoModelForCausalLM.from_pretrained(out / "base_model")
    model = PeftModel.from_pretrained(base, out / "wdpo" / "adapter")
    probs = position(model, AutoTokenizer.from_pretrained(out / "base_model"), test, format="conversational",
                     progress=False)
    np.testing.assert_allclose(probs.mean(axis=0), results["runs"]["wdpo"]["answer_distribution"], atol=1e-5)


def test_compare_runs_by_hand():
    def run(sims):
        sim = {"similarity": dict(enumerate(sims, start=1))}
        others = [v for k, v in sim["similarity"].items() if k != 6]
        sim.update(target_similarity=sims[5], margin_best=sims[5] - max(others),
                   margin_mean=sims[5] - float(np.mean(others)), closest_persona=int(np.argmax(sims)) + 1)
        return {"similarity_by_mode": {"pooled": sim, "per_question": sim}}

    runs = {"dpo": run([0.7] * 5 + [0.8, 0.7]), "wdpo": run([0.6] * 5 + [0.9, 0.6])}
    out = compare_runs(runs, persona=6)["pooled"]
    assert out["runs"]["dpo"]["margin_mean"] == pytest.approx(0.1)
    assert out["runs"]["wdpo"]["margin_mean"] == pytest.approx(0.3)
    assert out["changes"]["wdpo_vs_dpo"]["margin_mean_change"] == pytest.approx(2.0)  # 0.1 -> 0.3: +200%
    assert out["changes"]["wdpo_vs_dpo"]["divergence_to_target_change"] == pytest.approx(-0.5)  # 0.2 -> 0.1
    assert out["runs"]["wdpo"]["divergence_to_others"] == pytest.approx(0.4)


def test_align_config_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="persona"):
        AlignConfig(persona=9)
    with pytest.raises(ValueError, match="n_questions"):
        AlignConfig(n_questions=1)
    with pytest.raises(ValueError, match="push_to_hub"):
        AlignConfig(push_to_hub="no-namespace")
    with pytest.raises(ValueError, match="test_size"):
        AlignConfig(test_size=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        AlignConfig(batch_size=0)


def test_align_reads_a_fairpp_file(tmp_path):
    """``--dataset`` takes a file in the authors' layout (here written from the synthetic frame)."""
    from fairpp_hf.synthetic import synthetic_frame

    path = tmp_path / "fairpp.csv"
    synthetic_frame(80, seed=3).to_csv(path, index=False)
    split, source, synthetic = _load_data(AlignConfig(dataset=str(path), n_questions=60))
    assert source == str(path) and not synthetic
    assert len(split["train"]) + len(split["test"]) == 60
    assert not set(split["train"]["question"]) & set(split["test"]["question"])


def test_cli_module_help(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fairpp_hf.commands.align", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--push-to-hub" in proc.stdout and "--persona" in proc.stdout
    assert Path(tmp_path).is_dir()


def test_run_align_with_sft_warmup_on_a_given_model(tiny_model_dir, tmp_path):
    """The paper's pipeline (SFT -> DPO, weighted SFT -> WDPO) on a model folder with its Hub id, standard format."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fairpp_hf.experiment import run_align
    from fairpp_hf.positioning import position

    threads = torch.get_num_threads()
    cfg = AlignConfig(model=str(tiny_model_dir), base_model_id="fairpp-org/tiny-llama", n_questions=40,
                      test_size=0.3, format="standard", max_steps=3, batch_size=4, learning_rate=1e-3,
                      sft_warmup=True, cpu_threads=1, out=str(tmp_path / "out"), progress=False)
    result = run_align(cfg)
    assert torch.get_num_threads() == threads  # the thread setting is restored
    res = result.results
    assert not res["smoke_scale"] and res["base_model_id"] == "fairpp-org/tiny-llama"
    for name in ("dpo", "wdpo"):
        run = res["runs"][name]
        assert run["sft_steps"] == 3 and run["steps"] == 3 and math.isfinite(run["sft_loss"])
        assert run["sft_training_args"]["max_steps"] == 3
        adapter = Path(run["adapter_dir"])
        assert not (adapter / "ref").exists()  # only the trained adapter, not TRL's frozen reference copy
        assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == \
            "fairpp-org/tiny-llama"
        assert "after SFT warm start" in (adapter / "README.md").read_text()
    assert "SFT warm start: 3 steps" in result.summary() and "SMOKE-SCALE" not in result.summary()
    test = _load_data(cfg)[0]["test"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                      res["runs"]["dpo"]["adapter_dir"])
    probs = position(model, AutoTokenizer.from_pretrained(tiny_model_dir), test, format="standard", progress=False)
    np.testing.assert_allclose(probs.mean(axis=0), res["runs"]["dpo"]["answer_distribution"], atol=1e-5)
