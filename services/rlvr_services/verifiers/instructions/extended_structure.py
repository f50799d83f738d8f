"""Layout instructions of the extended set: paragraphs, sentence shapes, hyphen-joined sentences, wrapped words.

Paragraphs are split on the markdown divider (``***`` or ``* * *``) or on blank lines, as each
instruction says; sentences and words are those of ``extended_text``. A sentence's type is read from
its last ``.``, ``?`` or ``!`` (closing quotes and brackets skipped; ``…`` counts as ``.``); a
sentence without one (a heading, a list item) has no type and is not counted by the ratio checks.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .extended_text import divided_paragraphs, int_kwarg, sentences, words
from .registry import instruction

SOURCE = "extended"
_BLANK_LINE = re.compile(r"\n\s*\n")
_HYPHEN_JOIN = re.compile(r"[.!?…][\"'”’)\]]*-(?=\S)")
_BRACKETED = re.compile(r"[^\w\[\]]*\[[^\[\]\s]+\][^\w\[\]]*")
_BIGRAM = re.compile(r"<<([^<>]*)>>")  # no nesting; [^<>] keeps a text full of "<<" linear


def _sentence_types(text: str) -> Counter[str]:
    """How many sentences end with ``.``, ``?`` and ``!`` (untyped sentences are left out)."""
    types: Counter[str] = Counter()
    for sentence in sentences(text):
        last = sentence.rstrip("\"'”’)]")[-1:]
        if last in ".?!…":
            types["." if last == "…" else last] += 1
    return types


@instruction(
    "paragraphs:paragraphs",
    kwargs=(),
    description="Exactly 2 non-empty paragraphs separated by the markdown divider *** (or * * *).",
    source=SOURCE,
)
def check_paragraphs(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    found = divided_paragraphs(response)
    return found is not None and len(found) == 2


@instruction(
    "paragraphs:paragraphs2",
    kwargs=(),
    description="Exactly 2 non-empty paragraphs separated by a blank line (two line breaks); "
    "single line breaks inside a paragraph are allowed.",
    source=SOURCE,
)
def check_paragraphs2(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    text = response.strip()
    return bool(text) and len(_BLANK_LINE.split(text)) == 2


@instruction(
    "count:counting_composition",
    kwargs=("n_sent", "n_words"),
    description="Exactly 3 paragraphs separated by the markdown divider * * * (or ***), each with exactly n_sent "
    "sentences of exactly n_words words; n_sent: sentences per paragraph; n_words: words per sentence.",
    source=SOURCE,
)
def check_counting_composition(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    n_sent = int_kwarg(kwargs, "n_sent", minimum=1)
    n_words = int_kwarg(kwargs, "n_words", minimum=1)
    found = divided_paragraphs(response)
    if found is None or len(found) != 3:
        return False
    for paragraph in found:
        paragraph_sentences = sentences(paragraph)
        if len(paragraph_sentences) != n_sent:
            return False
        if any(len(words(sentence)) != n_words for sentence in paragraph_sentences):
            return False
    return True


@instruction(
    "detectable_format:sentence_hyphens",
    kwargs=(),
    description="All sentences (at least two) are joined by hyphens with no spaces between them, "
    "e.g. 'It rained.-We stayed in.-Then it cleared.', on one line.",
    source=SOURCE,
)
def check_sentence_hyphens(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    text = response.strip()
    if "\n" in text:
        return False
    pieces: list[str] = []
    start = 0
    for join in _HYPHEN_JOIN.finditer(text):
        pieces.append(text[start : join.end() - 1])  # up to, without, the hyphen
        start = join.end()
    pieces.append(text[start:])
    return len(pieces) >= 2 and all(len(sentences(piece)) == 1 for piece in pieces)


@instruction(
    "detectable_format:square_brackets",
    kwargs=(),
    description="Every word is enclosed in its own square brackets, e.g. '[Hello], [world]!'; "
    "punctuation may stand outside the brackets.",
    source=SOURCE,
)
def check_square_brackets(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    tokens = [token for token in response.split() if words(token)]
    return bool(tokens) and all(_BRACKETED.fullmatch(token) is not None for token in tokens)


@instruction(
    "detectable_format:bigram_wrapping",
    kwargs=(),
    description="Every pair of consecutive words is wrapped in double angular brackets, e.g. '<<I am>> <<at home>>'; "
    "no word stands outside them and only the last group may hold a single word (an odd word count).",
    source=SOURCE,
)
def check_bigram_wrapping(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    groups = _BIGRAM.findall(response)
    if not groups or words(_BIGRAM.sub(" ", response)):
        return False
    sizes = [len(words(group)) for group in groups]
    return all(size == 2 for size in sizes[:-1]) and sizes[-1] in (1, 2)


@instruction(
    "ratio:sentence_balance",
    kwargs=(),
    description="As many declarative (.) as interrogative (?) as exclamatory (!) sentences, at least one of each.",
    source=SOURCE,
)
def check_sentence_balance(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    types = _sentence_types(response)
    return types["."] >= 1 and types["."] == types["?"] == types["!"]


@instruction(
    "ratio:sentence_type",
    kwargs=(),
    description="Twice as many declarative (.) as interrogative (?) sentences, at least one interrogative; "
    "exclamatory sentences are not counted.",
    source=SOURCE,
)
def check_sentence_type(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    types = _sentence_types(response)
    return types["?"] >= 1 and types["."] == 2 * types["?"]
