"""Step-level weight normalisation under real data parallelism: 2 CPU processes (gloo, accelerate launch) against
1 process x batch 8 and 1 process x batch 4 x accumulation 2, with mixed Fair-PP weights and a sigmoid+sft mix."""

from __future__ import annotations

import json
import os
import runpy
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("accelerate")

WORKER = textwrap.dedent(
    '''
    """One WDPO optimizer step with SGD (lr 1): saves the gradient (= minus the parameter change) and logged loss."""
    import argparse
    import json
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")


    def main(argv=None):
        import numpy as np
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from fairpp_hf.pairs import build_pairs
        from fairpp_hf.synthetic import synthetic_records
        from fairpp_hf.trainers import WeightedDPOConfig, WeightedDPOTrainer

        parser = argparse.ArgumentParser()
        parser.add_argument("--model", required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument("--batch", type=int, required=True)
        parser.add_argument("--accumulation", type=int, default=1)
        parser.add_argument("--normalization", default="weighted_mean")
        a = parser.parse_args(argv)

        pairs = build_pairs(synthetic_records(4, seed=3), 6)  # 8 pairs, mixed Eq. 1 weights
        model = AutoModelForCausalLM.from_pretrained(a.model)
        tokenizer = AutoTokenizer.from_pretrained(a.model)
        before = [p.detach().clone() for p in model.parameters()]
        args = WeightedDPOConfig(
            output_dir=os.path.join(a.out, "run"), bf16=False, use_cpu=True, report_to="none",
            activation_checkpointing=False, max_length=128, per_device_train_batch_size=a.batch,
            gradient_accumulation_steps=a.accumulation, max_steps=1, optim="sgd", learning_rate=1.0,
            max_grad_norm=0.0, lr_scheduler_type="constant", logging_steps=1, save_strategy="no", disable_tqdm=True,
            train_sampling_strategy="sequential", loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5],
            weight_normalization=a.normalization, seed=0,
        )
        trainer = WeightedDPOTrainer(model=model, args=args, train_dataset=pairs, processing_class=tokenizer)
        trainer.train()
        if trainer.accelerator.is_main_process:
            grad = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, model.parameters())])
            np.save(os.path.join(a.out, "grad.npy"), grad.double().numpy())
            losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
            w = np.asarray(pairs["weight"], dtype=float)
            info = {"loss": losses, "world_size": trainer.accelerator.num_processes,
                    "half_sums": [float(w[:4].sum()), float(w[4:].sum())]}
            with open(os.path.join(a.out, "result.json"), "w") as f:
                json.dump(info, f)


    if __name__ == "__main__":
        main()
    '''
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _result(out):
    with open(os.path.join(out, "result.json")) as f:
        info = json.load(f)
    return info, np.load(os.path.join(out, "grad.npy"))


@pytest.mark.slow
def test_two_processes_match_one_process_and_accumulation(tmp_path, tiny_model_dir):
    script = tmp_path / "wdpo_step.py"
    script.write_text(WORKER)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
           "MASTER_ADDR": "127.0.0.1"}
    ddp_out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()),
        str(script), "--model", str(tiny_model_dir), "--out", str(ddp_out), "--batch", "4",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    # Meanwhile, the two single-process references run here.
    worker = runpy.run_path(str(script), run_name="wdpo_worker")
    one_out, acc_out = tmp_path / "one", tmp_path / "acc"
    worker["main"](["--model", str(tiny_model_dir), "--out", str(one_out), "--batch", "8"])
    worker["main"](["--model", str(tiny_model_dir), "--out", str(acc_out), "--batch", "4", "--accumulation", "2"])

    try:
        log, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
        pytest.fail(f"accelerate launch timed out:\n{log[-4000:]}")
    assert proc.returncode == 0, log[-4000:]

    ddp, g_ddp = _result(ddp_out)
    one, g_one = _result(one_out)
    acc, g_acc = _result(acc_out)
    assert ddp["world_size"] == 2 and one["world_size"] == 1, "the launch must really start 2 ranks"
    assert np.abs(g_one).max() > 0
    # unequal micro-batch weight totals: a per-micro-batch normalisation would give other gradients
    assert abs(one["half_sums"][0] - one["half_sums"][1]) > 0.05 * sum(one["half_sums"])
    scale = np.abs(g_one).max()
    for g in (g_ddp, g_acc):
        np.testing.assert_allclose(g, g_one, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(ddp["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(acc["loss"], one["loss"], rtol=1e-5)


@pytest.mark.parametrize("name", ["multi_gpu", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_accelerate_configs_load(name):
    from pathlib import Path

    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(__file__).resolve().parents[1] / "trainers" / "accelerate_configs" / f"{name}.yaml"
    cfg = load_config_from_file(str(path))
    expected = {"multi_gpu": "MULTI_GPU", "fsdp": "FSDP", "deepspeed_zero2": "DEEPSPEED", "deepspeed_zero3": "DEEPSPEED"}
    assert str(cfg.distributed_type).endswith(expected[name])
    if name.startswith("deepspeed"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])
