"""The Fair-PP alignment experiment end to end: vanilla DPO vs WDPO (LoRA) for one target persona.

records (embedded SYNTHETIC sample, a Fair-PP file/folder or a Hub id) -> train/test split by question
-> Eq. 1 weights for the persona -> preference pairs -> DPO (stock ``trl.DPOTrainer``) and WDPO
(:class:`~fairpp_hf.trainers.WeightedDPOTrainer`, same pairs, same seed, same LoRA) -> positioning of the
base model and both adapters on the test questions -> persona JS similarity, margins and their changes
-> adapters saved with fairness model cards (pushed to the Hub on request), a heatmap PNG and
``results.json``.

Without a model the run builds a tiny Llama offline (:func:`fairpp_hf.tiny.build_tiny_model`): a
SMOKE-SCALE run that checks the pipeline, labelled as such everywhere. The same call with a Hub model
id on a GPU is the real experiment (the paper: Llama-3.2-3B-Instruct, persona 6, beta 0.1).
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .jsonio import write_json
from .personas import PERSONAS, check_persona
from .prompts import check_format

logger = logging.getLogger(__name__)

#: Stand-in Hub id written into the smoke-scale adapters' cards and configs (the tiny base is built locally).
TINY_BASE_ID = "fairpp-hf/tiny-llama-smoke"
RUN_NAMES: tuple[str, ...] = ("base", "dpo", "wdpo")
METHOD_LABELS = {"base": "base", "dpo": "DPO", "wdpo": "WDPO"}


@dataclass
class AlignConfig:
    """Settings of :func:`run_align` (one flag each in ``fairpp-hf align``).

    Parameters:
        model: Hub id or folder of the base causal LM; None builds the tiny smoke-scale model offline.
        base_model_id: Hub id recorded in adapters and cards (defaults to ``model`` when it is a Hub id).
        dataset: Fair-PP file, folder or Hub id; None uses the embedded SYNTHETIC sample.
        n_questions: questions used (synthetic sample size, or a seeded subsample of ``dataset``; None = all).
        persona: target persona 1..7 (the paper: 6).
        test_size: share of questions held out for positioning (split by question text).
        format: prompt format for training and positioning (``conversational`` = chat template).
        epochs, learning_rate, beta, batch_size, grad_accum, max_length, max_steps: DPO training (learning_rate
            None: 2e-3 for the tiny model, 5e-5 otherwise).
        sft_warmup: the paper's pipeline: SFT then DPO, weighted SFT then WDPO (same settings; the DPO
            reference is then the SFT policy, and the published adapter holds both stages).
        lora_r, lora_alpha, lora_dropout, lora_target_modules: the LoRA adapter.
        position_method: ``score`` (letter probabilities) or ``generate`` (parsed answers).
        similarity_mode: headline mode (``pooled`` as in the paper); both modes are always computed.
        out: output folder. seed: one seed for split, pairs, LoRA init and training.
        push_to_hub: ``namespace/prefix``: push ``{prefix}-dpo-persona{p}`` and ``{prefix}-wdpo-persona{p}``.
        hub_private: create pushed repos private. hub_endpoint: another Hub server.
        cpu_threads: torch threads on CPU (None: 1 for the tiny model, which gains nothing from more).
        progress: show progress bars.
    """

    model: str | None = None
    base_model_id: str | None = None
    dataset: str | None = None
    n_questions: int | None = 400
    persona: int = 6
    test_size: float = 0.2
    format: str = "conversational"
    epochs: float = 1.0
    learning_rate: float | None = None
    beta: float = 0.1
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    max_steps: int = -1
    sft_warmup: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"
    position_method: str = "score"
    position_batch_size: int = 32
    similarity_mode: str = "pooled"
    seed: int = 0
    out: str = "outputs/align"
    push_to_hub: str | None = None
    hub_private: bool = True
    hub_endpoint: str | None = None
    cpu_threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.persona = check_persona(self.persona)
        check_format(self.format)
        if self.n_questions is not None and (not isinstance(self.n_questions, int) or self.n_questions < 2):
            raise ValueError(f"n_questions={self.n_questions!r} must be an int >= 2 (or None for all)")
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size={self.test_size} must be in (0, 1)")
        for name in ("batch_size", "grad_accum", "max_length", "lora_r", "position_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be a positive int")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("epochs must be > 0 (or max_steps > 0)")
        if self.beta <= 0:
            raise ValueError(f"beta={self.beta} must be > 0")
        if self.position_method not in ("score", "generate"):
            raise ValueError(f"position_method={self.position_method!r} must be 'score' or 'generate'")
        if self.similarity_mode not in ("pooled", "per_question"):
            raise ValueError(f"similarity_mode={self.similarity_mode!r} must be 'pooled' or 'per_question'")
        if self.push_to_hub is not None and self.push_to_hub.count("/") != 1:
            raise ValueError(f"push_to_hub={self.push_to_hub!r} must be 'namespace/prefix'")

    @property
    def smoke_scale(self) -> bool:
        """True when the base model is the tiny one built offline."""
        return self.model is None


@dataclass
class AlignResult:
    """What :func:`run_align` produced: the results dict (also in ``results.json``) and file paths."""

    results: dict[str, Any]
    out: Path
    files: dict[str, str]

    def summary(self) -> str:
        """The readable end-of-run summary."""
        return format_summary(self.results)


# ---------------------------------------------------------------------------------------------- data
def _load_data(cfg: AlignConfig):
    from .data import split_by_question
    from .synthetic import FULL_SIZE, is_synthetic, synthetic_records

    if cfg.dataset is None:
        records = synthetic_records(min(cfg.n_questions or FULL_SIZE, FULL_SIZE), seed=cfg.seed)
        source = "SYNTHETIC sample (fairpp_hf.synthetic_records)"
    else:
        from .data import load_records

        records, report = load_records(cfg.dataset, return_report=True)
        source = cfg.dataset
        logger.info("loaded %s: %s", cfg.dataset, report.summary())
        if cfg.n_questions is not None and cfg.n_questions < len(records):
            pick = np.sort(np.random.default_rng(cfg.seed).choice(len(records), cfg.n_questions, replace=False))
            logger.info("using a seeded subsample of %d of %d questions", cfg.n_questions, len(records))
            records = records.select(pick)
        elif cfg.n_questions is not None and cfg.n_questions > len(records):
            logger.warning("n_questions=%d but %s holds %d questions: using all of them",
                           cfg.n_questions, cfg.dataset, len(records))
    split = split_by_question(records, test_size=cfg.test_size, seed=cfg.seed)
    if len(split["train"]) == 0 or len(split["test"]) == 0:
        raise ValueError(
            f"the split of {len(records)} questions with test_size={cfg.test_size} left an empty side "
            f"(train {len(split['train'])}, test {len(split['test'])}): use more questions"
        )
    return split, source, is_synthetic(records)


# ---------------------------------------------------------------------------------------------- model
def _base_model(cfg: AlignConfig, out: Path) -> tuple[str, str, bool]:
    """(path to load the base from, Hub id for cards/configs, whether that id is a stand-in)."""
    if cfg.model is None:
        from .tiny import build_tiny_model

        path = out / "base_model"
        build_tiny_model(path, seed=cfg.seed)
        return str(path), cfg.base_model_id or TINY_BASE_ID, cfg.base_model_id is None
    if cfg.base_model_id:
        return cfg.model, cfg.base_model_id, False
    if Path(cfg.model).expanduser().exists():
        return cfg.model, "", False
    return cfg.model, cfg.model, False


def _device_kwargs(cfg: AlignConfig) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "use_cpu": not cuda,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "fp16": False,
    }


def _load(path: str):
    """Model and tokenizer; on a GPU the model is loaded in bf16 (when supported) and moved there."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not torch.cuda.is_available():
        return AutoModelForCausalLM.from_pretrained(path), tokenizer
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to("cuda"), tokenizer


def _shared_args(cfg: AlignConfig, output_dir: Path) -> dict[str, Any]:
    """Trainer arguments the SFT and DPO stages of both arms share."""
    lr = cfg.learning_rate if cfg.learning_rate is not None else (2e-3 if cfg.smoke_scale else 5e-5)
    return dict(
        output_dir=str(output_dir), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        learning_rate=lr, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        max_length=cfg.max_length, seed=cfg.seed, gradient_checkpointing=False, report_to="none",
        save_strategy="no", logging_steps=10, disable_tqdm=not cfg.progress, dataloader_num_workers=0,
        **_device_kwargs(cfg),
    )


def _training_args(cfg: AlignConfig, run: str, out: Path, weighted: bool):
    from trl import DPOConfig

    from .trainers import WeightedDPOConfig

    kwargs = dict(_shared_args(cfg, out / run / "trainer"), beta=cfg.beta, lr_scheduler_type="linear", warmup_steps=0)
    if weighted:
        return WeightedDPOConfig(**kwargs, weight_column="weight", weight_normalization="weighted_mean")
    return DPOConfig(**kwargs)


def _sft_args(cfg: AlignConfig, run: str, out: Path, weighted: bool):
    from trl import SFTConfig

    from .trainers import WeightedSFTConfig

    kwargs = _shared_args(cfg, out / run / "sft_trainer")
    if weighted:
        return WeightedSFTConfig(**kwargs, weight_column="weight", weight_normalization="weighted_mean")
    return SFTConfig(**kwargs)


def _sft(cfg: AlignConfig, run: str, model, tokenizer, sft_rows, out: Path):
    """SFT warm start (stock TRL for the DPO arm, weighted for the WDPO arm); returns the LoRA model."""
    from trl import SFTTrainer

    from .trainers import WeightedSFTTrainer

    weighted = run == "wdpo"
    args = _sft_args(cfg, run, out, weighted)
    trainer_cls = WeightedSFTTrainer if weighted else SFTTrainer
    rows = sft_rows if weighted else sft_rows.remove_columns(["weight"])
    trainer = trainer_cls(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                          peft_config=_lora(cfg))
    started = time.perf_counter()
    output = trainer.train()
    info = {"sft_loss": float(output.training_loss), "sft_steps": int(trainer.state.global_step),
            "sft_seconds": time.perf_counter() - started, "sft_training_args": args}
    return trainer.model, info


def _lora(cfg: AlignConfig):
    from peft import LoraConfig

    targets: str | list[str] = cfg.lora_target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def _train(cfg: AlignConfig, run: str, base_path: str, pairs, out: Path, sft_rows=None):
    """Train one LoRA adapter; DPO is the stock TRL trainer, WDPO the weighted one, all else equal.

    With ``sft_rows`` the adapter is first trained by (weighted) SFT and DPO continues it; TRL then keeps a
    frozen copy of the SFT adapter as the reference policy.
    """
    import torch
    from trl import DPOTrainer

    from .trainers import WeightedDPOTrainer

    weighted = run == "wdpo"
    torch.manual_seed(cfg.seed)
    model, tokenizer = _load(base_path)
    info: dict[str, Any] = {}
    peft_config = _lora(cfg)
    if sft_rows is not None:
        model, info = _sft(cfg, run, model, tokenizer, sft_rows, out)
        peft_config = None
    args = _training_args(cfg, run, out, weighted)
    trainer_cls = WeightedDPOTrainer if weighted else DPOTrainer
    train = pairs if weighted else pairs.remove_columns(["weight"])
    trainer = trainer_cls(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                          peft_config=peft_config)
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    history = [e for e in trainer.state.log_history if "loss" in e]
    return trainer, tokenizer, {
        **info,
        "train_loss": float(output.training_loss), "train_seconds": seconds, "steps": int(trainer.state.global_step),
        "loss_history": [{"step": e.get("step"), "loss": e["loss"]} for e in history],
        "training_args": args,
    }


# ---------------------------------------------------------------------------------------------- evaluation
def _evaluate(cfg: AlignConfig, model, tokenizer, test) -> dict[str, Any]:
    from .data import answer_matrix
    from .positioning import position
    from .similarity import persona_similarity

    probs, report = position(model, tokenizer, test, method=cfg.position_method, format=cfg.format,
                             batch_size=cfg.position_batch_size, progress=cfg.progress, return_report=True)
    refs = answer_matrix(test)
    both = {mode: persona_similarity(probs, refs, target_persona=cfg.persona, mode=mode)
            for mode in ("pooled", "per_question")}
    headline = both[cfg.similarity_mode]
    return {"similarity": headline, "similarity_by_mode": both, "position": report.to_dict(),
            "answer_distribution": probs.mean(axis=0).tolist()}


def _relative(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or abs(old) < 1e-12:
        return None
    return (new - old) / abs(old)


def compare_runs(runs: dict[str, dict[str, Any]], persona: int) -> dict[str, Any]:
    """Margins of every run and WDPO's changes against DPO and the base model, in every similarity mode.

    ``divergence_to_others``: mean over the six other personas of (1 - similarity), i.e. the mean JS
    distance; ``divergence_change`` is its relative change (the paper's "divergence reduced by up to 37.8%").
    """
    out: dict[str, Any] = {}
    for mode in ("pooled", "per_question"):
        rows: dict[str, dict[str, float | None]] = {}
        for name, run in runs.items():
            sim = run["similarity_by_mode"][mode]
            others = [v for k, v in sim["similarity"].items() if int(k) != persona]
            rows[name] = {
                "target_similarity": sim["target_similarity"], "margin_best": sim["margin_best"],
                "margin_mean": sim["margin_mean"], "closest_persona": sim["closest_persona"],
                "divergence_to_target": 1.0 - sim["target_similarity"],
                "divergence_to_others": float(np.mean([1.0 - v for v in others])),
            }
        changes = {}
        for ref in ("dpo", "base"):
            if "wdpo" in rows and ref in rows:
                changes[f"wdpo_vs_{ref}"] = {
                    "margin_mean_change": _relative(rows["wdpo"]["margin_mean"], rows[ref]["margin_mean"]),
                    "margin_best_change": _relative(rows["wdpo"]["margin_best"], rows[ref]["margin_best"]),
                    "target_similarity_diff": rows["wdpo"]["target_similarity"] - rows[ref]["target_similarity"],
                    "divergence_to_target_change": _relative(rows["wdpo"]["divergence_to_target"],
                                                             rows[ref]["divergence_to_target"]),
                }
        out[mode] = {"runs": rows, "changes": changes}
    return out


# ---------------------------------------------------------------------------------------------- outputs
def plot_runs(runs: dict[str, dict[str, Any]], persona: int, path: str | Path, mode: str = "pooled") -> Path:
    """Heatmap of similarity to each persona (columns) for each run (rows), target column outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names = list(runs)
    values = np.array([[runs[n]["similarity_by_mode"][mode]["similarity"][k] for k in PERSONAS] for n in names])
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(names)))
    im = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(PERSONAS)), [f"{k}\n{p.name.replace(' ', chr(10))}" for k, p in PERSONAS.items()],
                  fontsize=7)
    ax.set_yticks(range(len(names)), [METHOD_LABELS.get(n, n) for n in names])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] < values.mean() else "black")
    ax.add_patch(Rectangle((persona - 1.5, -0.5), 1, len(names), fill=False, edgecolor="red", linewidth=2))
    ax.set_title(f"Persona JS similarity ({mode}), target persona {persona} outlined")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _run_heatmaps(runs: dict[str, dict[str, Any]], out: Path) -> dict[str, str]:
    """The 8 x 8 persona/model matrix of each run, drawn by :func:`fairpp_hf.plots.similarity_heatmap`."""
    from .plots import similarity_heatmap

    files = {}
    for name, run in runs.items():
        path = out / f"heatmap_{name}.png"
        sim = run["similarity"]
        labels = [f"P{k}" for k in PERSONAS] + [METHOD_LABELS.get(name, name)]
        similarity_heatmap(sim["matrix"], labels, path,
                           title=f"{METHOD_LABELS.get(name, name)}: persona JS similarity ({sim['mode']})")
        files[f"heatmap_{name}"] = str(path)
    return files


def format_summary(results: dict[str, Any]) -> str:
    """Readable summary: data, model, the persona similarity table, margins and WDPO's changes."""
    p = results["persona"]
    mode = results["similarity_mode"]
    runs = results["runs"]
    lines = []
    if results.get("smoke_scale"):
        lines.append("SMOKE-SCALE RUN: tiny model built offline; the numbers only show the pipeline works.")
    if results.get("synthetic"):
        lines.append("SYNTHETIC DATA: the embedded synthetic sample, not Fair-PP.")
    lines += [
        f"Fair-PP alignment for persona {p} ({PERSONAS[p].name}), {mode} similarity",
        f"  model: {results['model']}   data: {results['dataset']}",
        f"  questions: {results['n_train_questions']} train ({results['n_pairs']} pairs), "
        f"{results['n_test_questions']} test   wall time: {results['wall_seconds']:.1f} s",
        "",
        f"  {'persona':<32}" + "".join(f"{METHOD_LABELS[n]:>9}" for n in runs),
    ]
    for k, persona in PERSONAS.items():
        mark = " <- target" if k == p else ""
        cells = "".join(f"{runs[n]['similarity']['similarity'][k]:>9.4f}" for n in runs)
        lines.append(f"  {f'{k} {persona.name}':<32}{cells}{mark}")
    for key in ("margin_best", "margin_mean"):
        lines.append(f"  {key:<32}" + "".join(f"{runs[n]['similarity'][key]:>+9.4f}" for n in runs))
    lines.append(f"  {'closest persona':<32}" + "".join(f"{runs[n]['similarity']['closest_persona']:>9d}" for n in runs))
    ch = results["comparison"][mode]["changes"].get("wdpo_vs_dpo", {})
    if ch:
        def pct(v):
            return "n/a" if v is None else f"{100 * v:+.1f}%"

        lines += ["", f"  WDPO vs DPO: margin_mean {pct(ch['margin_mean_change'])}, "
                      f"margin_best {pct(ch['margin_best_change'])}, "
                      f"target similarity {ch['target_similarity_diff']:+.4f}, "
                      f"divergence to target {pct(ch['divergence_to_target_change'])}"]
    for name in ("dpo", "wdpo"):
        if name in runs:
            r = runs[name]
            if "sft_steps" in r:
                lines.append(f"  {METHOD_LABELS[name]} SFT warm start: {r['sft_steps']} steps, loss {r['sft_loss']:.4f}, "
                             f"{r['sft_seconds']:.1f} s")
            lines.append(f"  {METHOD_LABELS[name]}: {r['steps']} steps, loss {r['train_loss']:.4f}, "
                         f"{r['train_seconds']:.1f} s; adapter {r['adapter_dir']}"
                         + (f"; pushed to {r['hub_repo']}" if r.get("hub_repo") else ""))
    lines += ["", f"  results: {results['files']['results']}", f"  heatmap: {results['files']['heatmap']}"]
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "trl", "peft", "datasets", "fairpp-hf"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _card(cfg: AlignConfig, run: str, runs: dict, results: dict, training_args, base_id: str):
    from .model_card import FairnessCardData

    return FairnessCardData(
        base_model=base_id, method=METHOD_LABELS[run] + (" (after SFT warm start)" if cfg.sft_warmup else ""),
        target_persona=cfg.persona,
        dataset=results["dataset_id"], dataset_split="held-out questions", synthetic=results["synthetic"],
        smoke_scale=cfg.smoke_scale, training_args=training_args, similarity=runs[run]["similarity"],
        comparisons={METHOD_LABELS[n]: runs[n]["similarity"] for n in runs if n != run},
        notes=("Trained and evaluated by `fairpp-hf align`: vanilla DPO and WDPO share pairs, seed and LoRA "
               "settings; only the Eq. 1 weights differ."
               + (f" The base model was built locally by `fairpp_hf.tiny.build_tiny_model`; `{base_id}` is a "
                  "stand-in id, not a published model." if results.get("base_model_id_is_stand_in") else "")),
    )


def _save_adapter(trainer, tokenizer, folder: Path, base_id: str) -> None:
    """Save the adapter and tokenizer; the config names the base model's Hub id when one is known."""
    from .hub import set_adapter_base_model

    # Only the trained adapter: after an SFT warm start TRL also holds a frozen "ref" copy of it.
    trainer.model.save_pretrained(folder, selected_adapters=["default"])
    tokenizer.save_pretrained(folder)
    if base_id:
        set_adapter_base_model(folder, base_id)
    else:
        logger.warning("%s names a local base model path: pass --base-model-id before pushing it", folder)


# ---------------------------------------------------------------------------------------------- pipeline
def run_align(cfg: AlignConfig) -> AlignResult:
    """Run DPO and WDPO for ``cfg.persona``, position all three models, write cards, JSON and PNG."""
    import torch

    started = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = cfg.cpu_threads if cfg.cpu_threads is not None else (1 if cfg.smoke_scale else None)
    previous_threads = torch.get_num_threads()
    if threads and not torch.cuda.is_available():
        torch.set_num_threads(int(threads))
    try:
        return _run_align(cfg, out, started)
    finally:
        torch.set_num_threads(previous_threads)


def _run_align(cfg: AlignConfig, out: Path, started: float) -> AlignResult:
    import torch

    from .data import answer_matrix
    from .model_card import sanitize_training_args
    from .pairs import build_pairs, build_sft
    from .weighting import persona_tiers

    if cfg.push_to_hub and cfg.model is not None and Path(cfg.model).expanduser().exists() and not cfg.base_model_id:
        raise ValueError("push_to_hub needs base_model_id when model is a local folder")

    split, source, synthetic = _load_data(cfg)
    train, test = split["train"], split["test"]
    pairs = build_pairs(train, cfg.persona, format=cfg.format, seed=cfg.seed)
    sft_rows = build_sft(train, cfg.persona, format=cfg.format) if cfg.sft_warmup else None
    tiers = persona_tiers(answer_matrix(train), cfg.persona)
    base_path, base_id, stand_in = _base_model(cfg, out)
    logger.info("data: %s; %d train / %d test questions; %d pairs", source, len(train), len(test), len(pairs))

    runs: dict[str, dict[str, Any]] = {}
    model, tokenizer = _load(base_path)
    runs["base"] = {"method": "base", **_evaluate(cfg, model, tokenizer, test)}
    del model
    args_by_run = {}
    for run in ("dpo", "wdpo"):
        trainer, tok, info = _train(cfg, run, base_path, pairs, out, sft_rows)
        runs[run] = {"method": METHOD_LABELS[run], **info, **_evaluate(cfg, trainer.model, tok, test)}
        folder = out / run / "adapter"
        _save_adapter(trainer, tok, folder, base_id)
        args_by_run[run] = runs[run].pop("training_args")
        runs[run]["training_args"] = sanitize_training_args(args_by_run[run])
        if "sft_training_args" in runs[run]:
            runs[run]["sft_training_args"] = sanitize_training_args(runs[run]["sft_training_args"])
        runs[run]["adapter_dir"] = str(folder)
        del trainer
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    results: dict[str, Any] = {
        "model": cfg.model or f"tiny Llama built offline ({base_path})",
        "base_model_id": base_id, "base_model_id_is_stand_in": stand_in,
        "dataset": source, "dataset_id": cfg.dataset or "fairpp_hf.synthetic_records",
        "synthetic": bool(synthetic), "smoke_scale": cfg.smoke_scale, "persona": cfg.persona,
        "persona_name": PERSONAS[cfg.persona].name, "similarity_mode": cfg.similarity_mode,
        "n_train_questions": len(train), "n_test_questions": len(test), "n_pairs": len(pairs),
        "tier_counts": {int(j): int(c) for j, c in zip(*np.unique(tiers, return_counts=True), strict=True)},
        "config": dataclasses.asdict(cfg),
        "versions": _versions(),
    }
    from .model_card import save_card_data, write_model_card

    for run in ("dpo", "wdpo"):
        folder = Path(runs[run]["adapter_dir"])
        repo_id = f"{cfg.push_to_hub}-{run}-persona{cfg.persona}" if cfg.push_to_hub else None
        card = _card(cfg, run, runs, results, args_by_run[run], base_id or str(cfg.model))
        write_model_card(folder, card, repo_id=repo_id)
        save_card_data(folder, card)
        if repo_id:
            from .hub import push_adapter

            push_adapter(folder, repo_id, base_model_id=base_id, card=card, private=cfg.hub_private,
                         endpoint=cfg.hub_endpoint)
            runs[run]["hub_repo"] = repo_id
    results["runs"] = runs
    results["comparison"] = compare_runs(runs, cfg.persona)
    files = {"results": str(out / "results.json"), "heatmap": str(out / "similarity_runs.png")}
    plot_runs(runs, cfg.persona, files["heatmap"], mode=cfg.similarity_mode)
    files.update(_run_heatmaps(runs, out))
    results["files"] = files
    results["wall_seconds"] = time.perf_counter() - started
    write_json(files["results"], results)
    return AlignResult(results=results, out=out, files=files)
