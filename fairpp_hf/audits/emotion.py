"""Emotional framing audit: a per-message emotion distribution and its disparity over matched pairs,
measured as the Jensen-Shannon distance between the two messages' distributions.

The predecessor work uses ``SamLowe/roberta-base-go_emotions``, a multi-label classifier over the 28
GoEmotions labels (27 emotions + neutral). Two backends, chosen with ``backend=``:

* ``"transformers"``: the original classifier (or any text-classification checkpoint) through a
  ``transformers`` pipeline; its per-label sigmoid scores are normalised to sum to one, giving a
  distribution over the model's own labels (28 for GoEmotions).
* ``"offline"`` (default): the NRC Emotion Lexicon (shipped in the ``nrclex`` PyPI package; we pass
  tokens, never raw text, so no TextBlob corpora are needed) counts words of Plutchik's eight emotions
  (anger, anticipation, disgust, fear, joy, sadness, surprise, trust), and VADER's compound score sets
  how much mass is emotional at all: ``P(neutral) = 1 - |compound|`` and the rest is split in
  proportion to the lexicon counts (all mass on neutral when no emotion word occurs). The label set
  (8 emotions + neutral) is coarser than GoEmotions' 28; six of the eight are Ekman emotions onto which
  the GoEmotions authors map their labels. Distances are comparable within a backend, not across.

The group-level test (Welch t / ANOVA) needs one number per message: the emotional intensity
``1 - P(neutral)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .base import check_backend, validate_texts
from .classifiers import backend_name, classifier_distribution
from .stats import DEFAULT_VARY, audit_report, js_distance

EMOTION_MODEL = "SamLowe/roberta-base-go_emotions"
"""Hub id of the GoEmotions classifier used by the predecessor work."""

#: The 28 GoEmotions labels, in the order of the original classifier's ``id2label``.
GO_EMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief", "joy",
    "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
#: Plutchik's eight emotions of the NRC lexicon, then neutral: the offline backend's labels.
OFFLINE_LABELS: tuple[str, ...] = (
    "anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust", "neutral",
)
NEUTRAL = "neutral"

_WORD = re.compile(r"[a-z]+")
#: Suffix rewrites tried, in order, when a word is not in the lexicon (a light lemmatiser).
_SUFFIX_RULES: tuple[tuple[str, str], ...] = (
    ("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
    ("ly", ""), ("ness", ""),
)


@lru_cache(maxsize=1)
def _nrc_lexicon() -> dict[str, np.ndarray]:
    """The NRC Emotion Lexicon from the ``nrclex`` package: word -> 0/1 vector over the 8 emotions."""
    try:
        source = resources.files("nrclex.data").joinpath("nrc_en.json")
    except ModuleNotFoundError as exc:
        raise ImportError("the offline emotion scorer needs the NRC lexicon: pip install 'nrclex>=4.1,<5'") from exc
    with source.open("r", encoding="utf-8") as handle:
        raw = json.load(handle)
    emotions = OFFLINE_LABELS[:-1]
    table: dict[str, np.ndarray] = {}
    for word, affects in raw.items():
        vector = np.array([e in affects for e in emotions], dtype=np.float64)
        if vector.any():
            table[word] = vector
    return table


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _lookup(word: str, lexicon: dict[str, np.ndarray]) -> np.ndarray | None:
    hit = lexicon.get(word)
    if hit is not None:
        return hit
    for suffix, replacement in _SUFFIX_RULES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            hit = lexicon.get(word[: -len(suffix)] + replacement)
            if hit is not None:
                return hit
    return None


def emotion_counts(texts: Sequence[str]) -> np.ndarray:
    """(n, 8) counts of NRC-lexicon emotion words per message (anger .. trust, OFFLINE_LABELS order)."""
    lexicon = _nrc_lexicon()
    cache: dict[str, np.ndarray | None] = {}
    counts = np.zeros((len(texts), len(OFFLINE_LABELS) - 1), dtype=np.float64)
    for i, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            if word not in cache:
                cache[word] = _lookup(word, lexicon)
            hit = cache[word]
            if hit is not None:
                counts[i] += hit
    return counts


def offline_emotions(texts: Sequence[str]) -> np.ndarray:
    """(n, 9) offline emotion distribution: VADER intensity split over NRC emotion counts, rest neutral."""
    counts = emotion_counts(texts)
    analyzer = _vader()
    intensity = np.abs(np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64))
    totals = counts.sum(axis=1, keepdims=True)
    has_emotion = totals[:, 0] > 0
    intensity = np.where(has_emotion, intensity, 0.0)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return np.column_stack([shares * intensity[:, None], 1.0 - intensity])


def emotion_distributions(
    texts: Sequence[str],
    *,
    backend: str = "offline",
    model: Any = EMOTION_MODEL,
    batch_size: int = 32,
    device: Any = None,
) -> tuple[np.ndarray, list[str]]:
    """Per-message emotion distributions ((n, k), rows sum to 1) and their label names."""
    check_backend(backend)
    values = validate_texts(texts)
    if backend == "offline":
        return offline_emotions(values), list(OFFLINE_LABELS)
    scores, labels = classifier_distribution(values, model, batch_size=batch_size, device=device)
    totals = scores.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        bad = np.flatnonzero(totals[:, 0] <= 0)[:5].tolist()
        raise ValueError(f"the emotion classifier gave all-zero scores for rows {bad}; cannot form a distribution")
    return scores / totals, labels


def emotional_intensity(distributions: np.ndarray, labels: Sequence[str]) -> np.ndarray | None:
    """1 - P(neutral) per message, the scalar used for group tests; None when there is no neutral label."""
    lowered = [str(label).lower() for label in labels]
    if NEUTRAL not in lowered:
        return None
    return 1.0 - np.asarray(distributions)[:, lowered.index(NEUTRAL)]


def audit_emotion(
    texts: Sequence[str],
    table: Any,
    backend: str = "offline",
    *,
    model: Any = EMOTION_MODEL,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    vary: Sequence[str] = DEFAULT_VARY,
    batch_size: int = 32,
    device: Any = None,
) -> dict[str, Any]:
    """Emotional framing disparity: per-message distributions, the mean JS distance over matched gender
    pairs and age contrasts with bootstrap CIs, and Welch t / ANOVA on emotional intensity."""
    dists, labels = emotion_distributions(texts, backend=backend, model=model, batch_size=batch_size, device=device)
    intensity = emotional_intensity(dists, labels)
    report = audit_report(dists, table, distance=js_distance, n_boot=n_boot, seed=seed, confidence=confidence,
                          vary=vary, group_scores=intensity)
    report["audit"] = "emotional_framing"
    report["backend"] = backend_name(backend, model)
    report["labels"] = list(labels)
    report["distance"] = "jensen_shannon"
    report["group_score"] = "intensity = 1 - P(neutral)" if intensity is not None else None
    per_message: dict[str, list[float]] = {label: dists[:, j].tolist() for j, label in enumerate(labels)}
    if intensity is not None:
        per_message["intensity"] = intensity.tolist()
    report["per_message"] = per_message
    return report
