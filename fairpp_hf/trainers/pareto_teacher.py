"""ParetoTeacherDPOTrainer: Pareto-guided teacher alignment (arXiv 2606.10126) as a TRL DPO trainer.

Given base outputs on the demographic grid and a teacher, the trainer builds its own preference data
before training: K teacher revisions per output -> per-message audit scores -> the pair-aware
feasibility gate -> Pareto selection (all in :mod:`fairpp_hf.pareto`) -> DPO rows (chosen = selected
revision, rejected = original or a dominated revision) and SFT rows. It then optionally runs an SFT warm
start on the selected revisions and trains DPO on the pairs. Prebuilt pairs (``train_dataset``) skip the
teacher stage. It subclasses :class:`fairpp_hf.trainers.weighted_dpo.WeightedDPOTrainer`, so a ``weight``
column (1.0 for teacher pairs) works as in WDPO, and LoRA (``peft_config``) and accelerate work the same.

Warm start and reference model: with LoRA, the adapter is trained by SFT first and then by DPO, and the
reference is a frozen copy of the warm-started adapter (TRL's "ref" adapter); without LoRA, the reference
is a frozen copy of the warm-started model. In multi-process runs the teacher stage runs on the main
process first; the others then read its teacher cache, so no request is sent twice.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..pareto import GateConfig, audit_scorer, run_teacher_pipeline
from ._weighting import default_output_dir
from .weighted_dpo import WeightedDPOConfig, WeightedDPOTrainer

logger = logging.getLogger(__name__)


@dataclass
class ParetoTeacherDPOConfig(WeightedDPOConfig):
    r"""
    Configuration for [`ParetoTeacherDPOTrainer`]: every [`WeightedDPOConfig`] / [`trl.DPOConfig`] parameter, plus:

    Parameters:
        num_revisions (`int`, defaults to `4`): teacher revisions (K) per base output.
        audits (`list[str]` or `None`): score columns gated and Pareto-selected; `None` = the default scorer's
            audits (`persuasion`, `formality`, `emotion`).
        gate_tolerance (`float`, defaults to `0.0`): allowed rise of a matched pair's disparity on any audit.
        min_fidelity (`float` or `None`, defaults to `0.5`): personalization-fidelity floor for a candidate.
        max_fidelity_drop (`float` or `None`): allowed fidelity drop below the original.
        stance_threshold (`float` or `None`, defaults to `0.5`): minimum stance-preservation score.
        theme_threshold (`float` or `None`): minimum theme-preservation score.
        max_theme_drop (`float` or `None`, defaults to `0.1`): allowed drop of the theme score below the original's.
        require_improvement (`bool`, defaults to `True`): a candidate must improve at least one audit.
        rejected_source (`str`, defaults to `"original"`): DPO rejected side: `"original"`, `"dominated"`, `"both"`.
        pair_vary (`str`, defaults to `"gender"`): matched pairs when none are given: `"gender"` or `"age"`.
        scorer_backend (`str`, defaults to `"offline"`): backend of the default audit scorer.
        agency_lexicon (`str` or `None`): local `agency_power.csv` for the default scorer's persuasion audit.
        teacher_cache (`str` or `None`): informational; the teacher's own `cache_path` makes revisions resumable.
        save_teacher_data (`bool`, defaults to `True`): write candidates, verdicts, pairs and the report to
            `output_dir/teacher_alignment/`.
        sft_warm_start (`bool`, defaults to `False`): run SFT on the selected revisions before DPO.
        sft_learning_rate (`float`, defaults to `2e-5`), sft_num_train_epochs (`float`, defaults to `1.0`),
        sft_max_steps (`int`, defaults to `-1`): the warm start's schedule.
    """

    num_revisions: int = field(default=4, metadata={"help": "Teacher revisions (K) per base output."})
    audits: list[str] | None = field(
        default=None, metadata={"help": "Score columns to gate and select on; None = the default scorer's audits."})
    gate_tolerance: float = field(
        default=0.0, metadata={"help": "Allowed rise of a matched pair's disparity on any audit."})
    min_fidelity: float | None = field(default=0.5, metadata={"help": "Personalization-fidelity floor; None = off."})
    max_fidelity_drop: float | None = field(
        default=None, metadata={"help": "Allowed fidelity drop below the original; None = off."})
    stance_threshold: float | None = field(
        default=0.5, metadata={"help": "Minimum stance-preservation score; None = off."})
    theme_threshold: float | None = field(
        default=None, metadata={"help": "Minimum theme-preservation score; None = off."})
    max_theme_drop: float | None = field(
        default=0.1, metadata={"help": "Allowed drop of the theme-preservation score below the original's."})
    require_improvement: bool = field(
        default=True, metadata={"help": "A candidate must improve at least one audit's pair disparity."})
    rejected_source: str = field(
        default="original", metadata={"help": "DPO rejected side.", "choices": ["original", "dominated", "both"]})
    pair_vary: str = field(
        default="gender", metadata={"help": "Matched pairs when none are given.", "choices": ["gender", "age"]})
    scorer_backend: str = field(
        default="offline", metadata={"help": "Default audit scorer backend.", "choices": ["offline", "transformers"]})
    agency_lexicon: str | None = field(
        default=None, metadata={"help": "Local agency_power.csv for the default scorer's persuasion audit "
                                        "(None: the audit module's own download/cache)."})
    teacher_cache: str | None = field(
        default=None, metadata={"help": "Path of the teacher's resumable JSONL cache (used by the launch script)."})
    save_teacher_data: bool = field(
        default=True, metadata={"help": "Write candidates, gate verdicts, pairs and report to output_dir."})
    sft_warm_start: bool = field(default=False, metadata={"help": "Run SFT on the selected revisions before DPO."})
    sft_learning_rate: float = field(default=2e-5, metadata={"help": "Learning rate of the SFT warm start."})
    sft_num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs of the SFT warm start."})
    sft_max_steps: int = field(default=-1, metadata={"help": "Steps of the SFT warm start (-1: use epochs)."})

    def __post_init__(self):
        super().__post_init__()
        if self.num_revisions < 1:
            raise ValueError(f"num_revisions must be >= 1; got {self.num_revisions}")
        if self.rejected_source not in ("original", "dominated", "both"):
            raise ValueError(f"rejected_source must be 'original', 'dominated' or 'both'; got {self.rejected_source!r}")
        if self.pair_vary not in ("gender", "age"):
            raise ValueError(f"pair_vary must be 'gender' or 'age'; got {self.pair_vary!r}")

    def gate_config(self) -> GateConfig:
        """The :class:`fairpp_hf.pareto.GateConfig` these fields describe."""
        return GateConfig(
            tolerance=self.gate_tolerance, min_fidelity=self.min_fidelity, max_fidelity_drop=self.max_fidelity_drop,
            stance_threshold=self.stance_threshold, theme_threshold=self.theme_threshold,
            max_theme_drop=self.max_theme_drop, require_improvement=self.require_improvement)


def _sft_rows(dataset: Any) -> Any:
    """prompt/completion rows for the warm start from SFT rows or from DPO pairs (completion = chosen)."""
    cols = dataset.column_names
    if {"prompt", "completion"} <= set(cols):
        return dataset.select_columns(["prompt", "completion"])
    if {"prompt", "chosen"} <= set(cols):
        return dataset.select_columns(["prompt", "chosen"]).rename_column("chosen", "completion")
    raise ValueError(f"cannot build SFT warm-start rows from columns {cols}: need prompt+completion or prompt+chosen")


class ParetoTeacherDPOTrainer(WeightedDPOTrainer):
    """DPO on teacher-revised, pair-gated, Pareto-selected preference pairs (with optional SFT warm start).

    Either pass ``train_dataset`` (prebuilt pairs with prompt/chosen/rejected, optional ``weight``) or
    ``items`` (rows with ``id``, ``prompt``, ``output`` and the grid attributes) plus a ``teacher``
    (:class:`fairpp_hf.teachers.OpenAITeacher` / :class:`~fairpp_hf.teachers.TransformersTeacher` or any
    object with ``revise(items, k)``); ``pairs`` (matched pairs; default ``fairpp_hf.grid.matched_pairs``
    on ``items`` with ``args.pair_vary``) and ``scorer`` (default :func:`fairpp_hf.pareto.audit_scorer`)
    are optional. ``sft_dataset`` feeds the warm start when pairs are prebuilt (default: their chosen side).
    The pipeline's outputs are kept in ``self.teacher_data``; the warm start's log in ``self.sft_log_history``.
    """

    _tag_names = ["trl", "dpo", "pareto-teacher", "fairpp-hf"]

    def __init__(
        self,
        model: Any,
        ref_model: Any = None,
        args: ParetoTeacherDPOConfig | None = None,
        data_collator: Any = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        compute_metrics: Any = None,
        callbacks: Any = None,
        optimizers: tuple = (None, None),
        quantization_config: Any = None,
        peft_config: Any = None,
        *,
        teacher: Any = None,
        items: Any = None,
        pairs: pd.DataFrame | None = None,
        scorer: Any = None,
        sft_dataset: Any = None,
    ):
        if args is None:
            args = ParetoTeacherDPOConfig(default_output_dir(model, "ParetoDPO"))
        if not isinstance(args, ParetoTeacherDPOConfig):
            raise TypeError(f"args must be a ParetoTeacherDPOConfig; got {type(args).__name__}")
        if isinstance(model, str):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            processing_class = processing_class or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model, **(args.model_init_kwargs or {}))
        self.teacher_data = None
        self.sft_log_history: list[dict] = []
        if train_dataset is None:
            if items is None or teacher is None:
                raise ValueError("pass train_dataset (prebuilt pairs), or items and a teacher to build them")
            train_dataset, built_sft = self._build_pairs(args, items, pairs, teacher, scorer)
            sft_dataset = sft_dataset if sft_dataset is not None else built_sft
        elif items is not None or teacher is not None:
            raise ValueError("pass either train_dataset or items + teacher, not both")
        train_dataset = self._with_weights(train_dataset, args)
        if len(train_dataset) == 0:
            report = self.teacher_data.report if self.teacher_data is not None else {}
            raise ValueError(f"no preference pairs: no teacher candidate passed the gate (report: {report}); "
                             "loosen the gate (gate_tolerance, min_fidelity, ...) or raise num_revisions")
        if args.sft_warm_start:
            model, peft_config, ref_model = self._warm_start(
                model, ref_model, args, _sft_rows(sft_dataset if sft_dataset is not None else train_dataset),
                processing_class, peft_config)
        super().__init__(
            model=model, ref_model=ref_model, args=args, data_collator=data_collator, train_dataset=train_dataset,
            eval_dataset=eval_dataset, processing_class=processing_class, compute_metrics=compute_metrics,
            callbacks=callbacks, optimizers=optimizers, quantization_config=quantization_config,
            peft_config=peft_config,
        )

    @staticmethod
    def _with_weights(dataset: Any, args: ParetoTeacherDPOConfig) -> Any:
        """Prebuilt pairs without the weight column train unweighted: add weight 1.0 (logged)."""
        column = args.weight_column
        if column is None or dataset.column_names is None or column in dataset.column_names:
            return dataset  # (an IterableDataset of unknown columns is checked lazily by the weighted trainer)
        logger.info("train dataset has no %r column: every pair gets weight 1.0", column)
        return dataset.add_column(column, [1.0] * len(dataset))

    # ---- teacher stage -------------------------------------------------------------------------------

    def _build_pairs(self, args, items, pairs, teacher, scorer):
        table = items if isinstance(items, pd.DataFrame) else pd.DataFrame(
            items.to_list() if hasattr(items, "to_list") else list(items))
        if pairs is None:
            from ..grid import matched_pairs

            pairs = matched_pairs(table, vary=args.pair_vary)
            if len(pairs) == 0:
                raise ValueError(f"items form no matched {args.pair_vary} pairs; pass pairs= explicitly")
        if scorer is None:
            extra = {"lexicon": args.agency_lexicon} if args.agency_lexicon else {}
            scorer = audit_scorer(args.scorer_backend, **extra)
        audits = list(args.audits) if args.audits else ["persuasion", "formality", "emotion"]
        with args.main_process_first(desc="teacher revisions, gate and Pareto selection"):
            data = run_teacher_pipeline(table, pairs, teacher, scorer, audits, k=args.num_revisions,
                                        gate=args.gate_config(), rejected=args.rejected_source)
        self.teacher_data = data
        logger.info("teacher pipeline: %s", data.report)
        if args.save_teacher_data and args.process_index == 0:
            self._save_teacher_data(Path(args.output_dir) / "teacher_alignment", data)
        return data.dpo, data.sft

    @staticmethod
    def _save_teacher_data(folder: Path, data: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        keep = [c for c in data.gated.columns if c not in ("emotion",)]
        data.gated[keep].to_json(folder / "candidates.jsonl", orient="records", lines=True, default_handler=str)
        data.selection.to_json(folder / "selection.jsonl", orient="records", lines=True, default_handler=str)
        data.dpo.to_json(folder / "dpo.jsonl")
        data.sft.to_json(folder / "sft.jsonl")
        (folder / "report.json").write_text(json.dumps(data.report, indent=2, default=str))

    # ---- SFT warm start ------------------------------------------------------------------------------

    def _warm_start(self, model, ref_model, args, sft_rows, processing_class, peft_config):
        from trl import SFTConfig, SFTTrainer

        if len(sft_rows) == 0:
            raise ValueError("sft_warm_start is on but there are no SFT rows")
        if peft_config is not None:
            from peft import get_peft_model

            model = get_peft_model(model, peft_config)
        sft_args = SFTConfig(
            output_dir=str(Path(args.output_dir) / "sft_warm_start"),
            learning_rate=args.sft_learning_rate, num_train_epochs=args.sft_num_train_epochs,
            max_steps=args.sft_max_steps, per_device_train_batch_size=args.per_device_train_batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps, bf16=args.bf16, fp16=args.fp16,
            use_cpu=args.use_cpu, seed=args.seed, logging_steps=args.logging_steps, report_to=args.report_to,
            save_strategy="no", activation_checkpointing=bool(args.activation_checkpointing), max_length=args.max_length,
            disable_tqdm=args.disable_tqdm,
        )
        sft = SFTTrainer(model=model, args=sft_args, train_dataset=sft_rows, processing_class=processing_class)
        sft.train()
        self.sft_log_history = list(sft.state.log_history)
        model = sft.model  # the same object, trained in place (a PeftModel with LoRA)
        del sft
        if peft_config is None and ref_model is None:
            # TRL would rebuild the reference from config._name_or_path, i.e. the weights *before* the warm start.
            ref_model = copy.deepcopy(model).eval()
            ref_model.requires_grad_(False)
        # with LoRA the PeftModel goes on without peft_config: TRL copies the warm-started adapter as reference
        return model, None, ref_model
