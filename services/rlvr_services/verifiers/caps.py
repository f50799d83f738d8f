"""The caps that keep an answer away from sympy when sympy could hang on it.

sympy can hang in C code on inputs like ``2**30**5`` or nested towers, and Math-Verify's own
timeouts are switched off (they use ``signal.alarm``). Before a formula reaches sympy, its size,
nesting, power towers, exponents, factorials and binomials are checked here; a formula beyond them
is refused with the reason.
"""

from __future__ import annotations

import math
import re

from . import numeric

MAX_ANSWER_CHARS = 1_000  # an extracted formula longer than this is not handed to sympy
MAX_NESTING = 20  # {[( depth of a formula handed to sympy
MAX_TOWER = 3  # a^{b^{c}} is as deep as a power may nest

_EXPONENT = re.compile(r"\^\s*(\{|\\?[A-Za-z0-9]+)")
_BINOMIAL = re.compile(r"\\[dt]?binom\s*(?=\{)")
_FACTORIAL = re.compile(r"(\d+)\s*!")


def too_complex(formula: str) -> str:
    """Why ``formula`` must not reach sympy (too deep, a power tower, a huge exponent or factorial), or ""."""
    if len(formula) > MAX_ANSWER_CHARS:
        return f"longer than {MAX_ANSWER_CHARS} characters"
    depth = deepest = 0
    for ch in formula:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth = max(0, depth - 1)
    if deepest > MAX_NESTING:
        return f"nested {deepest} deep (limit {MAX_NESTING})"
    for m in _FACTORIAL.finditer(formula):
        if len(m.group(1)) > 4 or int(m.group(1)) > numeric.MAX_FACTORIAL:
            return f"factorial of {m.group(1)[:20]}"
    for m in _BINOMIAL.finditer(formula):
        top = group_at(formula, m.end())
        try:
            n = numeric.parse_number(top)
        except numeric.TooLarge:
            n = numeric.Number(math.inf)
        if n is not None and numeric.magnitude(n.value) > numeric.MAX_FACTORIAL:
            return f"a binomial coefficient of {_clip(top)}"
    for m in _EXPONENT.finditer(formula):
        exponent = group_at(formula, m.start(1)) if m.group(1) == "{" else m.group(1)
        if exponent.count("^") >= MAX_TOWER:
            return "a power tower"
        try:
            value = numeric.parse_number(exponent)
        except numeric.TooLarge:
            return f"the exponent {_clip(exponent)} is too large"
        if value is not None and numeric.magnitude(value.value) > numeric.MAX_EXPONENT:
            return f"the exponent {_clip(exponent)} is too large"
    return ""


def group_at(text: str, start: int) -> str:
    """The content of the braced group opening at ``start`` (to the end of text if unclosed)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    return text[start + 1 :]


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
