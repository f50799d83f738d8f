"""IFEval's ``length_constraints:*`` instructions: sentences, words and paragraphs.

Paragraphs are what IFEval says they are: for ``number_paragraphs`` the parts between markdown
dividers ``***``, for ``nth_paragraph_first_word`` the parts between blank lines (``\\n\\n``).
Sentences are counted with our own splitter (``sentences.py``, where IFEval uses NLTK's Punkt),
words as runs of Unicode word characters (``words.py``, as NLTK's ``RegexpTokenizer(r"\\w+")``).
"""

from __future__ import annotations

import re
from typing import Any

from . import arguments
from .registry import instruction
from .sentences import count_sentences
from .words import count_words

_DIVIDER = re.compile(r"\s?\*\*\*\s?")
# what IFEval strips from the first word of a paragraph before comparing it
_FIRST_WORD_END = frozenset(".,?!'\"")


@instruction(
    "length_constraints:number_sentences",
    kwargs=("num_sentences", "relation"),
    description='The response has `relation` ("less than" or "at least") `num_sentences` sentences.',
)
def number_sentences(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    threshold = arguments.integer(kwargs, "num_sentences")
    how = arguments.relation(kwargs, "relation")
    return arguments.compare(count_sentences(response), how, threshold)


@instruction(
    "length_constraints:number_words",
    kwargs=("num_words", "relation"),
    description='The response has `relation` ("less than" or "at least") `num_words` words.',
)
def number_words(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    threshold = arguments.integer(kwargs, "num_words")
    how = arguments.relation(kwargs, "relation")
    return arguments.compare(count_words(response), how, threshold)


@instruction(
    "length_constraints:number_paragraphs",
    kwargs=("num_paragraphs",),
    description=(
        "Exactly `num_paragraphs` paragraphs separated by the markdown divider *** (an empty part is "
        "allowed only before the first divider or after the last)."
    ),
)
def number_paragraphs(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = arguments.integer(kwargs, "num_paragraphs")
    parts = _DIVIDER.split(response)
    count = len(parts)
    for index, part in enumerate(parts):
        if not part.strip():
            if 0 < index < len(parts) - 1:
                return False  # two dividers with nothing between them
            count -= 1
    return count == expected


@instruction(
    "length_constraints:nth_paragraph_first_word",
    kwargs=("num_paragraphs", "nth_paragraph", "first_word"),
    description=(
        "Exactly `num_paragraphs` paragraphs separated by blank lines (\\n\\n), and paragraph "
        "`nth_paragraph` (from 1) starts with the word `first_word`, in any case."
    ),
)
def nth_paragraph_first_word(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    expected = arguments.integer(kwargs, "num_paragraphs", minimum=1)
    nth = arguments.integer(kwargs, "nth_paragraph", minimum=1)
    if nth > expected:
        raise ValueError(f"nth_paragraph ({nth}) must not exceed num_paragraphs ({expected})")
    wanted = arguments.text(kwargs, "first_word").lower()
    parts = response.split("\n\n")
    count = sum(1 for part in parts if part.strip())
    # IFEval indexes the parts as split, empty ones included, while it counts only the non-empty ones
    if nth > count:
        return False
    paragraph = parts[nth - 1].strip()
    if not paragraph:
        return False
    return count == expected and _first_word(paragraph) == wanted


def _first_word(paragraph: str) -> str:
    """The paragraph's first word, lower-cased, without leading quotes and from its first punctuation on."""
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters = []
    for char in word:
        if char in _FIRST_WORD_END:
            break
        letters.append(char.lower())  # one by one, as IFEval does: a final Σ stays σ
    return "".join(letters)
