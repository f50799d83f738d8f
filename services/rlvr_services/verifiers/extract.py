"""Text helpers shared by the verifiers: the think section, \\boxed{}, <answer> tags, GSM8K gold.

Every helper is linear in the length of its input (``str.find``/``rfind`` and one scan), so a
multi-megabyte completion cannot make them backtrack.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
BOXED = "\\boxed"
GSM8K_MARK = "####"

# an escaped character (\{, \}, \\) or a brace: escapes never open or close a group
_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)


def after_think(text: str) -> str | None:
    """The text after the last ``</think>``; all of it when there is no think section.

    None when a ``<think>`` is opened and never closed (the completion was cut off while reasoning).
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    if THINK_OPEN in text:
        return None
    return text


def answer_tag(text: str) -> str | None:
    """The content of the last closed ``<answer>…</answer>`` pair, or None."""
    start = text.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    start += len(ANSWER_OPEN)
    end = text.find(ANSWER_CLOSE, start)
    if end < 0:
        return None
    return text[start:end]


def last_boxed(text: str) -> str | None:
    """The argument of the last ``\\boxed{…}``, braces balanced; None if absent or not closed."""
    pos = text.rfind(BOXED)
    if pos < 0:
        return None
    rest = text[pos + len(BOXED) :].lstrip()
    if not rest.startswith("{"):
        return None  # "\boxed 5" and a trailing "\boxed" have no braced argument
    depth = 0
    for token in _BRACE_TOKENS.finditer(rest):
        brace = token.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth == 0:
                return rest[1 : token.start()]
    return None


def gsm8k_answer(text: str) -> str | None:
    """What follows the last ``####`` (GSM8K's gold format), thousands separators removed; None if absent."""
    mark = text.rfind(GSM8K_MARK)
    if mark < 0:
        return None
    rest = text[mark + len(GSM8K_MARK) :].strip()
    line = rest.split("\n", 1)[0].strip()
    return line.replace(",", "")


def strip_math_delimiters(text: str) -> str:
    """``$x$``, ``$$x$$``, ``\\(x\\)`` and ``\\[x\\]`` → ``x``; other text is returned stripped."""
    s = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            inner = s[len(left) : len(s) - len(right)]
            if left not in inner and right not in inner:  # "$a$ and $b$" is not one delimited formula
                return inner.strip()
    return s
