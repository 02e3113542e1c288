"""Positioning: each question's A/B/C answer distribution from a causal LM, in the prompt format
the model was trained with (:mod:`fairpp_hf.prompts`), for the persona similarity metric.

``method="score"`` reads the probabilities of the option letters after the prompt from batched,
padding-aware forward passes. The letter continuations are the tokens the model is trained to emit
first (found by tokenizing prompt + ``"A."`` the way TRL does). When every continuation is a
leading part of one shared token run followed by a last token of its own (the usual case: one token
``"A"``, ``"ĠA"`` or ``"▁A"`` per letter, or a shared ``" "`` then ``"A"``), one forward pass per
question reads all three log-probabilities. Otherwise every letter continuation is scored in full
(sum of its token log-probabilities, one sequence per letter). Either way the returned rows are the
three letters' probabilities renormalised to sum 1; :class:`PositionReport` keeps their raw total
(``letter_mass``) to show how much of the model's mass falls on a letter at all.

``method="generate"`` generates greedily and parses the answer letter as the Fair-PP authors did
(one-hot rows; unparseable answers become C as in the paper, counted in the report).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp, softmax

from .prompts import OPTION_LETTERS, PromptFormat, check_format, conversational_prompt, standard_prompt

logger = logging.getLogger(__name__)

PositionMethod = Literal["score", "generate"]
POSITION_METHODS: tuple[str, ...] = ("score", "generate")
UNPARSEABLE_POLICIES: tuple[str, ...] = ("C", "error")


@dataclass
class PositionReport:
    """How :func:`position` placed the questions: method, letter tokens, unparseable answers, time."""

    method: str
    format: str
    n_questions: int
    scoring: str = ""
    option_token_ids: list[list[int]] = field(default_factory=list)
    letter_mass: np.ndarray | None = None
    unparseable: int = 0
    unparseable_rows: list[int] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One readable line of what happened."""
        text = f"{self.method} ({self.format}) on {self.n_questions} questions in {self.seconds:.2f} s"
        if self.method == "score":
            mass = self.letter_mass
            text += f"; {self.scoring} scoring of letter tokens {self.option_token_ids}"
            if mass is not None and len(mass):
                text += f"; mean probability on A/B/C {float(mass.mean()):.3f} (min {float(mass.min()):.3f})"
        else:
            text += f"; unparseable answers: {self.unparseable} (mapped to C)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-question arrays except unparseable rows)."""
        out = {
            "method": self.method, "format": self.format, "n_questions": self.n_questions,
            "seconds": self.seconds,
        }
        if self.method == "score":
            out.update(scoring=self.scoring, option_token_ids=self.option_token_ids)
            if self.letter_mass is not None and len(self.letter_mass):
                out.update(letter_mass_mean=float(self.letter_mass.mean()), letter_mass_min=float(self.letter_mass.min()))
        else:
            out.update(unparseable=self.unparseable, unparseable_rows=self.unparseable_rows)
        return out


def _question_texts(questions: Any) -> list[str]:
    """Question strings from a list/array/Series of str or a records ``datasets.Dataset``."""
    import datasets

    if isinstance(questions, datasets.Dataset):
        if "question" not in questions.column_names:
            raise ValueError(f"questions dataset has no 'question' column; columns are {questions.column_names}")
        questions = questions["question"]
    if isinstance(questions, str):
        raise ValueError("questions must be a sequence of question strings, not one string")
    texts = list(questions)
    if not texts:
        raise ValueError("questions is empty: nothing to position")
    for i, q in enumerate(texts):
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"questions[{i}] = {q!r} is not a non-empty question string")
    return texts


def _prompt_ids(tokenizer: Any, texts: list[str], fmt: str) -> list[list[int]]:
    """Token ids of the prompts, tokenized as TRL tokenizes prompts for training."""
    if fmt == "standard":
        return tokenizer([standard_prompt(q) for q in texts])["input_ids"]
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("format='conversational' needs a tokenizer with a chat template; use format='standard'")
    rendered = tokenizer.apply_chat_template(
        [conversational_prompt(q) for q in texts], tokenize=False, add_generation_prompt=True
    )
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def _full_ids(tokenizer: Any, question: str, answer: str, fmt: str) -> list[int]:
    if fmt == "standard":
        return tokenizer(standard_prompt(question) + f" {answer}")["input_ids"]
    messages = conversational_prompt(question) + [{"role": "assistant", "content": answer}]
    return list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def option_continuations(tokenizer: Any, question: str, format: PromptFormat = "conversational") -> list[list[int]]:
    """The token ids that spell each option letter right after the prompt, as training tokenizes them.

    Tokenizes prompt and prompt + ``"A."`` (etc.) like TRL, takes the tokens after the common prefix,
    and keeps the shortest run whose text contains the letter.
    """
    check_format(format)
    prompt = _prompt_ids(tokenizer, [question], format)[0]
    out = []
    for letter in OPTION_LETTERS:
        full = _full_ids(tokenizer, question, f"{letter}.", format)
        start = 0
        while start < min(len(prompt), len(full)) and prompt[start] == full[start]:
            start += 1
        if start < len(prompt):
            logger.warning(
                "the tokenized prompt is not a prefix of prompt + answer (tokens merge across the boundary); "
                "scoring after the full prompt anyway"
            )
        rest = full[start:]
        for k in range(1, len(rest) + 1):
            if letter in tokenizer.decode(rest[:k], skip_special_tokens=True):
                out.append(rest[:k])
                break
        else:
            raise ValueError(f"could not find the tokens of option letter {letter!r} after the prompt")
    if len({tuple(c) for c in out}) < len(out):
        raise ValueError(f"the option letters tokenize identically after the prompt ({out}); cannot tell them apart")
    return out


def _check_option_tokens(option_tokens: Sequence[Sequence[int]]) -> list[list[int]]:
    conts = [[int(t) for t in c] for c in option_tokens]
    if len(conts) != len(OPTION_LETTERS) or any(not c for c in conts) or len({tuple(c) for c in conts}) < len(conts):
        raise ValueError(f"option_tokens={option_tokens!r} must be three distinct non-empty token id lists (A, B, C)")
    return conts


def _shared_prefix(conts: list[list[int]]) -> list[int] | None:
    """Tokens ``s`` such that every continuation is ``s[:j] + [last]`` (so one pass reads them all), or None."""
    heads = [c[:-1] for c in conts]
    longest = max(heads, key=len)
    if all(longest[: len(h)] == h for h in heads) and len({(len(c), c[-1]) for c in conts}) == len(conts):
        return longest
    return None


def _forward_kwargs(model: Any) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def _device(model: Any):
    import torch

    device = getattr(model, "device", None)
    if device is None:
        device = next(model.parameters()).device
    return torch.device(device)


def _pad(seqs: list[list[int]], pad_id: int, side: str, device):
    """Padded ids, attention mask and position ids (counting real tokens only) for a batch."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        start = width - len(seq) if side == "left" else 0
        ids[row, start : start + len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, start : start + len(seq)] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def _pad_id(tokenizer: Any) -> int:
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


def _batches(order: np.ndarray, batch_size: int):
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _logits_at(model, ids, mask, pos, cols, accepted: set[str]):
    """Forward pass returning logits only where needed: ``cols`` holds padded positions; returns the
    logits and ``cols`` re-indexed into them. Uses ``logits_to_keep`` (a tensor of positions) when the
    model takes it, so a large vocabulary is projected at a few positions, not the whole sequence."""
    import torch

    kwargs: dict[str, Any] = {"attention_mask": mask}
    if "position_ids" in accepted:
        kwargs["position_ids"] = pos
    if "logits_to_keep" in accepted:
        keep = torch.unique(cols)
        kwargs["logits_to_keep"] = keep
        cols = torch.searchsorted(keep, cols)
    return model(input_ids=ids, use_cache=False, **kwargs).logits, cols


def _score(model, tokenizer, prompts, conts, batch_size, side, bar) -> tuple[np.ndarray, str]:
    """Log-probabilities (n, 3) of the three letter continuations after each prompt."""
    import torch

    device = _device(model)
    accepted = _forward_kwargs(model)
    pad_id = _pad_id(tokenizer)
    n = len(prompts)
    out = np.zeros((n, len(OPTION_LETTERS)))
    shared = _shared_prefix(conts)
    if shared is not None:
        # One pass per question on prompt + shared prefix: every letter's tokens are read off it.
        scoring = "one_pass"
        width = len(shared) + 1  # positions whose next-token distributions are needed
        depth = torch.tensor([len(c) - 1 for c in conts], device=device)
        last_tok = torch.tensor([c[-1] for c in conts], device=device)
        prefix_tok = torch.tensor(shared, dtype=torch.long, device=device)
        order = np.argsort([-len(p) for p in prompts], kind="stable")
        for idx in _batches(order, batch_size):
            ids, mask, pos = _pad([prompts[i] + shared for i in idx], pad_id, side, device)
            # Padded index of each prompt's last token, then the `width` positions read from it on.
            last_real = (mask * torch.arange(mask.shape[1], device=device)).argmax(dim=1)
            cols = (last_real - len(shared))[:, None] + torch.arange(width, device=device)[None, :]
            logits, cols = _logits_at(model, ids, mask, pos, cols, accepted)
            rows = torch.arange(len(idx), device=device)[:, None]
            lp = torch.log_softmax(logits[rows, cols].float(), dim=-1)  # (b, width, vocab)
            prefix_lp = lp[:, :-1, :].gather(2, prefix_tok.view(1, -1, 1).expand(len(idx), -1, 1))[..., 0]
            cum = torch.cat([torch.zeros(len(idx), 1, device=lp.device), prefix_lp.cumsum(dim=1)], dim=1)
            letter_lp = cum[:, depth] + lp[:, depth, last_tok]
            out[idx] = letter_lp.cpu().numpy()
            bar.update(len(idx))
        return out, scoring
    # No shared prefix to read all letters from: score each letter's full continuation (one sequence per letter).
    scoring = "sequence"
    items = [(q, k) for q in range(n) for k in range(len(conts))]
    bar.reset(total=len(items))
    order = np.argsort([-(len(prompts[q]) + len(conts[k])) for q, k in items], kind="stable")
    for idx in _batches(order, batch_size):
        batch = [items[i] for i in idx]
        seqs = [prompts[q] + conts[k] for q, k in batch]
        ids, mask, pos = _pad(seqs, pad_id, side, device)
        offset = (mask.argmax(dim=1)).tolist()  # index of the first real token (0 with right padding)
        rows, cols, toks = [], [], []
        for row, (q, k) in enumerate(batch):
            for t, tok in enumerate(conts[k]):
                rows.append(row)
                cols.append(offset[row] + len(prompts[q]) - 1 + t)
                toks.append(tok)
        at = mask.device
        logits, kept = _logits_at(model, ids, mask, pos, torch.tensor(cols, device=at), accepted)
        picked = torch.log_softmax(logits[torch.tensor(rows, device=at), kept].float(), dim=-1)
        token_lp = picked[torch.arange(len(toks), device=at), torch.tensor(toks, device=at)].cpu().numpy()
        sums = np.bincount(np.asarray(rows), weights=token_lp, minlength=len(batch))
        for row, (q, k) in enumerate(batch):
            out[q, k] = sums[row]
        bar.update(len(batch))
    return out, scoring


def _generate(model, tokenizer, prompts, batch_size, max_new_tokens, bar) -> list[str]:
    """Greedy generations after each prompt (left padding, as decoder-only generation needs)."""
    device = _device(model)
    pad_id = _pad_id(tokenizer)
    texts: list[str] = [""] * len(prompts)
    order = np.argsort([-len(p) for p in prompts], kind="stable")
    for idx in _batches(order, batch_size):
        ids, mask, _ = _pad([prompts[i] for i in idx], pad_id, "left", device)
        generated = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id
        )
        decoded = tokenizer.batch_decode(generated[:, ids.shape[1] :], skip_special_tokens=True)
        for i, text in zip(idx, decoded, strict=True):
            texts[i] = text
        bar.update(len(idx))
    return texts


def position(
    model: Any,
    tokenizer: Any,
    questions: Any,
    *,
    method: PositionMethod = "score",
    format: PromptFormat = "conversational",
    batch_size: int = 16,
    progress: bool = True,
    padding_side: str = "left",
    max_new_tokens: int = 16,
    unparseable: str = "C",
    option_tokens: Sequence[Sequence[int]] | None = None,
    return_report: bool = False,
) -> np.ndarray | tuple[np.ndarray, PositionReport]:
    """Each question's A/B/C answer distribution from a causal LM (any ``transformers`` causal LM or
    PEFT adapter): an (n, 3) float array whose rows sum to 1, ready for
    :func:`fairpp_hf.similarity.persona_similarity`.

    ``questions``: question strings (with their "A. ..." option lines) or a records dataset.
    ``format``: the prompt format the model was trained in (``"conversational"``: chat template, the
    authors' evaluation; ``"standard"``: "Human:/Assistant:"). ``method="score"`` reads letter
    probabilities from forward passes; ``"generate"`` parses greedy generations of up to
    ``max_new_tokens`` tokens, with ``unparseable="C"`` (paper) or ``"error"``. ``padding_side`` of
    the scoring batches: ``"left"`` or ``"right"`` (results agree; generation always pads left).
    ``option_tokens`` overrides the three letter continuations (token ids; by default found from the
    tokenizer, see :func:`option_continuations`). With ``return_report=True`` returns
    ``(probs, PositionReport)``.
    """
    import torch
    from tqdm.auto import tqdm

    if method not in POSITION_METHODS:
        raise ValueError(f"method={method!r} must be one of {POSITION_METHODS}")
    check_format(format)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    side = padding_side
    if side not in ("left", "right"):
        raise ValueError(f"padding_side={side!r} must be 'left' or 'right'")
    if unparseable not in UNPARSEABLE_POLICIES:
        raise ValueError(f"unparseable={unparseable!r} must be one of {UNPARSEABLE_POLICIES}")
    texts = _question_texts(questions)
    started = time.perf_counter()
    report = PositionReport(method=method, format=format, n_questions=len(texts))
    prompts = _prompt_ids(tokenizer, texts, format)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.inference_mode(), tqdm(total=len(texts), desc=f"positioning ({method})", disable=not progress) as bar:
            if method == "score":
                conts = (option_continuations(tokenizer, texts[0], format) if option_tokens is None
                         else _check_option_tokens(option_tokens))
                logp, report.scoring = _score(model, tokenizer, prompts, conts, batch_size, side, bar)
                report.option_token_ids = conts
                probs = softmax(logp, axis=1)
                report.letter_mass = np.exp(logsumexp(logp, axis=1))
            else:
                probs = _parse(texts, _generate(model, tokenizer, prompts, batch_size, max_new_tokens, bar),
                               unparseable, report)
    finally:
        if was_training:
            model.train()
    report.seconds = time.perf_counter() - started
    logger.info("fairpp-hf position: %s", report.summary())
    return (probs, report) if return_report else probs


def _parse(texts: list[str], generations: list[str], policy: str, report: PositionReport) -> np.ndarray:
    """One-hot rows from generated answers, with unparseable ones counted (and mapped to C or raised)."""
    import pandas as pd

    from .data import normalize_answers

    codes, _, _ = normalize_answers(pd.Series(generations, dtype=object))
    bad = np.flatnonzero(codes < 0)
    report.generations = generations
    report.unparseable = int(len(bad))
    report.unparseable_rows = bad.tolist()
    if len(bad):
        if policy == "error":
            i = int(bad[0])
            raise ValueError(
                f"{len(bad)} generated answer(s) could not be parsed as A/B/C; first: questions[{i}] -> {generations[i]!r}"
            )
        logger.warning("fairpp-hf position: %d of %d generated answers unparseable; mapped to C", len(bad), len(texts))
        codes = np.where(codes < 0, 2, codes)
    return np.eye(len(OPTION_LETTERS))[codes]


def load_causal_lm(path_or_id: str, *, device: str | None = None, dtype: str = "auto") -> tuple[Any, Any]:
    """Load a causal LM (or a PEFT adapter folder/repo on its base) and its tokenizer for positioning.

    An adapter is recognised by ``adapter_config.json``; its tokenizer comes from the adapter folder
    when saved there, else from the base model. ``device``: ``"cuda"``, ``"cpu"``, ... (default: CUDA
    when available). ``dtype``: ``"auto"`` or a torch dtype name.
    """
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype, None)
    if torch_dtype is None:
        raise ValueError(f"dtype={dtype!r} is not a torch dtype name (e.g. 'float32', 'bfloat16') or 'auto'")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    local = Path(path_or_id)
    is_adapter = (local / "adapter_config.json").is_file()
    if not is_adapter and not local.exists():
        try:
            from peft import PeftConfig

            PeftConfig.from_pretrained(path_or_id)
            is_adapter = True
        except (OSError, ValueError):
            is_adapter = False
    if is_adapter:
        from peft import AutoPeftModelForCausalLM, PeftConfig

        model = AutoPeftModelForCausalLM.from_pretrained(path_or_id, dtype=torch_dtype)
        has_tokenizer = local.is_dir() and any((local / f).is_file() for f in ("tokenizer_config.json", "tokenizer.json"))
        source = path_or_id if has_tokenizer or not local.is_dir() else PeftConfig.from_pretrained(path_or_id).base_model_name_or_path
        tokenizer = AutoTokenizer.from_pretrained(source)
    else:
        model = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    return model.to(device), tokenizer
