"""Training views: DPO pairs (standard and conversational, optional non-target pair), SFT rows and
per-question distributions, checked row by row against the records and against TRL's own data utils."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from trl.data_utils import apply_chat_template, is_conversational

from fairpp_hf.data import answer_matrix, split_by_question
from fairpp_hf.pairs import build_distributions, build_pairs, build_sft, pair_features, sft_features
from fairpp_hf.prompts import ANSWER_INSTRUCTION
from fairpp_hf.weighting import persona_tiers, persona_weights, tier_weights

LETTERS = "ABC"


@pytest.fixture(scope="module")
def records(small_records):
    return small_records.select(range(120))


def _options(rec: dict) -> list[str]:
    return [rec["option_a"], rec["option_b"], rec["option_c"]]


def test_standard_pairs_row_by_row(records):
    pairs = build_pairs(records, persona=6)
    assert pairs.features == pair_features("standard")
    assert len(pairs) == 2 * len(records)
    tiers, weights = persona_weights(answer_matrix(records), 6)
    for i, rec in enumerate(records):
        target = rec["persona_6"]
        rows = [pairs[2 * i], pairs[2 * i + 1]]
        assert {r["rejected_option"] for r in rows} == {0, 1, 2} - {target}
        for r in rows:
            assert r["prompt"] == f"\n\nHuman: {rec['question']}\n\nAssistant:"
            assert r["chosen"] == " " + _options(rec)[target]
            assert r["chosen"].startswith(f" {LETTERS[target]}. ")
            assert r["rejected"] == " " + _options(rec)[r["rejected_option"]]
            assert r["chosen_option"] == target and r["pair_type"] == 0 and r["persona"] == 6
            assert r["weight"] == pytest.approx(weights[i]) and r["tier"] == tiers[i]
            assert r["question_id"] == rec["question_id"]
    assert not is_conversational(pairs[0])


def test_non_target_pair_is_optional_and_seeded(records):
    pairs = build_pairs(records, persona=2, include_non_target_pair=True, seed=7)
    assert len(pairs) == 3 * len(records)
    frame = pairs.to_pandas()
    target = answer_matrix(records)[:, 1]
    third = frame[frame["pair_type"] == 1]
    assert len(third) == len(records)
    assert (third["chosen_option"].to_numpy() != target).all() and (third["rejected_option"].to_numpy() != target).all()
    assert (third["chosen_option"] != third["rejected_option"]).all()
    # The order inside a non-target pair is random (label noise) but fixed by the seed.
    assert 0 < (third["chosen_option"] < third["rejected_option"]).mean() < 1
    again = build_pairs(records, persona=2, include_non_target_pair=True, seed=7).to_pandas()
    assert again.equals(frame)
    # Rows stay grouped by question: three consecutive rows share a question id.
    assert (frame["question_id"].to_numpy().reshape(-1, 3) == frame["question_id"].to_numpy()[::3, None]).all()


def test_conversational_pairs_work_with_trl_chat_templates(records, tiny_model_dir):
    from transformers import AutoTokenizer

    pairs = build_pairs(records, persona=1, format="conversational")
    assert pairs.features == pair_features("conversational")
    row, rec = pairs[0], records[0]
    assert row["prompt"] == [{"role": "user", "content": f"{rec['question']}\n{ANSWER_INSTRUCTION}"}]
    assert row["chosen"] == [{"role": "assistant", "content": _options(rec)[rec["persona_1"]]}]
    assert is_conversational(row)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = apply_chat_template({k: row[k] for k in ("prompt", "chosen", "rejected")}, tokenizer)
    assert rec["question"] in text["prompt"] and text["prompt"].endswith("<|assistant|>\n")
    assert text["chosen"].startswith(_options(rec)[rec["persona_1"]])


def test_sft_views(records):
    tiers, weights = persona_weights(answer_matrix(records), 3)
    std = build_sft(records, persona=3)
    assert std.features == sft_features("standard") and len(std) == len(records)
    conv = build_sft(records, persona=3, format="conversational")
    assert conv.features == sft_features("conversational")
    for i in (0, 5, 77):
        rec = records[i]
        option = _options(rec)[rec["persona_3"]]
        assert std[i]["prompt"] == f"\n\nHuman: {rec['question']}\n\nAssistant:"
        assert std[i]["completion"] == " " + option and std[i]["answer"] == rec["persona_3"]
        assert conv[i]["messages"][-1] == {"role": "assistant", "content": option}
        assert conv[i]["messages"][0]["role"] == "user"
        assert std[i]["weight"] == pytest.approx(weights[i]) == conv[i]["weight"]
        assert std[i]["tier"] == tiers[i]


def test_held_out_weights_use_training_tier_counts(small_records):
    split = split_by_question(small_records, test_size=0.3, seed=0)
    train, test = split["train"], split["test"]
    pairs = build_pairs(test, persona=6, reference=train)
    w_tier = tier_weights(persona_tiers(answer_matrix(train), 6))
    test_tiers = persona_tiers(answer_matrix(test), 6)
    np.testing.assert_allclose(np.array(pairs["weight"]), np.repeat(w_tier[test_tiers - 1], 2))
    own = build_pairs(test, persona=6)
    assert not np.allclose(own["weight"], pairs["weight"])
    sft = build_sft(test, persona=6, reference=train)
    np.testing.assert_allclose(np.array(sft["weight"]), w_tier[test_tiers - 1])


def test_explicit_weights(records):
    w = np.linspace(0.1, 1.0, len(records))
    pairs = build_pairs(records, persona=6, weights=w)
    np.testing.assert_allclose(np.array(pairs["weight"]), np.repeat(w, 2))
    assert pairs["tier"] == np.repeat(persona_tiers(answer_matrix(records), 6), 2).tolist()
    with pytest.raises(ValueError, match=r"weights has shape \(3,\)"):
        build_pairs(records, persona=6, weights=[1.0, 2.0, 3.0])
    bad = w.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match=r"weights\[4\] = nan is not finite"):
        build_sft(records, persona=6, weights=bad)


def test_distributions_against_pandas(small_records):
    import datasets

    # Duplicate some questions so that a distribution pools several answers.
    doubled = datasets.concatenate_datasets([small_records, small_records.select(range(40))])
    dist = build_distributions(doubled)
    frame = doubled.to_pandas()
    assert len(dist) == frame["question_id"].nunique()
    by_q = dist.to_pandas().set_index("question_id")
    for k in range(1, 8):
        expected = pd.get_dummies(frame[f"persona_{k}"]).reindex(columns=[0, 1, 2], fill_value=0).astype(float)
        expected = expected.groupby(frame["question_id"]).mean()
        got = np.stack(by_q.loc[expected.index, f"persona_{k}"].to_numpy())
        np.testing.assert_allclose(got, expected.to_numpy())
    pooled = np.stack(by_q["all_personas"].to_numpy())
    np.testing.assert_allclose(pooled.sum(axis=1), 1.0)
    assert set(by_q["n_records"]) == {1, 2}


def test_bad_arguments(records):
    with pytest.raises(ValueError, match="persona=9"):
        build_pairs(records, persona=9)
    with pytest.raises(ValueError, match="format='chat'"):
        build_sft(records, persona=1, format="chat")
    with pytest.raises(ValueError, match="records is empty"):
        build_pairs(records.select([]), persona=1)
    with pytest.raises(ValueError, match="records is empty"):
        build_distributions(records.select([]))
    with pytest.raises(ValueError, match=r"lack persona answer column\(s\) \['persona_7'\]"):
        build_pairs(records.remove_columns("persona_7"), persona=1)
