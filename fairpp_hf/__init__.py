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
    "metric_path": "resources", "dataset_script_path": "resources",
    # the datasets builder and the Hub-ready export
    "FairPP": "builder", "FairPPConfig": "builder",
    "export_dataset": "export",
    # trainers
    "WeightedDPOConfig": "trainers", "WeightedDPOTrainer": "trainers",
    "WeightedSFTConfig": "trainers", "WeightedSFTTrainer": "trainers",
    "ParetoTeacherDPOConfig": "trainers", "ParetoTeacherDPOTrainer": "trainers",
    # positioning and persona similarity
    "position": "positioning",
    "persona_similarity": "similarity",
    # grid and audits
    "matched_pairs": "grid", "CLIMATE_GRID": "grid", "VACCINATION_GRID": "grid",
    # teachers, Pareto selection, model selection
    "OpenAITeacher": "teachers", "TransformersTeacher": "teachers",
    "pareto_front": "pareto",
    "select_models": "selection",
    # Hub
    "push_adapter": "hub",
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
