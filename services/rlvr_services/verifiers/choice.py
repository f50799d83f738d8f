"""The option letter a multiple-choice answer states, in prose and in any language of the phrasebook.

A letter counts when it is stated, not when it is mentioned: "the answer is for sure D, it can't be A
or B" states D and rejects A and B. Where the statement is, in order:

1. a last line that is only the letter ("$D$", "**B**");
2. after the last answer phrase ("the answer is", "答案是", "Ответ:"), when a letter follows it: its
   first letter that is not rejected ("not A", "不是A", "Aではない");
3. on the last line with a letter: the last letter that line states: after an "is" word or an option
   word ("it's B", "option B", "选B"), followed by an affirmation ("B is correct", "Bが正解"), in
   parentheses or bold, or alone on the line, and not asked ("is it (C)? No, …");
4. that line, or the reply, starting with its letter ("D. It can't be A").

A letter joined to another by "or", "/" or a comma ("A or B", "A 或 B") is a hedge: no letter is
stated, and the answer fails. Option letters are A–J; a bare "I" counts only in parentheses, bold
or alone (it is also a pronoun). Letters of other alphabets (Cyrillic А Б В, Greek Α Β Γ) are not
read: Cyrillic В looks like B but is the third option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .phrasebook import PHRASES, lowered
from .statement import after_phrase, first_sentence, prepare

_LETTER = re.compile(r"(?<![A-Za-z0-9_\\])([A-J])(?![A-Za-z0-9_])|(?<=\()([a-j])(?=\))")  # "B", or "(b)"
_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|emph)\s*\{([^{}]*)\}")
_MATHY = re.compile(r"[\d\\]")
_START = re.compile(r"\W{0,4}\(?([A-J])\)?(?:[.:)]|\s*$)")
_ALONE = re.compile(r"\W{0,4}\(?([A-J])\)?\W{0,4}")


@dataclass(frozen=True)
class _Letter:
    letter: str
    start: int
    end: int
    explicit: bool  # stated, not just mentioned: "is B", "option B", "(B)", "**B**"
    rejected: bool
    joined: bool  # joined to the letter before it by "or", "/" or a comma


def letter_of(answer: str) -> str:
    """The option an extracted answer states: its first letter that is not rejected ("C", "(C)",
    "\\textbf{(C)}\\ 12", "Option C: 12", "for sure D, it can't be A or B"), or "" (none, or a hedge)."""
    return _first(_letters(prepare(_WRAPPER.sub(r"\1", answer)).replace("$", " ")))


def stated_choice(text: str) -> str:
    """The option the final text states (see the module's docstring), or "" (none, or a hedge)."""
    text = prepare(_WRAPPER.sub(r"\1", text))
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and _ALONE.fullmatch(lines[-1]):  # a last line that is only the letter: "$D$", "**B**"
        return _first(_letters(lines[-1]))
    rest = after_phrase(text)
    stated = _letters(first_sentence(rest)) if rest is not None else []
    if any(found.letter != "I" or found.explicit for found in stated):
        return _first(stated)  # "" when the letters there are rejected or hedged
    for line in reversed(lines):
        letters = [found for found in _letters(line) if found.letter != "I" or found.explicit]
        if not letters:
            if _MATHY.search(line):
                break  # the last statement is a number or formula, not a letter
            continue
        said = [found for found in letters if found.explicit and not found.rejected]
        if said:
            return "" if _hedged(letters, said[-1]) else said[-1].letter
        start = _START.match(line)
        if start is not None:  # "D. It can't be A, because …"
            return _first(letters, only=start.group(1))
        break
    start = _START.match(lines[0]) if lines else None
    return _first(_letters(lines[0]), only=start.group(1)) if start is not None else ""


def _letters(text: str) -> list[_Letter]:
    """Every letter token of ``text`` with what surrounds it."""
    low = lowered(text)
    out: list[_Letter] = []
    alone = _ALONE.fullmatch(text) is not None
    for m in _LETTER.finditer(text):
        start, end = m.span()
        paren = text[start - 1 : start] == "(" and text[end : end + 1] == ")"
        after = _skip(low, end + (1 if paren else 0))
        bold = text[max(0, start - 2) : start] == "**" and text[end : end + 2] == "**"
        said = PHRASES.copula.ends_at(low, start) or PHRASES.choice.ends_at(low, start)
        asked = low[after : after + 1] == "?"  # "is it (C)? No, …": a question states nothing
        explicit = not asked and bool(alone or paren or bold or said or PHRASES.affirmation.starts_at(low, after))
        rejected = bool(PHRASES.negation.ends_at(low, start) or PHRASES.rejection.starts_at(low, after))
        joined = False
        if out:
            gap = low[out[-1].end : start].strip(" ()*")
            joined = bool(gap) and PHRASES.alternative.pattern.fullmatch(gap) is not None
            rejected |= joined and out[-1].rejected
        out.append(_Letter((m.group(1) or m.group(2)).upper(), start, end, explicit, rejected, joined))
    return out


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t*":
        pos += 1
    return pos


def _hedged(letters: list[_Letter], chosen: _Letter) -> bool:
    """Whether ``chosen`` is joined by "or" to a letter that is not rejected ("A or B")."""
    i = letters.index(chosen)
    after = i + 1 < len(letters) and letters[i + 1].joined and not letters[i + 1].rejected
    before = chosen.joined and i > 0 and not letters[i - 1].rejected
    return after or before


def _first(letters: list[_Letter], only: str = "") -> str:
    """The first letter not rejected (and not a bare "I"), or "" when there is none or it is hedged."""
    for found in letters:
        if found.rejected or (found.letter == "I" and not found.explicit) or (only and found.letter != only):
            continue
        return "" if _hedged(letters, found) else found.letter
    return ""
