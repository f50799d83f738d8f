"""Reading a verdict from a judge's reply: only from its final answer, after its reasoning.

- The reasoning is cut off first: everything up to the last ``</think>`` (a reasoning judge), and a
  reply that never closes ``<think>`` has no verdict.
- The verdict is the label after the last ``VERDICT:`` marker. Without a marker, a final answer that
  is just a label counts, and so does a final line that names exactly one label.
- A marker line, or a final line, that names two different labels is unparseable, never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from .templates import MARKER

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_MARKER = re.compile(rf"\**\s*{MARKER}\s*\**\s*[:：]", re.I)
_DECOR = " \t\r\n*_`'\".:!()[]{}<>"


class Unparseable(ValueError):
    """The reply holds no single verdict."""


def final_answer(reply: str) -> str:
    """The part of a judge's reply after its reasoning."""
    close = reply.rfind(_THINK_CLOSE)
    if close >= 0:
        return reply[close + len(_THINK_CLOSE) :]
    if _THINK_OPEN in reply:
        raise Unparseable("the reply ends inside the judge's reasoning (<think> never closed)")
    return reply


def _labels_in(text: str, labels: Sequence[str]) -> list[str]:
    """The distinct labels named in ``text`` as whole words, case-insensitive, in order of first use."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for label in sorted(labels, key=len, reverse=True):  # longest first: "INCORRECT" before "CORRECT"
        for m in re.finditer(rf"(?<![A-Za-z0-9_]){re.escape(label)}(?![A-Za-z0-9_])", text, re.I):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), label))
    seen: list[str] = []
    for _, label in sorted(found):
        if label not in seen:
            seen.append(label)
    return seen


def parse_label(reply: str, labels: Sequence[str]) -> str:
    """The one label the reply's final answer gives; raises `Unparseable`."""
    answer = final_answer(reply).strip()
    if not answer:
        raise Unparseable("the reply has no final answer after its reasoning")
    markers = list(_MARKER.finditer(answer))
    if markers:
        rest = answer[markers[-1].end() :].split("\n", 1)[0]
        named = _labels_in(rest, labels)
        if len(named) == 1:
            return named[0]
        raise Unparseable(
            f"the last {MARKER} line names {'no label' if not named else 'several labels: ' + ', '.join(named)}"
        )
    bare = answer.strip(_DECOR)
    for label in labels:
        if bare.lower() == label.lower():
            return label
    last_line = answer.rstrip().rsplit("\n", 1)[-1]
    named = _labels_in(last_line, labels)
    if len(named) == 1:
        return named[0]
    if named:
        raise Unparseable(f"the reply names several labels ({', '.join(named)}) and no {MARKER} line")
    raise Unparseable(f"no {MARKER} line and no label ({', '.join(labels)}) in the final answer")


def parse_json_verdict(reply: str) -> dict[str, Any]:
    """The JSON object after the last ``VERDICT:`` marker (a rubric's one structured call)."""
    answer = final_answer(reply)
    markers = list(_MARKER.finditer(answer))
    text = answer[markers[-1].end() :] if markers else answer
    start = text.find("{")
    if start < 0:
        raise Unparseable("no JSON object in the final answer")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise Unparseable(f"the verdict is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise Unparseable("the verdict JSON is not an object")
    return value
