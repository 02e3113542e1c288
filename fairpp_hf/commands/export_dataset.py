"""Write a Hub-ready Fair-PP dataset folder (parquet per config and split + README.md dataset card),
then optionally push it. Without --data-files or --dataset it exports a labelled SYNTHETIC sample.

Examples:
    fairpp-hf export-dataset --data-files Fair-PP.csv --personas 1 6 --out out/fair-pp
    fairpp-hf export-dataset --dataset tools-o/Fair-PP --out out/fair-pp --push-to-hub me/fair-pp-views
    fairpp-hf export-dataset --synthetic-questions 2000 --out out/fair-pp-synthetic
"""

from __future__ import annotations

import argparse
import sys

from ..personas import PERSONA_IDS
from ..prompts import PROMPT_FORMATS
from ..weighting import WEIGHT_NORMALIZATIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the export-dataset options."""
    src = parser.add_argument_group("input (give at most one; neither = SYNTHETIC sample)")
    src.add_argument("--data-files", nargs="+", metavar="FILE", help="Fair-PP-layout CSV/parquet/JSON file(s)")
    src.add_argument("--dataset", help="a Hub dataset id (e.g. tools-o/Fair-PP), a file or a folder")
    src.add_argument("--hub-split", default="test", help="split read from a Hub dataset (default: test)")
    src.add_argument("--revision", help="Hub revision of --dataset")
    src.add_argument("--synthetic-questions", type=int, default=2000, metavar="N",
                     help="size of the SYNTHETIC sample when no data is given (default: 2000)")
    parser.add_argument("--out", required=True, help="output folder (must be empty or an earlier export with --overwrite)")
    parser.add_argument("--personas", nargs="+", type=int, default=list(PERSONA_IDS), metavar="K",
                        help="target personas of the pairs/sft configs (default: 1..7)")
    parser.add_argument("--formats", nargs="+", default=list(PROMPT_FORMATS),
                        choices=PROMPT_FORMATS, help="prompt formats of pairs/sft configs")
    parser.add_argument("--views", nargs="+", default=["records", "distributions", "pairs", "sft"],
                        choices=["records", "distributions", "pairs", "sft"], help="which views to export")
    parser.add_argument("--test-size", type=float, default=0.1, help="fraction of questions in the test split")
    parser.add_argument("--seed", type=int, default=0, help="split (and synthetic sample) seed")
    parser.add_argument("--alpha", type=float, default=1.0, help="Eq. 1 exponent of the tier index")
    parser.add_argument("--beta", type=float, default=1.0, help="Eq. 1 exponent of the inverse tier size")
    parser.add_argument("--normalize", choices=WEIGHT_NORMALIZATIONS, default="paper",
                        help="paper: tier weights sum to 1; mean: per-row train weights average 1")
    parser.add_argument("--include-non-target-pair", action="store_true",
                        help="add the authors' third pair between the two non-target options (label noise)")
    parser.add_argument("--unparseable", choices=["C", "drop", "error"], default="C",
                        help="missing/unparseable persona answers: C (paper default), drop the row, or error")
    parser.add_argument("--license", help="licence id for the card (default: cc-by-nc-sa-4.0, Fair-PP's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    hub = parser.add_argument_group("Hub")
    hub.add_argument("--push-to-hub", metavar="REPO", help="push the folder to this dataset repo (user/name)")
    hub.add_argument("--public", action="store_true", help="create the repo public (default: private)")
    hub.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Export, print a readable summary; returns 2 on bad input (message on stderr), else 0."""
    from ..export import export_dataset

    if args.data_files and args.dataset:
        print("error: give --data-files or --dataset, not both", file=sys.stderr)
        return 2
    try:
        result = export_dataset(
            args.out,
            data_files=args.data_files,
            dataset=args.dataset,
            personas=args.personas,
            formats=args.formats,
            views=args.views,
            test_size=args.test_size,
            seed=args.seed,
            alpha=args.alpha,
            beta=args.beta,
            normalize=args.normalize,
            include_non_target_pair=args.include_non_target_pair,
            unparseable=args.unparseable,
            n_questions=args.synthetic_questions,
            hub_split=args.hub_split,
            revision=args.revision,
            license=args.license,
            overwrite=args.overwrite,
            push_to_hub=args.push_to_hub,
            private=not args.public,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result.summary())
    example = next((n for n in sorted(result.configs) if n.startswith("pairs_")), sorted(result.configs)[0])
    print(f'load with: datasets.load_dataset("{args.push_to_hub or args.out}", "{example}")')
    return 0
