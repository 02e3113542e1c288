"""Fairness model cards for aligned models: what was trained on what, for which persona, and where the
model now sits among the seven Fair-PP personas (and on the fairness audits, when given).

The card is a ``huggingface_hub.ModelCard``: ``model-index`` metadata built from ``EvalResult`` entries
(so the Hub shows the numbers), plus a readable body with the persona similarity table, the margins,
audit results, the training arguments and the citations of both papers. Synthetic data and smoke-scale
runs are labelled at the top of the card and in its tags.

Trainers carry the card through :class:`FairnessCardMixin` (``create_model_card`` writes this card when
``trainer.fairness_card`` is set) or :func:`attach_fairness_card` for any ``transformers.Trainer``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .personas import PERSONAS, check_persona

FAIR_PP_ARXIV = "2505.11861"
PARETO_ARXIV = "2606.10126"
FAIR_PP_DATASET = "tools-o/Fair-PP"

CITATIONS: dict[str, str] = {
    "fair_pp": (
        "@misc{fairpp2025,\n"
        "  title         = {Fair-PP: A Synthetic Dataset for Aligning LLM with Personalized Preferences of Social Equity},\n"
        "  year          = {2025},\n"
        f"  eprint        = {{{FAIR_PP_ARXIV}}},\n"
        "  archivePrefix = {arXiv},\n"
        "  primaryClass  = {cs.CL},\n"
        f"  url           = {{https://arxiv.org/abs/{FAIR_PP_ARXIV}}}\n"
        "}"
    ),
    "pareto": (
        "@misc{paretoteacher2026,\n"
        "  title         = {Pareto-Guided Teacher Alignment for Fair Personalized Text Generation},\n"
        "  year          = {2026},\n"
        f"  eprint        = {{{PARETO_ARXIV}}},\n"
        "  archivePrefix = {arXiv},\n"
        "  primaryClass  = {cs.CL},\n"
        f"  url           = {{https://arxiv.org/abs/{PARETO_ARXIV}}}\n"
        "}"
    ),
}

#: Keys whose values are never written to a card (tokens, keys, passwords), matched case-insensitively.
_SECRET_KEY = re.compile(r"token|secret|password|api_key|apikey|credential", re.IGNORECASE)

MARGIN_DEFINITIONS = {
    "margin_best": "target similarity minus the highest similarity to any other persona",
    "margin_mean": "target similarity minus the mean similarity to the six other personas",
}


@dataclass
class FairnessCardData:
    """What a fairness model card states about one aligned model.

    Parameters:
        base_model: Hub id of the base model (never a local path: the card and ``adapter_config.json``
            must let others load it).
        method: alignment method, e.g. ``"WDPO"``, ``"DPO"``, ``"weighted SFT"``.
        target_persona: persona id 1..7 the model was aligned to (None when not persona-targeted).
        dataset: Hub id (or name) of the training data; ``dataset_config``/``dataset_split`` qualify it.
        synthetic: the data was the labelled SYNTHETIC sample, not Fair-PP: stated at the top of the card.
        smoke_scale: a tiny smoke-scale run (e.g. a model built offline): stated at the top of the card.
        adapter: True for a LoRA adapter, False for a merged full model.
        training_args: the training configuration (dict, dataclass or ``TrainingArguments``); secrets dropped.
        similarity: this model's persona similarity (``persona_similarity`` output: ``similarity`` per
            persona, ``target_similarity``, ``margin_best``, ``margin_mean``, optional ``mode``).
        comparisons: other models' similarity results by name (e.g. ``{"base": ..., "DPO": ...}``), shown
            side by side in the body (not in ``model-index``, which describes this model only).
        audits: fairness audit results: ``{audit: value}`` or ``{audit: {metric: value}}`` or a list of
            ``{"audit", "metric", "value"}`` rows; numbers only are reported.
        audit_dataset: name of the data the audits ran on.
        model_name: name in ``model-index`` (defaults to the repo name when pushed).
        license: licence tag of the model (the Fair-PP data is CC-BY-NC-SA 4.0).
        tags: extra tags.
        notes: free text appended to the summary.
    """

    base_model: str
    method: str = "WDPO"
    target_persona: int | None = 6
    dataset: str = FAIR_PP_DATASET
    dataset_config: str | None = None
    dataset_split: str = "test"
    synthetic: bool = False
    smoke_scale: bool = False
    adapter: bool = True
    training_args: Any = None
    similarity: Mapping[str, Any] | None = None
    comparisons: Mapping[str, Mapping[str, Any]] | None = None
    audits: Any = None
    audit_dataset: str = "demographic persuasion grid"
    model_name: str | None = None
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            raise ValueError(f"base_model={self.base_model!r} must be a non-empty Hub id")
        if self.target_persona is not None:
            self.target_persona = check_persona(self.target_persona, "target_persona")
        for name, sim in [("similarity", self.similarity), *((f"comparisons[{k!r}]", v)
                                                           for k, v in (self.comparisons or {}).items())]:
            measured = (sim or {}).get("target_persona")
            if measured is not None and self.target_persona is not None and int(measured) != self.target_persona:
                raise ValueError(
                    f"{name} was computed for target persona {measured}, but target_persona={self.target_persona}: "
                    "its margins would describe another persona"
                )


# ---------------------------------------------------------------------------------------------- helpers
def sanitize_training_args(args: Any) -> dict[str, Any]:
    """Training arguments as a JSON-safe dict without secrets (any key naming a token, key or password).

    Accepts a dict, a dataclass (``TrainingArguments``, TRL configs) or None.
    """
    if args is None:
        return {}
    if hasattr(args, "to_dict") and callable(args.to_dict):
        raw = args.to_dict()
    elif dataclasses.is_dataclass(args) and not isinstance(args, type):
        raw = dataclasses.asdict(args)
    elif isinstance(args, Mapping):
        raw = dict(args)
    else:
        raise TypeError(f"training_args must be a dict, a dataclass or TrainingArguments; got {type(args).__name__}")
    return {str(k): _jsonable(v) for k, v in sorted(raw.items()) if not _SECRET_KEY.search(str(k))}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if not _SECRET_KEY.search(str(k))}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enums
        return _jsonable(value.value)
    if hasattr(value, "item"):  # numpy / torch scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


def _persona_values(similarity: Mapping[str, Any] | None) -> dict[int, float]:
    """Per-persona similarity keyed 1..7 (JSON round trips turn int keys into strings)."""
    if not similarity:
        return {}
    per = similarity.get("similarity", {})
    if not isinstance(per, Mapping):
        raise ValueError("similarity['similarity'] must map persona id -> similarity")
    out = {}
    for k, v in per.items():
        out[check_persona(k, "similarity key")] = float(v)
    return dict(sorted(out.items()))


def audit_rows(audits: Any) -> list[tuple[str, str, float]]:
    """Flatten audit results to (audit, metric, value) rows with finite numeric values.

    Accepts ``{audit: number}``, ``{audit: {metric: number or nested}}`` or a list of dicts with
    ``audit``, ``metric`` and ``value``. Non-numeric leaves (texts, lists of per-message scores) are skipped.
    """
    rows: list[tuple[str, str, float]] = []
    if audits is None:
        return rows
    if isinstance(audits, Mapping):
        for audit, result in audits.items():
            if isinstance(result, Mapping):
                for metric, value in _flatten(result):
                    rows.append((str(audit), metric, value))
            elif _is_number(result):
                rows.append((str(audit), "value", float(result)))
    elif isinstance(audits, (list, tuple)):
        for i, row in enumerate(audits):
            if not isinstance(row, Mapping) or not {"audit", "value"} <= set(row):
                raise ValueError(f"audits[{i}] must be a dict with 'audit', 'metric' and 'value'; got {row!r}")
            if _is_number(row["value"]):
                rows.append((str(row["audit"]), str(row.get("metric", "value")), float(row["value"])))
    else:
        raise TypeError(f"audits must be a dict or a list of dicts; got {type(audits).__name__}")
    return rows


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += _flatten(v, f"{name}.")
        elif _is_number(v):
            out.append((name, float(v)))
    return out


def _looks_like_hub_id(value: str) -> bool:
    """Whether ``value`` can stand in the card's ``datasets`` list (a Hub id, not a local file)."""
    from .hub import check_hub_id

    try:
        check_hub_id(value, "dataset")
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- metadata
def eval_results(data: FairnessCardData) -> list[EvalResult]:
    """``model-index`` entries: similarity to each persona, the margins, and the audits."""
    results: list[EvalResult] = []
    sim = data.similarity or {}
    dataset_name = "Fair-PP (SYNTHETIC sample)" if data.synthetic else "Fair-PP"
    common = dict(
        task_type="multiple-choice", task_name="Persona positioning (Fair-PP)",
        dataset_type=data.dataset, dataset_name=dataset_name, dataset_config=data.dataset_config,
        dataset_split=data.dataset_split,
    )
    mode = sim.get("mode")
    for k, value in _persona_values(sim).items():
        results.append(EvalResult(
            **common, metric_type="persona_js_similarity", metric_value=round(value, 6),
            metric_name=f"JS similarity to persona {k} ({PERSONAS[k].name})", metric_config=f"persona_{k}",
            metric_args={"mode": mode} if mode else None,
        ))
    for key, label in (("target_similarity", "JS similarity to the target persona"),
                       ("margin_best", "Margin over the closest other persona"),
                       ("margin_mean", "Margin over the mean of the other personas")):
        if _is_number(sim.get(key)):
            results.append(EvalResult(
                **common, metric_type=f"persona_js_{key}", metric_value=round(float(sim[key]), 6), metric_name=label,
                metric_config=f"persona_{data.target_persona}" if data.target_persona else None,
            ))
    for audit, metric, value in audit_rows(data.audits):
        results.append(EvalResult(
            task_type="text-generation", task_name="Fairness audits (Pareto-guided teacher alignment)",
            dataset_type="fairness-audit", dataset_name=data.audit_dataset,
            metric_type=audit, metric_name=f"{audit} {metric}", metric_config=metric, metric_value=round(value, 6),
        ))
    return results


def card_metadata(data: FairnessCardData, model_name: str | None = None) -> ModelCardData:
    """The card's YAML metadata (base model, datasets, tags, ``model-index``)."""
    tags = ["fairpp-hf", "fair-pp", "persona-alignment", "dpo", "trl"]
    if data.adapter:
        tags += ["peft", "lora"]
    if data.method:
        tags.append(re.sub(r"[^a-z0-9]+", "-", data.method.lower()).strip("-"))
    if data.target_persona:
        tags.append(f"persona-{data.target_persona}")
    if data.synthetic:
        tags.append("synthetic-data")
    if data.smoke_scale:
        tags.append("smoke-test")
    tags += [t for t in data.tags if t not in tags]
    results = eval_results(data)
    name = model_name or data.model_name or f"{data.base_model.split('/')[-1]}-{data.method.lower()}"
    return ModelCardData(
        base_model=data.base_model,
        base_model_relation="adapter" if data.adapter else "finetune",
        library_name="peft" if data.adapter else "transformers",
        pipeline_tag="text-generation",
        datasets=None if data.synthetic or not _looks_like_hub_id(data.dataset) else [data.dataset],
        license=data.license,
        tags=tags,
        model_name=name if results else None,
        eval_results=results or None,
    )


# ---------------------------------------------------------------------------------------------- body
def _fmt(v: Any) -> str:
    return f"{float(v):.4f}" if _is_number(v) else "n/a"


def _similarity_section(data: FairnessCardData) -> str:
    sim = data.similarity
    if not sim:
        return "## Persona similarity\n\nNo positioning results were given for this model.\n"
    columns: dict[str, Mapping[str, Any]] = {"this model": sim, **dict(data.comparisons or {})}
    values = {name: _persona_values(r) for name, r in columns.items()}
    mode = sim.get("mode", "pooled")
    lines = [
        "## Persona similarity",
        "",
        f"Similarity = 1 - Jensen-Shannon distance (natural log) between the model's A/B/C answer distribution "
        f"and each persona's on the evaluation questions ({mode} mode). Higher is closer.",
        "",
        "| Persona | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for k, persona in PERSONAS.items():
        mark = " **(target)**" if k == data.target_persona else ""
        cells = [_fmt(values[name].get(k)) for name in columns]
        lines.append(f"| {k} {persona.name}{mark} | " + " | ".join(cells) + " |")
    lines += ["", "### Margins", "", "| Margin | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for key in ("target_similarity", "margin_best", "margin_mean"):
        lines.append(f"| {key} | " + " | ".join(_fmt(r.get(key)) for r in columns.values()) + " |")
    lines += ["", *(f"- `{k}`: {v}." for k, v in MARGIN_DEFINITIONS.items()), ""]
    return "\n".join(lines)


def _audit_section(data: FairnessCardData) -> str:
    rows = audit_rows(data.audits)
    if not rows:
        return ""
    lines = ["## Fairness audits", "", f"Audits on the {data.audit_dataset}.", "", "| Audit | Metric | Value |",
             "|---|---|---|"]
    lines += [f"| {a} | {m} | {v:.4f} |" for a, m, v in rows]
    return "\n".join(lines) + "\n"


def _usage_section(data: FairnessCardData, repo_id: str | None) -> str:
    rid = repo_id or "<this repo id>"
    if data.adapter:
        code = (
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
            "from peft import PeftModel\n\n"
            f'base = AutoModelForCausalLM.from_pretrained("{data.base_model}")\n'
            f'model = PeftModel.from_pretrained(base, "{rid}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{data.base_model}")'
        )
    else:
        code = (
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f'model = AutoModelForCausalLM.from_pretrained("{rid}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{rid}")'
        )
    return f"## How to use\n\n```python\n{code}\n```\n"


def _warnings(data: FairnessCardData) -> str:
    out = []
    if data.synthetic:
        out.append(
            "> **SYNTHETIC DATA.** This model was trained and evaluated on the labelled synthetic sample of "
            "`fairpp_hf.synthetic_records`, not on Fair-PP. Its numbers say nothing about real persona alignment."
        )
    if data.smoke_scale:
        out.append(
            "> **SMOKE-SCALE RUN.** A tiny model and a few steps, to check the pipeline end to end. "
            "Do not use this model for anything."
        )
    return "\n\n".join(out) + ("\n" if out else "")


def render_model_card(data: FairnessCardData, *, repo_id: str | None = None) -> ModelCard:
    """The full fairness model card (metadata + readable body) for ``data``."""
    model_name = data.model_name or (repo_id.split("/")[-1] if repo_id else None)
    meta = card_metadata(data, model_name)
    title = model_name or f"{data.base_model.split('/')[-1]} aligned with {data.method}"
    target = (
        f"persona {data.target_persona} ({PERSONAS[data.target_persona].name})" if data.target_persona else "none"
    )
    data_line = f"`{data.dataset}`" + (f", config `{data.dataset_config}`" if data.dataset_config else "")
    if data.synthetic:
        data_line += " (**SYNTHETIC sample**, same layout as Fair-PP)"
    kind = "LoRA adapter" if data.adapter else "full model (LoRA merged into the base weights)"
    summary = [
        f"# {title}",
        "",
        _warnings(data),
        f"A {kind} on top of [`{data.base_model}`](https://huggingface.co/{data.base_model}), aligned with "
        f"**{data.method}** toward the preferences of Fair-PP {target}, with fairpp-hf. Fair-PP (arXiv "
        f"{FAIR_PP_ARXIV}) asks social-equity questions answered by seven role-played personas; Eq. 1 weights "
        "give more weight to questions where the target persona stands apart from the others.",
        "",
        "## Model details",
        "",
        f"- **Base model:** `{data.base_model}`",
        f"- **Method:** {data.method}",
        f"- **Target persona:** {target}",
        f"- **Training data:** {data_line}",
        f"- **Evaluation split:** `{data.dataset_split}`",
        f"- **Weights:** {kind}",
    ]
    if data.notes:
        summary += ["", data.notes]
    args = sanitize_training_args(data.training_args)
    args_block = ""
    if args:
        args_block = (
            "## Training arguments\n\n<details><summary>Full configuration (secrets removed)</summary>\n\n```json\n"
            + json.dumps(args, indent=2, sort_keys=True) + "\n```\n\n</details>\n"
        )
    cite = (
        "## Citation\n\nFair-PP (data, Eq. 1 weighting, WDPO, persona similarity):\n\n```bibtex\n"
        + CITATIONS["fair_pp"] + "\n```\n\nPareto-guided teacher alignment (fairness audits, model selection):\n\n"
        "```bibtex\n" + CITATIONS["pareto"] + "\n```\n"
    )
    body = "\n".join(
        part for part in ("\n".join(summary) + "\n", _usage_section(data, repo_id), _similarity_section(data),
                          _audit_section(data), args_block, cite) if part
    )
    return ModelCard(f"---\n{meta.to_yaml()}\n---\n\n{body}")


def write_model_card(folder: str | Path, data: FairnessCardData, *, repo_id: str | None = None) -> Path:
    """Render the card and write it to ``folder/README.md``; returns the path."""
    path = Path(folder) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    render_model_card(data, repo_id=repo_id).save(path)
    return path


def card_data_from_results(results: str | Path | Mapping[str, Any], run: str = "wdpo", **overrides: Any
                           ) -> FairnessCardData:
    """Card data for one run of a ``fairpp-hf align`` results JSON (``runs`` keyed by name).

    The other runs become the card's comparison columns. ``overrides`` replace any field.
    """
    if not isinstance(results, Mapping):
        results = json.loads(Path(results).read_text())
    runs = results.get("runs")
    if not isinstance(runs, Mapping) or run not in runs:
        available = sorted(runs) if isinstance(runs, Mapping) else []
        raise ValueError(f"results has no run {run!r}; available runs: {available}")
    this = runs[run]
    fields: dict[str, Any] = dict(
        base_model=results.get("base_model_id") or results.get("model"),
        method=this.get("method", run.upper()),
        target_persona=results.get("persona"),
        dataset=results.get("dataset", FAIR_PP_DATASET),
        dataset_config=results.get("dataset_config"),
        dataset_split=results.get("eval_split", "test"),
        synthetic=bool(results.get("synthetic", False)),
        smoke_scale=bool(results.get("smoke_scale", False)),
        training_args=this.get("training_args"),
        similarity=this.get("similarity"),
        comparisons={runs[r].get("method", r): runs[r]["similarity"] for r in runs
                     if r != run and runs[r].get("similarity")},
        audits=this.get("audits"),
    )
    fields.update(overrides)
    return FairnessCardData(**fields)


# ---------------------------------------------------------------------------------------------- trainers
class FairnessCardMixin:
    """Mix into a ``transformers.Trainer`` subclass so ``push_to_hub`` carries the fairness card.

    When ``self.fairness_card`` (a :class:`FairnessCardData`) is set, ``create_model_card`` writes it to
    ``output_dir/README.md`` (with the trainer's own arguments when the card has none) and points the
    saved ``adapter_config.json`` at the base model's Hub id; otherwise the parent's card is written.
    """

    fairness_card: FairnessCardData | None = None

    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None,
                          tags: str | list[str] | None = None, **kwargs: Any) -> None:
        """Write the fairness card (if attached) instead of the stock draft card."""
        card = getattr(self, "fairness_card", None)
        if card is None:
            return super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags, **kwargs)
        if not self.is_world_process_zero():
            return None
        if card.training_args is None:
            card = dataclasses.replace(card, training_args=self.args)
        if tags:
            card = dataclasses.replace(card, tags=[*card.tags, *([tags] if isinstance(tags, str) else tags)])
        out = Path(self.args.output_dir)
        from .hub import set_adapter_base_model

        if (out / "adapter_config.json").is_file():
            set_adapter_base_model(out, card.base_model)
        scrub_training_args_file(out, self.args)
        write_model_card(out, card, repo_id=getattr(self, "hub_model_id", None))
        return None


def scrub_training_args_file(folder: str | Path, args: Any) -> bool:
    """Rewrite ``folder/training_args.bin`` without secrets (e.g. ``hub_token``); True if one was removed.

    ``Trainer.push_to_hub`` uploads that pickle as is, token included: the card path scrubs it first.
    """
    path = Path(folder) / "training_args.bin"
    secrets = [k for k, v in vars(args).items() if _SECRET_KEY.search(k) and isinstance(v, str) and v]
    if not path.is_file() or not secrets:
        return False
    import torch

    clean = copy.copy(args)
    for key in secrets:
        object.__setattr__(clean, key, None)
    torch.save(clean, path)
    return True


_CARD_CLASSES: dict[type, type] = {}


def attach_fairness_card(trainer: Any, card: FairnessCardData) -> Any:
    """Make ``trainer.push_to_hub()`` publish ``card`` as the model card; returns the trainer.

    Trainers built on :class:`FairnessCardMixin` just get the attribute. Any other ``transformers.Trainer``
    instance is given a subclass of its own class with the mixin (its class, methods and state are
    otherwise unchanged), so stock TRL trainers work too.
    """
    if not isinstance(card, FairnessCardData):
        raise TypeError(f"card must be a FairnessCardData; got {type(card).__name__}")
    if not hasattr(trainer, "create_model_card") or not hasattr(trainer, "args"):
        raise TypeError(f"trainer must be a transformers.Trainer; got {type(trainer).__name__}")
    if not isinstance(trainer, FairnessCardMixin):
        cls = type(trainer)
        if cls not in _CARD_CLASSES:
            _CARD_CLASSES[cls] = type(cls.__name__, (FairnessCardMixin, cls), {"__module__": cls.__module__})
        trainer.__class__ = _CARD_CLASSES[cls]
    trainer.fairness_card = card
    return trainer


CARD_FILE = "fairness_card.json"


def save_card_data(folder: str | Path, data: FairnessCardData) -> Path:
    """Store the card's data as ``folder/fairness_card.json`` (secrets removed), for a later ``fairpp-hf push``."""
    payload = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    payload["training_args"] = sanitize_training_args(data.training_args) or None
    path = Path(folder) / CARD_FILE
    path.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=True) + "\n")
    return path


def load_card_data(path: str | Path, **overrides: Any) -> FairnessCardData:
    """Read a ``fairness_card.json`` written by :func:`save_card_data`; ``overrides`` replace fields."""
    path = Path(path)
    if path.is_dir():
        path = path / CARD_FILE
    payload = json.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(FairnessCardData)}
    unknown = sorted(set(payload) - known)
    if unknown:
        raise ValueError(f"{path}: unknown card field(s) {unknown}")
    payload.update({k: v for k, v in overrides.items() if v is not None})
    return FairnessCardData(**payload)
