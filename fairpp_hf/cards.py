"""Hub cards written by fairpp-hf. Dataset cards (this section) describe an exported Fair-PP folder:
YAML ``configs:``/``dataset_info`` that ``datasets.load_dataset`` reads, the licence, the Fair-PP
citation, what the weights mean, and a clear SYNTHETIC label when the rows are the simulated sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import datasets
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

#: The Fair-PP paper (arXiv 2505.11861), cited by every dataset card built from its data or layout.
FAIRPP_CITATION = """\
@misc{fairpp2025,
  title         = {Fair-PP: A Synthetic Dataset for Aligning LLM with Personalized Preferences of Social Equity},
  year          = {2025},
  eprint        = {2505.11861},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL},
  url           = {https://arxiv.org/abs/2505.11861}
}"""
FAIRPP_LICENSE = "cc-by-nc-sa-4.0"
FAIRPP_HOMEPAGE = "https://huggingface.co/datasets/tools-o/Fair-PP"
SYNTHETIC_BANNER = (
    "> **SYNTHETIC DATA.** Every persona answer in this dataset was simulated by "
    "`fairpp_hf.synthetic_records` from per-persona lens propensities. It is NOT the Fair-PP data, was "
    "not produced by any language model or survey, and must not be reported as Fair-PP results."
)

_VIEW_TEXT = {
    "records": "one row per question: metadata, the question, its option lines and the seven personas' answers "
    "(ClassLabel A/B/C; C = N/A).",
    "distributions": "one row per distinct question: each persona's A/B/C distribution and their pool.",
    "pairs": "DPO preference pairs for one target persona (`prompt`/`chosen`/`rejected`, TRL format) with the "
    "question's Eq. 1 `weight` and `tier`.",
    "sft": "SFT rows for one target persona (the persona's own option as completion) with `weight` and `tier`.",
}


def _view_of(name: str) -> str:
    return next((v for v in _VIEW_TEXT if name == v or name.startswith(v + "_")), "records")


def card_metadata(
    infos: Mapping[str, datasets.DatasetInfo],
    data_files: Mapping[str, Sequence[Mapping[str, str]]],
    *,
    license: str = FAIRPP_LICENSE,
    default_config: str | None = None,
    synthetic: bool = False,
) -> DatasetCardData:
    """YAML metadata of a dataset card: ``configs`` (parquet paths per split) and ``dataset_info``
    (typed features, split sizes), written with datasets' own serialisers so ``load_dataset`` reads them."""
    if set(infos) != set(data_files):
        raise ValueError(f"infos and data_files name different configs: {sorted(set(infos) ^ set(data_files))}")
    tags = ["fairness", "personalization", "preference", "dpo", "fair-pp"] + (["synthetic"] if synthetic else [])
    card_data = DatasetCardData(
        license=license,
        language=["en"],
        pretty_name="Fair-PP (SYNTHETIC sample)" if synthetic else "Fair-PP",
        tags=tags,
        task_categories=["text-generation"],
    )
    configs: dict[str, dict[str, Any]] = {}
    for name, files in data_files.items():
        configs[name] = {"data_files": [dict(f) for f in files]}
        if name == default_config:
            configs[name]["default"] = True
    MetadataConfigs(configs).to_dataset_card_data(card_data)
    DatasetInfosDict(dict(infos)).to_dataset_card_data(card_data)
    return card_data


def dataset_card(
    infos: Mapping[str, datasets.DatasetInfo],
    data_files: Mapping[str, Sequence[Mapping[str, str]]],
    *,
    synthetic: bool,
    source: str,
    repo_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    load_summary: str | None = None,
    license: str = FAIRPP_LICENSE,
    default_config: str | None = None,
) -> DatasetCard:
    """A dataset card for an exported Fair-PP folder or repo: metadata from :func:`card_metadata`,
    then prose on the configs, columns, weights, splits and provenance (SYNTHETIC label when ``synthetic``)."""
    card_data = card_metadata(
        infos, data_files, license=license, default_config=default_config, synthetic=synthetic
    )
    where = repo_id or "path/to/this/folder"
    lines = [f"# {card_data.pretty_name}", ""]
    if synthetic:
        lines += [SYNTHETIC_BANNER, ""]
    lines += [
        "Derived views of Fair-PP ([arXiv 2505.11861](https://arxiv.org/abs/2505.11861)), personalized preferences on "
        "social equity answered by seven personas, exported by `fairpp-hf export-dataset` for "
        "`datasets`/TRL. Every config is plain parquet: no dataset script is needed.",
        "",
        f"- Source: {'SYNTHETIC sample (fairpp_hf.synthetic_records)' if synthetic else source}",
    ]
    if load_summary:
        lines.append(f"- Loading: {load_summary}")
    for key, value in (parameters or {}).items():
        lines.append(f"- {key}: `{value}`")
    lines += ["", "## Configs", "", "| config | contents | rows per split |", "|---|---|---|"]
    for name, info in sorted(infos.items()):
        sizes = ", ".join(f"{s}: {v.num_examples}" for s, v in (info.splits or {}).items())
        lines.append(f"| `{name}` | {_VIEW_TEXT[_view_of(name)]} | {sizes} |")
    example = next((n for n in sorted(infos) if n.startswith("pairs_")), sorted(infos)[0])
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{where}", "{example}")',
        'train = ds["train"]  # `weight` is the Eq. 1 sample weight of each row',
        "```",
        "",
        "Configs ending in `_conversational` hold chat message lists for a chat template; the others use the "
        "Fair-PP authors' prompt `\\n\\nHuman: {question}\\n\\nAssistant:` with the option line as the response.",
        "",
        "## Weights (Fair-PP Eq. 1)",
        "",
        "For target persona t, a question's tier is 1 + the number of the other six personas whose answer differs "
        "from t's (1 = all agree, 7 = t alone). With N_j the number of *training* questions in tier j, every "
        "question in tier j weighs W_j = (j / N_j) / sum over non-empty tiers m of (m / N_m): a tier's total "
        "influence is proportional to j. Test rows carry the training split's W_j for their tier, so a weighted "
        "test loss estimates the training objective.",
        "",
        "## Splits",
        "",
        "Train and test are split by question with a seeded hash of the question text: no question is on both sides.",
        "",
        "## Licence and citation",
        "",
        f"Licence: `{license}`."
        + (" Fair-PP itself is released under CC-BY-NC-SA 4.0 (non-commercial, share-alike)." if not synthetic else
           " The synthetic questions follow the Fair-PP taxonomy."),
        "",
        "```bibtex",
        FAIRPP_CITATION,
        "```",
    ]
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
