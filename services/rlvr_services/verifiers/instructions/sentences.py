"""A rule-based sentence splitter for English-like text (IFEval's ``length_constraints:number_sentences``).

IFEval counts sentences with NLTK's pre-trained Punkt model, which cannot be downloaded here; this
splitter follows the same conventions without a model:

- a sentence ends at ``.``, ``?``, ``!`` or an ellipsis, with any closing quotes, brackets or markdown
  emphasis after it, followed by white space or the end of the text; line breaks alone do not end one
  (as in Punkt: a heading without a full stop runs into the next sentence);
- ``?``/``!`` always end a sentence, except inside a quotation that the sentence goes on after
  (``"Why?" she asked.``);
- a full stop does not end a sentence after a title or other abbreviation (``Dr.``, ``e.g.``, ``vs.``),
  after ``No.``/``Fig.``/``p.`` before a number, after an enumeration marker at the start of a line
  (``1.``, ``a.``, ``iv.``), after an initial (``J. K. Rowling``), nor inside a number or address
  (``3.14``, ``example.com``: no space follows);
- ``etc.``, ``a.m.``, ``U.S.``, ``Inc.``, other dotted acronyms and initials end a sentence only when a
  word that typically starts one follows (``… in the U.S. The next day``);
- an ellipsis ends a sentence when a capitalised word follows (``I waited... Nothing.``), not otherwise;
- ``。！？`` end a sentence wherever they stand, ``।`` (danda) like a full stop;
- a piece with no letter or digit (a stray ``!``) joins the sentence before it.

Linear in the length of the text: one pass over candidate end marks, constant work at each.
"""

from __future__ import annotations

import re

# a run of end marks, then closing quotes/brackets/emphasis; or CJK end marks that need no space after
_CANDIDATE = re.compile(r"(?P<marks>[.?!…।॥]+)(?P<closers>[\"'”’»)\]*_`]*)|(?P<cjk>[。！？]+[」』”’）)]*)")
_OPENERS = "\"'“‘«([{*_`"
_LINE_INDENT = " \t" + _OPENERS
_ALNUM = re.compile(r"[^\W_]")
_DOTTED = re.compile(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}")  # e.g, U.S, Ph.D, a.m (the last dot is the end mark)
_ROMAN = re.compile(r"(?i)(?:i{1,3}|iv|vi{0,3}|ix|x{1,3})")
_DIGITS = re.compile(r"\d{1,3}")
_APOSTROPHE = re.compile("['’]")

# never the last word of a sentence: they stand before a name or a phrase
TITLES = frozenset(
    "mr mrs ms mx dr prof st mt ft rev hon gen col lt sgt capt cmdr adm gov sen rep pres supt insp fr "
    "messrs mme mlle vs cf viz approx ca incl esp dept est al e.g i.e".split()
)
# abbreviations that stand before a number: "No. 5", "Fig. 3", "p. 12"
BEFORE_NUMBER = frozenset("no nos vol vols fig figs eq eqs ch chap sec p pp art op nr ex tab".split())
# abbreviations that may also end a sentence
ENDINGS = frozenset("etc inc ltd co corp llc plc bros jr sr a.m p.m u.s u.k u.s.a e.u b.c a.d b.c.e c.e ph.d".split())
# words that typically start a sentence: after an ambiguous abbreviation, they mark a sentence break
STARTERS = frozenset(
    "a an the this that these those it its he she they we i you there here his her their our my your "
    "but and so yet however then also thus therefore meanwhile moreover furthermore finally first next "
    "in on at for if when while after before as since although though because once after what why how "
    "who where which many most some all each every no not one two three".split()
)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each stripped of surrounding white space."""
    spans: list[list[int]] = []  # [start, end) of each sentence in ``text``
    start = 0
    for match in _CANDIDATE.finditer(text):
        end = match.end()
        if match.group("cjk") is None:
            if end < len(text) and not text[end].isspace():
                continue
            if not _ends_sentence(text, match):
                continue
        _add(spans, text, start, end)
        start = end
    _add(spans, text, start, len(text))
    return [text[start:end].strip() for start, end in spans]


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def _add(spans: list[list[int]], text: str, start: int, end: int) -> None:
    if _ALNUM.search(text, start, end):
        spans.append([start, end])
    elif spans and not text[start:end].isspace():
        spans[-1][1] = end  # a piece with no letter or digit ("!") joins the sentence before it
    elif not spans and text[start:end].strip():
        spans.append([start, end])


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    marks, closers = match.group("marks"), match.group("closers")
    following = _next_word(text, match.end())
    if not following:
        return True
    if closers and following[0].islower():  # a quotation inside a sentence that goes on: '"Why?" she asked.'
        return False
    if "?" in marks or "!" in marks:
        return True
    if marks in ("।", "॥"):
        return True
    if len(marks) > 1 or "…" in marks:  # an ellipsis
        return following[0].isupper()
    word = _word_before(text, match.start())
    return _full_stop_ends(text, match.start() - len(word), word, following)


def _full_stop_ends(text: str, word_start: int, word: str, following: str) -> bool:
    """Whether ``word.`` followed by ``following`` ends a sentence."""
    key = word.lower()
    if not word:
        return True
    if key in TITLES:
        return False
    if key in BEFORE_NUMBER and following[0].isdigit():
        return False
    if _at_line_start(text, word_start) and (_DIGITS.fullmatch(word) or _ROMAN.fullmatch(word) or len(word) == 1):
        return False  # an enumeration marker: "1. First", "b. Second", "iv. Fourth"
    ambiguous = key in ENDINGS or _DOTTED.fullmatch(word) is not None or (len(word) == 1 and word.isupper())
    if ambiguous:
        return following[0].isupper() and _APOSTROPHE.split(following, 1)[0].lower() in STARTERS
    return True


def _word_before(text: str, end: int) -> str:
    """The non-space run ending at ``end``, without opening quotes or brackets."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
        if end - start > 64:  # longer than any word: an address or a number, never an abbreviation
            return text[start:end]
    return text[start:end].lstrip(_OPENERS)


def _next_word(text: str, start: int) -> str:
    """The first word after ``start`` (after white space and opening quotes/brackets), or ""."""
    n = len(text)
    while start < n and text[start].isspace():
        start += 1
    while start < n and text[start] in _OPENERS:
        start += 1
    end = start
    while end < n and end - start < 64 and (text[end].isalnum() or text[end] in "'’-"):
        end += 1
    return text[start:end] if end > start else text[start : start + 1]


def _at_line_start(text: str, start: int) -> bool:
    """Only blanks (or opening marks) between the previous line break and ``start``."""
    while start > 0 and text[start - 1] in _LINE_INDENT:
        start -= 1
    return start == 0 or text[start - 1] == "\n"
