"""Pipeline helpers shared by the classifier-backed audits (formality, emotion, fidelity): loading a
``transformers`` pipeline, running a text-classification pipeline into a score matrix, finding a label
by name, and naming the scorer in a report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def load_pipeline(model: Any, task: str = "text-classification", device: Any = None) -> Any:
    """A ``transformers`` pipeline for ``task`` from a Hub id, a local folder, or an existing pipeline."""
    from transformers import Pipeline, pipeline

    if isinstance(model, Pipeline):
        return model
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a Hub id, a local path or a transformers Pipeline, got {model!r}")
    return pipeline(task, model=model, device=device)


def classifier_distribution(
    texts: Sequence[str], model: Any, *, batch_size: int = 32, device: Any = None, truncation: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Run a text-classification pipeline with all labels and return ((n, k) scores, label names).

    Columns follow the model's ``id2label`` order. Scores are whatever the pipeline's activation gives:
    softmax for single-label heads, sigmoid for ``multi_label_classification`` heads.
    """
    pipe = load_pipeline(model, "text-classification", device)
    id2label = pipe.model.config.id2label
    labels = [id2label[i] for i in sorted(id2label)]
    column = {label: j for j, label in enumerate(labels)}
    outputs = pipe(list(texts), top_k=None, batch_size=batch_size, truncation=truncation)
    scores = np.zeros((len(outputs), len(labels)), dtype=np.float64)
    for i, row in enumerate(outputs):
        for item in row:
            scores[i, column[item["label"]]] = item["score"]
    return scores, labels


def find_label(labels: Sequence[str], wanted: str) -> int:
    """Index of the label equal (case-insensitively) to ``wanted``; a clear error listing the labels otherwise."""
    lowered = [str(label).lower() for label in labels]
    if wanted.lower() not in lowered:
        raise ValueError(f"the classifier has no label {wanted!r}; its labels are {list(labels)}")
    return lowered.index(wanted.lower())


def backend_name(backend: str, model: Any) -> str:
    """What a report names as its scorer: "offline", or the classifier's Hub id / local path."""
    if backend == "offline":
        return "offline"
    if isinstance(model, str):
        return model
    return str(getattr(getattr(model, "model", None), "name_or_path", type(model).__name__))
