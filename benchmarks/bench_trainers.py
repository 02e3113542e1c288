"""Step time of WeightedDPOTrainer vs trl.DPOTrainer on the same ~10M-parameter Llama, sequence 256, CPU.

Both trainers get the same model weights, the same batch and the same arguments; one "step" is what the training
loop does per micro-batch: ``get_batch_samples`` (where the weighted trainer all-reduces the step's weight total)
then ``training_step`` (forward of policy and reference, loss, backward). Repeats are interleaved (ABAB..., order
alternating) so machine load drifts hit both alike; the figure is the ratio of medians. Target: <= 1.03.

    python benchmarks/bench_trainers.py [--repeats 15] [--batch 8]
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
    """Pairs whose prompt + completion fill about ``seq_len`` tokens (several synthetic questions per prompt)."""
    from fairpp_hf.pairs import build_pairs
    from fairpp_hf.synthetic import synthetic_records

    pairs = build_pairs(synthetic_records(max(n_pairs, 8) * 4, seed=0), 6)
    questions = list(pairs["prompt"])
    prompts, i = [], 0
    while len(prompts) < len(pairs):
        text = ""
        while len(tokenizer(text).input_ids) < seq_len - 40:
            text += questions[i % len(questions)]
            i += 1
        ids = tokenizer(text).input_ids[: seq_len - 40]
        prompts.append(tokenizer.decode(ids))
    return pairs.remove_columns("prompt").add_column("prompt", prompts).select(range(n_pairs))


def main(argv=None) -> None:
    """Build the model and data, time both trainers interleaved, print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    a = parser.parse_args(argv)

    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from fairpp_hf.tiny import build_tiny_model
    from fairpp_hf.trainers import WeightedDPOConfig, WeightedDPOTrainer

    tmp = tempfile.mkdtemp(prefix="bench-trainers-")
    model, _ = build_tiny_model(tmp, hidden_size=384, num_layers=6, num_heads=6, intermediate_size=1024,
                                vocab_size=2048)
    n_params = sum(p.numel() for p in model.parameters())
    tokenizer = AutoTokenizer.from_pretrained(tmp)
    data = make_pairs(tokenizer, a.batch, a.seq)

    common = dict(bf16=False, use_cpu=True, report_to="none", gradient_checkpointing=False, max_length=a.seq,
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

    def step(name: str) -> float:
        trainer = trainers[name]
        trainer.model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        samples, items = trainer.get_batch_samples(iter([batches[name]]), 1, trainer.args.device)
        trainer.current_gradient_accumulation_steps = len(samples)
        trainer.training_step(trainer.model, samples[0], items)
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {name: [] for name in trainers}
    order = list(trainers)
    for r in range(a.warmup + a.repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            dt = step(name)
            if r >= a.warmup:
                times[name].append(dt)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["WeightedDPOTrainer"] / med["DPOTrainer"]
    paired = np.array(times["WeightedDPOTrainer"]) / np.array(times["DPOTrainer"])
    print(f"model: Llama, {n_params / 1e6:.1f}M parameters; batch {a.batch} pairs, sequence {seq} tokens; "
          f"CPU threads {torch.get_num_threads()}; {a.repeats} interleaved repeats")
    for name, v in times.items():
        print(f"{name:>20}: median {med[name] * 1e3:8.1f} ms/step  (min {min(v) * 1e3:.1f}, max {max(v) * 1e3:.1f})")
    print(f"ratio WeightedDPOTrainer / DPOTrainer (medians): {ratio:.3f}   target <= 1.03")
    print(f"paired per-repeat ratio: median {np.median(paired):.3f}, IQR {np.percentile(paired, 25):.3f}-"
          f"{np.percentile(paired, 75):.3f}")


if __name__ == "__main__":
    main()
