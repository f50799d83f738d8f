"""Words as IFEval counts them: runs of Unicode word characters, and Penn Treebank tokens.

IFEval counts words with NLTK's ``RegexpTokenizer(r"\\w+")`` and all-capital words over NLTK's
``word_tokenize``. NLTK (3.9+) runs its patterns on the third-party ``regex`` engine, whose ``\\w``
is Unicode's word class: letters, marks, decimal digits, letter numbers, connector punctuation and
the joiners — so "हिन्दी" is one word (the stdlib's ``\\w`` cuts it at every vowel sign) and "x²" is
"x". The same class is built here from ``unicodedata`` once, on first use, for the stdlib engine.

``treebank_tokens`` applies the Penn Treebank conventions that ``word_tokenize`` uses on each sentence:
punctuation split off, "don't" → "do" "n't", "cannot" → "can" "not", quotes → `` and ''.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass

# Other_Alphabetic symbols (circled and squared Latin letters): word characters for Unicode, "So" by category.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))
_JOINERS = (0x200C, 0x200D)
# Planes 4-13 are unassigned; 15-16 are private use. Scanning the rest takes a few tens of milliseconds.
_SCANNED = (range(0x40000), range(0xE0000, 0xE1000))
# Unicode White_Space (what the regex engine's \s means); the stdlib's \s also takes U+001C-U+001F.
SPACE = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


def _is_word_char(category: str) -> bool:
    return category[0] in "LM" or category in ("Nd", "Nl", "Pc")


def _escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


@functools.cache
def word_char() -> str:
    """A pattern for one Unicode word character (a group: the stdlib has no ``\\p{…}`` classes).

    The code points outside the Basic Multilingual Plane get a class of their own behind a cheap
    test, so that the common characters do not pay for their hundreds of ranges.
    """
    flags = bytearray(sys.maxunicode + 1)  # one byte per code point, then runs of ones become ranges
    for block in _SCANNED:
        for cp in block:
            if _is_word_char(unicodedata.category(chr(cp))):
                flags[cp] = 1
    for cp in _JOINERS:
        flags[cp] = 1
    for low, high in _ALPHABETIC_SYMBOLS:
        flags[low : high + 1] = b"\x01" * (high - low + 1)
    basic: list[str] = []
    astral: list[str] = []
    for match in re.finditer(b"\x01+", flags):
        low, high = match.start(), match.end() - 1
        (basic if high <= 0xFFFF else astral).append(_escape(low) if low == high else f"{_escape(low)}-{_escape(high)}")
    return f"(?:[{''.join(basic)}]|(?=[\\U00010000-\\U0010ffff])[{''.join(astral)}])"


@dataclass(frozen=True)
class _Patterns:
    word: re.Pattern[str]
    before_quotes: tuple[tuple[re.Pattern[str], str], ...]
    punctuation: tuple[tuple[re.Pattern[str], str], ...]
    after_quotes: tuple[tuple[re.Pattern[str], str], ...]
    contractions: tuple[re.Pattern[str], ...]


@functools.cache
def _patterns() -> _Patterns:
    w, s = word_char(), SPACE
    closers = "\\]\\)}>\"'"
    return _Patterns(
        word=re.compile(f"{w}+"),
        before_quotes=(
            (re.compile("([«“‘„]|`+)"), r" \1 "),
            (re.compile('^"', re.MULTILINE), "``"),
            (re.compile("(``)"), r" \1 "),
            (re.compile("([ (\\[{<])(\"|'')"), r"\1 `` "),
            # an opening single quote before a word that is not a clitic ('re, 've, 'll, 'm, 't, 's, 'd, 'n)
            (re.compile(f"(?i)(?<!{w})(')(?!(?:re|ve|ll|m|t|s|d|n)(?!{w}))(?={w})"), r"\1 "),
        ),
        punctuation=(
            (re.compile(f"([^.])(\\.)([{closers}»”’ ]*+)[{s}]*$", re.MULTILINE), r"\1 \2 \3 "),
            (re.compile("([:,])([^\\d])"), r" \1 \2"),
            (re.compile("([:,])$", re.MULTILINE), r" \1 "),
            (re.compile("\\.{2,}"), r" \g<0> "),
            (re.compile("[;@#$%&]"), r" \g<0> "),
            (re.compile("[\u2012-\u2015]"), r" \g<0> "),  # figure dash, en and em dashes, horizontal bar
            (re.compile(f"([^.])(\\.)([{closers}]*)[{s}]*$", re.MULTILINE), r"\1 \2\3 "),
            (re.compile("[?!]"), r" \g<0> "),
            (re.compile("([^'])' "), r"\1 ' "),
            (re.compile("[*]"), r" \g<0> "),
            (re.compile("[\\]\\[(){}<>]"), r" \g<0> "),
            (re.compile("--"), " -- "),
        ),
        after_quotes=(
            (re.compile("([»”’])"), r" \1 "),
            (re.compile("''"), " '' "),
            (re.compile('"'), " '' "),
            (re.compile(f"[{s}]+"), " "),
            (re.compile("([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
            (re.compile("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
        ),
        contractions=(
            # "cannot" → "can not", "gimme" → "gim me", …: the stdlib's \b here, as in NLTK
            re.compile(
                "(?i)\\b(?:(can)(not)|(d)('ye)|(gim)(me)|(gon)(na)|(got)(ta)|(lem)(me)|(more)('n))\\b"
                "|\\b(wan)(na)(?=\\s)"
            ),
            re.compile("(?i) ('t)(is)\\b"),  # "'tis" → "'t is"
            re.compile("(?i) ('t)(was)\\b"),
        ),
    )


def _split_contraction(match: re.Match[str]) -> str:
    head, tail = (group for group in match.groups() if group is not None)
    return f" {head} {tail} "


def count_words(text: str) -> int:
    """How many runs of word characters ``text`` has (IFEval's ``length_constraints:number_words``)."""
    return sum(1 for _ in _patterns().word.finditer(text))


def count_word_chars(text: str) -> int:
    """How many word characters (letters, marks, digits, …) ``text`` has."""
    return sum(match.end() - match.start() for match in _patterns().word.finditer(text))


def treebank_tokens(sentence: str) -> list[str]:
    """The Penn Treebank tokens of one sentence, as NLTK's ``word_tokenize`` makes them."""
    return treebank_tokens_of_sentences([sentence])


def treebank_tokens_of_sentences(sentences: list[str]) -> list[str]:
    """The tokens of each sentence in turn, in one pass over them all.

    The sentences are joined by line breaks, and the rules anchored at a sentence's start or end
    match at every line (a line break inside a sentence becomes a vertical tab, white space to every
    rule as it was): the same tokens as sentence by sentence, without a loop over the rules for each.
    """
    p = _patterns()
    text = "\n".join(sentence.replace("\n", "\x0b") for sentence in sentences)
    for pattern, replacement in p.before_quotes + p.punctuation:
        text = pattern.sub(replacement, text)
    text = f" {text} "
    for pattern, replacement in p.after_quotes:  # white space, the line breaks too, becomes one space
        text = pattern.sub(replacement, text)
    for pattern in p.contractions:
        text = pattern.sub(_split_contraction, text)
    return text.split()
