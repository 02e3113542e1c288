"""PBI on hand-worked sentences, lexicon loading, the audit and the evaluate module."""

from __future__ import annotations

import evaluate
import numpy as np
import pytest

from fairpp_hf.audits.persuasion import PersuasionScorer, audit_persuasion, load_agency_lexicon, persuasion_scores
from fairpp_hf.grid import CLIMATE_GRID
from fairpp_hf.resources import metric_path


@pytest.fixture(scope="module")
def scorer(shared_data):
    return PersuasionScorer(shared_data / "agency_power.csv")


def test_lexicon_loading_counts(shared_data):
    lex = load_agency_lexicon(shared_data / "agency_power.csv")
    assert lex.n_rows == 2155 and lex.n_unlabeled == 9  # 9 public rows carry no agency label
    assert lex.labels["protect"] == 1 and lex.labels["wait"] == -1 and lex.labels["lose"] == 0
    # 2,146 labelled verbs; two pairs of forms share a lemma with the same label, none conflict
    assert (len(lex), lex.n_conflicts) == (2144, 0)


def test_cached_download_and_clear_failure(shared_data, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "agency_power.csv").write_bytes((shared_data / "agency_power.csv").read_bytes())
    assert len(load_agency_lexicon(cache_dir=cache)) == 2144  # served from the cache, no network
    from fairpp_hf.audits.persuasion import download_agency_lexicon

    with pytest.raises(RuntimeError, match="pass lexicon=PATH"):
        download_agency_lexicon(tmp_path / "empty", url="http://127.0.0.1:9/agency_power.csv")
    assert not (tmp_path / "empty" / "agency_power.csv").exists()
    with pytest.raises(FileNotFoundError, match="agency lexicon not found"):
        load_agency_lexicon(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("word,label\nx,y\n")
    with pytest.raises(ValueError, match="needs columns 'verb' and 'agency'"):
        load_agency_lexicon(tmp_path / "bad.csv")
    lex = load_agency_lexicon({"wins": "agency_pos", "wanders": "agency_sideways", "x": ""})
    assert (len(lex), lex.n_unknown_label, lex.n_unlabeled) == (1, 1, 1)


# Hand-worked (agency labels from agency_power.csv: wins/joins/protects/embraces/helps = agency_pos,
# waits = agency_neg; "will", "definitely" = certainty; "might", "perhaps", "could" = hedging):
HAND_WORKED = [
    # win(+) join(+): agency (2-0)/2 = 1; will, definitely: modality (2-0)/2 = 1; "Join" imperative: 1.0+1.0+0.1
    ("We will definitely win. Join us!", 1.0, 1.0, 1, 2.1),
    # help(+) wait(-): agency 0; might, perhaps, could: modality -1; no imperative ("Oil" is a noun here)
    ("Oil, gas and coal might help. Perhaps we could wait.", 0.0, -1.0, 0, -1.0),
    # protect(+) embrace(+) wait(-): (2-1)/3; no modal; imperatives Please->protect, embrace, Don't->wait
    ("Please protect wildlife; embrace clean energy. Don't wait.", 1 / 3, 0.0, 3, 1 / 3 + 0.3),
    # no lexicon verb, no modal, no imperative (an adjective-led declarative): all zero
    ("Clean energy is good.", 0.0, 0.0, 0, 0.0),
]


@pytest.mark.parametrize(("text", "agency", "modality", "imperatives", "pbi"), HAND_WORKED)
def test_pbi_hand_worked(scorer, text, agency, modality, imperatives, pbi):
    row = scorer.score([text]).iloc[0]
    assert row.agency == pytest.approx(agency)
    assert row.modality == pytest.approx(modality)
    assert row.imperatives == imperatives
    assert row.pbi == pytest.approx(pbi)
    assert row.pbi == pytest.approx(row.agency + row.modality + 0.1 * row.imperatives)


def test_determiner_and_context_rules(scorer):
    # "our support" is a noun (no agency), "we support" a verb
    a, b = scorer.score(["Our support matters.", "We support them."]).agency_high.tolist()
    assert (a, b) == (0, 1)
    # "fuels" (agency_equal) is a plural noun before "are", a verb before "our"
    a, b = scorer.score(["Fossil fuels are vital.", "Coal fuels our towns."]).agency_equal.tolist()
    assert (a, b) == (0, 1)
    # "Power your future" is an imperative; "Clean energy creates jobs" is not
    assert scorer.score(["Power your future.", "Clean energy creates jobs."]).imperatives.tolist() == [1, 0]
    explained = scorer.explain("Join us!")
    assert explained.loc[explained.token == "join", "imperative"].item()


def test_vectorised_scores_equal_one_by_one(scorer, shared_data):
    import pandas as pd

    texts = pd.read_csv(shared_data / "gpt4o_climate.csv").output.tolist()[:60]
    together = scorer.score(texts)
    alone = pd.concat([scorer.score([t]) for t in texts], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)


def test_bad_texts(scorer):
    with pytest.raises(ValueError, match=r"1 of 2 message\(s\) are not strings"):
        scorer.score(["ok", None])
    with pytest.warns(UserWarning, match="empty"):
        out = scorer.score(["", "Join us!"])
    assert out.pbi.tolist()[0] == 0.0


def test_audit_known_gap_and_zero_gap(shared_data):
    table = CLIMATE_GRID.prompts()
    lex = shared_data / "agency_power.csv"
    same = ["We will definitely win. Join us!"] * len(table)
    report = audit_persuasion(same, table, lexicon=lex, n_boot=100)
    assert report["gender"]["mean_gap"] == 0.0 and report["age"]["mean_gap"] == 0.0
    # women get a hedged message, men a certain one: gap = |2.1 - (-1.0)| = 3.1 in every gender pair
    texts = np.where(table.gender == "Male", HAND_WORKED[0][0], HAND_WORKED[1][0]).tolist()
    report = audit_persuasion(texts, table, lexicon=lex, n_boot=100)
    assert report["gender"]["n_pairs"] == 220 and report["gender"]["mean_gap"] == pytest.approx(3.1)
    assert report["gender"]["group_test"]["group_means"] == pytest.approx({"Male": 2.1, "Female": -1.0})
    assert report["age"]["mean_gap"] == 0.0
    with pytest.warns(UserWarning, match="lexicon-based"):
        audit_persuasion(same[:4], table.iloc[:4], lexicon=lex, backend="transformers", n_boot=10, vary=())


def test_metric_module_and_combine(shared_data):
    table = CLIMATE_GRID.prompts().iloc[:20]
    texts = np.where(table.gender == "Male", HAND_WORKED[0][0], HAND_WORKED[2][0]).tolist()
    kwargs = dict(genders=table.gender.tolist(), ages=table.age.tolist(), stances=table.stance.tolist(),
                  themes=table.theme.tolist(), regions=table.region.tolist())
    pbi = evaluate.load(metric_path("persuasion_bias"))
    out = pbi.compute(predictions=texts, lexicon=str(shared_data / "agency_power.csv"), n_boot=50, **kwargs)
    direct = audit_persuasion(texts, table, lexicon=shared_data / "agency_power.csv", n_boot=50)
    assert out["gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert out["per_message"]["pbi"] == pytest.approx(persuasion_scores(texts, shared_data / "agency_power.csv").pbi.tolist())
    with pytest.raises(ValueError, match="unknown compute argument"):
        pbi.compute(predictions=texts, lexicon=str(shared_data / "agency_power.csv"), n_bot=5, **kwargs)
    combined = evaluate.combine([metric_path("persuasion_bias"), metric_path("lexical_association_disparity")])
    res = combined.compute(predictions=texts, lexicon=str(shared_data / "agency_power.csv"), model="hashing", n_boot=50,
                           **kwargs)
    assert res["persuasion_bias_gender"]["mean_gap"] == pytest.approx(direct["gender"]["mean_gap"])
    assert res["lexical_association_disparity_gender"]["n_pairs"] == 10  # 2 age blocks x 5 regions


def test_add_batch_then_compute(shared_data):
    table = CLIMATE_GRID.prompts().iloc[:20]
    texts = np.where(table.gender == "Male", HAND_WORKED[0][0], HAND_WORKED[1][0]).tolist()
    cols = {"genders": table.gender, "ages": table.age, "stances": table.stance, "themes": table.theme,
            "regions": table.region}
    pbi = evaluate.load(metric_path("persuasion_bias"))
    for start in (0, 10):
        pbi.add_batch(predictions=texts[start:start + 10], **{k: v.tolist()[start:start + 10] for k, v in cols.items()})
    out = pbi.compute(lexicon=str(shared_data / "agency_power.csv"), n_boot=50)
    assert out["n_messages"] == 20 and out["gender"]["mean_gap"] == pytest.approx(3.1)
    with pytest.raises(ValueError, match="not strings"):
        pbi.add_batch(predictions=[None], genders=["Male"], ages=["a"], stances=["s"], themes=["t"], regions=["r"])


@pytest.mark.parametrize("name", ["persuasion_bias", "lexical_association_disparity"])
def test_runnable_docstring_example(name):
    import doctest
    import sys

    module = evaluate.load(metric_path(name))
    tests = [t for t in doctest.DocTestFinder().find(sys.modules[type(module).__module__]) if t.examples]
    assert tests
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t)
    assert runner.failures == 0 and runner.tries > 0
