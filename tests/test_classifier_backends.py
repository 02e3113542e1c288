"""The ``transformers`` backends of the formality, emotion and fidelity audits, run on tiny BERT
classifiers built here (2 layers, a WordPiece tokenizer trained with ``tokenizers``, the original
models' label sets) and checked against the models' logits computed directly with torch."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast, pipeline

import fairpp_hf
from fairpp_hf.audits.emotion import GO_EMOTIONS_LABELS, audit_emotion, emotion_distributions
from fairpp_hf.audits.fidelity import HYPOTHESIS_TEMPLATES, VALUE_PHRASES, fidelity_scores
from fairpp_hf.audits.formality import audit_formality, formality_scores
from fairpp_hf.grid import CLIMATE_GRID

FORMAL = [
    "The committee hereby requests the submission of documentation regarding the regulation.",
    "Consequently, the implementation of efficient energy legislation is of national importance.",
    "Furthermore, investment in infrastructure ensures the stability of the regional economy.",
    "The adoption of renewable generation reduces the environmental impact of production.",
]
INFORMAL = [
    "hey folks you will totally love it",
    "wow gonna be awesome you guys",
    "yeah it is super cool stuff trust me",
    "omg you are gonna love this dude",
]
MESSAGES = [
    "Seniors, switch to clean solar and wind power for your grandchildren.",
    "Keep oil, gas and coal flowing for affordable energy, young men of the Midwest.",
    "Women of the West: protect animals and wildlife with renewable energy.",
]


def _tokenizer(path: Path) -> PreTrainedTokenizerFast:
    corpus = FORMAL + INFORMAL + MESSAGES + [HYPOTHESIS_TEMPLATES[a].format(p) for a, ps in VALUE_PHRASES.items()
                                             for p in ps.values()]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    fast.save_pretrained(path)
    return fast


def build_tiny_classifier(
    path: Path, labels: list[str], problem_type: str | None = None, seed: int = 0,
    train: tuple[list[str], list[int]] | None = None, steps: int = 30,
) -> Path:
    """A 2-layer BERT sequence classifier with the given labels, saved with its tokenizer to ``path``;
    ``train=(texts, label ids)`` fits it for a few full-batch steps so that its scores mean something."""
    torch.manual_seed(seed)
    tok = _tokenizer(path)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
        problem_type=problem_type,
    )
    model = BertForSequenceClassification(config)
    if train is not None:
        enc = tok(train[0], padding=True, return_tensors="pt")
        target = torch.tensor(train[1])
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            optimizer.zero_grad()
            model(**enc, labels=target).loss.backward()
            optimizer.step()
        model.eval()
    model.save_pretrained(path)
    return path


def _logits(path: Path, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
    tok = PreTrainedTokenizerFast.from_pretrained(path)
    model = BertForSequenceClassification.from_pretrained(path).eval()
    enc = tok(texts, pairs, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return model(**enc).logits.double().numpy()


@pytest.fixture(scope="module")
def formality_dir(tmp_path_factory) -> Path:
    # label order deliberately not the original's: the backend must find "formal" by name
    return build_tiny_classifier(tmp_path_factory.mktemp("formality"), ["informal", "formal"],
                                 train=(FORMAL + INFORMAL, [1] * len(FORMAL) + [0] * len(INFORMAL)))


@pytest.fixture(scope="module")
def emotion_dir(tmp_path_factory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("go-emotions"), list(GO_EMOTIONS_LABELS),
                                 problem_type="multi_label_classification")


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("nli"), ["contradiction", "neutral", "entailment"])


def test_formality_backend_is_p_formal(formality_dir):
    texts = FORMAL + INFORMAL
    logits = _logits(formality_dir, texts)
    expected = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    got = formality_scores(texts, backend="transformers", model=str(formality_dir))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert got[:4].min() > 0.5 > got[4:].max()  # the fitted tiny ranker separates the two registers
    # a ready pipeline works too
    pipe = pipeline("text-classification", model=str(formality_dir))
    np.testing.assert_allclose(formality_scores(texts, backend="transformers", model=pipe), got, rtol=1e-6)
    with pytest.raises(ValueError, match=r"no label 'FORMAL-ish'.*\['informal', 'formal'\]"):
        formality_scores(texts, backend="transformers", model=pipe, formal_label="FORMAL-ish")


def test_formality_backend_audit_and_metric(formality_dir):
    prompts = CLIMATE_GRID.prompts()
    table = prompts[(prompts.stance == "Pro-Energy") & (prompts.theme == "Economy")
                    & prompts.region.isin(["West", "Midwest"])].drop(columns="prompt").reset_index(drop=True)
    texts = [FORMAL[i % 4] if g == "Male" else INFORMAL[i % 4] for i, g in enumerate(table.gender)]
    report = audit_formality(texts, table, backend="transformers", model=str(formality_dir), n_boot=50)
    scores = np.array(report["per_message"]["formality"])
    expected = np.abs(scores[report["gender"]["index_a"]] - scores[report["gender"]["index_b"]]).mean()
    assert report["gender"]["mean_gap"] == pytest.approx(expected) and expected > 0.2
    assert report["age"]["mean_gap"] == pytest.approx(0.0, abs=1e-6)
    assert report["backend"] == str(formality_dir)
    metric = evaluate.load(fairpp_hf.metric_path("formality_disparity"))
    out = metric.compute(predictions=texts, genders=table.gender.tolist(), ages=table.age.tolist(),
                         stances=table.stance.tolist(), themes=table.theme.tolist(), regions=table.region.tolist(),
                         backend="transformers", model=str(formality_dir), n_boot=50)
    np.testing.assert_allclose(out["per_message"]["formality"], scores, rtol=1e-6)


def test_emotion_backend_is_the_normalised_sigmoid(emotion_dir):
    texts = FORMAL[:2] + INFORMAL[:2]
    logits = _logits(emotion_dir, texts)
    sigmoid = 1 / (1 + np.exp(-logits))
    dists, labels = emotion_distributions(texts, backend="transformers", model=str(emotion_dir))
    assert labels == list(GO_EMOTIONS_LABELS) and dists.shape == (4, 28)
    np.testing.assert_allclose(dists, sigmoid / sigmoid.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-7)
    table = pd.DataFrame({"gender": ["Male", "Female"] * 2, "age": ["Senior (65+)"] * 2 + ["Young Adult (18-24)"] * 2,
                          "stance": "Clean-Energy", "theme": "Animals", "region": "West"})
    report = audit_emotion(texts, table, backend="transformers", model=str(emotion_dir), n_boot=20)
    np.testing.assert_allclose(report["per_message"]["intensity"], 1 - dists[:, -1], rtol=1e-6)
    assert report["labels"][-1] == "neutral" and report["gender"]["n_pairs"] == 2
    assert report["gender"]["mean_gap"] > 0


def test_fidelity_nli_backend_softmaxes_entailment_over_candidates(nli_dir):
    table = pd.DataFrame({"stance": ["Clean-Energy", "Pro-Energy", "Clean-Energy"],
                          "gender": ["Female", "Male", "Female"]})
    fidelity, per_attribute = fidelity_scores(MESSAGES, table, backend="transformers", model=str(nli_dir),
                                              attributes=("stance", "gender"))
    for attribute, candidates in (("stance", list(CLIMATE_GRID.stances)), ("gender", ["Male", "Female"])):
        hyps = [HYPOTHESIS_TEMPLATES[attribute].format(VALUE_PHRASES[attribute][c]) for c in candidates]
        premises = [m for m in MESSAGES for _ in hyps]
        entail = _logits(nli_dir, premises, hyps * len(MESSAGES))[:, 2].reshape(len(MESSAGES), len(hyps))
        probs = np.exp(entail) / np.exp(entail).sum(axis=1, keepdims=True)
        asked = table[attribute].map(candidates.index).to_numpy()
        np.testing.assert_allclose(per_attribute[attribute], probs[np.arange(3), asked], rtol=1e-4)
    np.testing.assert_allclose(fidelity, (per_attribute["stance"] + per_attribute["gender"]) / 2)


def test_nli_backend_needs_an_entailment_label(formality_dir):
    table = pd.DataFrame({"gender": ["Female", "Male"]})
    with pytest.raises(ValueError, match=r"needs an .entailment. label.*informal"):
        fidelity_scores(MESSAGES[:2], table, backend="transformers", model=str(formality_dir))
