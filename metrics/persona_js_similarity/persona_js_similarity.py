"""Persona JS similarity: how close a model's answers are to each of the seven Fair-PP personas.

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.similarity.persona_similarity``.
"""

import datasets
import evaluate
import numpy as np

from fairpp_hf.cards import FAIRPP_CITATION
from fairpp_hf.similarity import persona_similarity

_CITATION = FAIRPP_CITATION + "\n"

_DESCRIPTION = """\
Places a model among the seven Fair-PP personas. For every persona, similarity = 1 - Jensen-Shannon
distance (scipy's definition: square root of the JS divergence, natural log) between the model's
A/B/C answers and the persona's. Mode "pooled" (the paper's) compares the A/B/C distributions pooled
over all questions; mode "per_question" averages the distance between the model's distribution and
the persona's one-hot answer question by question (stricter: agreeing on marginals is not enough).
With a target persona it reports margin_best (target minus the most similar other persona) and
margin_mean (target minus the mean of the other six), and always the 8 x 8 matrix of personas 1..7
plus the model. Predictions may be answer codes (0 = A, 1 = B, 2 = C) or per-question A/B/C
probability vectors (e.g. from fairpp_hf.position).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the model's answer per question: an int code 0/1/2 (A/B/C), or a list of three
        A/B/C probabilities summing to 1.
    references: the seven personas' answer codes for the same question (a list of 7 ints 0/1/2).
    groups (config "breakdown" only): per question, its labels for the breakdown, e.g.
        [topic, group_type, dimension]; name them with `group_names` at compute time.
    target_persona (int, optional): persona id 1..7 whose similarity and margins are reported.
    mode (str): "pooled" (default, the paper's) or "per_question".
    group_names (list of str, config "breakdown"): names of the `groups` entries.
    breakdown (dict, optional, default config): name -> one label per question, in the order the
        predictions were added (single-process use).
    base (float, optional): log base of the JS divergence; default natural log.
Returns:
    similarity: {persona id: similarity}, target_similarity, margin_best, margin_mean,
    best_other_persona, closest_persona, matrix (8 x 8; rows/columns persona_1..persona_7, model),
    labels, model_distribution, persona_distributions, mode, base, n_questions, and breakdown
    (name -> label -> the same keys) when asked.
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> js = evaluate.load(fairpp_hf.metric_path("persona_js_similarity"))
    >>> out = js.compute(
    ...     predictions=[0, 1, 0, 2],
    ...     references=[[0, 1, 1, 0, 0, 0, 1], [1, 1, 0, 1, 1, 1, 0], [0, 0, 1, 0, 1, 0, 1], [1, 0, 2, 1, 2, 2, 0]],
    ...     target_persona=6,
    ... )
    >>> round(out["target_similarity"], 4), round(out["margin_best"], 4), out["closest_persona"]
    (1.0, 0.2061, 6)
"""

_CODE_FEATURES = {
    # float64, not int64: an int feature would silently truncate a code like 1.5; the library rejects it.
    "predictions": datasets.Value("float64"),
    "references": datasets.Sequence(datasets.Value("float64")),
}
_PROBABILITY_FEATURES = {
    "predictions": datasets.Sequence(datasets.Value("float64")),
    "references": datasets.Sequence(datasets.Value("float64")),
}
_GROUPS = {"groups": datasets.Sequence(datasets.Value("string"))}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PersonaJsSimilarity(evaluate.Metric):
    """Fair-PP persona Jensen-Shannon similarity, margins and the persona x persona (+ model) matrix."""

    def _info(self):
        extra = _GROUPS if self.config_name == "breakdown" else {}
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({**_CODE_FEATURES, **extra}),
                datasets.Features({**_PROBABILITY_FEATURES, **extra}),
            ],
            reference_urls=[
                "https://arxiv.org/abs/2505.11861",
                "https://docs.scipy.org/doc/scipy/reference/generated/scipy.spatial.distance.jensenshannon.html",
            ],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch; an empty one is refused with a clear message (evaluate would fail on it obscurely)."""
        for name, value in (("predictions", predictions), ("references", references)):
            if value is not None and len(value) == 0:
                raise ValueError(f"{name} is empty: give one entry per question")
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(
        self,
        predictions,
        references,
        groups=None,
        target_persona=None,
        mode="pooled",
        group_names=None,
        breakdown=None,
        base=None,
    ):
        if groups is not None:
            if breakdown is not None:
                raise ValueError("give the breakdown either as the `groups` input or as `breakdown`, not both")
            table = np.array(list(groups), dtype=object)
            if table.ndim != 2:
                raise ValueError("every question needs the same number of group labels in `groups`")
            width = table.shape[1]
            names = list(group_names) if group_names is not None else [f"group_{j}" for j in range(width)]
            if len(names) != width:
                raise ValueError(f"group_names has {len(names)} name(s) but each question has {width} group label(s)")
            breakdown = {name: table[:, j] for j, name in enumerate(names)}
        elif group_names is not None:
            raise ValueError('group_names needs the "breakdown" config: evaluate.load(path, "breakdown")')
        return persona_similarity(
            predictions, references, target_persona=target_persona, mode=mode, breakdown=breakdown, base=base
        )
