"""WeightedDPOTrainer against the stock DPOTrainer and against an independent hand computation of WDPO."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

trl = pytest.importorskip("trl")

from fairpp_hf.pairs import build_pairs  # noqa: E402
from fairpp_hf.synthetic import synthetic_records  # noqa: E402
from fairpp_hf.trainers import WeightedDPOConfig, WeightedDPOTrainer  # noqa: E402

BETA = 0.1


@pytest.fixture(scope="module")
def pairs():
    """16 preference pairs (8 questions, persona 6) with their Eq. 1 weights (mixed values)."""
    return build_pairs(synthetic_records(8, seed=3), 6)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def load_model(path, noise_seed: int | None = None):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    if noise_seed is not None:  # a reference model that differs from the policy, so per-example losses differ
        g = torch.Generator().manual_seed(noise_seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def config(tmp_path, cls=WeightedDPOConfig, **kw):
    base = dict(
        output_dir=str(tmp_path / "out"), bf16=False, use_cpu=True, report_to="none", activation_checkpointing=False,
        max_length=128, per_device_train_batch_size=8, per_device_eval_batch_size=8, logging_steps=1,
        save_strategy="no", disable_tqdm=True, train_sampling_strategy="sequential", beta=BETA, seed=0,
    )
    base.update(kw)
    return cls(**base)


def with_weights(ds, weights):
    return ds.remove_columns("weight").add_column("weight", [float(x) for x in weights])


def first_batch(trainer, n=8):
    trainer.model.train()
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(n)])
    return trainer._prepare_inputs(batch)


def loss_and_grads(trainer, batch):
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]
    trainer.model.zero_grad()
    return loss.detach(), grads


def close_grads(a, b, rtol=1e-5, atol=1e-8):
    assert len(a) == len(b) and len(a) > 0
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=rtol, atol=atol)


def completion_logps(model, batch):
    """Independent per-row completion log-probabilities (sum over completion tokens) and token counts."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    mask = batch["completion_mask"][:, 1:].float()
    return (logp * mask).sum(1), mask.sum(1)


def hand_wdpo(trainer, ref_model, batch, loss="sigmoid", sft_weight=0.0, normalization="weighted_mean"):
    """WDPO written from the paper: sum(w * l) / sum(w) (or mean(w * l)) + optional token-weighted SFT term."""
    w = batch["weight"].double()
    logps, n = completion_logps(trainer.model, batch)
    with torch.no_grad():
        ref, _ = completion_logps(ref_model, batch)
    pc, pr = logps.chunk(2)
    rc, rr = ref.chunk(2)
    delta = (pc - rc) - (pr - rr)
    if loss != "sigmoid":
        raise ValueError(loss)
    per = -F.logsigmoid(BETA * delta).double()
    denom = w.sum() if normalization == "weighted_mean" else torch.tensor(float(len(w)), dtype=torch.float64)
    total = (w * per).sum() / denom
    if sft_weight:
        nc, _ = n.chunk(2)
        nll = -pc.double()
        sft_denom = (w * nc).sum() if normalization == "weighted_mean" else nc.sum().double()
        total = total + sft_weight * (w * nll).sum() / sft_denom
    return total


# ---- equality with the stock trainer ---------------------------------------------------------------


@pytest.mark.parametrize("loss_type", [["sigmoid"], ["sigmoid", "sft"]])
def test_unit_weights_equal_stock_dpo_loss_and_grads(tmp_path, tiny_model_dir, tokenizer, pairs, loss_type):
    ones = with_weights(pairs, np.ones(len(pairs)))
    kw = dict(loss_type=loss_type, loss_weights=[1.0, 0.5][: len(loss_type)])
    stock = trl.DPOTrainer(
        model=load_model(tiny_model_dir), args=config(tmp_path, trl.DPOConfig, **kw), train_dataset=ones,
        processing_class=tokenizer,
    )
    ours = WeightedDPOTrainer(
        model=load_model(tiny_model_dir), args=config(tmp_path, **kw), train_dataset=ones, processing_class=tokenizer
    )
    b_stock, b_ours = first_batch(stock), first_batch(ours)
    assert torch.equal(b_stock["input_ids"], b_ours["input_ids"])
    assert ours.weight_column in b_ours and ours.weight_column not in b_stock
    loss_s, grads_s = loss_and_grads(stock, b_stock)
    loss_o, grads_o = loss_and_grads(ours, b_ours)
    exact = loss_type == ["sigmoid"]  # the sft term is summed in another order: equal to rounding
    torch.testing.assert_close(loss_o, loss_s, rtol=0 if exact else 1e-6, atol=0)
    close_grads(grads_o, grads_s, rtol=0 if exact else 1e-5, atol=0 if exact else 1e-9)


def test_unit_weights_train_like_stock_with_accumulation(tmp_path, tiny_model_dir, tokenizer, pairs):
    """Two optimizer steps of batch 4 x accumulation 2: same logged losses and parameters as DPOTrainer.
    (TRL's "sft" term is a token mean per micro-batch, ours pools tokens over the optimizer step, so mixes with
    "sft" agree with TRL only without accumulation: see the test above.)"""
    ones = with_weights(pairs, np.ones(len(pairs)))
    kw = dict(per_device_train_batch_size=4, gradient_accumulation_steps=2, max_steps=2, learning_rate=1e-3)
    runs = {}
    for name, cls, cfg_cls in (("stock", trl.DPOTrainer, trl.DPOConfig), ("ours", WeightedDPOTrainer, WeightedDPOConfig)):
        model = load_model(tiny_model_dir)
        trainer = cls(model=model, args=config(tmp_path / name, cfg_cls, **kw), train_dataset=ones,
                      processing_class=tokenizer)
        trainer.train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        runs[name] = (losses, [p.detach().clone() for p in model.parameters()])
    assert len(runs["ours"][0]) == 2
    np.testing.assert_allclose(runs["ours"][0], runs["stock"][0], rtol=1e-6)
    close_grads(runs["ours"][1], runs["stock"][1], rtol=1e-6, atol=1e-7)


# ---- the weighted objective ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weighted_setup(tmp_path_factory, tiny_model_dir, tokenizer, pairs):
    """A trainer with an explicit, different reference model and mixed Eq. 1 weights (batch of 8)."""
    tmp = tmp_path_factory.mktemp("wdpo")
    ref = load_model(tiny_model_dir, noise_seed=7)
    trainer = WeightedDPOTrainer(
        model=load_model(tiny_model_dir), ref_model=ref, args=config(tmp), train_dataset=pairs,
        processing_class=tokenizer,
    )
    batch = first_batch(trainer)
    assert len(set(batch["weight"].tolist())) > 1, "the test needs mixed weights"
    return trainer, ref, batch


@pytest.mark.parametrize("normalization", ["weighted_mean", "mean"])
@pytest.mark.parametrize("loss", ["sigmoid"])
def test_mixed_weights_match_hand_computation(weighted_setup, loss, normalization):
    trainer, ref, batch = weighted_setup
    trainer.weight_normalization = normalization
    trainer.loss_types, trainer.loss_weights = [loss], [1.0]
    try:
        loss_o, grads_o = loss_and_grads(trainer, batch)
        trainer.model.zero_grad()
        expected = hand_wdpo(trainer, ref, batch, loss=loss, normalization=normalization)
        expected.backward()
        grads_h = [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]
        trainer.model.zero_grad()
    finally:
        trainer.weight_normalization = "weighted_mean"
        trainer.loss_types, trainer.loss_weights = ["sigmoid"], [1.0]
    assert abs(loss_o.item() - math.log(2)) > 1e-4, "policy and reference must differ for a meaningful check"
    torch.testing.assert_close(loss_o.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    close_grads(grads_o, grads_h, rtol=1e-4, atol=1e-6)
    # an unweighted mean would differ: the weights really acted
    unweighted = hand_wdpo(trainer, ref, {**batch, "weight": torch.ones_like(batch["weight"])}, loss=loss)
    assert abs(unweighted.item() - loss_o.item()) > 1e-5


def test_sigmoid_sft_mix_matches_hand_computation(weighted_setup):
    trainer, ref, batch = weighted_setup
    trainer._has_sft, trainer._sft_weight = True, 0.5
    try:
        loss_o, grads_o = loss_and_grads(trainer, batch)
        expected = hand_wdpo(trainer, ref, batch, loss="sigmoid", sft_weight=0.5)
        expected.backward()
        grads_h = [p.grad.detach().clone() for p in trainer.model.parameters() if p.grad is not None]
        trainer.model.zero_grad()
    finally:
        trainer._has_sft, trainer._sft_weight = False, 0.0
    torch.testing.assert_close(loss_o.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    close_grads(grads_o, grads_h, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("loss", ["ipo", "exo_pair", "robust", "bco_pair", "sppo_hard", "apo_down", "discopop",
                                  "sigmoid_norm"])
def test_every_per_sequence_loss_is_weighted_linearly(weighted_setup, loss):
    """Loss with weights w == sum_i w_i * (loss with one-hot weight e_i) / sum(w): each l_i is weighted."""
    trainer, _, full = weighted_setup
    batch = first_batch(trainer, n=4)
    batch["weight"] = full["weight"][:4]
    trainer.loss_types, trainer.loss_weights = [loss], [1.0]
    trainer.label_smoothing = 0.1 if loss in ("robust", "exo_pair") else 0.0
    try:
        with torch.no_grad():
            total = trainer.compute_loss(trainer.model, dict(batch)).double()
            w = batch["weight"]
            eye = torch.eye(len(w), dtype=w.dtype)
            singles = torch.stack(
                [trainer.compute_loss(trainer.model, {**batch, "weight": eye[i]}).double() for i in range(len(w))]
            )
    finally:
        trainer.loss_types, trainer.loss_weights, trainer.label_smoothing = ["sigmoid"], [1.0], 0.0
    expected = (w * singles).sum() / w.sum()
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=1e-7)
    assert singles.std() > 0 and w.std() > 0  # per-example losses and weights differ, so the check can fail


@pytest.mark.parametrize("normalization,factor", [("weighted_mean", 1.0), ("mean", 2.0)])
def test_doubling_all_weights(weighted_setup, normalization, factor):
    trainer, _, batch = weighted_setup
    trainer.weight_normalization = normalization
    try:
        loss1, grads1 = loss_and_grads(trainer, {**batch, "weight": torch.ones_like(batch["weight"])})
        loss2, grads2 = loss_and_grads(trainer, {**batch, "weight": 2 * torch.ones_like(batch["weight"])})
    finally:
        trainer.weight_normalization = "weighted_mean"
    torch.testing.assert_close(loss2, factor * loss1, rtol=1e-6, atol=0)
    close_grads(grads2, [factor * g for g in grads1], rtol=1e-5, atol=1e-9)


def test_zero_weight_batch_contributes_nothing(weighted_setup):
    trainer, _, batch = weighted_setup
    zero = {**batch, "weight": torch.zeros_like(batch["weight"])}
    loss, grads = loss_and_grads(trainer, zero)
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert all(torch.count_nonzero(g) == 0 for g in grads)
    # zero weight on one example removes exactly that example
    w = batch["weight"].clone()
    w[0] = 0.0
    part, _ = loss_and_grads(trainer, {**batch, "weight": w})
    rest = {k: (torch.cat([v[1:8], v[9:]]) if k in ("input_ids", "attention_mask", "completion_mask") else v[1:])
            for k, v in batch.items()}
    only_rest, _ = loss_and_grads(trainer, rest)
    torch.testing.assert_close(part, only_rest, rtol=1e-5, atol=1e-7)


def test_zero_weight_micro_batch_in_accumulation(tmp_path, tiny_model_dir, tokenizer, pairs):
    """GA 2, first micro-batch all zero: the step equals training on the second micro-batch alone; all-zero data
    trains to a logged loss of 0 with no NaN and unchanged parameters."""
    w = np.asarray(pairs["weight"], dtype=float).copy()
    w[:4] = 0.0
    kw = dict(per_device_train_batch_size=4, max_steps=1, learning_rate=0.5, optim="sgd", max_grad_norm=0.0)
    m_acc = load_model(tiny_model_dir)
    acc = WeightedDPOTrainer(model=m_acc, args=config(tmp_path / "a", gradient_accumulation_steps=2, **kw),
                             train_dataset=with_weights(pairs, w).select(range(8)), processing_class=tokenizer)
    acc.train()
    m_one = load_model(tiny_model_dir)
    one = WeightedDPOTrainer(model=m_one, args=config(tmp_path / "b", **kw),
                             train_dataset=with_weights(pairs, w).select(range(4, 8)), processing_class=tokenizer)
    one.train()
    close_grads([p.detach() for p in m_acc.parameters()], [p.detach() for p in m_one.parameters()], rtol=1e-5, atol=1e-7)
    la = [h["loss"] for h in acc.state.log_history if "loss" in h]
    lo = [h["loss"] for h in one.state.log_history if "loss" in h]
    np.testing.assert_allclose(la, lo, rtol=1e-5)

    m_zero = load_model(tiny_model_dir)
    before = [p.detach().clone() for p in m_zero.parameters()]
    zero = WeightedDPOTrainer(model=m_zero, args=config(tmp_path / "c", **kw),
                              train_dataset=with_weights(pairs, np.zeros(len(pairs))).select(range(4)),
                              processing_class=tokenizer)
    zero.train()
    logged = [h["loss"] for h in zero.state.log_history if "loss" in h]
    assert logged == [0.0]
    close_grads([p.detach() for p in m_zero.parameters()], before, rtol=0, atol=0)


# ---- LoRA, precompute, iterable data, evaluation ---------------------------------------------------


def test_lora_with_precomputed_reference(tmp_path, tiny_model_dir, tokenizer, pairs):
    from peft import LoraConfig

    lora = dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    kw = dict(precompute_ref_log_probs=True, per_device_train_batch_size=4, max_steps=2, learning_rate=5e-2)
    ones = with_weights(pairs, np.ones(len(pairs))).select(range(8))
    logged, trainers = {}, {}
    for name, cls, cfg_cls in (("stock", trl.DPOTrainer, trl.DPOConfig), ("ours", WeightedDPOTrainer, WeightedDPOConfig)):
        trainer = cls(model=load_model(tiny_model_dir), args=config(tmp_path / name, cfg_cls, **kw),
                      train_dataset=ones, processing_class=tokenizer, peft_config=LoraConfig(**lora))
        assert "ref_chosen_logps" in trainer.train_dataset.column_names
        trainer.train()
        logged[name], trainers[name] = [h["loss"] for h in trainer.state.log_history if "loss" in h], trainer
    np.testing.assert_allclose(logged["ours"], logged["stock"], rtol=1e-6)
    assert logged["ours"][1] != pytest.approx(math.log(2), abs=1e-6)  # the adapter moved

    trainer = trainers["ours"]  # mixed weights on the trained adapter: each example's loss is weighted
    batch = first_batch(trainer, n=4)
    assert "ref_chosen_logps" in batch
    w = torch.as_tensor(np.asarray(pairs["weight"], dtype=float)[:4])
    with torch.no_grad():
        total = trainer.compute_loss(trainer.model, {**batch, "weight": w}).double()
        eye = torch.eye(len(w), dtype=w.dtype)
        singles = torch.stack(
            [trainer.compute_loss(trainer.model, {**batch, "weight": eye[i]}).double() for i in range(len(w))]
        )
    torch.testing.assert_close(total, (w * singles).sum() / w.sum(), rtol=1e-5, atol=1e-7)
    assert singles.std() > 0 and w.std() > 0
    # a new eval set after training: reference log-probs are precomputed for it without the weight reaching the model
    metrics = trainer.evaluate(pairs.select(range(8, 12)))
    assert np.isfinite(metrics["eval_loss"])


def test_iterable_dataset_matches_map_style(tmp_path, tiny_model_dir, tokenizer, pairs):
    data = pairs.select(range(8))
    kw = dict(per_device_train_batch_size=4, gradient_accumulation_steps=2, max_steps=1, learning_rate=0.5,
              optim="sgd", max_grad_norm=0.0)
    params, losses = {}, {}
    for name, ds in (("map", data), ("iter", data.to_iterable_dataset())):
        model = load_model(tiny_model_dir)
        trainer = WeightedDPOTrainer(model=model, args=config(tmp_path / name, **kw), train_dataset=ds,
                                     processing_class=tokenizer)
        trainer.train()
        params[name] = [p.detach().clone() for p in model.parameters()]
        losses[name] = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    close_grads(params["iter"], params["map"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(losses["iter"], losses["map"], rtol=1e-6)


def test_evaluation_loss_is_weighted(weighted_setup, pairs):
    trainer, ref, _ = weighted_setup
    eval_ds = pairs.select(range(8))
    metrics = trainer.evaluate(eval_ds)
    batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(8)]))
    trainer.model.eval()
    with torch.no_grad():
        expected = hand_wdpo(trainer, ref, batch)
    trainer.model.train()
    assert metrics["eval_loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_unweighted_mode_is_plain_dpo_and_allows_aot(tmp_path, tiny_model_dir, tokenizer, pairs):
    no_weight = pairs.remove_columns("weight")
    trainer = WeightedDPOTrainer(model=load_model(tiny_model_dir),
                                 args=config(tmp_path, weight_column=None, loss_type=["aot"]),
                                 train_dataset=no_weight, processing_class=tokenizer)
    batch = first_batch(trainer)
    assert "weight" not in batch
    assert torch.isfinite(trainer.compute_loss(trainer.model, batch))


# ---- the override cannot silently stop applying -----------------------------------------------------


def test_guard_when_trl_stops_reading_the_weights(weighted_setup):
    """If DPOTrainer stopped applying per-sequence weights, training must fail rather than run unweighted."""
    trainer, _, batch = weighted_setup
    trainer.use_weighting = False  # what a TRL change that drops the hook would look like
    try:
        with pytest.raises(RuntimeError, match="Refusing to train unweighted"):
            trainer.compute_loss(trainer.model, dict(batch))
    finally:
        trainer.use_weighting = True


def test_plain_dpo_config_is_accepted(tmp_path, tiny_model_dir, tokenizer, pairs):
    trainer = WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, trl.DPOConfig),
                                 train_dataset=pairs, processing_class=tokenizer)
    assert trainer.weight_column == "weight" and trainer.weight_normalization == "weighted_mean"
    assert "weight" in first_batch(trainer)


# ---- bad input ------------------------------------------------------------------------------------------


def test_missing_weight_column_names_it(tmp_path, tiny_model_dir, tokenizer, pairs):
    with pytest.raises(ValueError, match="no weight column 'weight'"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path),
                           train_dataset=pairs.remove_columns("weight"), processing_class=tokenizer)
    with pytest.raises(ValueError, match="no weight column 'fair_w'"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, weight_column="fair_w"),
                           train_dataset=pairs, processing_class=tokenizer)
    with pytest.raises(ValueError, match=r"eval\['test'\] dataset has no weight column"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path), train_dataset=pairs,
                           eval_dataset={"test": pairs.remove_columns("weight")}, processing_class=tokenizer)


@pytest.mark.parametrize("bad,what", [(float("nan"), "NaN or missing"), (float("inf"), "infinite"), (-0.5, "negative"),
                                      (None, "NaN or missing")])
def test_bad_weights_refused_with_row_index(tmp_path, tiny_model_dir, tokenizer, pairs, bad, what):
    w = [float(x) for x in pairs["weight"]]
    w[5] = bad
    ds = pairs.remove_columns("weight").add_column("weight", w)
    with pytest.raises(ValueError, match=f"{what} weight at row 5"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path), train_dataset=ds,
                           processing_class=tokenizer)


def test_non_numeric_weights_refused(tmp_path, tiny_model_dir, tokenizer, pairs):
    ds = pairs.remove_columns("weight").add_column("weight", ["heavy"] * len(pairs))
    with pytest.raises(ValueError, match="column 'weight' must hold numbers"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path), train_dataset=ds,
                           processing_class=tokenizer)


def test_bad_weight_in_stream_refused_with_row_index(tmp_path, tiny_model_dir, tokenizer, pairs):
    w = [float(x) for x in pairs["weight"]]
    w[3] = -1.0
    ds = pairs.remove_columns("weight").add_column("weight", w).to_iterable_dataset()
    trainer = WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, max_steps=1),
                                 train_dataset=ds, processing_class=tokenizer)
    with pytest.raises(ValueError, match="negative weight at row 3"):
        trainer.train()


@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired", ["sigmoid", "aot"], "hinge"])
def test_unweightable_losses_refused(tmp_path, tiny_model_dir, tokenizer, pairs, loss_type):
    with pytest.raises(ValueError, match="cannot be weighted per example"):
        config(tmp_path, loss_type=loss_type)
    with pytest.raises(ValueError, match="cannot be weighted per example"):
        WeightedDPOTrainer(model=load_model(tiny_model_dir), args=config(tmp_path, trl.DPOConfig, loss_type=loss_type),
                           train_dataset=pairs, processing_class=tokenizer)


def test_unknown_normalization_refused(tmp_path):
    with pytest.raises(ValueError, match="weight_normalization='sum'"):
        config(tmp_path, weight_normalization="sum")


def test_config_fields_documented():
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(WeightedDPOConfig)}
    for name in ("weight_column", "weight_normalization"):
        assert fields[name].metadata.get("help")
        assert name in WeightedDPOConfig.__doc__


# ---- the launch script ------------------------------------------------------------------------------


def write_dataset_folder(root, config_name, data):
    """A Hub-style dataset folder: parquet files + README YAML `configs:` (what export_dataset writes)."""
    (root / config_name).mkdir(parents=True)
    data.to_parquet(str(root / config_name / "train.parquet"))
    (root / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {config_name}\n  data_files:\n  - split: train\n"
        f"    path: {config_name}/train.parquet\n---\n"
    )
    return root


def test_wdpo_script_trains_lora_from_an_exported_folder(tmp_path, tiny_model_dir, pairs):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "trainers" / "wdpo.py"
    module = runpy.run_path(str(script), run_name="wdpo_script")
    folder = write_dataset_folder(tmp_path / "fair-pp", "pairs_persona_6", pairs.select(range(8)))
    out = tmp_path / "run"
    argv = [
        "--dataset_name", str(folder), "--dataset_config", "pairs_persona_6", "--model_name_or_path",
        str(tiny_model_dir), "--output_dir", str(out), "--max_steps", "1", "--per_device_train_batch_size", "4",
        "--bf16", "False", "--use_cpu", "True", "--report_to", "none", "--max_length", "128",
        "--activation_checkpointing", "False", "--use_peft", "--lora_r", "4", "--lora_alpha", "8",
        "--lora_target_modules", "q_proj", "v_proj", "--weight_normalization", "mean", "--save_strategy", "no",
    ]
    script_args, training_args, model_args = module["make_parser"]().parse_args_and_config(args=argv)
    assert isinstance(training_args, WeightedDPOConfig) and training_args.weight_normalization == "mean"
    module["main"](script_args, training_args, model_args)
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
