"""Which part of a completion a text filter reads: the ``<think>`` section, the answer, or all of it.

Shared by the ``language``, ``mixed_language``, ``long_paragraphs`` and ``code_in_reasoning``
verifiers. Only ``str.find``/``rfind`` are used: linear in the completion's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .extract import THINK_CLOSE, THINK_OPEN, after_think


class Scope(str, Enum):
    THINK = "think"
    ALL = "all"
    ANSWER = "answer"


SCOPE_DESCRIPTION = (
    'Which text is read: "think" (the reasoning: between <think> and the last </think>; before </think> '
    "when the template prefilled <think>; after <think> when it is never closed), \"answer\" (after the "
    'last </think>) or "all" (the whole completion, tags removed). Default "think".'
)


@dataclass(frozen=True)
class Scoped:
    """The text a scope selects, or (``text`` None) why there is none."""

    text: str | None
    missing: str = ""


def scoped_text(completion: str, scope: Scope) -> Scoped:
    """The part of ``completion`` that ``scope`` names, ``<think>``/``</think>`` tags left out."""
    if scope is Scope.ALL:
        return Scoped(_drop_tags(completion))
    if scope is Scope.ANSWER:
        answer = after_think(completion)
        if answer is None:
            return Scoped(None, "no answer: <think> is never closed")
        return Scoped(_drop_tags(answer))
    close = completion.rfind(THINK_CLOSE)
    open_ = completion.find(THINK_OPEN)
    if close < 0 and open_ < 0:
        return Scoped(None, 'no <think> section (use scope "all" to read the whole completion)')
    if close < 0:  # cut off while reasoning: what was written is still the reasoning
        return Scoped(_drop_tags(completion[open_ + len(THINK_OPEN) :]))
    start = open_ + len(THINK_OPEN) if 0 <= open_ < close else 0
    return Scoped(_drop_tags(completion[start:close]))


def _drop_tags(text: str) -> str:
    if THINK_OPEN in text or THINK_CLOSE in text:
        return text.replace(THINK_OPEN, "\n").replace(THINK_CLOSE, "\n")
    return text
