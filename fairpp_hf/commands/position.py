"""Place a model among the seven Fair-PP personas: its A/B/C distribution on each question (scored
from the option-letter probabilities, or generated and parsed), then persona JS similarities and
margins in the pooled (paper) and per-question modes. Prints a table, writes position.json, the
per-question distributions (predictions.csv) and heatmaps of the persona x persona (+ model) matrix.
Without --dataset it uses a labelled SYNTHETIC sample (not Fair-PP data).

Examples:
    fairpp-hf position --model meta-llama/Llama-3.2-3B-Instruct --dataset tools-o/Fair-PP --out out/pos --persona 6
    fairpp-hf position --model out/wdpo-adapter --dataset Fair-PP-test.csv --out out/pos --limit 2000
    fairpp-hf position --model out/tiny --out out/pos-synthetic --method generate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..jsonio import write_json
from ..positioning import POSITION_METHODS
from ..prompts import PROMPT_FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the position options."""
    parser.add_argument("--model", required=True, help="model path or Hub id (a PEFT adapter folder works too)")
    parser.add_argument("--dataset", help="Fair-PP records: a file, a folder or a Hub id (default: SYNTHETIC sample)")
    parser.add_argument("--split", default="test", help="split read from a Hub dataset (default: test)")
    parser.add_argument("--out", required=True, help="output folder for position.json, predictions.csv and PNGs")
    parser.add_argument("--persona", type=int, default=6, help="target persona 1..7 for the margins (default: 6)")
    parser.add_argument("--limit", type=int, metavar="N", help="position a seeded random subset of N questions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit subset and the synthetic sample")
    parser.add_argument("--synthetic-questions", type=int, default=200, metavar="N",
                        help="size of the SYNTHETIC sample when no --dataset is given (default: 200)")
    parser.add_argument("--method", choices=POSITION_METHODS, default="score",
                        help="score: option-letter probabilities (fast); generate: greedy text parsed as the paper did")
    parser.add_argument("--format", choices=PROMPT_FORMATS, default="conversational",
                        help="prompt format the model was trained in (default: conversational = chat template)")
    parser.add_argument("--batch-size", type=int, default=16, help="questions per forward pass (default: 16)")
    parser.add_argument("--max-new-tokens", type=int, default=16,
                        help="most new tokens per answer with --method generate (default: 16)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--dtype", default="auto", help="model dtype: auto, float32, bfloat16, float16")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Position the model, print the table; returns 2 on bad input (message on stderr), else 0."""
    import numpy as np
    import pandas as pd

    from ..data import answer_matrix, column, load_records
    from ..personas import PERSONAS, check_persona
    from ..plots import similarity_heatmap
    from ..positioning import load_causal_lm, position
    from ..similarity import SIMILARITY_MODES, breakdown_from_records, format_table, persona_similarity
    from ..synthetic import is_synthetic, synthetic_records

    try:
        persona = check_persona(args.persona, "--persona")
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit={args.limit} must be a positive number of questions")
        if args.dataset:
            records = load_records(args.dataset, split=args.split)
        else:
            records = synthetic_records(args.synthetic_questions, seed=args.seed)
        n_total = len(records)
        if args.limit is not None and args.limit < n_total:
            keep = np.sort(np.random.default_rng(args.seed).choice(n_total, size=args.limit, replace=False))
            records = records.select(keep)
        synthetic = is_synthetic(records)
        model, tokenizer = load_causal_lm(args.model, device=args.device, dtype=args.dtype)
        probs, report = position(
            model, tokenizer, records, method=args.method, format=args.format, batch_size=args.batch_size,
            progress=not args.no_progress, max_new_tokens=args.max_new_tokens, return_report=True,
        )
        answers = answer_matrix(records)
        groups = breakdown_from_records(records)
        results = {
            mode: persona_similarity(probs, answers, target_persona=persona, mode=mode, breakdown=groups)
            for mode in SIMILARITY_MODES
        }
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = args.dataset or "SYNTHETIC sample (fairpp_hf.synthetic_records; not Fair-PP data)"
    names = {k: p.name for k, p in PERSONAS.items()}
    header = f"model {args.model} on {len(records)} of {n_total} questions from {source}"
    print(("SYNTHETIC DATA - " if synthetic else "") + header)
    print(report.summary())
    for mode, result in results.items():
        print(f"\n[{mode}]")
        print(format_table(result, names))
    pngs = {}
    for mode, result in results.items():
        title = f"{'SYNTHETIC - ' if synthetic else ''}persona similarity ({mode})"
        pngs[mode] = str(similarity_heatmap(result["matrix"], result["labels"], out / f"similarity_{mode}.png", title=title))
    frame = pd.DataFrame(probs, columns=["p_A", "p_B", "p_C"])
    frame.insert(0, "question_id", column(records, "question_id"))
    frame.to_csv(out / "predictions.csv", index=False)
    payload = {
        "model": args.model, "dataset": source, "synthetic": synthetic, "n_questions": len(records),
        "n_available": n_total, "target_persona": persona, "persona_names": names,
        "positioning": report.to_dict(), "results": results, "heatmaps": pngs,
    }
    write_json(out / "position.json", payload)
    print(f"\nwrote {out / 'position.json'}, {out / 'predictions.csv'} and {len(pngs)} heatmap(s)")
    return 0
