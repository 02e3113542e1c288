"""Prompt formats shared by training pairs, SFT rows and positioning, so that a model is scored in
exactly the format it was trained in.

Two formats: ``"standard"``, the Fair-PP authors' training prompt ("\\n\\nHuman: {question}\\n\\nAssistant:")
with the option line as the response, and ``"conversational"``, chat messages for a chat template
(the authors' evaluation format) with an instruction to answer with the option directly.
"""

from __future__ import annotations

from typing import Literal

PromptFormat = Literal["standard", "conversational"]
PROMPT_FORMATS: tuple[str, ...] = ("standard", "conversational")
#: Option letters in answer-code order: code 0 = "A", 1 = "B", 2 = "C" (N/A).
OPTION_LETTERS: tuple[str, str, str] = ("A", "B", "C")
#: Appended to the question in the conversational format (the authors' evaluation instruction).
ANSWER_INSTRUCTION = "Answer with the option directly."


def check_format(fmt: str, argument: str = "format") -> str:
    """Return ``fmt`` if it is a known prompt format, else raise ``ValueError`` naming the argument."""
    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"{argument}={fmt!r} must be one of {PROMPT_FORMATS}")
    return fmt


def standard_prompt(question: str) -> str:
    """The authors' training prompt for a question."""
    return f"\n\nHuman: {question}\n\nAssistant:"


def conversational_prompt(question: str) -> list[dict[str, str]]:
    """A one-turn chat prompt: the question plus :data:`ANSWER_INSTRUCTION`."""
    return [{"role": "user", "content": f"{question}\n{ANSWER_INSTRUCTION}"}]


def standard_response(option_line: str) -> str:
    """The response that follows :func:`standard_prompt` (a leading space after "Assistant:")."""
    return f" {option_line}"


def conversational_response(option_line: str) -> list[dict[str, str]]:
    """The assistant turn that answers a :func:`conversational_prompt`."""
    return [{"role": "assistant", "content": option_line}]
