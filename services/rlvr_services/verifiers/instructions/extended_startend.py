"""First- and last-word instructions of the extended set: of the response, of each sentence, of each paragraph.

Words are compared case-insensitively, without the punctuation or markdown around them (``**Yes,**``
starts with the word ``yes``); sentences are those of ``extended_text.sentences``. Instructions about
how sentences or paragraphs chain need at least two of them (or two words), so an empty or one-word
answer cannot follow them vacuously.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from .extended_text import WORD, folded_words, sentences, str_kwarg
from .registry import instruction

SOURCE = "extended"


def _edge_words(texts: list[str]) -> list[tuple[str, str]] | None:
    """(first word, last word) of each text, case-folded; None when a text has no word."""
    edges: list[tuple[str, str]] = []
    for text in texts:
        found = folded_words(text)
        if not found:
            return None
        edges.append((found[0], found[-1]))
    return edges


@instruction(
    "first_word:first_word_answer",
    kwargs=("first_word",),
    description="The first word of the response is first_word (any case, punctuation ignored); "
    "first_word: a single word.",
    source=SOURCE,
)
def check_first_word_answer(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = str_kwarg(kwargs, "first_word", single_word=True).casefold()
    found = folded_words(response)
    return bool(found) and found[0] == expected


@instruction(
    "first_word:first_word_sent",
    kwargs=("first_word",),
    description="Every sentence starts with first_word (any case, punctuation ignored; a line break ends "
    "a sentence); first_word: a single word.",
    source=SOURCE,
)
def check_first_word_sent(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = str_kwarg(kwargs, "first_word", single_word=True).casefold()
    edges = _edge_words(sentences(response))
    if not edges:
        return False
    return all(first == expected for first, _ in edges)


@instruction(
    "last_word:last_word_answer",
    kwargs=("last_word",),
    description="The last word of the response is last_word (any case; punctuation after it is allowed); "
    "last_word: a single word.",
    source=SOURCE,
)
def check_last_word_answer(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = str_kwarg(kwargs, "last_word", single_word=True).casefold()
    found = folded_words(response)
    return bool(found) and found[-1] == expected


@instruction(
    "last_word:last_word_sent",
    kwargs=("last_word",),
    description="Every sentence ends with last_word before its punctuation (any case; a line break ends "
    "a sentence); last_word: a single word.",
    source=SOURCE,
)
def check_last_word_sent(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = str_kwarg(kwargs, "last_word", single_word=True).casefold()
    edges = _edge_words(sentences(response))
    if not edges:
        return False
    return all(last == expected for _, last in edges)


@instruction(
    "keywords:start_end",
    kwargs=(),
    description="The response starts and ends with the same word (any case, at least two words) and nothing, "
    "not even punctuation, follows the last word.",
    source=SOURCE,
)
def check_start_end(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    text = response.rstrip()
    found = list(WORD.finditer(text))
    if len(found) < 2 or found[-1].end() != len(text):
        return False
    return found[0].group().casefold() == found[-1].group().casefold()


@instruction(
    "words:last_first",
    kwargs=(),
    description="The last word of each sentence is the first word of the next sentence (any case, "
    "punctuation ignored; at least two sentences).",
    source=SOURCE,
)
def check_last_first(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    edges = _edge_words(sentences(response))
    if edges is None or len(edges) < 2:
        return False
    return all(before[1] == after[0] for before, after in pairwise(edges))


@instruction(
    "words:paragraph_last_first",
    kwargs=(),
    description="Each paragraph (a non-blank line) ends with the word it starts with (any case, punctuation "
    "ignored; at least two words per paragraph).",
    source=SOURCE,
)
def check_paragraph_last_first(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    paragraphs = [line for line in response.splitlines() if line.strip()]
    if not paragraphs:
        return False
    for paragraph in paragraphs:
        found = folded_words(paragraph)
        if len(found) < 2 or found[0] != found[-1]:
            return False
    return True
