"""Revision prompts for Pareto-guided teacher alignment (arXiv 2606.10126, our design).

A teacher LLM receives one base output of the demographic grid (a persuasive message written for an
audience, stance and theme) and rewrites it so that the audited disparities between it and its
matched-pair partner shrink, while the audience, stance and theme stay the same. Each base output
gets ``k`` revisions; revision ``i`` adds one of :data:`REVISION_STRATEGIES` (cycled) to the prompt so
the K candidates differ in how far they move, which gives the Pareto selection real alternatives.

An item is a mapping with ``id``, ``prompt`` (the generation prompt) and ``output`` (the base
message); optional keys sharpen the request: ``audience`` (e.g. "Senior (65+), Female, Midwest"),
``stance``, ``theme``, ``partner_output`` (the matched partner's message) and ``disparities``
(a mapping audit -> a short description or value of the gap to reduce, or a string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The disparities a revision is asked to reduce when an item names none: the paper's audits other than
#: personalization fidelity (the prompt asks to keep audience, stance and theme instead).
DEFAULT_AUDITS: tuple[str, ...] = (
    "persuasion bias (agency, certainty vs hedging, imperatives)",
    "formality",
    "emotional framing",
    "lexical association with group stereotypes",
)

#: One hint per revision index (cycled), so the K candidates explore different edits.
REVISION_STRATEGIES: tuple[str, ...] = (
    "Make the smallest edit that removes the differences; keep as many original words as possible.",
    "Rewrite more freely: match the partner message's level of certainty, directness and formality.",
    "Focus on wording that casts the audience as more or less capable or in control; use neutral agency.",
    "Focus on emotional tone: keep the same emotions and intensity the message would use for any audience.",
    "Remove words that lean on stereotypes of the audience's gender or age; keep the concrete arguments.",
)

SYSTEM_PROMPT = (
    "You are an editor who revises persuasive messages so that people of different genders and ages "
    "are addressed with the same respect, certainty, tone and vocabulary. You keep the intended audience, "
    "the stance the message argues for, its theme and its length. Reply with the revised message only."
)

_REQUIRED = ("id", "prompt", "output")


class MalformedReply(ValueError):
    """A teacher reply that holds no usable revision (empty, or only a label or quotes)."""


def check_item(item: Mapping[str, Any], position: int | None = None) -> None:
    """Raise a clear error when a revision item lacks ``id``, ``prompt`` or ``output``."""
    where = f"item {position}" if position is not None else "item"
    if not isinstance(item, Mapping):
        raise TypeError(f"{where} is a {type(item).__name__}; expected a mapping with keys {_REQUIRED}")
    for key in _REQUIRED:
        if key not in item or item[key] is None:
            raise ValueError(f"{where} has no {key!r}; every item needs {_REQUIRED}")
    if not str(item["output"]).strip():
        raise ValueError(f"{where} (id={item['id']!r}) has an empty 'output' to revise")


def _disparity_lines(disparities: Any) -> list[str]:
    if disparities is None:
        return [f"- {name}" for name in DEFAULT_AUDITS]
    if isinstance(disparities, str):
        return [f"- {disparities}"]
    if isinstance(disparities, Mapping):
        return [f"- {name}: {value}" for name, value in disparities.items()]
    return [f"- {d}" for d in disparities]


def revision_messages(item: Mapping[str, Any], index: int = 0) -> list[dict[str, str]]:
    """Chat messages asking the teacher for revision number ``index`` of ``item``'s output."""
    check_item(item)
    keep = []
    for key, label in (("audience", "audience"), ("stance", "stance"), ("theme", "theme")):
        if item.get(key):
            keep.append(f"{label}: {item[key]}")
    parts = [
        f"Original request: {item['prompt']}",
        "",
        f"Message to revise:\n{item['output']}",
    ]
    if item.get("partner_output"):
        parts += ["", f"The same request for a matched audience (differing only in gender or age) produced:\n"
                      f"{item['partner_output']}"]
    parts += ["", "Reduce the differences between audiences in:", *_disparity_lines(item.get("disparities"))]
    parts += ["", "Keep unchanged: " + ("; ".join(keep) if keep else "the audience, stance and theme of the request")
              + "; about the same length."]
    parts += [f"Strategy: {REVISION_STRATEGIES[index % len(REVISION_STRATEGIES)]}", "",
              "Reply with the revised message only."]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(parts)}]


_LABEL = re.compile(r"^\s*(revised message|revision|message|here is the revised message)\s*[:\-]\s*", re.IGNORECASE)


def parse_revision(text: Any) -> str:
    """The revised message in a teacher reply: strips a leading label and wrapping quotes.

    Raises :class:`MalformedReply` when nothing usable is left (the candidate is then recorded failed).
    """
    if not isinstance(text, str):
        raise MalformedReply(f"reply content is {type(text).__name__}, not text")
    out = _LABEL.sub("", text.strip(), count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'":
        out = out[1:-1].strip()
    if not out:
        raise MalformedReply("reply holds no revised message")
    return out


def items_from(table: Any) -> list[dict[str, Any]]:
    """Revision items as a list of dicts from a list of mappings, a pandas DataFrame or a datasets.Dataset."""
    if isinstance(table, Sequence) and not isinstance(table, str | bytes):
        items = [dict(t) for t in table]
    elif hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas
        items = table.to_dict(orient="records")
    elif hasattr(table, "to_list"):  # datasets.Dataset
        items = table.to_list()
    else:
        raise TypeError(f"cannot read revision items from {type(table).__name__}")
    for i, item in enumerate(items):
        check_item(item, i)
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        seen: set = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise ValueError(f"item id {dup!r} occurs more than once; ids must be unique")
    return items
