"""The persona_js_similarity ``evaluate`` module: loading, add_batch, multi-process gathering,
the breakdown config, its documented example and its errors."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

evaluate = pytest.importorskip("evaluate")

from fairpp_hf.resources import metric_path  # noqa: E402
from fairpp_hf.similarity import persona_similarity  # noqa: E402

NAME = "persona_js_similarity"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 120
    answers = rng.integers(0, 3, size=(n, 7))
    codes = rng.integers(0, 3, size=n)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    return answers, codes, probs


def _load(tmp_path: Path, *args, **kwargs):
    return evaluate.load(metric_path(NAME), *args, cache_dir=str(tmp_path / "cache"), **kwargs)


def _same(a: dict, b: dict) -> None:
    assert a["similarity"] == pytest.approx(b["similarity"], abs=1e-12)
    np.testing.assert_allclose(np.array(a["matrix"]), np.array(b["matrix"]), atol=1e-12)
    for key in ("target_similarity", "margin_best", "margin_mean"):
        assert a[key] == pytest.approx(b[key], abs=1e-12)


def test_metric_path_and_card():
    folder = Path(metric_path(NAME))
    assert (folder / f"{NAME}.py").is_file()
    card = (folder / "README.md").read_text()
    assert card.startswith("---") and "margin_best" in card and "per_question" in card


@pytest.mark.parametrize("mode", ["pooled", "per_question"])
def test_compute_equals_library_codes_and_probabilities(tmp_path, data, mode):
    answers, codes, probs = data
    metric = _load(tmp_path)
    for predictions in (codes, probs):
        got = metric.compute(predictions=predictions.tolist(), references=answers.tolist(), target_persona=6, mode=mode)
        _same(got, persona_similarity(predictions, answers, target_persona=6, mode=mode))


def test_add_batch_equals_one_shot(tmp_path, data):
    answers, _, probs = data
    metric = _load(tmp_path)
    for start in range(0, len(answers), 32):
        metric.add_batch(predictions=probs[start : start + 32].tolist(), references=answers[start : start + 32].tolist())
    got = metric.compute(target_persona=2, mode="per_question")
    _same(got, persona_similarity(probs, answers, target_persona=2, mode="per_question"))


def test_breakdown_config_gathers_group_labels(tmp_path, data):
    answers, codes, _ = data
    topics = np.array(["t1", "t2", "t3"])[np.arange(len(codes)) % 3]
    dims = np.array(["d1", "d2"])[np.arange(len(codes)) % 2]
    metric = _load(tmp_path, "breakdown")
    half = len(codes) // 2
    for sl in (slice(0, half), slice(half, None)):
        metric.add_batch(
            predictions=codes[sl].tolist(), references=answers[sl].tolist(),
            groups=np.stack([topics[sl], dims[sl]], axis=1).tolist(),
        )
    got = metric.compute(target_persona=6, group_names=["topic", "dimension"])
    expected = persona_similarity(codes, answers, 6, breakdown={"topic": topics, "dimension": dims})
    assert set(got["breakdown"]) == {"topic", "dimension"}
    for name in ("topic", "dimension"):
        for label, summary in expected["breakdown"][name].items():
            assert got["breakdown"][name][label]["similarity"] == pytest.approx(summary["similarity"], abs=1e-12)


def test_documented_example_runs(tmp_path):
    metric = _load(tmp_path)
    module = sys.modules[type(metric).__module__]
    test = doctest.DocTestParser().get_doctest(module._KWARGS_DESCRIPTION, {}, "example", None, 0)
    assert test.examples, "the metric's _KWARGS_DESCRIPTION has no runnable example"
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.failures == 0


_WORKER = textwrap.dedent(
    """
    import json, sys
    import evaluate
    import numpy as np
    from fairpp_hf.resources import metric_path

    rank, cache = int(sys.argv[1]), sys.argv[2]
    rng = np.random.default_rng(11)
    answers = rng.integers(0, 3, size=(90, 7))
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=90)
    metric = evaluate.load(metric_path("persona_js_similarity"), num_process=2, process_id=rank,
                           experiment_id="fairpp-js-test", cache_dir=cache)
    mine = slice(0, 50) if rank == 0 else slice(50, 90)   # uneven shards
    for start in range(mine.start, mine.stop, 20):
        stop = min(start + 20, mine.stop)
        metric.add_batch(predictions=probs[start:stop].tolist(), references=answers[start:stop].tolist())
    out = metric.compute(target_persona=6, mode="pooled")
    print("RESULT" + json.dumps(None if out is None else {"sim": out["similarity"], "n": out["n_questions"],
                                                          "margin_best": out["margin_best"]}))
    """
)


@pytest.mark.slow
def test_multi_process_gathering(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), str(cache)], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr[-3000:]
        line = [x for x in stdout.splitlines() if x.startswith("RESULT")][-1]
        outputs.append(json.loads(line[len("RESULT"):]))
    assert outputs[1] is None  # only process 0 returns the result
    rng = np.random.default_rng(11)
    answers = rng.integers(0, 3, size=(90, 7))
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=90)
    expected = persona_similarity(probs, answers, target_persona=6, mode="pooled")
    assert outputs[0]["n"] == 90
    assert {int(k): v for k, v in outputs[0]["sim"].items()} == pytest.approx(expected["similarity"], abs=1e-12)
    assert outputs[0]["margin_best"] == pytest.approx(expected["margin_best"], abs=1e-12)


@pytest.mark.parametrize(
    ("predictions", "references", "kwargs", "message"),
    [
        ([], [], {}, "predictions is empty"),
        ([0, 1], [[0] * 7] * 3, {}, "Mismatch in the number of predictions (2) and references (3)"),
        ([0, 5], [[0] * 7] * 2, {}, "predictions[1] = 5 is not an answer code"),
        ([0, 1], [[0] * 7, [0, 0, 9, 0, 0, 0, 0]], {}, "references[1][2] (persona 3) = 9"),
        ([0, 1], [[0] * 7] * 2, {"group_names": ["topic"]}, 'needs the "breakdown" config'),
    ],
)
def test_metric_errors_are_clear(tmp_path, predictions, references, kwargs, message):
    metric = _load(tmp_path)
    with pytest.raises(ValueError) as err:
        metric.compute(predictions=predictions, references=references, **kwargs)
    assert message in str(err.value)
