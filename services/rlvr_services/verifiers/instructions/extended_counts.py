"""Counting instructions of the extended set: words, distinct words, repeats, letters, and forbidden marks.

Words are those of ``extended_text.words`` (``don't`` and ``3.14`` are one word each), compared
case-insensitively where distinctness matters; a letter is an alphabetic character in any script.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .extended_text import compare, folded_words, int_kwarg, relation_kwarg, str_kwarg, words
from .registry import instruction

SOURCE = "extended"
DOTS = (".", "…")  # the ellipsis character is three dots
EXCLAMATIONS = ("!",)


@instruction(
    "count:word_count_range",
    kwargs=("min_words", "max_words"),
    description="The response has between min_words and max_words words, both included; "
    "min_words: the least word count; max_words: the most word count.",
    source=SOURCE,
)
def check_word_count_range(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    least = int_kwarg(kwargs, "min_words")
    most = int_kwarg(kwargs, "max_words")
    if least > most:
        raise ValueError(f"min_words ({least}) is more than max_words ({most})")
    return least <= len(words(response)) <= most


@instruction(
    "count:unique_word_count",
    kwargs=("N",),
    description="The response uses at least N distinct words (case-insensitive); "
    "N: the least number of distinct words.",
    source=SOURCE,
)
def check_unique_word_count(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return len(set(folded_words(response))) >= int_kwarg(kwargs, "N", minimum=1)


@instruction(
    "count:count_unique",
    kwargs=(),
    description="No word is used twice (case-insensitive, punctuation ignored); the response has at least one word.",
    source=SOURCE,
)
def check_count_unique(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    found = folded_words(response)
    return bool(found) and len(found) == len(set(found))


@instruction(
    "words:repeats",
    kwargs=("small_n",),
    description="No word appears more than small_n times (case-insensitive; at least one word); "
    "small_n: the most uses of any one word.",
    source=SOURCE,
)
def check_repeats(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    limit = int_kwarg(kwargs, "small_n", minimum=1)
    counts = Counter(folded_words(response))
    return bool(counts) and all(count <= limit for count in counts.values())


@instruction(
    "count:lowercase_counting",
    kwargs=("N",),
    description="At most N words are written all in lowercase (words with no uppercase letter, e.g. 'the'); "
    "N: the most lowercase words allowed in the whole response.",
    source=SOURCE,
)
def check_lowercase_counting(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    limit = int_kwarg(kwargs, "N")
    return sum(1 for word in words(response) if word.islower()) <= limit


@instruction(
    "letters:letter_counting",
    kwargs=("N", "relation"),
    description="The response has a number of letters (alphabetic characters, any script) compared to N by relation; "
    "N: the threshold; relation: 'less than' or 'at least'.",
    source=SOURCE,
)
def check_letter_counting(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    threshold = int_kwarg(kwargs, "N")
    relation = relation_kwarg(kwargs, "relation")
    return compare(sum(1 for char in response if char.isalpha()), relation, threshold)


@instruction(
    "letters:letter_counting2",
    kwargs=("letter", "let_frequency", "let_relation"),
    description="The letter occurs (any case) a number of times compared to let_frequency by let_relation; "
    "letter: one alphabetic character; let_frequency: the threshold; let_relation: 'less than' or 'at least'.",
    source=SOURCE,
)
def check_letter_counting2(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    letter = str_kwarg(kwargs, "letter").casefold()
    if len(letter) != 1 or not letter.isalpha():
        raise ValueError(f"letter must be one alphabetic character, got {kwargs['letter']!r}")
    threshold = int_kwarg(kwargs, "let_frequency")
    relation = relation_kwarg(kwargs, "let_relation")
    return compare(response.casefold().count(letter), relation, threshold)


@instruction(
    "punctuation:punctuation_dot",
    kwargs=(),
    description="No dot anywhere in the response, as punctuation or otherwise (nor the ellipsis character …).",
    source=SOURCE,
)
def check_punctuation_dot(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return not any(mark in response for mark in DOTS)


@instruction(
    "punctuation:punctuation_exclamation",
    kwargs=(),
    description="No exclamation mark (!) anywhere in the response.",
    source=SOURCE,
)
def check_punctuation_exclamation(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return not any(mark in response for mark in EXCLAMATIONS)
