"""How long a completion is, in characters or whitespace-separated words: the whole completion, nothing stripped.

Shared by the length-shaping verifiers (``overlong``, ``cosine_length``, ``length``). Linear time.
"""

from __future__ import annotations

from typing import Literal

TextUnit = Literal["chars", "words"]

UNIT_DESCRIPTION = (
    'How the length of the whole completion (tags and whitespace included, nothing stripped) is measured: "chars" '
    '(Unicode code points) or "words" (whitespace-separated). Default "chars".'
)


def text_length(text: str, unit: str) -> int:
    """The length of ``text`` in ``unit`` ("chars" or "words")."""
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    raise ValueError(f"unknown length unit {unit!r}")
