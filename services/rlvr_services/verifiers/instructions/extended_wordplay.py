"""Word-play instructions of the extended set: palindromes and rules on the first letters of adjacent words.

Words are those of ``extended_text.words``, case-folded; "first letter" means the first character
of a word, and the alphabet rules concern the 26 letters a–z (a word starting with a digit or another
script never counts as a consecutive letter, and cannot continue an alphabet sequence). A response
with no word follows none of these instructions.
"""

from __future__ import annotations

import re
import string
from itertools import pairwise
from typing import Any

from .extended_text import folded_words, sentences
from .registry import instruction

SOURCE = "extended"
ALPHABET = string.ascii_lowercase
MIN_PALINDROME_LETTERS = 3  # keywords:palindrome: "a", "I" or "aa" are not meant
MANY_PALINDROMES = 10  # words:palindrome: at least 10 distinct palindromes ...
LONG_PALINDROME_LETTERS = 5  # ... of at least 5 letters each
_CLAUSE_BREAK = re.compile(r"[,;:()\"“”—–]")


def _letters(text: str) -> str:
    """The letters of ``text``, case-folded, in order (digits, spaces and punctuation dropped)."""
    return "".join(char for char in text.casefold() if char.isalpha())


def _is_palindrome(letters: str, minimum: int) -> bool:
    return len(letters) >= minimum and letters == letters[::-1]


def _first_letters(text: str) -> list[str]:
    return [word[0] for word in folded_words(text)]


@instruction(
    "keywords:palindrome",
    kwargs=(),
    description="The response includes a palindrome: a word of at least 3 letters that reads the same backwards "
    "(e.g. 'level'), or a sentence or clause of several words whose letters do (e.g. 'Never odd or even.').",
    source=SOURCE,
)
def check_palindrome(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    if any(_is_palindrome(_letters(word), MIN_PALINDROME_LETTERS) for word in folded_words(response)):
        return True
    phrases = [piece for sentence in sentences(response) for piece in [sentence, *_CLAUSE_BREAK.split(sentence)]]
    return any(
        len(folded_words(phrase)) >= 2 and _is_palindrome(_letters(phrase), MIN_PALINDROME_LETTERS)
        for phrase in phrases
    )


@instruction(
    "words:palindrome",
    kwargs=(),
    description="The response includes at least 10 distinct single-word palindromes of at least 5 letters each "
    "(e.g. 'level', 'radar', 'racecar').",
    source=SOURCE,
)
def check_many_palindromes(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    found = {
        letters
        for letters in (_letters(word) for word in folded_words(response))
        if _is_palindrome(letters, LONG_PALINDROME_LETTERS)
    }
    return len(found) >= MANY_PALINDROMES


@instruction(
    "keywords:no_adjacent_consecutive",
    kwargs=(),
    description="No two adjacent words start with consecutive letters of the alphabet in order "
    "(a word starting with 'b' may not follow one starting with 'a'; any case).",
    source=SOURCE,
)
def check_no_adjacent_consecutive(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    firsts = _first_letters(response)
    if not firsts:
        return False
    for before, after in pairwise(firsts):
        if before in ALPHABET and after in ALPHABET and ALPHABET.index(after) - ALPHABET.index(before) == 1:
            return False
    return True


@instruction(
    "words:no_consecutive",
    kwargs=(),
    description="No two consecutive words start with the same letter (any case).",
    source=SOURCE,
)
def check_no_consecutive(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    firsts = _first_letters(response)
    if not firsts:
        return False
    return all(not (a == b and a.isalpha()) for a, b in pairwise(firsts))


@instruction(
    "words:alphabet",
    kwargs=(),
    description="Each word starts with the letter after the previous word's first letter, "
    "looping from 'z' back to 'a' (e.g. 'Xylophones yield zany art'; any case).",
    source=SOURCE,
)
def check_alphabet(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    firsts = _first_letters(response)
    if not firsts or any(first not in ALPHABET for first in firsts):
        return False
    return all(
        ALPHABET.index(after) == (ALPHABET.index(before) + 1) % len(ALPHABET) for before, after in pairwise(firsts)
    )
