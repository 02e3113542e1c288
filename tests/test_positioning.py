"""Positioning a causal LM among the personas: scoring equals a direct per-option log-softmax,
padding does not matter, PEFT adapters work, generate-and-parse counts unparseable answers, and
the ``position`` command writes its table, JSON and heatmaps."""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fairpp_hf.positioning import PositionReport, _parse, option_continuations, position
from fairpp_hf.prompts import conversational_prompt, standard_prompt


@pytest.fixture(scope="module")
def tiny():
    from fairpp_hf.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(seed=3)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def questions(small_records):
    return list(small_records.select(range(9))["question"])


def _prompt_ids(tokenizer, question: str, fmt: str) -> list[int]:
    if fmt == "standard":
        return tokenizer(standard_prompt(question))["input_ids"]
    text = tokenizer.apply_chat_template(conversational_prompt(question), tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _expected_continuations(tokenizer, question: str, fmt: str) -> list[list[int]]:
    """The letter tokens, worked out directly for this tokenizer: after "Assistant:" the response
    " A" is tokenized jointly with the prompt; after the chat template the letter is one token."""
    prompt = _prompt_ids(tokenizer, question, fmt)
    out = []
    for letter in "ABC":
        if fmt == "standard":
            full = tokenizer(standard_prompt(question) + f" {letter}")["input_ids"]
            assert full[: len(prompt)] == prompt
            out.append(full[len(prompt) :])
        else:
            out.append([tokenizer.convert_tokens_to_ids(letter)])
    return out


def _direct(model, tokenizer, questions, fmt, conts=None) -> np.ndarray:
    """One unpadded forward per (question, letter): sum of log-softmax of the letter's tokens."""
    out = np.zeros((len(questions), 3))
    with torch.no_grad():
        for i, q in enumerate(questions):
            prompt = _prompt_ids(tokenizer, q, fmt)
            for k, cont in enumerate(conts or _expected_continuations(tokenizer, q, fmt)):
                ids = torch.tensor([prompt + cont])
                logp = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
                out[i, k] = sum(float(logp[len(prompt) - 1 + t, tok]) for t, tok in enumerate(cont))
    return np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("fmt", ["conversational", "standard"])
def test_score_equals_direct_log_softmax(tiny, questions, fmt):
    model, tokenizer = tiny
    assert option_continuations(tokenizer, questions[0], fmt) == _expected_continuations(tokenizer, questions[0], fmt)
    expected = _direct(model, tokenizer, questions, fmt)
    probs, report = position(model, tokenizer, questions, format=fmt, batch_size=4, progress=False, return_report=True)
    assert probs.shape == (len(questions), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(probs, expected, atol=2e-5)
    assert report.scoring == "one_pass" and report.letter_mass.shape == (len(questions),)
    assert ((report.letter_mass > 0) & (report.letter_mass < 1)).all()


@pytest.mark.parametrize("fmt", ["conversational", "standard"])
def test_left_and_right_padding_agree(tiny, questions, fmt):
    model, tokenizer = tiny
    runs = [
        position(model, tokenizer, questions, format=fmt, batch_size=bs, padding_side=side, progress=False)
        for side in ("left", "right") for bs in (1, 4, 16)
    ]
    for other in runs[1:]:
        np.testing.assert_allclose(other, runs[0], atol=2e-5)
    # the tokenizer's own padding side neither matters nor is changed
    tok = copy.deepcopy(tokenizer)
    tok.padding_side = "left"
    np.testing.assert_allclose(position(model, tok, questions, format=fmt, progress=False), runs[0], atol=2e-5)
    assert tok.padding_side == "left" and tokenizer.padding_side == "right"


def test_sequence_fallback_when_letters_do_not_share_a_prefix(tiny, questions):
    model, tokenizer = tiny
    # multi-token letter continuations with different heads force one sequence per letter
    conts = [[39, 20], [40, 41, 20], [227, 41]]
    expected = _direct(model, tokenizer, questions[:5], "conversational", conts=conts)
    for side in ("left", "right"):
        probs, report = position(
            model, tokenizer, questions[:5], option_tokens=conts, padding_side=side, batch_size=4,
            progress=False, return_report=True,
        )
        assert report.scoring == "sequence"
        np.testing.assert_allclose(probs, expected, atol=2e-5)


def test_records_dataset_and_training_mode(tiny, small_records):
    model, tokenizer = tiny
    records = small_records.select(range(5))
    model.train()
    try:
        a = position(model, tokenizer, records, progress=False)
        assert model.training  # restored
    finally:
        model.eval()
    b = position(model, tokenizer, list(records["question"]), progress=False)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_peft_adapter_and_load_model(tiny, questions, tmp_path):
    peft = pytest.importorskip("peft")
    from fairpp_hf.positioning import load_causal_lm

    model, tokenizer = tiny
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = peft.get_peft_model(copy.deepcopy(model), config).eval()
    expected = _direct(peft_model, tokenizer, questions[:4], "conversational")
    got = position(peft_model, tokenizer, questions[:4], progress=False, padding_side="left")
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert np.abs(got - position(model, tokenizer, questions[:4], progress=False)).max() > 1e-4  # adapter matters
    # saved adapter folder (base saved alongside) loads through load_causal_lm
    base_dir, adapter_dir = tmp_path / "base", tmp_path / "adapter"
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    peft_model.peft_config["default"].base_model_name_or_path = str(base_dir)
    peft_model.save_pretrained(adapter_dir)
    loaded, loaded_tok = load_causal_lm(str(adapter_dir), device="cpu", dtype="float32")
    np.testing.assert_allclose(position(loaded, loaded_tok, questions[:4], progress=False), expected, atol=2e-5)


def test_generate_counts_unparseable_and_matches_unbatched_greedy(tiny, questions):
    model, tokenizer = tiny
    probs, report = position(
        model, tokenizer, questions[:4], method="generate", max_new_tokens=3, batch_size=4, progress=False,
        return_report=True,
    )
    assert set(np.unique(probs)) <= {0.0, 1.0} and (probs.sum(axis=1) == 1).all()
    assert len(report.generations) == 4
    # left-padded batched greedy decoding equals unpadded one-at-a-time decoding
    for i, q in enumerate(questions[:4]):
        ids = torch.tensor([_prompt_ids(tokenizer, q, "conversational")])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=3, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
        assert report.generations[i] == tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    # a random tiny model rarely writes a letter: unparseable rows are counted and mapped to C
    assert report.unparseable == len(report.unparseable_rows)
    assert (probs[report.unparseable_rows, 2] == 1).all()


def test_parse_generated_answers():
    report = PositionReport(method="generate", format="conversational", n_questions=4)
    gens = ["B. Because it is fair", "The answer is A.", "(C)", "no idea"]
    probs = _parse(["q"] * 4, gens, "C", report)
    np.testing.assert_array_equal(probs.argmax(axis=1), [1, 0, 2, 2])
    assert report.unparseable == 1 and report.unparseable_rows == [3]
    with pytest.raises(ValueError, match=r"questions\[3\] -> 'no idea'"):
        _parse(["q"] * 4, gens, "error", PositionReport(method="generate", format="standard", n_questions=4))


@pytest.mark.parametrize(
    ("questions", "kwargs", "message"),
    [
        ([], {}, "questions is empty"),
        (["ok question\nA. x\nB. y\nC. N/A", ""], {}, "questions[1] = ''"),
        ("a single string", {}, "not one string"),
        (["q"], {"method": "sample"}, "method='sample'"),
        (["q"], {"format": "chat"}, "format='chat'"),
        (["q"], {"batch_size": 0}, "batch_size=0"),
        (["q"], {"padding_side": "middle"}, "padding_side='middle'"),
        (["q"], {"unparseable": "drop"}, "unparseable='drop'"),
        (["q"], {"option_tokens": [[1], [1], [2]]}, "three distinct"),
    ],
)
def test_bad_input(tiny, questions, kwargs, message):
    model, tokenizer = tiny
    with pytest.raises(ValueError) as err:
        position(model, tokenizer, questions, progress=False, **kwargs)
    assert message in str(err.value)


def test_conversational_needs_chat_template(tiny, questions):
    model, tokenizer = tiny
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = None
    with pytest.raises(ValueError, match="chat template"):
        position(model, tok, questions[:1], progress=False)
    assert position(model, tok, questions[:1], format="standard", progress=False).shape == (1, 3)


@pytest.mark.slow
def test_position_command(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "fairpp_hf.cli", "position", "--model", str(tiny_model_dir), "--out", str(out), "--limit", "12",
         "--synthetic-questions", "40", "--persona", "3", "--no-progress", "--device", "cpu"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SYNTHETIC" in proc.stdout and "margin_best" in proc.stdout and "Disengaged Battlers" in proc.stdout
    payload = json.loads((out / "position.json").read_text())
    assert payload["synthetic"] is True and payload["n_questions"] == 12 and payload["target_persona"] == 3
    for mode in ("pooled", "per_question"):
        result = payload["results"][mode]
        assert len(result["matrix"]) == 8 and result["target_persona"] == 3
        assert set(result["breakdown"]) == {"topic", "group_type", "dimension"}
        png = Path(payload["heatmaps"][mode])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    preds = (out / "predictions.csv").read_text().splitlines()
    assert preds[0] == "question_id,p_A,p_B,p_C" and len(preds) == 13


def test_position_command_bad_persona(tmp_path, capsys):
    from fairpp_hf.commands import position as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--model", "unused", "--out", str(tmp_path / "o"), "--persona", "9"])
    assert command.run(args) == 2
    assert "--persona=9" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_score_on_cuda_equals_cpu(tiny, questions):
    model, tokenizer = tiny
    cpu = position(model, tokenizer, questions, progress=False)
    gpu_model = copy.deepcopy(model).to("cuda")
    for side in ("left", "right"):
        got = position(gpu_model, tokenizer, questions, padding_side=side, progress=False)
        np.testing.assert_allclose(got, cpu, atol=1e-4)


def test_similarity_heatmap_png_and_errors(tmp_path):
    from fairpp_hf.plots import similarity_heatmap

    matrix = np.eye(3) * 0.5 + 0.5
    path = similarity_heatmap(matrix, ["a", "b", "c"], tmp_path / "sub" / "h.png", title="t")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="labels has 2"):
        similarity_heatmap(matrix, ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="square"):
        similarity_heatmap(np.ones((2, 3)), ["a", "b"], tmp_path / "x.png")
