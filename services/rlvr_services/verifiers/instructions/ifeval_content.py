"""IFEval's ``keywords:*``, ``detectable_content:*`` and ``punctuation:no_comma``: what the response contains.

Keywords match in any case, as in IFEval. IFEval hands keywords to the regular-expression engine as
patterns; here they are literal text (a keyword "C++" or "e.g." means what it says), which is the
same for every keyword in IFEval's data.

Each check is a linear scan, written so that no input can make it backtrack (IFEval's own
placeholder pattern ``\\[.*?\\]`` is quadratic on a long line of ``[``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from . import arguments
from .registry import instruction

# IFEval's two markers, spelled loosely: "P.S." as "p. s.", "P.P.S" as "p. p. s", any case
_POSTSCRIPTS = {"P.S.": re.compile(r"p\.\s?s\."), "P.P.S": re.compile(r"p\.\s?p\.\s?s")}


@functools.lru_cache(maxsize=4096)
def _literal(keyword: str) -> re.Pattern[str]:
    return re.compile(re.escape(keyword), re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _whole_word(word: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)


@instruction(
    "keywords:existence",
    kwargs=("keywords",),
    description="Every word in `keywords` (a list) appears in the response, in any case, even inside a longer word.",
)
def existence(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return all(_literal(keyword).search(response) for keyword in arguments.words(kwargs, "keywords"))


@instruction(
    "keywords:frequency",
    kwargs=("keyword", "frequency", "relation"),
    description=(
        '`keyword` appears `relation` ("less than" or "at least") `frequency` times, counting '
        "non-overlapping occurrences in any case."
    ),
)
def frequency(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    keyword = arguments.text(kwargs, "keyword").strip()
    threshold = arguments.integer(kwargs, "frequency")
    how = arguments.relation(kwargs, "relation")
    count = sum(1 for _ in _literal(keyword).finditer(response))
    return arguments.compare(count, how, threshold)


@instruction(
    "keywords:forbidden_words",
    kwargs=("forbidden_words",),
    description="No word in `forbidden_words` (a list) appears as a whole word, in any case.",
)
def forbidden_words(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    words = arguments.words(kwargs, "forbidden_words")
    return not any(_whole_word(word).search(response) for word in words)


@instruction(
    "keywords:letter_frequency",
    kwargs=("letter", "let_frequency", "let_relation"),
    description=(
        'The letter `letter` (one of a-z, either case) appears `let_relation` ("less than" or '
        '"at least") `let_frequency` times, in either case.'
    ),
)
def letter_frequency(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    letter = arguments.text(kwargs, "letter")
    if len(letter) != 1 or not ("a" <= letter.lower() <= "z"):
        raise ValueError(f"letter must be one letter from a to z, not {letter!r}")
    threshold = arguments.integer(kwargs, "let_frequency")
    how = arguments.relation(kwargs, "let_relation")
    return arguments.compare(response.lower().count(letter.lower()), how, threshold)


def count_placeholders(text: str) -> int:
    """How many ``[…]`` there are, each closed on its own line, counted left to right without overlap."""
    count, pos, close = 0, 0, -1
    while True:
        start = text.find("[", pos)
        if start < 0:
            return count
        if close <= start:  # the first "]" after the last one found still serves while it lies ahead
            close = text.find("]", start + 1)
            if close < 0:
                return count
        newline = text.find("\n", start + 1, close)
        if newline >= 0:  # no "[" before this line break closes on its line
            pos = newline + 1
            continue
        count += 1
        pos = close + 1


@instruction(
    "detectable_content:number_placeholders",
    kwargs=("num_placeholders",),
    description="At least `num_placeholders` placeholders in square brackets, such as [address].",
)
def number_placeholders(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return count_placeholders(response) >= arguments.integer(kwargs, "num_placeholders")


@functools.lru_cache(maxsize=1024)
def _postscript(marker: str) -> re.Pattern[str]:
    return _POSTSCRIPTS.get(marker) or re.compile(re.escape(marker.lower()))


@instruction(
    "detectable_content:postscript",
    kwargs=("postscript_marker",),
    description=(
        'The response contains a postscript starting with `postscript_marker` (IFEval uses "P.S." and '
        '"P.P.S"; these match in any case with optional spaces, as "p. s."), anywhere in the text.'
    ),
)
def postscript(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    marker = arguments.text(kwargs, "postscript_marker").strip()
    return _postscript(marker).search(response.lower()) is not None


@instruction("punctuation:no_comma", description="The response contains no comma (,).")
def no_comma(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return "," not in response
