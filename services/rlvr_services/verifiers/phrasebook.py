"""How answers are stated in each language, read once from ``answer_phrases.toml`` (data, not code).

One table per language (the 22 of :data:`.langdetect_text.SUPPORTED`): the phrases that say the
answer follows, the labels that name it, "is" words, option words, negations, and the words that
join a hedge or the parts of one answer. A model may answer in any language, so each kind is one
pattern over all of them, built as a trie (one branch per next character: a scan of 3,000
characters costs about 0.2 ms, where a flat alternation of the same words costs 5 ms). The patterns
match :func:`lowered` text. A word in Latin, Greek or Cyrillic letters must stand at word
boundaries; the scripts written without spaces between words (Han, kana, Hangul, Thai, Arabic,
Hebrew, Devanagari) may be glued to their neighbours ("所以答案是12").
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .numerals import fold

TABLE_FILE = "answer_phrases.toml"
LABEL_MARK = r"\s*[:=—]"  # what follows a label: "Answer:", "Ответ —"
KEYS = ("phrases", "labels", "copulas", "choices", "negations", "rejections", "affirmations", "or", "and")
_SPACED_BEFORE = "\u0590"  # Latin, Greek and Cyrillic code points come before Hebrew's


@dataclass(frozen=True)
class Words:
    """A set of words or phrases as one trie pattern over :func:`lowered` text.

    The pattern itself ignores word boundaries (a lookbehind in front of every branch would cost 3×);
    the methods drop matches of a spaced-script word that starts inside another word ("is" in "this").
    """

    pattern: re.Pattern[str]
    before: re.Pattern[str]  # a word, then up to 3 non-word characters, at the end of the searched range

    def finditer(self, text: str, start: int = 0, end: int | None = None) -> Iterator[re.Match[str]]:
        for match in self.pattern.finditer(text, start, len(text) if end is None else end):
            if _at_boundary(text, match.start()):
                yield match

    def ends_at(self, text: str, pos: int, reach: int = 40) -> re.Match[str] | None:
        """A word that ends just before ``pos`` (up to 3 non-word characters between)."""
        for match in self.before.finditer(text, max(0, pos - reach), pos):
            if _at_boundary(text, match.start()):
                return match
        return None

    def starts_at(self, text: str, pos: int) -> re.Match[str] | None:
        """A word that starts at ``pos``."""
        match = self.pattern.match(text, pos)
        return match if match is not None and _at_boundary(text, pos) else None


@dataclass(frozen=True)
class Phrasebook:
    """One :class:`Words` per kind, over all languages (see answer_phrases.toml)."""

    languages: tuple[str, ...]
    phrase: Words  # a phrase, or a label with its mark: what follows is the answer
    copula: Words  # an "is" word (or "=")
    choice: Words  # a word before an option letter
    negation: Words  # a word that rejects the letter after it
    rejection: Words  # a word that rejects the letter before it
    affirmation: Words  # a word that states the letter before it
    alternative: Words  # "or", "and", a comma, / or & between two option letters: a hedge
    joiner: re.Pattern[str]  # what may stand between the parts of one answer: and, or, commas (fullmatch)


def lowered(text: str) -> str:
    """``text`` in lower case, each character in its place (İ is the one letter whose lower case is longer)."""
    return text.replace("\u0130", "I").lower()


def _spaced(ch: str) -> bool:
    return ch.isalnum() and ch < _SPACED_BEFORE


def _at_boundary(text: str, start: int) -> bool:
    """Whether a word found at ``start`` starts a word: glued scripts always do."""
    return start == 0 or not _spaced(text[start]) or not text[start - 1].isalnum()


def _trie(entries: Iterable[tuple[str, str]]) -> str:
    """One regex for (word, suffix) pairs: a branch per next character, longer words before their prefixes."""
    root: dict[str, Any] = {}
    for word, suffix in entries:
        node = root
        for i, part in enumerate(word.split()):
            for token in ([r"\s+"] if i else []) + [re.escape(ch) for ch in part]:
                node = node.setdefault(token, {})
        node.setdefault("", {})[suffix] = None

    def emit(node: dict[str, Any]) -> str:
        branches = [token + emit(child) for token, child in node.items() if token]
        branches += sorted(node.get("", {}), key=len, reverse=True)
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root) if root else r"(?!x)x"


def _words(*groups: tuple[Iterable[str], str], extra: str = "") -> Words:
    """:class:`Words` over each group's words with the group's suffix; ``extra``: more regex branches."""
    entries = []
    for words, suffix in groups:
        for word in {fold(w).lower().strip() for w in words}:
            end = r"(?!\w)" if _spaced(word[-1:] or " ") and not suffix else ""
            entries.append((word, end + suffix))
    body = _trie(entries) + (f"|{extra}" if extra else "")
    return Words(re.compile(body), re.compile(rf"(?:{body})\W{{0,3}}$"))


def load(raw: bytes | None = None) -> Phrasebook:
    """The phrasebook of the bundled table (or of ``raw``, a TOML document)."""
    if raw is None:
        raw = resources.files(__package__ or "rlvr_services.verifiers").joinpath(TABLE_FILE).read_bytes()
    table = tomllib.loads(raw.decode())
    words: dict[str, list[str]] = {key: [] for key in KEYS}
    for spec in table.values():
        for key in KEYS:
            words[key] += spec.get(key, [])
    joiner = _words((words["and"] + words["or"], "")).pattern.pattern
    return Phrasebook(
        languages=tuple(table),
        phrase=_words((words["phrases"], ""), (words["labels"], LABEL_MARK)),
        copula=_words((words["copulas"], ""), extra="="),
        choice=_words((words["choices"], "")),
        negation=_words((words["negations"], "")),
        rejection=_words((words["rejections"], "")),
        affirmation=_words((words["affirmations"], "")),
        alternative=_words((words["or"] + words["and"], ""), extra="[,/&]"),
        joiner=re.compile(rf"(?:\s|[,;]|\\quad|{joiner})*"),
    )


PHRASES = load()
