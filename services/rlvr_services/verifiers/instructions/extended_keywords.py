"""Keyword instructions of the extended set: how often a keyword occurs, where, or that it does not.

A keyword (one word or a phrase) is matched as whole words, case-insensitively: ``cat`` is not found
in ``category``, and ``ice cream`` matches ``Ice  Cream``. IFEvalG's own checkers match substrings
(and ``exclude_word_harder`` only a keyword with a space on each side); whole words are what the
instruction texts ask for.
"""

from __future__ import annotations

from typing import Any

from .extended_text import compare, count_phrase, folded_words, int_kwarg, relation_kwarg, sentences, str_kwarg
from .registry import instruction

SOURCE = "extended"
MULTIPLE_COUNTS = {"keyword1": 1, "keyword2": 2, "keyword3": 3, "keyword4": 5, "keyword5": 7}


@instruction(
    "keywords:word_once",
    kwargs=("keyword",),
    description="The keyword appears exactly once (whole words, any case); keyword: the word or phrase.",
    source=SOURCE,
)
def check_word_once(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return count_phrase(response, str_kwarg(kwargs, "keyword")) == 1


@instruction(
    "keywords:word_count_different_numbers",
    kwargs=("keyword", "frequency", "relation"),
    description="The keyword appears a number of times compared to frequency by relation (whole words, any case); "
    "keyword: the word or phrase; frequency: the threshold; relation: 'less than' or 'at least'.",
    source=SOURCE,
)
def check_word_count_different_numbers(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    keyword = str_kwarg(kwargs, "keyword")
    frequency = int_kwarg(kwargs, "frequency")
    relation = relation_kwarg(kwargs, "relation")
    return compare(count_phrase(response, keyword), relation, frequency)


@instruction(
    "keywords:exclude_word_harder",
    kwargs=("keyword",),
    description="The keyword (taken from the instruction itself) does not appear (whole words, any case); "
    "keyword: the forbidden word or phrase.",
    source=SOURCE,
)
def check_exclude_word_harder(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return count_phrase(response, str_kwarg(kwargs, "keyword")) == 0


@instruction(
    "count:count_increment_word",
    kwargs=("keyword1", "keyword2"),
    description="keyword1 appears exactly once and keyword2 exactly twice (whole words, any case); "
    "keyword1, keyword2: the words or phrases.",
    source=SOURCE,
)
def check_count_increment_word(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    first = str_kwarg(kwargs, "keyword1")
    second = str_kwarg(kwargs, "keyword2")
    return count_phrase(response, first) == 1 and count_phrase(response, second) == 2


@instruction(
    "count:keywords_multiple",
    kwargs=tuple(MULTIPLE_COUNTS),
    description="keyword1 appears once, keyword2 twice, keyword3 three times, keyword4 five times and keyword5 "
    "seven times (whole words, any case); keyword1..keyword5: the words or phrases.",
    source=SOURCE,
)
def check_keywords_multiple(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    wanted = {str_kwarg(kwargs, name): count for name, count in MULTIPLE_COUNTS.items()}
    if len(wanted) != len(MULTIPLE_COUNTS):
        raise ValueError(f"keyword1..keyword5 must differ, got {[kwargs[name] for name in MULTIPLE_COUNTS]}")
    return all(count_phrase(response, keyword) == count for keyword, count in wanted.items())


@instruction(
    "keywords:keyword_specific_position",
    kwargs=("keyword", "n", "m"),
    description="The n-th sentence has the keyword as its m-th word (any case, punctuation ignored); "
    "keyword: a single word; n: sentence number (1-based); m: word number in that sentence (1-based).",
    source=SOURCE,
)
def check_keyword_specific_position(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    keyword = str_kwarg(kwargs, "keyword", single_word=True).casefold()
    n = int_kwarg(kwargs, "n", minimum=1)
    m = int_kwarg(kwargs, "m", minimum=1)
    found = sentences(response)
    if len(found) < n:
        return False
    sentence_words = folded_words(found[n - 1])
    return len(sentence_words) >= m and sentence_words[m - 1] == keyword


@instruction(
    "words:words_position",
    kwargs=("keyword",),
    description="The second word and the second-to-last word of the response are both the keyword "
    "(any case, punctuation ignored); keyword: a single word.",
    source=SOURCE,
)
def check_words_position(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    keyword = str_kwarg(kwargs, "keyword", single_word=True).casefold()
    found = folded_words(response)
    return len(found) >= 2 and found[1] == keyword and found[-2] == keyword
