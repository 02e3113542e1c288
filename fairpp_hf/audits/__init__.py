"""The five fairness audits of the Pareto-teacher paper, each with an offline default scorer.

Each module exposes ``audit_<name>(texts, table, backend="offline", ...) -> dict`` built on
:func:`fairpp_hf.audits.stats.audit_report` (per-message scores, matched-pair gaps with bootstrap CIs,
Welch t for gender and ANOVA for age):

- ``persuasion``: persuasion bias index (agency + modality + 0.1 x imperatives);
- ``formality``: formality disparity;
- ``emotion``: emotional framing disparity (distance between emotion distributions);
- ``lexical``: lexical association disparity (odds ratios, stereotype words, WEAT-style association);
- ``fidelity``: personalization fidelity.

Names are imported lazily so that importing one audit does not load the others' models.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> submodule of fairpp_hf.audits.
_EXPORTS: dict[str, str] = {
    "audit_report": "stats", "pair_gaps": "stats", "bootstrap_ci": "stats", "group_test": "stats",
    "audit_persuasion": "persuasion", "persuasion_scores": "persuasion", "PersuasionScorer": "persuasion",
    "load_agency_lexicon": "persuasion",
    "audit_lexical": "lexical", "LexicalScorer": "lexical",
    "audit_formality": "formality", "audit_emotion": "emotion", "audit_fidelity": "fidelity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fairpp_hf.audits' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return __all__
