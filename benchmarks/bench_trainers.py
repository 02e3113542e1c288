"""Step time of WeightedDPOTrainer vs trl.DPOTrainer on the same ~10M-parameter Llama, sequence 256, CPU.

Both trainers get the same model weights, the same batch and the same arguments; one "step" is what the training
loop does per micro-batch: ``get_batch_samples`` (where the weighted trainer all-reduces the step's weight total)
then ``training_step`` (forward of policy and reference, loss, backward). Repeats are interleaved (ABAB..., order
alternating) so machine load drifts hit both alike. Each step is timed twice: process CPU time (with one torch
thread this is the work done, and other jobs on a shared machine do not inflate it; the headline figure) and
wall time. Figures: ratio of medians (and of minimums). Target: <= 1.03.

    python benchmarks/bench_trainers.py [--repeats 20] [--batch 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_pairs(tokenizer, n_pairs: int, seq_len: int):
    """Pairs whose prompt + completion exceed ``seq_len`` tokens, so every row is truncated to exactly ``seq_len``."""
    from fairpp_hf.pairs import build_pairs
    from fairpp_hf.synthetic import synthetic_records

    pairs = build_pairs(synthetic_records(max(n_pairs, 8) * 4, seed=0), 6)
    questions = list(pairs["prompt"])
    prompts, i = [], 0
    while len(prompts) < len(pairs):
        text = ""
        while len(tokenizer(text).input_ids) < seq_len:
            text += questions[i % len(questions)]
            i += 1
        ids = tokenizer(text).input_ids[: seq_len - 8]
        prompts.append(tokenizer.decode(ids))
    return pairs.remove_columns("prompt").add_column("prompt", prompts).select(range(n_pairs))


def main(argv=None) -> None:
    """Build the model and data, time both trainers interleaved, print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is steadiest on a shared box)")
    a = parser.parse_args(argv)

    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from fairpp_hf.tiny import build_tiny_model
    from fairpp_hf.trainers import WeightedDPOConfig, WeightedDPOTrainer

    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="bench-trainers-")
    model, _ = build_tiny_model(tmp, hidden_size=384, num_layers=6, num_heads=6, intermediate_size=1024,
                                vocab_size=2048)
    n_params = sum(p.numel() for p in model.parameters())
    tokenizer = AutoTokenizer.from_pretrained(tmp)
    data = make_pairs(tokenizer, a.batch, a.seq)

    common = dict(bf16=False, use_cpu=True, report_to="none", activation_checkpointing=False, max_length=a.seq,
                  per_device_train_batch_size=a.batch, save_strategy="no", disable_tqdm=True, seed=0)
    trainers = {
        "DPOTrainer": DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tmp),
                                 args=DPOConfig(output_dir=os.path.join(tmp, "a"), **common),
                                 train_dataset=data, processing_class=tokenizer),
        "WeightedDPOTrainer": WeightedDPOTrainer(model=AutoModelForCausalLM.from_pretrained(tmp),
                                                 args=WeightedDPOConfig(output_dir=os.path.join(tmp, "b"), **common),
                                                 train_dataset=data, processing_class=tokenizer),
    }
    batches = {}
    for name, trainer in trainers.items():
        trainer.create_optimizer_and_scheduler(num_training_steps=1)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(a.batch)])
        batches[name] = batch
    seq = batches["DPOTrainer"]["input_ids"].shape[1]

    def step(name: str) -> tuple[float, float]:
        trainer = trainers[name]
        trainer.model.zero_grad(set_to_none=True)
        c0, t0 = time.process_time(), time.perf_counter()
        samples, items = trainer.get_batch_samples(iter([batches[name]]), 1, trainer.args.device)
        trainer.current_gradient_accumulation_steps = len(samples)
        trainer.training_step(trainer.model, samples[0], items)
        return time.process_time() - c0, time.perf_counter() - t0

    times = {clock: {name: [] for name in trainers} for clock in ("cpu", "wall")}
    order = list(trainers)
    for r in range(a.warmup + a.repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            cpu, wall = step(name)
            if r >= a.warmup:
                times["cpu"][name].append(cpu)
                times["wall"][name].append(wall)

    print(f"model: Llama, {n_params / 1e6:.1f}M parameters; batch {a.batch} pairs, sequence {seq} tokens; "
          f"CPU threads {torch.get_num_threads()}; {a.repeats} interleaved repeats")
    for clock, per in times.items():
        med = {k: statistics.median(v) for k, v in per.items()}
        for name, v in per.items():
            print(f"{clock:>4} {name:>20}: median {med[name] * 1e3:8.1f} ms/step  "
                  f"(min {min(v) * 1e3:.1f}, max {max(v) * 1e3:.1f})")
        paired = np.array(per["WeightedDPOTrainer"]) / np.array(per["DPOTrainer"])
        print(f"{clock:>4} ratio WeightedDPOTrainer / DPOTrainer: medians {med['WeightedDPOTrainer'] / med['DPOTrainer']:.3f}"
              f", minimums {min(per['WeightedDPOTrainer']) / min(per['DPOTrainer']):.3f}, paired median "
              f"{np.median(paired):.3f}   (target <= 1.03)")


if __name__ == "__main__":
    main()
