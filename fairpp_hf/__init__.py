"""fairpp-hf: fair, personalized preference alignment for the Hugging Face stack.

Implements Fair-PP (arXiv 2505.11861: persona preference data, Eq. 1 reweighting, WDPO, persona JS
similarity) and Pareto-guided teacher alignment (arXiv 2606.10126: teacher revisions, pair-aware
gating, Pareto selection, five fairness audits, bounded-regression model selection).

Names are imported lazily, so ``import fairpp_hf`` stays fast and pulls in torch/trl only when a
trainer or model function is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    # personas and taxonomy
    "PERSONAS": "personas", "Persona": "personas", "PERSONA_IDS": "personas",
    "DIMENSIONS": "taxonomy", "GROUPS": "taxonomy", "TOPICS": "taxonomy",
    # records, weights, training views
    "load_records": "data", "LoadReport": "data", "answer_matrix": "data",
    "split_by_question": "data", "normalize_answers": "data", "RECORD_FEATURES": "data",
    "synthetic_records": "synthetic", "synthetic_frame": "synthetic", "is_synthetic": "synthetic",
    "persona_weights": "weighting", "persona_tiers": "weighting",
    "build_pairs": "pairs", "build_sft": "pairs", "build_distributions": "pairs",
    "build_tiny_model": "tiny",
    "metric_path": "resources", "metric_names": "resources", "dataset_script_path": "resources",
    # the datasets builder and the Hub-ready export
    "FairPP": "builder", "FairPPConfig": "builder", "config_name": "builder",
    "export_dataset": "export", "ExportResult": "export", "push_folder": "export",
    "dataset_card": "cards",
    # trainers
    "WeightedDPOConfig": "trainers", "WeightedDPOTrainer": "trainers",
    "WeightedSFTConfig": "trainers", "WeightedSFTTrainer": "trainers",
    "ParetoTeacherDPOConfig": "trainers", "ParetoTeacherDPOTrainer": "trainers",
    # positioning and persona similarity
    "position": "positioning", "PositionReport": "positioning", "load_causal_lm": "positioning",
    "option_continuations": "positioning",
    "persona_similarity": "similarity", "margin_change": "similarity", "breakdown_from_records": "similarity",
    "similarity_heatmap": "plots",
    # demographic grid and the five audits
    "matched_pairs": "grid", "read_generations": "grid", "grid_prompts": "grid", "Grid": "grid", "GRIDS": "grid",
    "CLIMATE_GRID": "grid", "VACCINATION_GRID": "grid",
    "audit_report": "audits", "pair_gaps": "audits", "bootstrap_ci": "audits", "group_test": "audits",
    "audit_persuasion": "audits", "persuasion_scores": "audits", "PersuasionScorer": "audits",
    "load_agency_lexicon": "audits", "audit_lexical": "audits", "LexicalScorer": "audits",
    "audit_formality": "audits", "audit_emotion": "audits", "audit_fidelity": "audits",
    # teachers, Pareto selection, model selection
    "OpenAITeacher": "teachers", "TransformersTeacher": "teachers", "Candidate": "teachers",
    "pareto_front": "pareto", "GateConfig": "pareto", "gate_candidates": "pareto", "select_candidates": "pareto",
    "build_training_data": "pareto", "run_teacher_pipeline": "pareto", "audit_scorer": "pareto",
    "select_models": "selection", "SelectionResult": "selection", "load_results": "selection",
    # Hub and model cards
    "push_adapter": "hub", "save_for_hub": "hub", "set_adapter_base_model": "hub",
    "FairnessCardData": "model_card", "FairnessCardMixin": "model_card", "attach_fairness_card": "model_card",
    "render_model_card": "model_card", "write_model_card": "model_card", "card_data_from_results": "model_card",
    # the main job
    "AlignConfig": "experiment", "run_align": "experiment",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fairpp_hf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
