"""Emotional framing disparity over matched demographic pairs (JS distance between emotion distributions).

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.audits.emotion``.
"""

import evaluate

from fairpp_hf.audits.base import inputs_to_table, metric_features, split_compute_kwargs
from fairpp_hf.audits.emotion import audit_emotion

_CITATION = """\
@misc{paretoteacher2026,
  title = {Pareto-guided teacher alignment for fair personalized persuasion},
  year = {2026},
  eprint = {2606.10126},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2606.10126}
}
@inproceedings{demszky2020goemotions,
  title = {GoEmotions: A Dataset of Fine-Grained Emotions},
  author = {Demszky, Dorottya and Movshovitz-Attias, Dana and Ko, Jeongwoo and Cowen, Alan and Nemade, Gaurav and Ravi, Sujith},
  booktitle = {ACL},
  year = {2020}
}
@article{mohammad2013nrc,
  title = {Crowdsourcing a Word-Emotion Association Lexicon},
  author = {Mohammad, Saif M. and Turney, Peter D.},
  journal = {Computational Intelligence},
  volume = {29},
  number = {3},
  year = {2013}
}
@inproceedings{hutto2014vader,
  title = {VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text},
  author = {Hutto, C. J. and Gilbert, Eric},
  booktitle = {ICWSM},
  year = {2014}
}
"""

_DESCRIPTION = """\
An emotion distribution per message and its disparity over the demographic grid: the mean
Jensen-Shannon distance (scipy's definition, natural log) between the two messages of every matched
gender pair and age contrast, with a bootstrap confidence interval, plus Welch's t-test (gender) and
one-way ANOVA with Tukey HSD (age) on the emotional intensity 1 - P(neutral).
backend="transformers" runs the original multi-label classifier SamLowe/roberta-base-go_emotions
(or model=) and normalises its 28 sigmoid scores to a distribution; backend="offline" (default, no
download) counts NRC Emotion Lexicon words of Plutchik's eight emotions (lexicon from the nrclex
package) and lets VADER's |compound| set the emotional mass, the rest going to neutral (9 labels).
Distances are comparable within one backend, not across.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the generated messages (strings).
    genders, ages: the audience of each message (e.g. "Male", "Senior (65+)").
    stances, themes, regions: the other grid attributes; pairs must agree on them. Pass None or ""
        per message for an attribute your grid lacks.
    backend (str): "offline" (default, NRC lexicon + VADER) or "transformers" (classifier).
    model (str or transformers.Pipeline): Hub id or local folder of the emotion classifier
        (default "SamLowe/roberta-base-go_emotions"); used with backend="transformers".
    batch_size (int), device: passed to the pipeline.
    n_boot (int): bootstrap resamples for the confidence intervals (default 1000).
    seed (int): bootstrap seed (default 0).
    confidence (float): confidence level of the intervals (default 0.95).
Returns:
    audit, backend, labels, distance ("jensen_shannon"), n_messages, scores (mean distribution),
    per_message ({label: [...], "intensity": [...]}), and for "gender" and "age": n_pairs,
    unmatched_rows, mean_gap (mean JS distance), ci_low, ci_high, gaps, index_a, index_b and
    group_test on the intensity (test, statistic, p_value, group_means; tukey_hsd for age).
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> emotion = evaluate.load(fairpp_hf.metric_path("emotional_framing_disparity"))
    >>> out = emotion.compute(
    ...     predictions=["What a joyful, wonderful day!", "I am furious about this disaster.",
    ...                  "A table.", "A table."],
    ...     genders=["Male", "Female", "Male", "Female"],
    ...     ages=["Senior (65+)", "Senior (65+)", "Young Adult (18-24)", "Young Adult (18-24)"],
    ...     stances=["Clean-Energy"] * 4, themes=["Economy"] * 4, regions=["West"] * 4, n_boot=100,
    ... )
    >>> [round(p, 3) for p in out["per_message"]["neutral"]]
    [0.164, 0.168, 1.0, 1.0]
    >>> out["gender"]["n_pairs"], round(out["gender"]["mean_gap"], 3)
    (2, 0.347)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class EmotionalFramingDisparity(evaluate.Metric):
    """Per-message emotion distributions and their matched-pair JS-distance disparity."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=metric_features(),
            reference_urls=[
                "https://arxiv.org/abs/2606.10126",
                "https://huggingface.co/SamLowe/roberta-base-go_emotions",
                "https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm",
            ],
        )

    def _compute(self, predictions, genders, ages, stances, themes, regions, **kwargs):
        options = split_compute_kwargs(kwargs, ("backend", "model", "n_boot", "seed", "confidence", "batch_size",
                                                "device"))
        texts, table = inputs_to_table(predictions, genders=genders, ages=ages, stances=stances, themes=themes,
                                       regions=regions)
        return audit_emotion(texts, table, **options)
