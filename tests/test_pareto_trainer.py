"""ParetoTeacherDPOTrainer end to end on the tiny Llama: teacher -> gate -> Pareto -> SFT warm start -> DPO."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pandas as pd
import pytest
import torch

from fairpp_hf.teachers import TransformersTeacher
from fairpp_hf.trainers.pareto_teacher import ParetoTeacherDPOConfig, ParetoTeacherDPOTrainer


def grid_items() -> pd.DataFrame:
    rows = []
    for cell, (stance, theme, age, region) in enumerate([
        ("Clean-Energy", "Economy", "Senior (65+)", "Midwest"),
        ("Pro-Energy", "Patriotism", "Young Adult (18-24)", "West"),
        ("Clean-Energy", "Animals", "Early Working Age Group (25-44)", "Northeast"),
    ]):
        for gender in ("Male", "Female"):
            rows.append({"id": f"c{cell}-{gender}", "stance": stance, "theme": theme, "age": age, "gender": gender,
                         "region": region,
                         "prompt": f"Generate a {theme} themed message in 50 words encouraging {age}, {gender} "
                                   f"from the {region} of US to adopt {stance}.",
                         "output": f"{'Act now!!' if gender == 'Female' else 'Consider it.'} {stance} helps {theme}."})
    return pd.DataFrame(rows)


def text_scorer(texts, rows):
    """Cheap deterministic scores from surface features (the audit modules are tested elsewhere)."""
    t = pd.Series(texts, dtype=str)
    return pd.DataFrame({
        "exclaim": t.str.count("!") / 5.0,
        "length": t.str.len() / 100.0,
        "fidelity": np.ones(len(t)),
    })


def config(tmp_path, **kw) -> ParetoTeacherDPOConfig:
    opts = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, max_steps=2, learning_rate=1e-3,
                logging_steps=1, save_strategy="no", report_to="none", bf16=False, use_cpu=True,
                activation_checkpointing=False, max_length=256, disable_tqdm=True, seed=0,
                audits=["exclaim", "length"], stance_threshold=None, max_theme_drop=None, min_fidelity=0.5)
    opts.update(kw)
    return ParetoTeacherDPOConfig(**opts)


def test_end_to_end_lora_with_warm_start(tiny_model_dir, tmp_path):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    teacher_model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    teacher = TransformersTeacher(teacher_model, tok, batch_size=6, max_new_tokens=12,
                                  cache_path=tmp_path / "teacher.jsonl")
    args = config(tmp_path, num_revisions=3, gate_tolerance=5.0, require_improvement=False, sft_warm_start=True,
                  sft_max_steps=2, sft_learning_rate=1e-3, rejected_source="both")
    trainer = ParetoTeacherDPOTrainer(
        model, args=args, processing_class=tok, teacher=teacher, items=grid_items(), scorer=text_scorer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    data = trainer.teacher_data
    assert data.report["candidates"] == 18 and teacher.last_stats["total"] == 18
    assert len(data.dpo) == len(trainer.train_dataset) > 0
    assert set(data.dpo["rejected_source"]) <= {"original", "dominated_candidate"}
    assert data.dpo.column_names[:4] == ["prompt", "chosen", "rejected", "weight"]
    for row in data.dpo:  # chosen is the selected revision of the item, rejected its original or a revision
        item = grid_items().set_index("id").loc[row["item_id"]]
        assert row["prompt"] == item["prompt"]
        if row["rejected_source"] == "original":
            assert row["rejected"] == item["output"]
    saved = tmp_path / "out" / "teacher_alignment"
    assert json.loads((saved / "report.json").read_text())["dpo_rows"] == len(data.dpo)
    assert trainer.sft_log_history and any("loss" in h for h in trainer.sft_log_history)
    assert "ref" in trainer.model.peft_config  # the warm-started adapter is the DPO reference
    lora_b = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n and "default" in n}
    assert any(v.abs().sum() > 0 for v in lora_b.values())  # warm start moved the adapter off its zero init
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 2 and all(np.isfinite(losses))
    after = {n: p for n, p in trainer.model.named_parameters() if n in lora_b}
    assert any(not torch.equal(after[n], lora_b[n]) for n in lora_b)


def _pairs() -> datasets.Dataset:
    return datasets.Dataset.from_dict({
        "prompt": ["Say hi to seniors.", "Say hi to young adults.", "Write to women.", "Write to men."],
        "chosen": [" Hello friends, clean energy helps.", " Hi all, energy helps.", " Dear reader.", " Dear reader."],
        "rejected": [" You must act now!!", " Do it now!!", " Act!!", " Hurry!!"],
    })


def test_prebuilt_pairs_match_stock_dpo(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    common = dict(per_device_train_batch_size=2, max_steps=2, learning_rate=1e-3, logging_steps=1,
                  save_strategy="no", report_to="none", bf16=False, use_cpu=True, activation_checkpointing=False,
                  max_length=128, disable_tqdm=True, seed=0)
    ours = ParetoTeacherDPOTrainer(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                   args=ParetoTeacherDPOConfig(output_dir=str(tmp_path / "a"), **common),
                                   train_dataset=_pairs(), processing_class=tok)
    ours.train()
    stock = DPOTrainer(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                       args=DPOConfig(output_dir=str(tmp_path / "b"), **common), train_dataset=_pairs(),
                       processing_class=tok)
    stock.train()
    ours_l = [h["loss"] for h in ours.state.log_history if "loss" in h]
    stock_l = [h["loss"] for h in stock.state.log_history if "loss" in h]
    assert len(ours_l) == 2 and ours_l == pytest.approx(stock_l, rel=1e-4, abs=1e-6)


def test_full_finetune_warm_start_reference_is_warm_model(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = ParetoTeacherDPOTrainer(model, args=config(tmp_path, sft_warm_start=True, sft_max_steps=2,
                                                         sft_learning_rate=1e-2),
                                      train_dataset=_pairs(), processing_class=tok)
    ref = dict(trainer.ref_model.named_parameters())
    assert not any(p.requires_grad for p in ref.values())
    pol = dict(trainer.model.named_parameters())
    assert all(torch.equal(ref[n], pol[n]) for n in ref)  # reference == warm-started policy
    assert any(not torch.equal(ref[n], before[n]) for n in ref)  # ... not the weights before the warm start


def test_nothing_admissible_is_a_clear_error(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    class EchoTeacher:  # revisions identical to the originals: nothing improves
        last_stats: dict = {}

        def revise(self, items, k):
            from fairpp_hf.teachers import Candidate

            return [Candidate(r["id"], i, r["output"], "ok", teacher="echo") for _, r in items.iterrows()
                    for i in range(k)]

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="no preference pairs.*improves no audit"):
        ParetoTeacherDPOTrainer(AutoModelForCausalLM.from_pretrained(tiny_model_dir), args=config(tmp_path),
                                processing_class=tok, teacher=EchoTeacher(), items=grid_items(), scorer=text_scorer)
    with pytest.raises(ValueError, match="either train_dataset or items"):
        ParetoTeacherDPOTrainer(AutoModelForCausalLM.from_pretrained(tiny_model_dir), args=config(tmp_path),
                                processing_class=tok, teacher=EchoTeacher(), train_dataset=_pairs())


def _script():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "trainers" / "pareto_dpo.py"
    spec = importlib.util.spec_from_file_location("pareto_dpo_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return path, module


def test_launch_script_prebuilt_pairs_lora_warm_start(tiny_model_dir, tmp_path):
    import subprocess
    import sys

    path, _ = _script()
    _pairs().to_json(tmp_path / "pairs.jsonl")
    cmd = [sys.executable, str(path), "--model_name_or_path", str(tiny_model_dir), "--dataset_name", "pairs.jsonl",
           "--sft_warm_start", "--sft_max_steps", "1", "--use_peft", "--lora_r", "4",
           "--lora_target_modules", "q_proj", "v_proj", "--max_steps", "1", "--per_device_train_batch_size", "2",
           "--bf16", "false", "--use_cpu", "--report_to", "none", "--save_strategy", "no", "--max_length", "128",
           "--output_dir", "out"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "adapter_config.json").is_file()
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


def test_launch_script_items_and_teacher(tiny_model_dir, tmp_path):
    _, script = _script()
    grid_items().drop(columns=["prompt", "id"]).to_json(tmp_path / "items.jsonl", orient="records", lines=True)
    args = script.TeacherScriptArguments(items=str(tmp_path / "items.jsonl"), teacher="transformers",
                                         teacher_model=str(tiny_model_dir), teacher_max_new_tokens=4)
    items = script.load_items(args)
    assert items["id"].tolist() == [f"row{i}" for i in range(6)]
    assert items["output"].tolist() == grid_items()["output"].tolist()
    assert items["prompt"].tolist() == grid_items()["prompt"].tolist()  # the grid template
    teacher = script.build_teacher(args, config(tmp_path, teacher_cache=str(tmp_path / "c.jsonl")))
    assert isinstance(teacher, TransformersTeacher) and teacher.cache.path == tmp_path / "c.jsonl"
    openai_args = script.TeacherScriptArguments(items="x", teacher="openai", teacher_model="m",
                                                teacher_api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(ValueError, match="NO_SUCH_KEY_VAR"):
        script.build_teacher(openai_args, config(tmp_path))
