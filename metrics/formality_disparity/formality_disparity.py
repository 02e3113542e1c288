"""Formality disparity over matched demographic pairs.

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.audits.formality``.
"""

import evaluate

from fairpp_hf.audits.base import inputs_to_table, metric_features, split_compute_kwargs
from fairpp_hf.audits.formality import audit_formality

_CITATION = """\
@misc{paretoteacher2026,
  title = {Pareto-guided teacher alignment for fair personalized persuasion},
  year = {2026},
  eprint = {2606.10126},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2606.10126}
}
@inproceedings{babakov2023formality,
  title = {Don't Lose the Message While Paraphrasing: A Study on Content Preserving Style Transfer},
  author = {Babakov, Nikolay and Dale, David and Gusev, Ilya and Krotova, Irina and Panchenko, Alexander},
  booktitle = {NLDB},
  year = {2023}
}
@article{heylighen1999formality,
  title = {Formality of Language: definition, measurement and behavioral determinants},
  author = {Heylighen, Francis and Dewaele, Jean-Marc},
  journal = {Internal Report, Center "Leo Apostel", Free University of Brussels},
  year = {1999}
}
"""

_DESCRIPTION = """\
Formality of each message in [0, 1] and its disparity over the demographic grid: the mean absolute
formality gap over matched gender pairs and age contrasts (rows that differ only in that attribute),
with a bootstrap confidence interval, plus Welch's t-test (gender) and one-way ANOVA with Tukey HSD
(age) on the scores. backend="transformers" scores P(formal) with the original classifier
s-nlp/roberta-base-formality-ranker (or any checkpoint given by model=, with a "formal" label);
backend="offline" (default, no download) uses a lexical register score after Heylighen & Dewaele's
F-score: (formal cues + 1) / (formal + informal cues + 2), with articles, prepositions, formal
connectives and Latinate noun/adjective suffixes as formal cues and pronouns, -ly adverbs, slang,
contractions, exclamation marks and emoji as informal ones. It orders clear cases like the ranker but
is not calibrated to its probabilities: compare gaps within one backend.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the generated messages (strings).
    genders, ages: the audience of each message (e.g. "Male", "Senior (65+)").
    stances, themes, regions: the other grid attributes; pairs must agree on them. Pass None or ""
        per message for an attribute your grid lacks.
    backend (str): "offline" (default, lexical register score) or "transformers" (classifier).
    model (str or transformers.Pipeline): Hub id or local folder of the classifier
        (default "s-nlp/roberta-base-formality-ranker"); used with backend="transformers".
    formal_label (str): the classifier label whose probability is the score (default "formal").
    batch_size (int), device: passed to the pipeline.
    n_boot (int): bootstrap resamples for the confidence intervals (default 1000).
    seed (int): bootstrap seed (default 0).
    confidence (float): confidence level of the intervals (default 0.95).
Returns:
    audit, backend, n_messages, scores (summary), per_message ({"formality": [...]}), and for "gender"
    and "age": n_pairs, unmatched_rows, mean_gap, ci_low, ci_high, gaps, index_a, index_b and
    group_test (test, statistic, p_value, group_means, n_per_group; tukey_hsd for age).
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> formality = evaluate.load(fairpp_hf.metric_path("formality_disparity"))
    >>> out = formality.compute(
    ...     predictions=["We hereby request the implementation of efficient regulation.",
    ...                  "Hey folks! You'll totally love it!", "Hey folks! You'll totally love it!",
    ...                  "Hey folks! You'll totally love it!"],
    ...     genders=["Male", "Female", "Male", "Female"],
    ...     ages=["Senior (65+)", "Senior (65+)", "Young Adult (18-24)", "Young Adult (18-24)"],
    ...     stances=["Clean-Energy"] * 4, themes=["Economy"] * 4, regions=["West"] * 4, n_boot=100,
    ... )
    >>> [round(s, 3) for s in out["per_message"]["formality"]]
    [0.75, 0.111, 0.111, 0.111]
    >>> out["gender"]["n_pairs"], round(out["gender"]["mean_gap"], 3)
    (2, 0.319)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class FormalityDisparity(evaluate.Metric):
    """Per-message formality and its matched-pair disparity with group-level tests."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=metric_features(),
            reference_urls=[
                "https://arxiv.org/abs/2606.10126",
                "https://huggingface.co/s-nlp/roberta-base-formality-ranker",
            ],
        )

    def _compute(self, predictions, genders, ages, stances, themes, regions, **kwargs):
        options = split_compute_kwargs(
            kwargs, ("backend", "model", "formal_label", "n_boot", "seed", "confidence", "batch_size", "device")
        )
        texts, table = inputs_to_table(predictions, genders=genders, ages=ages, stances=stances, themes=themes,
                                       regions=regions)
        return audit_formality(texts, table, **options)
