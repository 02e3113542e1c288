"""Gate, Pareto front and training rows on constructed candidates with hand-worked answers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fairpp_hf.pareto import (
    GateConfig,
    build_training_data,
    gate_candidates,
    pareto_front,
    rejection_counts,
    run_teacher_pipeline,
    select_candidates,
)

AUDITS = ["pbi", "emotion"]


def originals() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["a1", "b1", "a2", "b2"],
        "prompt": ["P a1", "P b1", "P a2", "P b2"],
        "output": ["orig a1", "orig b1", "orig a2", "orig b2"],
        "pbi": [0.8, 0.2, 0.5, 0.4],
        "emotion": [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4], [0.3, 0.3, 0.4]],
        "fidelity": [0.9, 0.9, 0.9, 0.9],
    })


PAIRS = pd.DataFrame({"pair_id": ["p0", "p1"], "id_a": ["a1", "a2"], "id_b": ["b1", "b2"]})


def cand(cid, item, pbi, emotion, fid=0.9, stance=1.0, theme=1.0, status="ok", index=0):
    return {"candidate_id": cid, "item_id": item, "index": index, "text": None if status != "ok" else f"text {cid}",
            "status": status, "error": None if status == "ok" else "HTTP 500 after 7 attempts", "teacher": "t",
            "pbi": pbi, "emotion": emotion, "fidelity": fid, "stance_preserved": stance, "theme_preserved": theme}


E_GOOD = [0.4, 0.4, 0.2]   # TV to b1 = 0.2
E_SAME = [0.6, 0.2, 0.2]   # TV to b1 = 0.4 (unchanged)


def candidates() -> pd.DataFrame:
    return pd.DataFrame([
        cand("c0", "a1", 0.5, E_GOOD, index=0),                  # D (0.3, 0.2): admissible, front
        cand("c1", "a1", 0.3, E_SAME, index=1),                  # D (0.1, 0.4): admissible, front
        cand("c2", "a1", 0.9, E_GOOD, index=2),                  # pbi gap 0.7 > 0.6: rejected
        cand("c3", "a1", 0.5, E_GOOD, fid=0.3, index=3),         # fidelity too low
        cand("c4", "a1", 0.5, E_GOOD, stance=0.2, index=4),      # stance lost
        cand("c5", "a1", None, None, status="failed", index=5),  # teacher failure
        cand("c6", "a1", 0.6, [0.55, 0.25, 0.2], index=6),       # D (0.4, 0.35): admissible, dominated by c0
        cand("d0", "b2", 0.9, [0.3, 0.3, 0.4]),                  # p1 gap 0.4 > 0.1: rejected
    ])


def test_pareto_front_known_and_bruteforce():
    pts = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [2, 2], [6, 6]])
    assert pareto_front(pts).tolist() == [0, 1, 2, 4]  # equal points both kept
    assert pareto_front(pts, maximize=True).tolist() == [5]
    assert pareto_front(pts[:5], maximize=True).tolist() == [0, 2, 3]
    assert pareto_front(pts, maximize=[False, True]).tolist() == [0, 5]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(60, 3)).astype(float)
    brute = [i for i in range(60) if not any((x[j] <= x[i]).all() and (x[j] < x[i]).any() for j in range(60))]
    assert pareto_front(x).tolist() == brute
    with pytest.raises(ValueError, match="row 1"):
        pareto_front([[0, 1], [np.nan, 2]])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(1, 4)), elements=st.integers(0, 5).map(float)))
def test_pareto_front_properties(points):
    front = set(pareto_front(points).tolist())
    dominates = lambda a, b: (a <= b).all() and (a < b).any()  # noqa: E731
    for i in range(len(points)):
        dominated = any(dominates(points[j], points[i]) for j in range(len(points)))
        assert (i in front) == (not dominated)
    assert front  # a finite set always has a non-dominated point


def test_gate_known_verdicts():
    g = gate_candidates(originals(), PAIRS, candidates(), AUDITS).set_index("candidate_id")
    assert g["admissible"].to_dict() == {"c0": True, "c1": True, "c2": False, "c3": False, "c4": False,
                                         "c5": False, "c6": True, "d0": False}
    assert g.loc["c0", "obj_pbi"] == pytest.approx(0.3) and g.loc["c0", "obj_emotion"] == pytest.approx(0.2)
    assert g.loc["c0", "orig_pbi"] == pytest.approx(0.6) and g.loc["c0", "orig_emotion"] == pytest.approx(0.4)
    assert g.loc["c2", "reasons"] == ["pbi: pair p0 disparity 0.7 > original 0.6 + tolerance 0"]
    assert g.loc["c3", "reasons"] == ["fidelity 0.3 < min_fidelity 0.5"]
    assert g.loc["c4", "reasons"] == ["stance not preserved (stance_preserved=0.2 < 0.5)"]
    assert g.loc["c5", "reasons"] == ["teacher reply failed: HTTP 500 after 7 attempts"]
    assert g.loc["d0", "reason"].startswith("pbi: pair p1 disparity 0.4 > original 0.1")
    assert g.loc["c0", "pair_ids"] == ["p0"]
    counts = rejection_counts(g)
    assert counts == {"pbi": 2, "fidelity": 1, "stance not preserved": 1, "teacher reply failed": 1,
                      "improves no audit": 1}


def test_tolerance_improvement_and_drop_rules():
    base = candidates().iloc[:0]
    rows = pd.DataFrame([cand("t0", "a1", 0.85, E_GOOD),   # pbi gap +0.05, emotion better
                         cand("t1", "a1", 0.8, E_SAME),    # identical to the original: no improvement
                         cand("t2", "a1", 0.5, E_GOOD, fid=0.7)])
    rows = pd.concat([base, rows])
    strict = gate_candidates(originals(), PAIRS, rows, AUDITS).set_index("candidate_id")
    assert not strict.loc["t0", "admissible"] and strict.loc["t0", "reason"].startswith("pbi: pair p0 disparity 0.65")
    assert strict.loc["t1", "reasons"] == ["improves no audit by more than 0"]
    loose = gate_candidates(originals(), PAIRS, rows, AUDITS, GateConfig(tolerance={"pbi": 0.1},
                            max_fidelity_drop=0.1)).set_index("candidate_id")
    assert loose.loc["t0", "admissible"]
    assert loose.loc["t2", "reasons"] == ["fidelity dropped 0.2 > max_fidelity_drop 0.1"]
    drop = gate_candidates(originals().assign(theme_preserved=[0.5, 0.5, 0.5, 0.5]), PAIRS,
                           rows.assign(theme_preserved=[0.45, 0.35, 0.3]), AUDITS, theme_threshold=None,
                           max_theme_drop=0.1).set_index("candidate_id")
    assert not any("theme" in r for r in drop.loc["t0", "reasons"])  # dropped 0.05 <= 0.1
    assert drop.loc["t2", "reasons"] == ["theme not preserved (theme_preserved dropped 0.2 > max_theme_drop 0.1)"]
    off = gate_candidates(originals(), PAIRS, rows, AUDITS, require_improvement=False).set_index("candidate_id")
    assert off.loc["t1", "admissible"]


def test_member_in_several_pairs_checks_every_pair():
    orig = pd.DataFrame({"id": ["x", "y", "z"], "prompt": ["p"] * 3, "output": ["o"] * 3,
                         "pbi": [0.5, 0.9, 0.1], "fidelity": [1.0] * 3})
    pairs = pd.DataFrame({"index_a": [0, 0], "index_b": [1, 2]})  # positional, as matched_pairs returns
    c = pd.DataFrame([{"candidate_id": "x#0", "item_id": "x", "text": "t", "pbi": 0.8, "fidelity": 1.0},
                      {"candidate_id": "x#1", "item_id": "x", "text": "t", "pbi": 0.5 + 1e-3, "fidelity": 1.0}])
    g = gate_candidates(orig, pairs, c, ["pbi"], stance_threshold=None, theme_threshold=None,
                        require_improvement=False).set_index("candidate_id")
    # closer to y (0.1 < 0.4) but farther from z (0.7 > 0.4): rejected on pair 1
    assert g.loc["x#0", "reasons"] == ["pbi: pair 1 disparity 0.7 > original 0.4 + tolerance 0"]
    assert g.loc["x#0", "obj_pbi"] == pytest.approx(0.7) and g.loc["x#0", "pair_ids"] == [0, 1]
    assert not g.loc["x#1", "admissible"]  # 0.401 > 0.4 on pair 1


def test_selection_tiebreak_and_kept_original():
    orig = originals()
    g = gate_candidates(orig, PAIRS, candidates(), AUDITS)
    sel = select_candidates(g, orig, AUDITS).set_index("item_id")
    # front {c0 (0.3, 0.2), c1 (0.1, 0.4)}; min-max over front + original (0.6, 0.4): c0 sums 0.4, c1 sums 1.0
    assert sel.loc["a1", "front"] == ["c0", "c1"] and sel.loc["a1", "selected_candidate_id"] == "c0"
    assert sel.loc["a1", "dominated"] == ["c6", "c2"]  # worst first: c6 1.25, c2 1.0
    assert sel.loc["a1", "n_admissible"] == 3 and sel.loc["a1", "n_candidates"] == 7
    for item in ("b1", "a2", "b2"):
        assert sel.loc[item, "kept_original"] and pd.isna(sel.loc[item, "selected_candidate_id"])
    # equal objectives: fidelity decides, then listing order
    twins = pd.DataFrame([cand("u0", "a1", 0.5, E_GOOD, fid=0.8), cand("u1", "a1", 0.5, E_GOOD, fid=0.95),
                          cand("u2", "a1", 0.5, E_GOOD, fid=0.95)])
    s2 = select_candidates(gate_candidates(orig, PAIRS, twins, AUDITS), orig, AUDITS).set_index("item_id")
    assert s2.loc["a1", "selected_candidate_id"] == "u1" and s2.loc["a1", "front"] == ["u0", "u1", "u2"]


def test_training_rows_and_provenance():
    orig = originals()
    g = gate_candidates(orig, PAIRS, candidates(), AUDITS)
    sel = select_candidates(g, orig, AUDITS)
    sft, dpo, counts = build_training_data(sel, g, orig)
    assert sft.to_list() == [{"prompt": "P a1", "completion": "text c0", "item_id": "a1", "chosen_candidate_id": "c0",
                              "chosen_revision": 0, "teacher": "t", "pair_ids": ["p0"]}]
    assert dpo[0]["chosen"] == "text c0" and dpo[0]["rejected"] == "orig a1" and dpo[0]["rejected_source"] == "original"
    assert counts["kept_original"] == 3 and counts["dpo_rows"] == 1
    _, dom, _ = build_training_data(sel, g, orig, rejected="dominated")
    assert dom[0]["rejected"] == "text c6" and dom[0]["rejected_candidate_id"] == "c6"
    _, both, c = build_training_data(sel, g, orig, rejected="both", format="conversational")
    assert len(both) == 2 and c["rejected_original"] == 1 and c["rejected_dominated_candidate"] == 1
    assert both[0]["prompt"] == [{"role": "user", "content": "P a1"}]
    assert both[0]["chosen"] == [{"role": "assistant", "content": "text c0"}]


def test_clear_errors():
    orig = originals()
    with pytest.raises(ValueError, match="stance_preserved"):
        gate_candidates(orig, PAIRS, candidates().drop(columns="stance_preserved"), AUDITS)
    bad = candidates()
    bad.loc[0, "item_id"] = "zz"
    with pytest.raises(ValueError, match="row 0: item_id 'zz'"):
        gate_candidates(orig, PAIRS, bad, AUDITS)
    with pytest.raises(ValueError, match="pairs row 0"):
        gate_candidates(orig, pd.DataFrame({"id_a": ["a1"], "id_b": ["nope"]}), candidates(), AUDITS)
    with pytest.raises(ValueError, match="no column 'nope'"):
        gate_candidates(orig, PAIRS, candidates(), ["nope"])
    with pytest.raises(ValueError, match="rejected must be"):
        build_training_data(select_candidates(gate_candidates(orig, PAIRS, candidates(), AUDITS), orig, AUDITS),
                            candidates(), orig, rejected="worst")


class ListTeacher:
    """A teacher whose revisions are given: candidate i of item x is texts[x][i]."""

    def __init__(self, texts):
        self.texts, self.last_stats = texts, {"requested": 0}

    def revise(self, items, k):
        from fairpp_hf.teachers import Candidate

        return [Candidate(row["id"], i, self.texts[row["id"]][i], "ok", teacher="list") for _, row in items.iterrows()
                for i in range(k)]


def test_pipeline_with_text_scorer():
    # scorer: pbi = number of "!" / 10, stance kept unless the text says "oppose"
    def scorer(texts, rows):
        assert len(rows) == len(texts) and "gender" in rows.columns
        return pd.DataFrame({"pbi": [t.count("!") / 10 for t in texts], "fidelity": [1.0] * len(texts),
                             "stance_preserved": [0.0 if "oppose" in t else 1.0 for t in texts],
                             "theme_preserved": [1.0] * len(texts)})

    items = [{"id": "f", "prompt": "pf", "output": "Act now!!!!", "gender": "Female"},
             {"id": "m", "prompt": "pm", "output": "Act now!", "gender": "Male"}]
    teacher = ListTeacher({"f": ["Act now!!", "Act now!!!!!", "oppose it!"], "m": ["Act now!", "Act!!", "Act"]})
    out = run_teacher_pipeline(items, pd.DataFrame({"id_a": ["f"], "id_b": ["m"]}), teacher, scorer, ["pbi"], k=3)
    sel = out.selection.set_index("item_id")
    assert sel.loc["f", "selected_candidate_id"] == "f#0"  # f#2 reaches gap 0 but loses the stance
    assert sel.loc["m", "selected_candidate_id"] == "m#1"  # gap 0.3 -> 0.2; m#0 no change, m#2 widens
    assert out.report["admissible"] == 2 and out.report["rejections"]["stance not preserved"] == 1
    assert [r["chosen"] for r in out.dpo] == ["Act now!!", "Act!!"]
    assert list(itertools.chain(*out.sft["pair_ids"])) == ["0", "0"]


def test_default_audit_scorer_through_pipeline(shared_data):
    from fairpp_hf.pareto import audit_scorer

    base = {"stance": "Clean-Energy", "theme": "Economy", "age": "Senior (65+)", "region": "Midwest"}
    items = [{"id": "f", "prompt": "pf", "gender": "Female", **base,
              "output": "You must switch to clean energy now! Seniors will certainly save money. Act today!"},
             {"id": "m", "prompt": "pm", "gender": "Male", **base,
              "output": "Clean energy may perhaps help the economy, and it could lower costs for seniors."}]
    teacher = ListTeacher({"f": ["Clean energy could help the economy and may lower costs for seniors.",
                                 "You must act now! You will win! Do it! Go!"],
                           "m": ["Clean energy may help the economy and could lower costs for seniors.",
                                 "Clean energy might help seniors in the Midwest save money."]})
    scorer = audit_scorer(lexicon=shared_data / "agency_power.csv")
    out = run_teacher_pipeline(items, pd.DataFrame({"id_a": ["m"], "id_b": ["f"]}), teacher, scorer,
                               ["persuasion", "formality", "emotion"], k=2,
                               gate=GateConfig(tolerance=0.05, min_fidelity=0.0, stance_threshold=0.5,
                                               theme_threshold=None, max_theme_drop=0.2))
    g = out.gated.set_index("candidate_id")
    assert {"persuasion", "formality", "emotion", "fidelity", "stance_preserved", "theme_preserved"} <= set(g.columns)
    assert len(g.loc["f#0", "emotion"]) > 1  # a distribution, gated by total variation
    # the hedged rewrite of the forceful message closes the persuasion gap; the forceful one widens it
    assert g.loc["f#0", "obj_persuasion"] < g.loc["f#0", "orig_persuasion"]
    assert g.loc["f#0", "obj_persuasion"] == pytest.approx(0.0)  # both hedged now: same PBI
    assert not g.loc["f#1", "admissible"] and g.loc["f#1", "reason"]  # the shouting rewrite widens other gaps
    assert out.selection.set_index("item_id").loc["f", "selected_candidate_id"] == "f#0"
    assert out.report["candidates"] == 4 and out.report["sft_rows"] == len(out.sft)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy warns on the all-zero row
def test_js_disparity_matches_scipy_and_zero_rows_give_zero():
    from scipy.spatial.distance import jensenshannon

    from fairpp_hf.pareto import _disparity

    a = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    b = np.array([[0.1, 0.2, 0.7], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    got = _disparity("js", a, b)
    assert got[0] == pytest.approx(jensenshannon(a[0], b[0]))
    assert got[1] == 0.0  # all-zero rows: scipy gives NaN, the gate treats them as no gap
    assert got[2] == pytest.approx(np.sqrt(np.log(2)))
