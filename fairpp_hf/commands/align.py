"""Run the Fair-PP experiment: vanilla DPO vs WDPO (LoRA) for a target persona, then place the base model
and both adapters among the seven personas (JS similarity, margins, heatmap) and save the adapters with
fairness model cards.

Smoke scale, offline, a few minutes on a laptop CPU (a tiny model built on the spot, synthetic data):

    fairpp-hf align

The real experiment (GPU; the paper trains Llama-3.2-3B-Instruct for persona 6 with beta 0.1):

    fairpp-hf align --model meta-llama/Llama-3.2-3B-Instruct --dataset tools-o/Fair-PP --n-questions 0 \\
        --persona 6 --epochs 1 --lr 5e-5 --batch-size 16 --grad-accum 4 --max-length 512 \\
        --push-to-hub me/llama-3.2-3b-fairpp
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``fairpp-hf align`` (one per :class:`fairpp_hf.experiment.AlignConfig` field)."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default=None,
                      help="Fair-PP file, folder or Hub id (default: the embedded SYNTHETIC sample)")
    data.add_argument("--n-questions", type=int, default=400,
                      help="questions to use: synthetic sample size or a seeded subsample; 0 = all (default 400)")
    data.add_argument("--persona", type=int, default=6, help="target persona 1..7 (default 6, as in the paper)")
    data.add_argument("--test-size", type=float, default=0.2, help="held-out share of questions (default 0.2)")
    data.add_argument("--format", choices=["conversational", "standard"], default="conversational",
                      help="prompt format for training and positioning (default: conversational = chat template)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=None,
                       help="base model Hub id or folder (default: a tiny model built offline, smoke scale)")
    model.add_argument("--base-model-id", default=None,
                       help="Hub id written into adapter configs and cards (default: --model when a Hub id)")
    train = parser.add_argument_group("training (identical for DPO and WDPO)")
    train.add_argument("--epochs", type=float, default=1.0, help="training epochs (default 1)")
    train.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: epochs)")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default 2e-3 for the tiny model, 5e-5 otherwise)")
    train.add_argument("--beta", type=float, default=0.1, help="DPO beta (default 0.1)")
    train.add_argument("--batch-size", type=int, default=8, help="per-device batch size (default 8)")
    train.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (default 1)")
    train.add_argument("--max-length", type=int, default=256, help="max tokens per prompt + answer (default 256)")
    train.add_argument("--sft-warmup", action="store_true",
                       help="the paper's pipeline: SFT then DPO, weighted SFT then WDPO (default: DPO/WDPO only)")
    train.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default 8)")
    train.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha (default 16)")
    train.add_argument("--lora-dropout", type=float, default=0.05, help="LoRA dropout (default 0.05)")
    train.add_argument("--lora-target-modules", default="all-linear",
                       help="comma-separated module names or 'all-linear' (default)")
    train.add_argument("--seed", type=int, default=0, help="seed for split, pairs, LoRA init and training")
    train.add_argument("--cpu-threads", type=int, default=None,
                       help="torch threads on CPU (default: 1 for the tiny model, torch's default otherwise)")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--position-method", choices=["score", "generate"], default="score",
                    help="score = A/B/C letter probabilities (default); generate = parse greedy answers")
    ev.add_argument("--position-batch-size", type=int, default=32, help="batch size for positioning")
    ev.add_argument("--similarity-mode", choices=["pooled", "per_question"], default="pooled",
                    help="headline similarity (both are computed; default pooled, as in the paper)")
    outg = parser.add_argument_group("output")
    outg.add_argument("--out", default="outputs/align", help="output folder (default outputs/align)")
    outg.add_argument("--push-to-hub", default=None, metavar="NAMESPACE/PREFIX",
                      help="push {PREFIX}-dpo-persona{P} and {PREFIX}-wdpo-persona{P} (token from HF_TOKEN/login)")
    outg.add_argument("--public", action="store_true", help="create pushed repos public (default private)")
    outg.add_argument("--hub-endpoint", default=None, help="Hub endpoint (default HF_ENDPOINT or huggingface.co)")
    outg.add_argument("--no-progress", action="store_true", help="hide progress bars")


def config_from_args(args: argparse.Namespace):
    """The :class:`~fairpp_hf.experiment.AlignConfig` for parsed arguments."""
    from ..experiment import AlignConfig

    return AlignConfig(
        model=args.model, base_model_id=args.base_model_id, dataset=args.dataset,
        n_questions=None if args.n_questions == 0 else args.n_questions, persona=args.persona,
        test_size=args.test_size, format=args.format, epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.lr, beta=args.beta, batch_size=args.batch_size, grad_accum=args.grad_accum,
        max_length=args.max_length, sft_warmup=args.sft_warmup, lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        lora_target_modules=args.lora_target_modules, position_method=args.position_method,
        position_batch_size=args.position_batch_size, similarity_mode=args.similarity_mode, seed=args.seed,
        out=args.out, push_to_hub=args.push_to_hub, hub_private=not args.public, hub_endpoint=args.hub_endpoint,
        cpu_threads=args.cpu_threads, progress=not args.no_progress,
    )


def run(args: argparse.Namespace) -> int:
    """Run the experiment and print its summary."""
    from ..experiment import run_align

    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"fairpp-hf align: {exc}") from None
    if cfg.smoke_scale:
        print("fairpp-hf align: no --model given: SMOKE-SCALE run on a tiny model built offline.", flush=True)
    result = run_align(cfg)
    print()
    print(result.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``align`` on its own (``python -m fairpp_hf.commands.align``)."""
    parser = argparse.ArgumentParser(prog="fairpp-hf align", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
