"""Formality audit: per-message P(formal) and its disparity over matched demographic pairs.

The predecessor work scores formality with the classifier ``s-nlp/roberta-base-formality-ranker``
(probability of the label "formal"). That checkpoint cannot be downloaded offline, so there are two
backends, chosen with ``backend=``:

* ``"transformers"``: the original classifier (or any text-classification checkpoint with a "formal"
  label) through a ``transformers`` pipeline; ``model=`` takes a Hub id, a local folder or a ready
  pipeline.
* ``"offline"`` (default): a lexical register score in the spirit of Heylighen & Dewaele's F-score
  (1999), which counts non-deictic word classes (nouns, adjectives, articles, prepositions) as formal
  and deictic ones (pronouns, adverbs, interjections) as informal. Without a POS tagger we count the
  closed classes exactly from word lists, approximate nouns/adjectives by Latinate derivational
  suffixes and adverbs by ``-ly``, and add the colloquial markers a neural ranker also reacts to
  (contractions, slang, exclamation marks, emoji). The score is ``(formal + 1) / (formal + informal + 2)``:
  the Laplace-smoothed share of formal cues, in [0, 1], 0.5 when there are no cues. It ranks texts
  the way the ranker does on clear cases (tested), but it is not a calibrated estimate of the
  ranker's probability; compare disparities, not absolute levels, across backends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import check_backend, validate_texts
from .classifiers import backend_name, classifier_distribution, find_label
from .stats import DEFAULT_VARY, audit_report

FORMALITY_MODEL = "s-nlp/roberta-base-formality-ranker"
"""Hub id of the formality classifier used by the predecessor work (label "formal")."""

# --- word lists of the offline register score (one place for each list) -------------------------
ARTICLES = frozenset({"a", "an", "the"})
PREPOSITIONS = frozenset(
    "of in on at by for with from to into onto upon within without through throughout across among amongst "
    "between towards toward regarding concerning against during under over above below beyond via per amid "
    "despite around about along beside besides beneath behind underneath".split()
)
PRONOUNS = frozenset(
    "i me my mine myself we us our ours ourselves you your yours yourself yourselves ya y'all he him his himself "
    "she her hers herself it its itself they them their theirs themselves".split()
)
COLLOQUIAL = frozenset(
    "hey hi hello wow oh ooh yeah yep yup nope ok okay gonna wanna gotta kinda sorta cool awesome super totally "
    "folks guys dude dudes stuff lol omg btw yay huh um uh ain't c'mon cuz tho nah yo buddy pal huge amazing "
    "literally basically".split()
)
FORMAL_CONNECTIVES = frozenset(
    "therefore furthermore moreover consequently thus hence accordingly nevertheless nonetheless whereas hereby "
    "herein notwithstanding subsequently additionally whereby thereby respectively".split()
)
#: Derivational suffixes of (mostly Latinate) nouns and adjectives, the F-score's formal word classes.
NOMINAL_SUFFIXES = (
    "tion", "sion", "ment", "ness", "ity", "ance", "ence", "ancy", "ency", "ism", "ship",
    "ical", "ial", "al", "ive", "ous", "ic", "able", "ible", "ary", "ory",
)
#: Words ending in -ly that are not adverbs.
NON_ADVERB_LY = frozenset(
    "family supply apply reply rely ally july italy fly holy ugly jelly belly rally anomaly assembly butterfly "
    "bully monopoly only early daily likely friendly lovely lonely costly elderly".split()
)
CONTRACTION_SUFFIXES = ("n't", "'re", "'ll", "'ve", "'m", "'d")
_S_CONTRACTION_HOSTS = frozenset("it that there here what who let he she where how".split())

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_EXCLAIM = re.compile(r"!")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


# --- offline register score ----------------------------------------------------------------------
def _is_contraction(token: str) -> bool:
    if token.endswith(CONTRACTION_SUFFIXES):
        return True
    return token.endswith("'s") and token[:-2] in _S_CONTRACTION_HOSTS


def formality_cues(text: str) -> tuple[int, int]:
    """Counts of (formal, informal) register cues in one message; see the module docstring for the lists."""
    lowered = text.lower().replace("\u2019", "'")
    formal = informal = 0
    for token in _WORD.findall(lowered):
        if token in ARTICLES or token in PREPOSITIONS or token in FORMAL_CONNECTIVES:
            formal += 1
        elif token in PRONOUNS or token in COLLOQUIAL:
            informal += 1
        elif "'" in token:
            informal += _is_contraction(token)
        elif len(token) > 4 and token.endswith("ly") and token not in NON_ADVERB_LY:
            informal += 1
        elif len(token) > 5 and token.endswith(NOMINAL_SUFFIXES):
            formal += 1
    informal += len(_EXCLAIM.findall(text)) + len(_EMOJI.findall(text))
    return formal, informal


def offline_formality(texts: Sequence[str]) -> np.ndarray:
    """Lexical formality in [0, 1] per message: (formal cues + 1) / (all register cues + 2)."""
    counts = np.array([formality_cues(t) for t in texts], dtype=np.float64).reshape(-1, 2)
    return (counts[:, 0] + 1.0) / (counts.sum(axis=1) + 2.0)


def formality_scores(
    texts: Sequence[str],
    *,
    backend: str = "offline",
    model: Any = FORMALITY_MODEL,
    formal_label: str = "formal",
    batch_size: int = 32,
    device: Any = None,
) -> np.ndarray:
    """Per-message formality in [0, 1]: P(formal) from the classifier, or the offline register score."""
    check_backend(backend)
    values = validate_texts(texts)
    if backend == "offline":
        return offline_formality(values)
    scores, labels = classifier_distribution(values, model, batch_size=batch_size, device=device)
    return scores[:, find_label(labels, formal_label)]


def audit_formality(
    texts: Sequence[str],
    table: Any,
    backend: str = "offline",
    *,
    model: Any = FORMALITY_MODEL,
    formal_label: str = "formal",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    vary: Sequence[str] = DEFAULT_VARY,
    batch_size: int = 32,
    device: Any = None,
) -> dict[str, Any]:
    """Formality disparity: per-message scores, |gap| over matched gender pairs and age contrasts with
    bootstrap CIs, and the group tests of prior work (Welch t for gender, ANOVA for age).

    ``table`` holds the grid columns (stance, theme, age, gender, region) aligned with ``texts``.
    """
    scores = formality_scores(
        texts, backend=backend, model=model, formal_label=formal_label, batch_size=batch_size, device=device
    )
    report = audit_report(scores, table, n_boot=n_boot, seed=seed, confidence=confidence, vary=vary)
    report["audit"] = "formality"
    report["backend"] = backend_name(backend, model)
    report["per_message"] = {"formality": scores.tolist()}
    return report

