"""Paths to the files this package ships beside its code: the ``evaluate`` metric modules and the
``datasets`` builder script. They resolve after an editable or a regular (non-editable) install."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _root(package: str) -> Path:
    return Path(str(resources.files(package)))


def metric_names() -> list[str]:
    """Names of the shipped ``evaluate`` metric modules."""
    root = _root("fairpp_hf._metrics")
    return sorted(p.name for p in root.iterdir() if (p / f"{p.name}.py").is_file())


def metric_path(name: str) -> str:
    """Folder of a shipped ``evaluate`` metric, for ``evaluate.load(metric_path(name))``."""
    folder = _root("fairpp_hf._metrics") / name
    if not (folder / f"{name}.py").is_file():
        raise ValueError(f"no metric named {name!r}; shipped metrics: {metric_names()}")
    return str(folder)


def dataset_script_path() -> str:
    """Folder of the Hub-ready Fair-PP builder module and its dataset card."""
    return str(_root("fairpp_hf._dataset_scripts") / "fair_pp")
