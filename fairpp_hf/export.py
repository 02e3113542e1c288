"""Export Fair-PP views as a Hub-ready dataset folder: parquet per config and split, plus a README.md
whose YAML ``configs:``/``dataset_info`` make ``datasets.load_dataset(folder_or_repo, "pairs_persona_6")``
work unmodified (datasets >= 4 runs no scripts, so this is how users get ``load_dataset`` for the
derived configs). Optionally pushes the folder to a (private by default) Hub dataset repo.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import datasets

from .builder import (
    PERSONA_VIEWS,
    VIEWS,
    FairPPConfig,
    config_name,
    read_config_records,
    split_records,
    view_splits,
)
from .cards import FAIRPP_LICENSE, dataset_card
from .data import LoadReport
from .personas import PERSONA_IDS, check_persona
from .prompts import PROMPT_FORMATS, check_format

logger = logging.getLogger(__name__)

EXPORT_MARKER = "<!-- written by fairpp-hf export-dataset -->"
DEFAULT_VIEWS: tuple[str, ...] = ("records", "distributions", "pairs", "sft")


@dataclass
class ExportResult:
    """What :func:`export_dataset` wrote: rows per config and split, provenance and the pushed repo."""

    out_dir: Path
    configs: dict[str, dict[str, int]] = field(default_factory=dict)
    synthetic: bool = False
    report: LoadReport | None = None
    repo_url: str | None = None

    def summary(self) -> str:
        """A readable multi-line summary (says SYNTHETIC when the rows are the simulated sample)."""
        head = f"wrote {len(self.configs)} config(s) to {self.out_dir}"
        if self.synthetic:
            head += " -- SYNTHETIC sample, not Fair-PP data"
        lines = [head]
        if self.report is not None:
            lines.append(f"  input: {self.report.summary()}")
        for name, splits in sorted(self.configs.items()):
            lines.append(f"  {name:<40} " + ", ".join(f"{s}={n}" for s, n in splits.items()))
        if self.repo_url:
            lines.append(f"  pushed to {self.repo_url}")
        return "\n".join(lines)


def _plan(views: Sequence[str], personas: Sequence[int], formats: Sequence[str]) -> list[tuple[str, int, str]]:
    plan: list[tuple[str, int, str]] = []
    for view in views:
        if view not in VIEWS:
            raise ValueError(f"views: {view!r} is not one of {DEFAULT_VIEWS}")
        if view in PERSONA_VIEWS:
            plan.extend((view, k, fmt) for k in personas for fmt in formats)
        else:
            plan.append((view, 6, "standard"))  # persona and format do not apply to this view
    return plan


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        readme = out / "README.md"
        ours = readme.is_file() and EXPORT_MARKER in readme.read_text(encoding="utf-8")
        if not overwrite:
            raise FileExistsError(f"out_dir {str(out)!r} is not empty; pass overwrite=True (--overwrite) to replace an earlier export")
        if not ours:
            raise FileExistsError(f"out_dir {str(out)!r} is not empty and holds no earlier fairpp-hf export; refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def export_dataset(
    out_dir: str | Path,
    *,
    data_files: str | Sequence[str] | None = None,
    dataset: str | None = None,
    personas: Sequence[int] = PERSONA_IDS,
    formats: Sequence[str] = PROMPT_FORMATS,
    views: Sequence[str] = DEFAULT_VIEWS,
    test_size: float = 0.1,
    seed: int = 0,
    alpha: float = 1.0,
    beta: float = 1.0,
    normalize: str = "paper",
    include_non_target_pair: bool = False,
    unparseable: str = "C",
    n_questions: int = 2000,
    hub_split: str = "test",
    revision: str | None = None,
    license: str | None = None,
    overwrite: bool = False,
    push_to_hub: str | None = None,
    private: bool = True,
    token: str | None = None,
    endpoint: str | None = None,
    progress: bool = True,
) -> ExportResult:
    """Write a Hub-ready folder: ``<config>/<split>-00000-of-00001.parquet`` for ``records``,
    ``distributions`` and ``pairs``/``sft`` per persona and format (``pairs_persona_6``,
    ``pairs_persona_6_conversational``, ...), and a README.md dataset card.

    Data come from ``data_files`` or ``dataset`` (a Hub id, file or folder); with neither, a labelled
    SYNTHETIC sample of ``n_questions``. Records are read and split once; every config shares the
    split. ``push_to_hub="user/name"`` then creates the dataset repo (private unless ``private=False``)
    and uploads the folder; ``token`` (or the cached login) is passed to huggingface_hub only, never
    written. Returns an :class:`ExportResult`.
    """
    personas = [check_persona(k, "personas") for k in personas]
    formats = [check_format(f, "formats") for f in formats]
    if not personas and any(v in PERSONA_VIEWS for v in views):
        raise ValueError("personas is empty but pairs/sft views were asked for")
    files = [str(data_files)] if isinstance(data_files, (str, Path)) else [str(f) for f in data_files or []]
    base = FairPPConfig(
        name="records", test_size=test_size, seed=seed, unparseable=unparseable, dataset=dataset,
        hub_split=hub_split, revision=revision, n_questions=n_questions, alpha=alpha, beta=beta,
        normalize=normalize, include_non_target_pair=include_non_target_pair,
    )
    base.validate()
    plan = _plan(views, personas, formats)
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    bars_were_off = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # one bar for the whole export, not one per parquet file
    try:
        result = _write_configs(out, files, base, plan, progress=progress, license=license or FAIRPP_LICENSE,
                                repo_id=push_to_hub)
    finally:
        if not bars_were_off:
            datasets.utils.enable_progress_bars()
    if push_to_hub:
        result.repo_url = push_folder(out, push_to_hub, private=private, token=token, endpoint=endpoint)
    return result


def _write_configs(
    out: Path, files: list[str], base: FairPPConfig, plan: list[tuple[str, int, str]], *,
    progress: bool, license: str, repo_id: str | None,
) -> ExportResult:
    from tqdm.auto import tqdm

    synthetic = base.dataset is None and not files
    bar = tqdm(total=len(plan) + 1, desc="export-dataset", unit="config", disable=not progress)
    bar.set_postfix_str("reading records")
    records, report = read_config_records(base, files)
    splits = split_records(records, test_size=float(base.test_size), seed=int(base.seed))
    bar.update(1)
    infos: dict[str, datasets.DatasetInfo] = {}
    data_file_map: dict[str, list[dict[str, str]]] = {}
    result = ExportResult(out_dir=out, synthetic=synthetic, report=report)
    for view, persona, fmt in plan:
        name = config_name(view, persona, fmt)
        bar.set_postfix_str(name)
        built = view_splits(splits, replace(base, name=name, persona=persona, format=fmt))
        split_dict = datasets.SplitDict()
        data_file_map[name] = []
        (out / name).mkdir(parents=True, exist_ok=True)
        for split, ds in built.items():
            num_bytes = ds.to_parquet(str(out / name / f"{split}-00000-of-00001.parquet"))
            split_dict.add(datasets.SplitInfo(name=split, num_bytes=int(num_bytes), num_examples=len(ds)))
            data_file_map[name].append({"split": split, "path": f"{name}/{split}-*.parquet"})
        infos[name] = datasets.DatasetInfo(features=built["train"].features, splits=split_dict)
        result.configs[name] = {s: len(d) for s, d in built.items()}
        bar.update(1)
    bar.close()
    parameters = {
        k: getattr(base, k)
        for k in ("test_size", "seed", "alpha", "beta", "normalize", "include_non_target_pair", "unparseable")
    }
    if synthetic:
        parameters["n_questions"] = base.n_questions
    card = dataset_card(
        infos, data_file_map, synthetic=synthetic, source=base.dataset or ", ".join(Path(f).name for f in files),
        repo_id=repo_id, parameters=parameters, load_summary=report.summary() if report is not None else None,
        license=license, default_config="records" if "records" in infos else None,
    )
    (out / "README.md").write_text(str(card) + "\n" + EXPORT_MARKER + "\n", encoding="utf-8")
    return result


def push_folder(
    folder: str | Path, repo_id: str, *, private: bool = True, token: str | None = None, endpoint: str | None = None
) -> str:
    """Create the dataset repo (private by default, no error if it exists) and upload ``folder``.

    ``token`` goes to huggingface_hub only (default: ``HF_TOKEN`` or the cached login); ``endpoint``
    points at another Hub server (default: ``HF_ENDPOINT``). Returns the repo URL.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
        commit_message="Upload Fair-PP export (fairpp-hf export-dataset)",
    )
    return str(repo)
