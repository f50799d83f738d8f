"""Numbers as the world writes them: full-width and native digits, CJK punctuation, decimal commas.

:func:`fold` maps full-width ASCII (``１２``, ``：``, ``Ｂ``), the digits of Arabic, Devanagari and
Thai, and superscripts ² ³ to ASCII, and CJK and Indic punctuation to what it stands for: ``，`` and
``、`` separate (``", "``), ``。`` and ``।`` end a sentence (``". "``). One ``str.translate``: linear.

:func:`decimal_comma` reads a comma between digits the way most of the world does. A comma followed by
exactly three digits after a leading group of one to three digits that does not start with 0 is a
thousands separator (``1,222`` is 1222, ``12,500`` is 12500); any other comma between digits is a
decimal comma: ``1000,99`` (four digits before it), ``0,111`` (a leading 0), ``1,22`` and ``3,5``
(not three digits after it). Only a lone comma at the top level counts: ``1,2,3`` is a list and
``(3,4)`` a pair.
"""

from __future__ import annotations

import re

_FOLD: dict[int, str] = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: " ", 0xFF0C: ", ", 0x3001: ", ", 0x060C: ", ", 0x3002: ". ", 0x0964: ". ", 0xFF61: ". "})
_FOLD.update({0x066B: ".", 0x066C: ",", 0x00B2: "^2", 0x00B3: "^3", 0x2212: "-", 0x2019: "'"})
for _zero in (0x0660, 0x06F0, 0x0966, 0x0E50):  # Arabic-Indic, Persian, Devanagari, Thai digits
    _FOLD.update({_zero + d: str(d) for d in range(10)})
_TABLE = str.maketrans(_FOLD)

_COMMA_NUMBER = re.compile(r"(?<![\d.,])(-?)(\d+),(\d+)(?![\d.,])")


def fold(text: str) -> str:
    """``text`` with full-width and native digits, letters and punctuation in their ASCII forms."""
    return text.translate(_TABLE)


def _lone_comma(text: str) -> re.Match[str] | None:
    """The one top-level ``digits,digits`` of ``text``; None when there is none, or more than one comma."""
    if text.count(",") != 1:
        return None
    match = _COMMA_NUMBER.search(text)
    if match is None:
        return None
    depth = 0
    for ch in text[: match.start()]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return match if depth == 0 else None


def is_decimal_comma(whole: str, fraction: str) -> bool:
    """Whether the comma in ``whole,fraction`` (digits on both sides) is a decimal comma."""
    thousands = len(fraction) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")
    return not thousands


def has_decimal_comma(text: str) -> bool:
    """Whether ``text`` holds a number written with a decimal comma (``3,5``, ``0,111``, ``1000,99``)."""
    match = _lone_comma(text)
    return match is not None and is_decimal_comma(match.group(2), match.group(3))


def decimal_comma(text: str) -> str:
    """``text`` with its decimal comma, if it has one, written as a point (``3,5`` → ``3.5``)."""
    match = _lone_comma(text)
    if match is None or not is_decimal_comma(match.group(2), match.group(3)):
        return text
    return f"{text[: match.start()]}{match.group(1)}{match.group(2)}.{match.group(3)}{text[match.end() :]}"
