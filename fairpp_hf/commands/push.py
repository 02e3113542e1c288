"""Push a trained adapter (or the merged model) to the Hugging Face Hub with its fairness model card.

The card comes from ``--results`` (a ``fairpp-hf align`` results JSON, run chosen with ``--run``), else
from ``ADAPTER_DIR/fairness_card.json`` (written by ``fairpp-hf align``), else from the flags alone.
The token is read from ``HF_TOKEN`` or the stored login, never from the command line. Private by default.

    fairpp-hf push outputs/align/wdpo --repo-id me/llama-3.2-3b-wdpo-p6 --base-model-id meta-llama/Llama-3.2-3B-Instruct
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``fairpp-hf push``."""
    parser.add_argument("adapter_dir", help="folder with a saved peft adapter (adapter_config.json)")
    parser.add_argument("--repo-id", required=True, help="target Hub repo, e.g. me/model-wdpo-persona6")
    parser.add_argument("--base-model-id", default=None,
                        help="Hub id of the base model (required unless the card data names it)")
    parser.add_argument("--results", default=None, help="results JSON of `fairpp-hf align` to fill the card")
    parser.add_argument("--run", default="wdpo", help="which run of --results this adapter is (default: wdpo)")
    parser.add_argument("--audits", default=None, help="JSON file of audit results to add to the card")
    parser.add_argument("--method", default=None, help="alignment method named in the card (e.g. WDPO)")
    parser.add_argument("--persona", type=int, default=None, help="target persona 1..7")
    parser.add_argument("--dataset", default=None, help="training dataset Hub id named in the card")
    parser.add_argument("--synthetic", action="store_true", help="label the card as trained on SYNTHETIC data")
    parser.add_argument("--merge", action="store_true", help="push the merged full model instead of the adapter")
    parser.add_argument("--base-model-path", default=None, help="where to load the base weights from for --merge")
    parser.add_argument("--public", action="store_true", help="create the repo public (default: private)")
    parser.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--dry-run", metavar="DIR", default=None,
                        help="write the Hub-ready folder to DIR instead of pushing")


def _card(args: argparse.Namespace):
    import json

    from ..model_card import CARD_FILE, FairnessCardData, card_data_from_results, load_card_data

    overrides = {
        "base_model": args.base_model_id, "method": args.method, "target_persona": args.persona,
        "dataset": args.dataset, "synthetic": True if args.synthetic else None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.audits:
        overrides["audits"] = json.loads(Path(args.audits).read_text())
    if args.results:
        return card_data_from_results(args.results, run=args.run, **overrides)
    if (Path(args.adapter_dir) / CARD_FILE).is_file():
        return load_card_data(Path(args.adapter_dir) / CARD_FILE, **overrides)
    if "base_model" not in overrides:
        raise SystemExit("fairpp-hf push: --base-model-id is required (no --results or fairness_card.json)")
    return FairnessCardData(**overrides)


def run(args: argparse.Namespace) -> int:
    """Build the card, then push (or write the folder with --dry-run); prints where it went."""
    from ..hub import push_adapter, save_for_hub

    if not (Path(args.adapter_dir) / "adapter_config.json").is_file():
        raise SystemExit(f"fairpp-hf push: {args.adapter_dir} holds no adapter_config.json")
    card = _card(args)
    base = args.base_model_id or card.base_model
    if args.dry_run:
        folder = save_for_hub(args.adapter_dir, args.dry_run, base_model_id=base, card=card, merge=args.merge,
                              base_model_path=args.base_model_path, repo_id=args.repo_id)
        print(f"Hub-ready folder written to {folder} (not pushed)")
        return 0
    commit = push_adapter(args.adapter_dir, args.repo_id, base_model_id=base, card=card, merge=args.merge,
                          base_model_path=args.base_model_path, private=not args.public, endpoint=args.endpoint)
    kind = "merged model" if args.merge else "adapter"
    print(f"Pushed {kind} to {args.repo_id} ({'public' if args.public else 'private'}), commit {commit.oid}")
    print(f"  base model: {base} | method: {card.method} | target persona: {card.target_persona}"
          + (" | SYNTHETIC data" if card.synthetic else ""))
    return 0
