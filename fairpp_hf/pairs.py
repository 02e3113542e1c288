"""Training views of Fair-PP records for one target persona: DPO preference pairs and SFT rows,
each carrying the question's Eq. 1 ``weight`` and ``tier``, in TRL's standard or conversational format.

Pairs follow the authors' construction: for the persona's answer k, one pair (k, j) for each other
option j. The authors' third pair between the two non-target options (in random order, i.e. label
noise) is available with ``include_non_target_pair=True`` and off by default.
"""

from __future__ import annotations

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa

from .data import ANSWER_LABEL, PERSONA_COLUMNS, answer_matrix, column
from .personas import N_PERSONAS, check_persona
from .prompts import (
    PromptFormat,
    check_format,
    conversational_prompt,
    conversational_response,
    standard_prompt,
    standard_response,
)
from .weighting import WeightNormalization, persona_tiers, persona_weights

_META = ("question_id", "topic", "group_type", "perspective", "dimension")


def _info(records: datasets.Dataset, features: datasets.Features) -> datasets.DatasetInfo:
    """Carry the description (and so the SYNTHETIC label) of the records to a derived view."""
    return datasets.DatasetInfo(description=records.info.description or "", features=features)


def _to_dataset(columns: dict, features: datasets.Features, records: datasets.Dataset) -> datasets.Dataset:
    arrays = {k: list(v) if isinstance(v, np.ndarray) and v.dtype == object else v for k, v in columns.items()}
    table = pa.Table.from_pydict(arrays, schema=features.arrow_schema)
    return datasets.Dataset(table, info=_info(records, features))


def _option_matrix(records: datasets.Dataset) -> np.ndarray:
    return np.stack([column(records, c) for c in ("option_a", "option_b", "option_c")], axis=1)


def _weights(records, persona, alpha, beta, normalize, weights, reference=None):
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(records),):
            raise ValueError(f"weights has shape {w.shape}; expected ({len(records)},)")
        if not np.isfinite(w).all():
            i = int(np.flatnonzero(~np.isfinite(w))[0])
            raise ValueError(f"weights[{i}] = {float(w[i])} is not finite")
        return persona_tiers(answer_matrix(records), persona), w
    ref = None if reference is None else answer_matrix(reference)
    return persona_weights(
        answer_matrix(records), persona, alpha=alpha, beta=beta, normalize=normalize, reference=ref
    )


def _prompts(fmt: str, questions: np.ndarray) -> list:
    make = standard_prompt if fmt == "standard" else conversational_prompt
    return [make(q) for q in questions]


def _responses(fmt: str, options: np.ndarray) -> list:
    make = standard_response if fmt == "standard" else conversational_response
    return [make(o) for o in options]


def build_pairs(
    records: datasets.Dataset,
    persona: int,
    *,
    format: PromptFormat = "standard",
    include_non_target_pair: bool = False,
    alpha: float = 1.0,
    beta: float = 1.0,
    normalize: WeightNormalization = "paper",
    weights: np.ndarray | None = None,
    seed: int = 0,
    reference: datasets.Dataset | None = None,
) -> datasets.Dataset:
    """DPO pairs for ``persona`` with ``prompt``/``chosen``/``rejected``, ``weight`` and ``tier``.

    Weights are Eq. 1 over the questions in ``records`` (pass the training split), unless
    ``weights`` gives one per record, or ``reference`` (the training split, when ``records`` is a
    held-out split) supplies the tier counts N_j. Each question yields two pairs (three with the
    non-target pair).
    """
    persona = check_persona(persona)
    check_format(format)
    n = len(records)
    if n == 0:
        raise ValueError("records is empty: no pairs to build")
    tiers, w = _weights(records, persona, alpha, beta, normalize, weights, reference)
    target = answer_matrix(records)[:, persona - 1]
    # The two other options in increasing order, per question.
    others = np.array([[1, 2], [0, 2], [0, 1]])[target]
    q_idx = np.repeat(np.arange(n), 2)
    chosen = np.repeat(target, 2)
    rejected = others.ravel()
    kind = np.zeros(2 * n, dtype=np.int64)
    if include_non_target_pair:
        flip = np.random.default_rng(seed).random(n) < 0.5
        a = np.where(flip, others[:, 1], others[:, 0])
        b = np.where(flip, others[:, 0], others[:, 1])
        q_idx = np.concatenate([q_idx, np.arange(n)])
        chosen = np.concatenate([chosen, a])
        rejected = np.concatenate([rejected, b])
        kind = np.concatenate([kind, np.ones(n, dtype=np.int64)])
        order = np.argsort(q_idx, kind="stable")
        q_idx, chosen, rejected, kind = q_idx[order], chosen[order], rejected[order], kind[order]
    options = _option_matrix(records)
    questions = column(records, "question")
    # One prompt per question, shared by that question's pairs.
    question_prompts = _prompts(format, questions)
    columns = {
        "prompt": [question_prompts[i] for i in q_idx],
        "chosen": _responses(format, options[q_idx, chosen]),
        "rejected": _responses(format, options[q_idx, rejected]),
        "weight": w[q_idx],
        "tier": tiers[q_idx],
        "chosen_option": chosen,
        "rejected_option": rejected,
        "pair_type": kind,
        "persona": np.full(len(q_idx), persona),
    }
    for c in _META:
        columns[c] = column(records, c)[q_idx]
    return _to_dataset(columns, pair_features(format), records)


def build_sft(
    records: datasets.Dataset,
    persona: int,
    *,
    format: PromptFormat = "standard",
    alpha: float = 1.0,
    beta: float = 1.0,
    normalize: WeightNormalization = "paper",
    weights: np.ndarray | None = None,
    reference: datasets.Dataset | None = None,
) -> datasets.Dataset:
    """SFT rows: the persona's own answer as completion, with ``weight`` and ``tier``.

    Standard format gives ``prompt``/``completion`` strings; conversational gives ``messages``.
    ``weights`` and ``reference`` work as in :func:`build_pairs`.
    """
    persona = check_persona(persona)
    check_format(format)
    if len(records) == 0:
        raise ValueError("records is empty: no SFT rows to build")
    tiers, w = _weights(records, persona, alpha, beta, normalize, weights, reference)
    target = answer_matrix(records)[:, persona - 1]
    options = _option_matrix(records)[np.arange(len(records)), target]
    questions = column(records, "question")
    prompts, completions = _prompts(format, questions), _responses(format, options)
    if format == "standard":
        columns: dict = {"prompt": prompts, "completion": completions}
    else:
        columns = {"messages": [p + c for p, c in zip(prompts, completions, strict=True)]}
    columns.update(
        weight=w, tier=tiers, answer=target, persona=np.full(len(records), persona),
        **{c: column(records, c) for c in _META},
    )
    return _to_dataset(columns, sft_features(format), records)


def build_distributions(records: datasets.Dataset) -> datasets.Dataset:
    """One row per distinct question: each persona's A/B/C distribution (mean of one-hot answers
    over the rows that share the question text) and the pool over all seven personas."""
    if len(records) == 0:
        raise ValueError("records is empty: no distributions to build")
    answers = answer_matrix(records)
    onehot = np.eye(3)[answers]  # (n, 7, 3)
    codes, uniques = pd.factorize(column(records, "question_id"))
    counts = np.bincount(codes).astype(np.float64)
    sums = np.zeros((len(uniques), N_PERSONAS, 3))
    np.add.at(sums, codes, onehot)
    dist = sums / counts[:, None, None]
    first = np.unique(codes, return_index=True)[1]
    columns: dict = {c: column(records, c)[first] for c in (*_META, "question")}
    columns["n_records"] = counts.astype(np.int64)
    for j, col in enumerate(PERSONA_COLUMNS):
        columns[col] = list(dist[:, j, :])
    columns["all_personas"] = list(dist.mean(axis=1))
    return _to_dataset(columns, distribution_features(), records)


def _meta_features() -> dict:
    return {c: datasets.Value("string") for c in _META}


def _text_or_messages(fmt: str):
    if fmt == "standard":
        return datasets.Value("string")
    return datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")})


def pair_features(format: PromptFormat = "standard") -> datasets.Features:
    """Typed features of :func:`build_pairs` output."""
    t = _text_or_messages(format)
    return datasets.Features(
        {
            "prompt": t, "chosen": t, "rejected": t,
            "weight": datasets.Value("float64"), "tier": datasets.Value("int64"),
            "chosen_option": ANSWER_LABEL, "rejected_option": ANSWER_LABEL,
            "pair_type": datasets.ClassLabel(names=["target", "non_target"]),
            "persona": datasets.Value("int64"), **_meta_features(),
        }
    )


def sft_features(format: PromptFormat = "standard") -> datasets.Features:
    """Typed features of :func:`build_sft` output."""
    t = _text_or_messages(format)
    text = {"prompt": datasets.Value("string"), "completion": datasets.Value("string")} if format == "standard" else {"messages": t}
    return datasets.Features(
        {
            **text, "weight": datasets.Value("float64"), "tier": datasets.Value("int64"),
            "answer": ANSWER_LABEL, "persona": datasets.Value("int64"), **_meta_features(),
        }
    )


def distribution_features() -> datasets.Features:
    """Typed features of :func:`build_distributions` output."""
    d = datasets.List(datasets.Value("float64"), length=3)
    return datasets.Features(
        {
            **_meta_features(), "question": datasets.Value("string"), "n_records": datasets.Value("int64"),
            **{c: d for c in PERSONA_COLUMNS}, "all_personas": d,
        }
    )
