"""Push aligned adapters with their fairness model card to a loopback Hub, and load them back with peft."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hub_server import LoopbackHub
from huggingface_hub import ModelCard

from fairpp_hf.hub import check_hub_id, push_adapter, save_for_hub, set_adapter_base_model
from fairpp_hf.model_card import (
    FairnessCardData,
    attach_fairness_card,
    audit_rows,
    card_data_from_results,
    load_card_data,
    render_model_card,
    sanitize_training_args,
    save_card_data,
)
from fairpp_hf.similarity import persona_similarity

TOKEN = "hf_LoopbackSecret_9f8e7d6c5b4a"
BASE_ID = "fairpp-org/tiny-llama"


@pytest.fixture()
def hub(monkeypatch):
    """A running loopback Hub; in-process clients may talk to it despite the suite's offline default."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with LoopbackHub(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A LoRA adapter with non-zero weights on the tiny Llama, saved with the local base path recorded."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    out = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(out)
    (out / "training_args.bin").write_bytes(b"pickled TrainingArguments with hub_token=" + TOKEN.encode())
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    return out


def _similarity(seed: int = 0, target: int = 6) -> dict:
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 3, size=(60, 7))
    preds = np.where(rng.random(60) < 0.7, refs[:, target - 1], rng.integers(0, 3, size=60))
    return persona_similarity(preds, refs, target_persona=target)


def _card(**kw) -> FairnessCardData:
    fields = dict(
        base_model=BASE_ID, method="WDPO", target_persona=6, synthetic=True, smoke_scale=True,
        training_args={"learning_rate": 5e-7, "beta": 0.1, "hub_token": TOKEN, "num_train_epochs": 1},
        similarity=_similarity(0), comparisons={"base": _similarity(1), "DPO": _similarity(2)},
        audits={"persuasion_bias": {"gender_gap": 0.031, "age_gap": -0.012, "note": "text"}, "formality": 0.5},
    )
    fields.update(kw)
    return FairnessCardData(**fields)


def _logits(model, tokenizer) -> np.ndarray:
    import torch

    batch = tokenizer(["\n\nHuman: Which criterion is fairer?\n\nAssistant: A."], return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits.numpy()


# ------------------------------------------------------------------------------------------------ card
def test_card_states_everything_and_round_trips_model_index():
    data = _card()
    card = render_model_card(data, repo_id="fairpp-tester/tiny-wdpo")
    text = str(card)
    parsed = ModelCard(text)  # the YAML header parses back
    meta = parsed.data
    assert meta.base_model == BASE_ID and meta.library_name == "peft" and meta.base_model_relation == "adapter"
    assert {"synthetic-data", "smoke-test", "persona-6", "wdpo", "lora"} <= set(meta.tags)
    results = meta.eval_results
    sims = {r.metric_config: r.metric_value for r in results if r.metric_type == "persona_js_similarity"}
    assert sims == {f"persona_{k}": pytest.approx(v, abs=1e-6) for k, v in data.similarity["similarity"].items()}
    by_type = {r.metric_type: r.metric_value for r in results}
    assert by_type["persona_js_margin_best"] == pytest.approx(data.similarity["margin_best"], abs=1e-6)
    assert by_type["persona_js_margin_mean"] == pytest.approx(data.similarity["margin_mean"], abs=1e-6)
    assert by_type["persuasion_bias"] in (pytest.approx(0.031), pytest.approx(-0.012))
    assert {r.dataset_name for r in results if r.task_type == "multiple-choice"} == {"Fair-PP (SYNTHETIC sample)"}
    # readable body: warnings, persona table with all three columns, margins, audits, citations
    assert "**SYNTHETIC DATA.**" in text and "**SMOKE-SCALE RUN.**" in text
    assert "| Persona | this model | base | DPO |" in text
    assert "| 6 Disengaged Traditionalists **(target)** |" in text
    assert f"{data.similarity['margin_mean']:.4f}" in text
    assert "| persuasion_bias | gender_gap | 0.0310 |" in text and "| formality | value | 0.5000 |" in text
    assert "2505.11861" in text and "2606.10126" in text
    assert '"learning_rate": 5e-07' in text
    assert TOKEN not in text and "hub_token" not in text


def test_card_without_results_and_input_errors():
    text = str(render_model_card(FairnessCardData(base_model=BASE_ID, method="DPO", target_persona=None)))
    assert "No positioning results" in text and "SYNTHETIC" not in text and "model-index" not in text
    with pytest.raises(ValueError, match="target_persona"):
        FairnessCardData(base_model=BASE_ID, target_persona=9)
    with pytest.raises(ValueError, match="computed for target persona 6, but target_persona=2"):
        FairnessCardData(base_model=BASE_ID, target_persona=2, similarity=_similarity(0))
    with pytest.raises(ValueError, match="audits\\[1\\]"):
        audit_rows([{"audit": "a", "metric": "m", "value": 1.0}, {"value": 2}])
    with pytest.raises(ValueError, match="local path"):
        check_hub_id("/tmp/some/model")
    with pytest.raises(ValueError, match="not a valid Hub repo id"):
        check_hub_id("a/b/c")
    assert sanitize_training_args({"push_to_hub_token": "x", "api_key": "y", "lr": 1.0}) == {"lr": 1.0}


def test_card_data_json_and_align_results_round_trip(tmp_path):
    data = _card(training_args={"learning_rate": 1e-4, "hub_token": TOKEN})
    path = save_card_data(tmp_path, data)
    assert TOKEN not in path.read_text()
    again = load_card_data(tmp_path, method="WDPO-2")
    assert again.method == "WDPO-2" and again.target_persona == 6 and again.training_args == {"learning_rate": 1e-4}
    assert again.similarity["margin_best"] == pytest.approx(data.similarity["margin_best"])
    results = {
        "base_model_id": BASE_ID, "persona": 6, "synthetic": True,
        "runs": {"base": {"method": "base", "similarity": _similarity(1)},
                 "dpo": {"method": "DPO", "similarity": _similarity(2)},
                 "wdpo": {"method": "WDPO", "similarity": _similarity(0), "training_args": {"beta": 0.1}}},
    }
    card = card_data_from_results(json.loads(json.dumps(results)), run="wdpo")
    assert card.method == "WDPO" and set(card.comparisons) == {"base", "DPO"} and card.synthetic
    assert "| 6 Disengaged Traditionalists **(target)** |" in str(render_model_card(card))
    with pytest.raises(ValueError, match="no run 'sft'"):
        card_data_from_results(results, run="sft")


# ------------------------------------------------------------------------------------------------ push
def test_push_adapter_then_load_back_with_peft(hub, adapter_dir, tiny_model_dir, tmp_path, caplog, capsys):
    from huggingface_hub import HfApi
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    caplog.set_level("DEBUG")
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    # The base model lives on the (loopback) Hub under its id, as it would on huggingface.co.
    api.create_repo(BASE_ID, exist_ok=True)
    api.upload_folder(repo_id=BASE_ID, folder_path=tiny_model_dir)

    repo_id = "fairpp-tester/tiny-wdpo-persona6"
    commit = push_adapter(adapter_dir, repo_id, base_model_id=BASE_ID, card=_card(), token=TOKEN,
                          endpoint=hub.endpoint)
    assert commit.oid == hub.repo(repo_id).commits[-1].oid
    assert hub.repo(repo_id).private is True  # private by default
    files = hub.files(repo_id)
    assert set(files) == {"README.md", "adapter_config.json", "adapter_model.safetensors"}
    assert json.loads(files["adapter_config.json"])["base_model_name_or_path"] == BASE_ID
    for name, content in files.items():
        assert TOKEN.encode() not in content, name
    card = ModelCard(files["README.md"].decode())
    assert card.data.base_model == BASE_ID and "2505.11861" in card.text
    # the push made the Hub calls a real push makes, authenticated, and validated the card
    calls = [(r.method, r.path.split("?")[0]) for r in hub.requests]
    for call in [("POST", "/api/repos/create"), ("POST", "/api/validate-yaml"),
                 ("POST", f"/api/models/{repo_id}/preupload/main"), ("POST", f"/api/models/{repo_id}/commit/main")]:
        assert call in calls
    # the local folder is untouched (still names the local base) and no token reached any log or output
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    out = capsys.readouterr()
    assert TOKEN not in caplog.text + out.out + out.err

    # Load back in a fresh process that only knows the Hub: AutoPeftModel resolves the base by its Hub id.
    script = textwrap.dedent(f"""
        import numpy as np, torch
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RepositoryNotFoundError
        from peft import AutoPeftModelForCausalLM
        from transformers import AutoTokenizer
        try:
            hf_hub_download({repo_id!r}, "adapter_config.json", token=False)
            raise SystemExit("private repo readable without a token")
        except RepositoryNotFoundError:
            pass
        model = AutoPeftModelForCausalLM.from_pretrained({repo_id!r})
        tok = AutoTokenizer.from_pretrained({BASE_ID!r})
        batch = tok(["\\n\\nHuman: Which criterion is fairer?\\n\\nAssistant: A."], return_tensors="pt")
        with torch.no_grad():
            np.save("logits.npy", model(**batch).logits.numpy())
        print("base:", model.peft_config["default"].base_model_name_or_path)
    """)
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HUB_OFFLINE="0",
               HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"base: {BASE_ID}" in proc.stdout
    assert TOKEN not in proc.stdout + proc.stderr

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    local = PeftModel.from_pretrained(base, adapter_dir)
    expected = _logits(local, AutoTokenizer.from_pretrained(tiny_model_dir))
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), expected, rtol=1e-5, atol=1e-6)
    # and the adapter actually changes the model (the comparison above is not vacuous)
    plain = _logits(AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir))
    assert np.abs(plain - expected).max() > 1e-4


def test_push_merged_model(hub, adapter_dir, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    repo_id = "fairpp-tester/tiny-wdpo-merged"
    push_adapter(adapter_dir, repo_id, base_model_id=BASE_ID, card=_card(), merge=True,
                 base_model_path=str(tiny_model_dir), token=TOKEN, endpoint=hub.endpoint, private=False)
    files = hub.files(repo_id)
    assert hub.repo(repo_id).private is False
    assert "model.safetensors" in files and "config.json" in files and "adapter_config.json" not in files
    card = ModelCard(files["README.md"].decode())
    assert card.data.library_name == "transformers" and card.data.base_model_relation == "finetune"
    # the merged weights give the adapter's outputs
    local_dir = Path(adapter_dir).parent / "merged-download"
    local_dir.mkdir(exist_ok=True)
    for name, content in files.items():
        (local_dir / name).write_bytes(content)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    merged = AutoModelForCausalLM.from_pretrained(local_dir)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), adapter_dir)
    np.testing.assert_allclose(_logits(merged, tok), _logits(adapted, tok), rtol=1e-4, atol=1e-5)


def test_push_refuses_token_in_files_and_local_base(hub, adapter_dir, tmp_path):
    with pytest.raises(RuntimeError, match="contains the Hub token") as info:
        push_adapter(adapter_dir, "fairpp-tester/leaky", base_model_id=BASE_ID, notes=f"token {TOKEN}",
                     token=TOKEN, endpoint=hub.endpoint)
    assert TOKEN not in str(info.value)
    assert ("model", "fairpp-tester/leaky") not in hub.repos  # nothing was created or uploaded
    with pytest.raises(ValueError, match="local path"):
        push_adapter(adapter_dir, "fairpp-tester/x", base_model_id=str(tmp_path), token=TOKEN, endpoint=hub.endpoint)
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        save_for_hub(tmp_path, tmp_path / "out", base_model_id=BASE_ID)
    with pytest.raises(FileNotFoundError):
        set_adapter_base_model(tmp_path, BASE_ID)


def test_push_command(hub, adapter_dir, tmp_path, monkeypatch, capsys):
    from fairpp_hf.commands import push

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    save_card_data(adapter_dir, _card(method="WDPO", target_persona=6))
    parser = argparse.ArgumentParser()
    push.add_arguments(parser)
    args = parser.parse_args([str(adapter_dir), "--repo-id", "fairpp-tester/cli-push", "--endpoint", hub.endpoint])
    assert push.run(args) == 0
    out = capsys.readouterr().out
    assert "Pushed adapter to fairpp-tester/cli-push (private)" in out and TOKEN not in out
    files = hub.files("fairpp-tester/cli-push")
    assert "fairness_card.json" not in files and "training_args.bin" not in files
    text = files["README.md"].decode()
    assert "**SYNTHETIC DATA.**" in text and "| 6 Disengaged Traditionalists **(target)** |" in text
    # --dry-run writes the folder and pushes nothing
    args = parser.parse_args([str(adapter_dir), "--repo-id", "fairpp-tester/dry", "--dry-run", str(tmp_path / "dry"),
                              "--method", "DPO"])
    assert push.run(args) == 0
    assert "method: DPO" in (tmp_path / "dry" / "README.md").read_text().replace("**Method:** DPO", "method: DPO")
    assert ("model", "fairpp-tester/dry") not in hub.repos


def test_trainer_push_to_hub_carries_the_card(hub, tiny_model_dir, tmp_path, monkeypatch):
    """A stock TRL DPOTrainer with attach_fairness_card pushes the fairness card and a Hub-id adapter config."""
    import datasets
    import huggingface_hub.constants as hf_constants
    import transformers.utils.hub as tf_hub
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(tf_hub, "_hf_api", None)  # transformers' shared HfApi picks the endpoint up when built
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    train = datasets.Dataset.from_dict({"prompt": ["\n\nHuman: Q?\n\nAssistant:"] * 4, "chosen": [" A. yes"] * 4,
                                        "rejected": [" B. no"] * 4})
    args = DPOConfig(output_dir=str(tmp_path / "run"), per_device_train_batch_size=2, max_steps=1, bf16=False,
                     use_cpu=True, gradient_checkpointing=False, report_to="none", hub_model_id="fairpp-tester/trained",
                     hub_token=TOKEN, save_strategy="no", logging_steps=1)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir), args=args, train_dataset=train,
                         processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
                         peft_config=LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    trainer.train()
    attach_fairness_card(trainer, _card(training_args=None, comparisons=None))
    assert isinstance(trainer, DPOTrainer) and type(trainer).__name__ == "DPOTrainer"
    trainer.push_to_hub()
    files = hub.files("fairpp-tester/trained")
    text = files["README.md"].decode()
    assert "| 6 Disengaged Traditionalists **(target)** |" in text and "2606.10126" in text
    assert '"beta": 0.1' in text  # the trainer's own DPOConfig became the card's training arguments
    assert json.loads(files["adapter_config.json"])["base_model_name_or_path"] == BASE_ID
    for name, content in files.items():
        assert TOKEN.encode() not in content, name


def test_save_for_hub_from_a_peft_model_instance(tiny_model_dir, tmp_path):
    """A live PeftModel (as after training) is saved with the Hub id in its config and a real-data card."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    folder = save_for_hub(model, tmp_path / "hub", base_model_id=BASE_ID, method="WDPO", target_persona=3,
                          tokenizer=AutoTokenizer.from_pretrained(tiny_model_dir), similarity=_similarity(3, target=3))
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == BASE_ID
    assert (folder / "tokenizer.json").is_file()
    card = ModelCard.load(folder / "README.md")
    assert card.data.datasets == ["tools-o/Fair-PP"] and "synthetic-data" not in card.data.tags
    assert "| 3 Disengaged Battlers **(target)** |" in card.text and "SYNTHETIC" not in card.text
    with pytest.raises(TypeError, match="not a peft model"):
        save_for_hub(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "x", base_model_id=BASE_ID)
