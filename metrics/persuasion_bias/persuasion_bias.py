"""Persuasion bias index (PBI) disparity over matched demographic pairs.

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.audits.persuasion``.
"""

import evaluate

from fairpp_hf.audits.base import inputs_to_table, metric_features, split_compute_kwargs, validate_texts
from fairpp_hf.audits.persuasion import audit_persuasion

_CITATION = """\
@misc{paretoteacher2026,
  title = {Pareto-guided teacher alignment for fair personalized persuasion},
  year = {2026},
  eprint = {2606.10126},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2606.10126}
}
@inproceedings{sap2017connotation,
  title = {Connotation Frames of Power and Agency in Modern Films},
  author = {Sap, Maarten and Prasettio, Marcella Cindy and Holtzman, Ari and Rashkin, Hannah and Choi, Yejin},
  booktitle = {EMNLP},
  year = {2017}
}
"""

_DESCRIPTION = """\
Persuasion bias index per message, PBI = agency + modality + 0.1 x imperatives, where agency =
(high - low) / (high + low) over verbs of the connotation-frame agency lexicon (0 if none), modality =
(certainty - hedging) / (certainty + hedging) over {will, must, shall, definitely, certainly} vs
{might, may, could, can, perhaps, possibly}, and imperatives counts clause-initial imperative verbs
(a documented dictionary rule; no tagger is needed). The disparity is the mean absolute PBI gap over
matched gender pairs and age contrasts of the demographic grid, with a bootstrap confidence interval,
plus Welch's t-test (gender) and one-way ANOVA with Tukey HSD (age).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the generated messages (strings).
    genders, ages: the audience of each message (e.g. "Male", "Senior (65+)").
    stances, themes, regions: the other grid attributes; pairs must agree on them. Pass "" per
        message for an attribute your grid lacks.
    lexicon (str or dict, optional): path to the agency lexicon CSV (verb,agency,power), or a dict
        verb -> "agency_pos"/"agency_neg"/"agency_equal"; default: a cached download of the public file.
    n_boot (int): bootstrap resamples for the confidence intervals (default 1000).
    seed (int): bootstrap seed (default 0).
    backend (str): "offline" (the only one: PBI is lexicon-based, as in the original).
Returns:
    audit, backend, n_messages, scores (summary of per-message PBI), per_message (pbi, agency,
    modality, imperatives and their counts), and for "gender" and "age": n_pairs, unmatched_rows,
    mean_gap, ci_low, ci_high, gaps, index_a, index_b and group_test (test, statistic, p_value,
    group_means, n_per_group; tukey_hsd for age).
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> pbi = evaluate.load(fairpp_hf.metric_path("persuasion_bias"))
    >>> out = pbi.compute(
    ...     predictions=["We will win. Join us!", "Perhaps we could wait.", "Join us!", "Join us!"],
    ...     genders=["Male", "Female", "Male", "Female"],
    ...     ages=["Senior (65+)", "Senior (65+)", "Young Adult (18-24)", "Young Adult (18-24)"],
    ...     stances=["Pro-Energy"] * 4, themes=["Economy"] * 4, regions=["West"] * 4,
    ...     lexicon={"wins": "agency_pos", "joins": "agency_pos", "waits": "agency_neg"}, n_boot=100,
    ... )
    >>> out["per_message"]["pbi"]
    [2.1, -2.0, 1.1, 1.1]
    >>> out["gender"]["n_pairs"], out["gender"]["mean_gap"]
    (2, 2.05)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PersuasionBias(evaluate.Metric):
    """PBI per message and its matched-pair disparity with group-level tests."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=metric_features(),
            reference_urls=["https://arxiv.org/abs/2606.10126", "https://maartensap.com/connotation-frames/"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch; non-string messages are refused naming their rows (before evaluate's own encoding)."""
        if predictions is not None:
            validate_texts(predictions, name="predictions")
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, genders, ages, stances, themes, regions, **kwargs):
        options = split_compute_kwargs(kwargs, ("lexicon", "n_boot", "seed", "backend"))
        texts, table = inputs_to_table(predictions, genders=genders, ages=ages, stances=stances, themes=themes,
                                       regions=regions)
        return audit_persuasion(texts, table, **options)
