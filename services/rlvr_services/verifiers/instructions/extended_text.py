"""Text units for the extended instructions: words, sentences, paragraphs, and kwargs readers.

Everything here is deterministic and dependency-free (no NLTK: its data cannot be downloaded in
every deployment). The definitions, shared by every ``extended_*`` checker:

- a **word** is a run of letters or digits, with inner apostrophes or hyphens (``don't``,
  ``well-known``) and inner decimal points or thousands commas between digits (``3.14``, ``1,000``)
  kept inside it; punctuation and markdown around it are not part of it;
- a **sentence** ends at ``.``, ``!``, ``?`` or ``…`` (a run of them, then closing quotes or
  brackets) followed by whitespace or the end of the text, except after a common abbreviation
  (``Dr.``, ``e.g.``), a capital initial (``J. K.``) or a list number opening a line (``1.``);
  a line break always ends a sentence;
- a **paragraph divider** for the markdown-divider instructions is ``***`` or ``* * *``.

This module registers no instruction; it holds what the ``extended_*`` modules share.
"""

from __future__ import annotations

import re
from typing import Any

WORD = re.compile(r"[^\W_]+(?:(?:['’\-]|(?<=\d)[.,](?=\d))[^\W_]+)*")
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s|$)")  # linear on long runs of marks
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
        "fig", "approx", "dept", "vol", "u.s", "u.k", "a.m", "p.m", "cf", "al",
    }
)  # fmt: skip
DIVIDER = re.compile(r"\*\*\*|\* \* \*")
RELATIONS = ("less than", "at least")


def words(text: str) -> list[str]:
    """The words of ``text``, in order, as written (punctuation around them left out)."""
    return WORD.findall(text)


def folded_words(text: str) -> list[str]:
    """The words of ``text``, case-folded, for case-insensitive comparisons."""
    return [word.casefold() for word in WORD.findall(text)]


def _is_not_an_end(before: str, terminator: str) -> bool:
    """Whether the period ending at ``terminator`` belongs to an abbreviation, an initial or a list number."""
    if terminator.rstrip("\"'”’)]") != ".":
        return False
    tokens = before.split()
    if not tokens:
        return False
    token = tokens[-1].lstrip("(\"'“‘[")
    if len(tokens) == 1 and token.isdigit():
        return True  # "1. First step" at the start of a line
    return token.casefold() in _ABBREVIATIONS or (len(token) == 1 and token.isupper())


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, in order; empty pieces are dropped."""
    found: list[str] = []
    for line in text.splitlines():
        start = 0
        for end in _SENTENCE_END.finditer(line):
            if _is_not_an_end(line[start : end.start()], end.group()):
                continue
            piece = line[start : end.end()].strip()
            if piece:
                found.append(piece)
            start = end.end()
        tail = line[start:].strip()
        if tail:
            found.append(tail)
    return found


def divided_paragraphs(text: str) -> list[str] | None:
    """The paragraphs between markdown dividers, or None when a paragraph between two dividers is empty.

    An empty piece before the first or after the last divider is dropped (a leading or trailing divider).
    """
    pieces = [piece.strip() for piece in DIVIDER.split(text)]
    if pieces and not pieces[0]:
        pieces = pieces[1:]
    if pieces and not pieces[-1]:
        pieces = pieces[:-1]
    if any(not piece for piece in pieces):
        return None
    return pieces


def count_phrase(text: str, phrase: str) -> int:
    """How often ``phrase`` occurs in ``text`` as whole words, case-insensitively (not inside longer words).

    Any run of whitespace in ``phrase`` matches any run of whitespace in ``text``.
    """
    body = r"\s+".join(re.escape(part) for part in phrase.split())
    pattern = r"(?<![^\W_])" + body + r"(?![^\W_])"
    return len(re.findall(pattern, text, flags=re.IGNORECASE))


def compare(actual: int, relation: str, threshold: int) -> bool:
    """IFEval's relations: ``less than`` is ``actual < threshold``, ``at least`` is ``actual >= threshold``."""
    if relation == "less than":
        return actual < threshold
    if relation == "at least":
        return actual >= threshold
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


def int_kwarg(kwargs: dict[str, Any], name: str, *, minimum: int = 0) -> int:
    """An integer kwarg (an int, an integral float, or a string of digits) of at least ``minimum``."""
    value = kwargs.get(name)
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def str_kwarg(kwargs: dict[str, Any], name: str, *, single_word: bool = False) -> str:
    """A non-empty string kwarg, stripped (a one-item list of a string is accepted, as IFEvalG's data has some)."""
    value = kwargs.get(name)
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    value = value.strip()
    if single_word and words(value) != [value]:
        raise ValueError(f"{name} must be a single word, got {value!r}")
    return value


def relation_kwarg(kwargs: dict[str, Any], name: str) -> str:
    """A relation kwarg: one of IFEval's ``less than`` or ``at least``."""
    value = kwargs.get(name)
    if value not in RELATIONS:
        raise ValueError(f"{name} must be one of {RELATIONS}, got {value!r}")
    return str(value)
