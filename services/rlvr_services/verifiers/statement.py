"""The final answer a completion states in prose, in any of the languages of ``answer_phrases.toml``.

Used by the ``math`` verifier when there is neither ``\\boxed{}`` nor ``<answer>`` (its default
``fallback``). In order:

1. a last line that is only a value in math delimiters (``$E$``, ``$odd$``, a display over three lines);
2. else after the last answer phrase or label ("the answer is", "Answer:", "la réponse est", "答案是",
   "Ответ:"), its first sentence: a later line without one ("Check: 12 - 5 = 7") does not replace it;
3. else a last line that is only an equation (``$x = y$``, ``f(y) = y``);
4. else the last line with a number or formula.

Within that sentence the value is picked: a value right after the phrase; else the value right after
the last "is" word (the "Final Answer: The largest $n$ is 34" form: the subject is a formula, the
answer is 34); else the last formula, or the last number of a sentence in words. Values joined only
by "and", "or" or commas (``$p = -1$ and $p = \\frac{15}{8}$``, "2 and 3") are one answer, a list;
a hedge then fails against a single gold answer. Display math over several lines is one line.

The input is bounded by the caller (the last few thousand characters); every step is a regex scan
or a linear loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numerals import fold
from .phrasebook import PHRASES, lowered

MAX_LINE_CHARS = 300
MAX_DISPLAY_CHARS = 600
# \[ … \] and $$ … $$ may span lines: joined into one line before the text is split
_DISPLAY = re.compile(rf"\\\[.{{0,{MAX_DISPLAY_CHARS}}}?\\\]|\$\$.{{0,{MAX_DISPLAY_CHARS}}}?\$\$", re.DOTALL)
_FORMULA = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
# a number in prose: "1,234", "3,5", "-0.5", "3/4", "12\%", "10^6", "\$18"; not a digit of "x2", "cm^2", "2nd"
_NUMBER = re.compile(
    r"(?<![A-Za-z\d.,^_\\])(?:\\?\$(?=\d))?-?\d+(?:,\d{3}(?!\d))*(?:[.,]\d+)?"
    r"(?:\^\{?-?\d+\}?)?(?:\s*/\s*\d+)?(?:\s*\\?%)?(?![A-Za-z\d])"
)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\n")
_MARKUP_TAG = re.compile(r"</?[A-Za-z_]{1,20}>")
_MATHY = re.compile(r"[\d\\]")
# two words in a row, in any script, or a character of a script written without spaces
_PROSE = re.compile(r"(?<![\\\w])[^\W\d_]{2,}\s+[^\W\d_]{2,}|[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# a final line "x = y" or "f(y) = y"
_BARE_EQUATION = re.compile(
    r"[A-Za-z](?:_\{?\w{1,3}\}?)?(?:\([A-Za-z0-9, ]{1,12}\))?\s*=\s*[A-Za-z0-9+\-*/^(){}\\ .,]{1,40}"
)
_WORD = re.compile(r"(?<![\\\w])[^\W\d_]{2,}")
# an end-of-proof mark alone on a line: not an answer
_END_MARK = re.compile(r"\W*(?:\\(?:blacksquare|square|Box|qed|checkmark)|∎|□)\W*")


@dataclass(frozen=True)
class _Value:
    start: int
    end: int
    text: str
    formula: bool  # in math delimiters; else a number in the prose


def is_prose(text: str) -> bool:
    """Whether ``text`` is a sentence in words rather than a formula (in any script)."""
    return _PROSE.search(text) is not None


def prepare(text: str) -> str:
    """Full-width forms folded to ASCII, display math over several lines joined into one."""
    text = fold(text)
    if "\\]" not in text and "$$" not in text:
        return text
    return _DISPLAY.sub(lambda m: m.group().replace("\n", " "), text)


def answer_line(text: str) -> str | None:
    """The final answer stated in prose (see the module's docstring), or None."""
    text = prepare(text)
    lines = [line for line in text.splitlines() if line.strip() and not _END_MARK.fullmatch(line)]
    bare = _bare_answer(lines[-1]) if lines else None
    if bare and "=" not in bare and next(PHRASES.phrase.finditer(lowered(lines[-1])), None) is None:
        return bare  # a last line that is only a value ($D$, $$74,340$$) restates the answer, after any phrase
    rest = after_phrase(text)
    if rest is not None:
        return _value_after_phrase(first_sentence(rest)) or None
    if bare:
        return bare
    for line in reversed(lines):
        if _MATHY.search(line):
            return _line_value(line)
    return None


def after_phrase(text: str) -> str | None:
    """What follows the last answer phrase or label of ``text`` (prepared), or None without one."""
    low = lowered(text)
    end = len(low)
    while end >= 0:  # line by line from the end: the phrase is usually near it
        start = low.rfind("\n", 0, end) + 1
        found = None
        for found in PHRASES.phrase.finditer(low, start, end):  # noqa: B007 - the last match is wanted
            pass
        if found is not None:
            rest = text[found.end() :].lstrip(" \t*:")
            return rest.strip() if rest.startswith("\n") else rest
        end = start - 1
    return None


def first_sentence(text: str) -> str:
    """``text`` up to its first sentence end, without markup tags and bold marks."""
    text = _MARKUP_TAG.sub(" ", text).strip()
    end = _SENTENCE_END.search(text)
    return (text if end is None else text[: end.start()])[:MAX_LINE_CHARS].strip(" \t*")


def last_sentence(line: str) -> str:
    """The last sentence of ``line`` that has a number or formula."""
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(line)]
    for start in reversed(starts):
        if _MATHY.search(line, start):
            return first_sentence(line[start:])
    return first_sentence(line)


def _value_after_phrase(sentence: str) -> str:
    """The answer in the sentence after an answer phrase."""
    values = _values(sentence)
    if not values or not (is_prose(sentence) or _FORMULA.search(sentence)):
        return sentence  # "25\pi", "3 hours", "North", "(C)": the whole statement, as written
    if not sentence[: values[0].start].strip(" \t*:"):  # a value right after the phrase
        return _run(sentence, values, 0)
    return _pick(sentence, values)  # "The largest $n$ is 34"


def _line_value(line: str) -> str | None:
    """The answer on the last line with a number or formula."""
    if is_prose(line):
        sentence = last_sentence(line)
        values = _values(sentence)
        if values:
            return _pick(sentence, values)
    values = _values(line)
    formulas = [i for i, v in enumerate(values) if v.formula]
    if formulas:
        return _run(line, values, formulas[-1])
    cut = max(line.rfind("="), line.rfind(" is "))
    if cut >= 0 and _MATHY.search(line, cut):
        line = line[cut + (1 if line[cut] == "=" else 4) :]
    elif cut >= 0 or (values and _WORD.search(line)):  # "… the remaining step is to combine them", "Yes, 42."
        return values[-1].text if values else None
    return first_sentence(line) or None


def _bare_answer(line: str) -> str | None:
    """A final line that is only a formula (``$E$``) or a bare equation (``f(y) = y``): its content."""
    s = line.strip().strip("*").strip().rstrip(".").strip()
    formula = _FORMULA.fullmatch(s)
    if formula is not None:
        inner = next(g for g in formula.groups() if g is not None).strip()
        return inner if inner and "$" not in inner else None
    if _BARE_EQUATION.fullmatch(s) and not is_prose(s):
        return s
    return None


def _values(sentence: str) -> list[_Value]:
    """Formulas, and numbers outside them, in order."""
    values = [_Value(m.start(), m.end(), next(g for g in m.groups() if g is not None).strip(), True)
              for m in _FORMULA.finditer(sentence)]  # fmt: skip
    numbers, i = [], 0
    for m in _NUMBER.finditer(sentence):  # both in order: one merge pass keeps the numbers outside formulas
        while i < len(values) and values[i].end <= m.start():
            i += 1
        if i == len(values) or m.start() < values[i].start:
            numbers.append(_Value(m.start(), m.end(), m.group(), False))
    return sorted(values + numbers, key=lambda v: v.start)


def _pick(sentence: str, values: list[_Value]) -> str:
    """The value right after the last "is" word that has one; else the last formula, else the last number."""
    low = lowered(sentence)
    starts = {v.start: i for i, v in enumerate(values)}
    best = None
    for copula in PHRASES.copula.finditer(low):
        if any(v.start < copula.start() < v.end for v in values):
            continue  # an "=" inside a formula
        at = copula.end()
        while at < len(low) and low[at] in " \t*:":
            at += 1
        best = starts.get(at, best)
    if best is None:
        formulas = [i for i, v in enumerate(values) if v.formula]
        best = formulas[-1] if formulas else len(values) - 1
    return _run(sentence, values, best)


def _joined(sentence: str, left: _Value, right: _Value) -> bool:
    return PHRASES.joiner.fullmatch(lowered(sentence[left.end : right.start])) is not None


def _subject(sentence: str, value: _Value) -> bool:
    """Whether ``value`` is the subject of an "is" that follows it."""
    low = lowered(sentence)
    at = value.end
    while at < len(low) and low[at] in " \t":
        at += 1
    return PHRASES.copula.starts_at(low, at) is not None


def _run(sentence: str, values: list[_Value], i: int) -> str:
    """Value ``i`` with the values joined to it by "and", "or" or commas, as one list ("p = -1, p = 2")."""
    first = last = i
    while first > 0 and _joined(sentence, values[first - 1], values[first]):
        first -= 1
    while last + 1 < len(values) and _joined(sentence, values[last], values[last + 1]):
        if _subject(sentence, values[last + 1]):  # "$x = 2$ and $x = 3$ is extraneous": not part of it
            break
        last += 1
    return ", ".join(v.text for v in values[first : last + 1])
