"""WeightedSFTTrainer: each example's token-averaged NLL weighted, checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

trl = pytest.importorskip("trl")

from fairpp_hf.pairs import build_sft  # noqa: E402
from fairpp_hf.synthetic import synthetic_records  # noqa: E402
from fairpp_hf.trainers import WeightedSFTConfig, WeightedSFTTrainer  # noqa: E402


@pytest.fixture(scope="module")
def rows():
    """8 SFT rows (persona 6's answers) with mixed Eq. 1 weights."""
    return build_sft(synthetic_records(8, seed=3), 6)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def load_model(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path)


def config(tmp_path, cls=WeightedSFTConfig, **kw):
    base = dict(
        output_dir=str(tmp_path / "out"), bf16=False, use_cpu=True, report_to="none", activation_checkpointing=False,
        max_length=128, per_device_train_batch_size=8, per_device_eval_batch_size=8, logging_steps=1,
        save_strategy="no", disable_tqdm=True, train_sampling_strategy="sequential", seed=0,
    )
    base.update(kw)
    return cls(**base)


def with_weights(ds, weights):
    return ds.remove_columns("weight").add_column("weight", [float(x) for x in weights])


def first_batch(trainer, n=8):
    trainer.model.train()
    return trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(n)]))


def loss_and_grads(trainer, batch):
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]
    trainer.model.zero_grad()
    return loss.detach(), grads


def close_all(a, b, rtol=1e-5, atol=1e-8):
    assert len(a) == len(b) and len(a) > 0
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=rtol, atol=atol)


def hand_wsft(model, batch, normalization="weighted_mean", dft=False):
    """sum_i w_i * mean_t NLL_it / sum_i w_i, from plain logits (no fused head, no TRL)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    logp = torch.log_softmax(logits.float(), -1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    per_token = -logp * (logp.exp().detach() if dft else 1.0)
    per_example = (per_token * mask).sum(1) / mask.sum(1)
    w = batch["weight"].double()
    denom = w.sum() if normalization == "weighted_mean" else float(len(w))
    return (w * per_example.double()).sum() / denom


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir, tokenizer, rows):
    trainer = WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path_factory.mktemp("wsft")),
                                 train_dataset=rows, processing_class=tokenizer)
    batch = first_batch(trainer)
    assert len(set(batch["weight"].tolist())) > 1
    assert (batch["labels"][:, :5] == -100).all(), "prompt tokens are masked (completion-only loss)"
    return trainer, batch


@pytest.mark.parametrize("normalization", ["weighted_mean", "mean"])
@pytest.mark.parametrize("loss_type", ["nll", "dft"])
def test_mixed_weights_match_hand_computation(setup, normalization, loss_type):
    trainer, batch = setup
    trainer.weight_normalization = normalization
    trainer.args.loss_type = loss_type
    try:
        loss, grads = loss_and_grads(trainer, batch)
        expected = hand_wsft(trainer.model, batch, normalization, dft=loss_type == "dft")
        expected.backward()
        grads_h = [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]
        trainer.model.zero_grad()
    finally:
        trainer.weight_normalization, trainer.args.loss_type = "weighted_mean", "nll"
    torch.testing.assert_close(loss.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    close_all(grads, grads_h, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # the token-pooled (unweighted) loss is different: the weights acted
        pooled = hand_wsft(trainer.model, {**batch, "weight": torch.ones_like(batch["weight"])})
    assert abs(pooled.item() - loss.item()) > 1e-5


def test_single_example_equals_stock_sft(tmp_path, tiny_model_dir, tokenizer, rows, setup):
    """With one example per batch, the per-example average is TRL's token average: losses and grads agree."""
    ours, _ = setup
    stock = trl.SFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, trl.SFTConfig),
                           train_dataset=rows.remove_columns("weight"), processing_class=tokenizer)
    b_stock = first_batch(stock, n=1)
    b_ours = {**first_batch(ours, n=1), "weight": torch.ones(1, dtype=torch.float64)}
    assert torch.equal(b_stock["input_ids"], b_ours["input_ids"])
    loss_s, grads_s = loss_and_grads(stock, b_stock)
    loss_o, grads_o = loss_and_grads(ours, b_ours)
    torch.testing.assert_close(loss_o, loss_s, rtol=1e-6, atol=0)
    close_all(grads_o, grads_s, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("normalization,factor", [("weighted_mean", 1.0), ("mean", 2.0)])
def test_doubling_all_weights(setup, normalization, factor):
    trainer, batch = setup
    trainer.weight_normalization = normalization
    try:
        l1, g1 = loss_and_grads(trainer, {**batch, "weight": torch.ones_like(batch["weight"])})
        l2, g2 = loss_and_grads(trainer, {**batch, "weight": 2 * torch.ones_like(batch["weight"])})
    finally:
        trainer.weight_normalization = "weighted_mean"
    torch.testing.assert_close(l2, factor * l1, rtol=1e-6, atol=0)
    close_all(g2, [factor * g for g in g1], rtol=1e-5, atol=1e-9)


def test_zero_weight_batch(setup):
    trainer, batch = setup
    loss, grads = loss_and_grads(trainer, {**batch, "weight": torch.zeros_like(batch["weight"])})
    assert loss.item() == 0.0
    assert all(torch.count_nonzero(g) == 0 for g in grads)


def test_guard_when_trl_stops_using_the_fused_head(setup):
    """If SFTTrainer took its loss from elsewhere (here: its label-smoothing path, fused head under no_grad),
    training must fail rather than run unweighted."""
    from transformers.trainer_pt_utils import LabelSmoother

    trainer, batch = setup
    trainer.label_smoother = LabelSmoother(epsilon=0.1)
    try:
        with pytest.raises(RuntimeError, match="Refusing to train unweighted"):
            trainer.compute_loss(trainer.model, dict(batch))
    finally:
        trainer.label_smoother = None


def _train_one_step(tmp_path, tiny_model_dir, tokenizer, data, **kw):
    model = load_model(tiny_model_dir)
    args = config(tmp_path, max_steps=1, optim="sgd", learning_rate=0.5, max_grad_norm=0.0, **kw)
    trainer = WeightedSFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    return [p.detach().clone() for p in model.parameters()], [h["loss"] for h in trainer.state.log_history if "loss" in h]


def test_accumulation_and_iterable_match_one_batch(tmp_path, tiny_model_dir, tokenizer, rows):
    """batch 8 == batch 4 x accumulation 2 == the same from an IterableDataset (step-level normalisation)."""
    p8, l8 = _train_one_step(tmp_path / "a", tiny_model_dir, tokenizer, rows)
    p4, l4 = _train_one_step(tmp_path / "b", tiny_model_dir, tokenizer, rows, per_device_train_batch_size=4,
                             gradient_accumulation_steps=2)
    pi, li = _train_one_step(tmp_path / "c", tiny_model_dir, tokenizer, rows.to_iterable_dataset(),
                             per_device_train_batch_size=4, gradient_accumulation_steps=2)
    w = np.asarray(rows["weight"])
    assert abs(w[:4].sum() - w[4:].sum()) > 0.05 * w.sum(), "unequal micro-batch totals make the check meaningful"
    close_all(p4, p8, rtol=1e-5, atol=1e-7)
    close_all(pi, p8, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(l4, l8, rtol=1e-5)
    np.testing.assert_allclose(li, l8, rtol=1e-5)


def test_lora_and_evaluation(tmp_path, tiny_model_dir, tokenizer, rows):
    from peft import LoraConfig

    trainer = WeightedSFTTrainer(
        model=load_model(tiny_model_dir), args=config(tmp_path, max_steps=2, learning_rate=5e-2),
        train_dataset=rows, eval_dataset=rows, processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
    )
    trainer.train()
    metrics = trainer.evaluate()
    batch = first_batch(trainer)
    trainer.model.eval()
    with torch.no_grad():
        expected = hand_wsft(trainer.model, batch)
    assert metrics["eval_loss"] == pytest.approx(expected.item(), rel=1e-5)


# ---- bad input ------------------------------------------------------------------------------------------


def test_missing_column_and_bad_weights(tmp_path, tiny_model_dir, tokenizer, rows):
    with pytest.raises(ValueError, match="no weight column 'weight'"):
        WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path),
                           train_dataset=rows.remove_columns("weight"), processing_class=tokenizer)
    w = np.asarray(rows["weight"], dtype=float).copy()
    w[6] = np.inf
    with pytest.raises(ValueError, match="infinite weight at row 6"):
        WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path),
                           train_dataset=with_weights(rows, w), processing_class=tokenizer)
    w[6] = -2.0
    with pytest.raises(ValueError, match=r"eval dataset: column 'weight' has a negative weight at row 6"):
        WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path), train_dataset=rows,
                           eval_dataset=with_weights(rows, w), processing_class=tokenizer)


def test_settings_that_would_bypass_weights_are_refused(tmp_path, tiny_model_dir, tokenizer, rows):
    with pytest.raises(ValueError, match="packing"):
        config(tmp_path, packing=True)
    with pytest.raises(ValueError, match="label_smoothing_factor"):
        config(tmp_path, label_smoothing_factor=0.1)
    with pytest.raises(ValueError, match="compute_loss_func"):
        WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path), train_dataset=rows,
                           processing_class=tokenizer, compute_loss_func=lambda *a, **k: 0.0)
    with pytest.raises(ValueError, match="weight_normalization='median'"):
        config(tmp_path, weight_normalization="median")


def test_unweighted_mode_is_stock_sft(tmp_path, tiny_model_dir, tokenizer, rows):
    trainer = WeightedSFTTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, weight_column=None),
                                 train_dataset=rows.remove_columns("weight"), processing_class=tokenizer)
    batch = first_batch(trainer)
    assert "weight" not in batch and torch.isfinite(trainer.compute_loss(trainer.model, batch))


def test_wsft_script_trains_from_an_exported_folder(tmp_path, tiny_model_dir, rows):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "trainers" / "wsft.py"
    module = runpy.run_path(str(script), run_name="wsft_script")
    folder = tmp_path / "fair-pp"
    (folder / "sft_persona_6").mkdir(parents=True)
    rows.to_parquet(str(folder / "sft_persona_6" / "train.parquet"))
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: sft_persona_6\n  data_files:\n  - split: train\n"
        "    path: sft_persona_6/train.parquet\n---\n"
    )
    out = tmp_path / "run"
    argv = [
        "--dataset_name", str(folder), "--dataset_config", "sft_persona_6", "--model_name_or_path",
        str(tiny_model_dir), "--output_dir", str(out), "--max_steps", "1", "--per_device_train_batch_size", "4",
        "--bf16", "False", "--use_cpu", "True", "--report_to", "none", "--max_length", "128",
        "--activation_checkpointing", "False", "--save_strategy", "no",
    ]
    script_args, training_args, model_args = module["make_parser"]().parse_args_and_config(args=argv)
    assert isinstance(training_args, WeightedSFTConfig) and training_args.weight_column == "weight"
    module["main"](script_args, training_args, model_args)
    assert (out / "model.safetensors").exists()


def test_command_line_none_spellings_mean_unweighted(tmp_path):
    """`--weight_column None` from a launch script reaches the config as the string "None": it means no column."""
    from fairpp_hf.trainers import WeightedDPOConfig, WeightedSFTConfig

    for config in (WeightedDPOConfig, WeightedSFTConfig):
        for spelling in ("None", "none", ""):
            args = config(output_dir=str(tmp_path), weight_column=spelling, bf16=False, report_to="none")
            assert args.weight_column is None
        assert config(output_dir=str(tmp_path), bf16=False, report_to="none").weight_column == "weight"
