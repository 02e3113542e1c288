"""The ``fairpp-hf`` command: one subcommand per job, each defined in ``fairpp_hf.commands.<name>``
with ``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: Subcommand -> (module under fairpp_hf.commands, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "align": ("align", "run the Fair-PP experiment: DPO vs WDPO for a persona, positioning, cards"),
    "export-dataset": ("export_dataset", "write a Hub-ready Fair-PP dataset folder (parquet + card)"),
    "position": ("position", "place a model among the seven personas (JS similarity, heatmap)"),
    "audit": ("audit", "run the five fairness audits on a file of generations"),
    "select": ("select", "bounded-regression multi-audit model selection and Pareto frontier"),
    "push": ("push", "push a trained adapter with its fairness model card to the Hub"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="fairpp-hf", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"fairpp_hf.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fairpp-hf`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
