"""The math verifier's fast path: plain numbers and simple closed forms, evaluated without sympy.

Most answers in math data are numbers: integers, fractions, decimals, a percentage, a root or a
multiple of pi. For those, a small recursive-descent evaluator gives the value in microseconds,
where a Math-Verify ``parse`` + ``verify`` costs a millisecond or more. The evaluator is
conservative: anything outside its grammar (variables, sets, intervals, functions, ``i``) returns
None and the caller goes the sympy way. It never hangs: the input is capped, powers and factorials
are bounded, and a value that would be too large raises :class:`TooLarge` so that the caller can
refuse the answer instead of handing it to sympy.

Values are exact (``Fraction``) while only rationals are involved, and a ``float`` (``complex``
with ``i``) otherwise. A
value written with a decimal point (``0.5``, ``1.2e5``) is *approximate*: as in Math-Verify, two
values of which one is approximate are equal when they agree to 6 decimal places and within 1e-5
relative (Math-Verify's rule alone calls 5e-7 and 5e-8 equal).
"""

from __future__ import annotations

import cmath
import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from . import numerals
from .extract import strip_math_delimiters

MAX_CHARS = 200  # the fast path is for short answers; longer ones go to sympy (under its own caps)
MAX_EXPONENT = 10_000  # |n| in a^n; beyond it a value is refused (10^{10^{10}} and friends)
MAX_EXACT_BITS = 16_384  # about 4,900 digits: exact rationals larger than this are refused
MAX_FACTORIAL = 1_000
DECIMAL_PLACES = 6  # Math-Verify's float_rounding
APPROXIMATE_REL_TOL = 1e-5  # and within this relative difference (6 decimal places say nothing about 1e-7)
FLOAT_REL_TOL = 1e-12  # two closed forms (no decimal point) evaluated in floating point
_CANCELLATION = 1e6  # an intermediate this many times larger than the result: floats can't be trusted


Value = Fraction | float | complex


class TooLarge(ValueError):
    """The expression's value is too large (or too deeply built) to evaluate safely."""


@dataclass(frozen=True)
class Number:
    value: Value
    approximate: bool = False  # written with a decimal point or an exponent
    percent: bool = False  # written with a % sign (value as written, not divided by 100)
    variable: str = ""  # "x" for "x = 3"

    def readings(self) -> tuple[Value, ...]:
        """The values this answer may stand for: 50% is 50 or 0.5."""
        if not self.percent:
            return (self.value,)
        return (self.value, self.value / 100)


def equal(gold: Number, pred: Number, rel_tol: float | None = None) -> bool:
    """Whether two numbers are the same answer, under Math-Verify's rounding rule or ``rel_tol``.

    Variable names are the caller's business: "x = 3" and "y = 3" are equal numbers here.
    """
    approximate = gold.approximate or pred.approximate
    try:
        return any(_close(g, p, approximate, rel_tol) for g in gold.readings() for p in pred.readings())
    except OverflowError:  # a huge exact value against a float: they differ
        return False


def _close(g: Value, p: Value, approximate: bool, rel_tol: float | None) -> bool:
    if g == p:
        return True
    gap, scale = abs(complex(g) - complex(p)), max(abs(complex(g)), abs(complex(p)))
    if rel_tol is not None and gap <= rel_tol * scale:
        return True
    if approximate:  # Math-Verify's 6 decimal places, but not for tiny values: 5e-7 is not 5e-8
        return _rounded(g) == _rounded(p) and gap <= APPROXIMATE_REL_TOL * scale
    if not (isinstance(g, Fraction) and isinstance(p, Fraction)):
        return gap <= FLOAT_REL_TOL * scale
    return False


def _rounded(x: Value) -> tuple[Fraction, Fraction]:
    real, imag = (Fraction(x.real), Fraction(x.imag)) if isinstance(x, complex) else (Fraction(x), Fraction(0))
    return round(real, DECIMAL_PLACES), round(imag, DECIMAL_PLACES)


# --- normalization: the surface forms around a number -------------------------------------------

_DROP = re.compile(r"\\left|\\right|\\!|\\;|\\:|\\ |\\displaystyle|~")
_UNIT_TEXT = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|operatorname)\s*\{([^{}]*)\}(\^\s*\{?[23]\}?)?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_PERCENT = re.compile(r"\s*\\?%$")
_THIN_SPACE = re.compile(r"(?<=\d)(?:\\,|\{,\}|\s)(?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"\b\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?")
_ASSIGN = re.compile(r"^([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)\s*=\s*(?!=)")
_DOLLAR = re.compile(r"^(?:\\\$|\$)\s*")
# words after a number: "12 apples", "12 élèves", "12 яблок"; glued in scripts without spaces: "99颗", "3人", "12개"
_TRAILING_WORDS = re.compile(
    r"(?<=[\w}.)])\s+((?:[^\W\d_]){2,}(?:[^\W\d_]|[ .^23'-])*|[mgsLhKNJWV](?:\^[23])?)$"
    r"|(?<=[\d}.)])\s*((?:['’]|[^\W\d_A-Za-z\u0370-\u03ff])(?:[^\W\d_]|[ .^23'’-])*)$"
)
_MIXED_NUMBER = re.compile(r"(-?)\s*(\d+)\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}")
_MATH_WORDS = frozenset(
    {"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "mod", "and", "or", "i", "e"}
)


def _unit_text(match: re.Match[str]) -> str:
    """``\\text{ cm}`` after a number is a unit and goes; ``\\text{ and }`` and ``\\text{5}`` stay."""
    inner = match.group(1)
    keep = inner.strip() in ("and", "or", ",") or any(ch.isdigit() for ch in inner)
    return f" {inner}{match.group(2) or ''} " if keep else " "  # a unit goes with its ^2


def parse_number(text: str, *, decimal_comma: bool = True) -> Number | None:
    """The numeric value of a short answer, or None when it is not a plain number or closed form.

    ``decimal_comma``: read ``3,5`` as 3.5 (:func:`.numerals.decimal_comma`); without it such a comma
    separates the items of a list. Raises :class:`TooLarge` for a number too large to evaluate.
    """
    normalized = _normalized(text, decimal_comma)
    if normalized is None:
        return None
    s, variable, percent = normalized
    try:
        evaluated = _Parser(s).parse()
    except _NotSimple:
        return None
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        if isinstance(exc, TooLarge):
            raise
        return None  # beyond floating point, or undefined: sympy decides
    if evaluated is None:
        return None
    value, approximate = evaluated
    return Number(value, approximate=approximate, percent=percent, variable=variable)


def _normalized(text: str, decimal_comma: bool = True) -> tuple[str, str, bool] | None:
    """The bare formula of an answer, the variable it is assigned to ("x = …") and whether it had a %."""
    s = strip_math_delimiters(text)
    if not s or len(s) > MAX_CHARS:
        return None
    s = _DROP.sub("", s).replace("\u2212", "-").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _THIN_SPACE.sub("", s).replace("\\,", " ")
    s = _UNIT_TEXT.sub(_unit_text, s).strip()
    s = s.rstrip(".").strip()
    variable = ""
    match = _ASSIGN.match(s)
    if match:
        variable, s = match.group(1).replace("{", "").replace("}", ""), s[match.end() :]
    s = _DOLLAR.sub("", s)
    s = _DEGREES.sub("", s).strip()
    percent = bool(_PERCENT.search(s))
    if percent:
        s = _PERCENT.sub("", s)
    words = _TRAILING_WORDS.search(s)
    if words:
        first = (words.group(1) or words.group(2)).split()[0].lower()
        if first in _MATH_WORDS:
            return None
        s = s[: words.start()]
    s = _DOLLAR.sub("", s.strip())
    s = _THIN_SPACE.sub("", s)
    s = numerals.decimal_comma(s.replace("{,}", ",")) if decimal_comma else s  # 3{,}5: LaTeX's decimal comma
    s = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), s)
    if not s or "=" in s or "," in s:
        return None
    mixed = _MIXED_NUMBER.fullmatch(s)
    if mixed:  # 10\frac{1}{2} is ten and a half, not five
        sign, whole, num, den = mixed.groups()
        s = f"{sign}({whole} + {num}/{den})"
    return s, variable, percent


# --- expressions in variables: identity testing at random rational points -------------------------

_POINTS = 3  # agreeing values at this many random points count as the same expression
_POINT_SEED = 20_261_125  # fixed: the same input always gets the same verdict


def expressions_equal(gold: str, pred: str, *, strict: bool = True) -> bool | None:
    """Whether two polynomial or rational expressions (``2x + 3``, ``y = (x+1)^2``) are identical.

    Both are evaluated exactly at random rational points: different values prove them different, and
    equal values at several points make them equal with overwhelming probability (Schwartz-Zippel).
    None when this path cannot tell (other variables, roots, functions, relations): sympy decides.
    """
    g, p = _normalized(gold), _normalized(pred)
    if g is None or p is None or g[2] or p[2]:
        return None
    names, pred_names = _variables(g[0]), _variables(p[0])
    if names and not pred_names and parse_number(pred) is not None:
        return False  # a number for an expression in variables
    if not names or names != pred_names:
        return None
    if strict and g[1] and p[1] and g[1] != p[1]:
        return None
    rng = random.Random(_POINT_SEED)
    agreed = 0
    for _ in range(3 * _POINTS):
        env = {n: Fraction(rng.randint(-(10**6), 10**6), rng.randint(1, 97)) for n in sorted(names)}
        try:
            a, b = _Parser(g[0], env).parse(), _Parser(p[0], env).parse()
        except _NotSimple:
            return None
        except (ZeroDivisionError, OverflowError, ValueError):  # TooLarge included: try another point
            continue
        if a is None or b is None or not (isinstance(a[0], Fraction) and isinstance(b[0], Fraction)):
            return None
        if a[0] != b[0]:
            return False
        agreed += 1
        if agreed == _POINTS:
            return True
    return None


def is_expression(text: str) -> bool:
    """Whether ``text`` is an expression in variables that :func:`expressions_equal` can evaluate."""
    return expressions_equal(text, text) is True


def _variables(formula: str) -> frozenset[str]:
    try:
        return frozenset(text for kind, text in _Parser(formula).tokens if kind == "var")
    except _NotSimple:
        return frozenset()


# --- lists, sets, tuples and intervals of numbers -------------------------------------------------

_LIST_WORDS = re.compile(r"\s*(?:\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*")
_INFINITY = {"\\infty": math.inf, "+\\infty": math.inf, "-\\infty": -math.inf, "∞": math.inf, "-∞": -math.inf}
MAX_ITEMS = 20


@dataclass(frozen=True)
class Group:
    """``-3, 2`` and ``\\{1, 2\\}`` (unordered); ``(1, 2)``, ``[1, 2)``, ``(-\\infty, 3]`` (ordered, with brackets)."""

    kind: Literal["unordered", "ordered"]
    brackets: str
    items: tuple[Number, ...]
    variable: str = ""  # "x = 2, x = 5": the roots of one variable


def parse_group(text: str, *, decimal_comma: bool = True) -> Group | None:
    """A flat collection of numbers, or None (a number alone is a group of one)."""
    s = _DROP.sub("", strip_math_delimiters(text)).strip().rstrip(".").strip()
    if len(s) > MAX_CHARS * 2:
        return None
    number = parse_number(s, decimal_comma=decimal_comma)
    if number is not None:
        return Group("unordered", "", (number,), number.variable)
    if s.startswith("\\{") and s.endswith("\\}"):
        kind, brackets, inner = "unordered", "{}", s[2:-2]
    elif s[:1] in "([" and s[-1:] in ")]":
        kind, brackets, inner = "ordered", s[0] + s[-1], s[1:-1]
    else:
        kind, brackets, inner = "unordered", "", _LIST_WORDS.sub(",", s)  # "x = 2 \\text{ or } x = 5"
    parts = _split_top_level(inner)
    if parts is None or len(parts) < 2 or len(parts) > MAX_ITEMS:
        return None
    items: list[Number] = []
    for part in parts:
        infinity = _INFINITY.get(part.replace(" ", ""))
        item = Number(infinity) if infinity is not None else parse_number(part)
        if item is None or item.percent:
            return None
        items.append(item)
    if len({item.variable for item in items if item.variable}) > 1:
        return None  # "x = 1, y = 2" is a system, not a list of roots
    variable = next((item.variable for item in items if item.variable), "")
    return Group(kind, brackets, tuple(items), variable)  # type: ignore[arg-type]


def groups_equal(gold: Group, pred: Group, rel_tol: float | None = None) -> bool | None:
    """Whether two groups are the same answer; None when their kinds or variables differ (sympy decides)."""
    if gold.variable and pred.variable and gold.variable != pred.variable:
        return None
    if len(gold.items) != len(pred.items) and min(len(gold.items), len(pred.items)) == 1:
        return False  # one value against a pair, an interval or a list
    if gold.kind != pred.kind:
        return None
    if len(gold.items) != len(pred.items):
        return False
    if gold.kind == "ordered":
        return gold.brackets == pred.brackets and all(
            equal(g, p, rel_tol) for g, p in zip(gold.items, pred.items, strict=True)
        )
    unmatched = list(pred.items)
    for g in gold.items:
        match = next((i for i, p in enumerate(unmatched) if equal(g, p, rel_tol)), None)
        if match is None:
            return False
        unmatched.pop(match)
    return True


def _split_top_level(text: str) -> list[str] | None:
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts if depth == 0 and all(parts) else None


# --- the evaluator -------------------------------------------------------------------------------


class _NotSimple(Exception):
    """Outside the fast path's grammar."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<cmd>\\[A-Za-z]+)|(?P<op>[-+*/^(){}\[\]!])|(?P<pi>π)|(?P<imag>i(?![A-Za-z]))|(?P<var>[a-dA-Df-hF-HJ-Zj-z]))"
)


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|implicit) unary)* ;
    unary := ('-'|'+') unary | power ; power := postfix ('^' unary_atom)? ; postfix := atom '!'?"""

    def __init__(self, text: str, env: dict[str, Fraction] | None = None) -> None:
        self.env = env  # values of the variables; without it a variable is outside the grammar
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip():
                    raise _NotSimple
                break
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.approximate = False
        self.largest = 0.0

    def parse(self) -> tuple[Value, bool] | None:
        if not self.tokens:
            return None
        value = self.expr()
        if self.i != len(self.tokens):
            raise _NotSimple
        if isinstance(value, complex):
            if not cmath.isfinite(value):
                raise TooLarge("not a finite number")
            if value.imag == 0:
                value = value.real
        if isinstance(value, (float, complex)):
            if isinstance(value, float) and not math.isfinite(value):
                raise TooLarge("not a finite number")
            if self.largest > _CANCELLATION * max(abs(value), 1e-300):
                raise _NotSimple  # cancellation: let sympy decide
        return value, self.approximate

    # token helpers
    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[1] == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.take(text):
            raise _NotSimple

    def note(self, value: Value) -> Value:
        if isinstance(value, Fraction):
            if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_EXACT_BITS:
                raise TooLarge("number too large")
        else:
            self.largest = max(self.largest, abs(value))
        return value

    # grammar
    def expr(self) -> Value:
        value = self.term()
        while True:
            if self.take("+"):
                value = self.note(value + self.term())
            elif self.take("-"):
                value = self.note(value - self.term())
            else:
                return value

    def term(self) -> Value:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok is None:
                return value
            if tok[1] in ("*", "\\cdot", "\\times"):
                self.i += 1
                value = self.note(value * self.unary())
            elif tok[1] in ("/", "\\div"):
                self.i += 1
                value = self.note(_divide(value, self.unary()))
            elif tok[0] in ("pi", "imag", "var") or tok[1] in ("\\pi", "\\sqrt", "\\frac", "(", "{"):
                value = self.note(value * self.power())  # implicit product: 3\sqrt{2}, 2\pi, 2(3)
            else:
                return value

    def unary(self) -> Value:
        if self.take("-"):
            return -self.unary()
        if self.take("+"):
            return self.unary()
        return self.power()

    def power(self) -> Value:
        base = self.postfix()
        if not self.take("^"):
            return base
        exponent = self.exponent()
        return self.note(_power(base, exponent))

    def braced(self) -> Value | None:
        """A ``{…}`` group's value, or None when the next token does not open one."""
        if not self.take("{"):
            return None
        value = self.expr()
        self.expect("}")
        return value

    def exponent(self) -> Value:
        group = self.braced()
        if group is not None:
            return group
        tok = self.peek()
        if tok is None:
            raise _NotSimple
        if tok[0] == "num" and tok[1].isdigit():
            # "2^10" in LaTeX is 2^1 followed by 0; only a single digit is the exponent
            self.i += 1
            if len(tok[1]) > 1:
                raise _NotSimple
            return Fraction(int(tok[1]))
        if tok[1] == "-":
            self.i += 1
            return -self.exponent()
        return self.postfix()

    def postfix(self) -> Value:
        value = self.atom()
        if self.take("!"):
            if not (isinstance(value, Fraction) and value.denominator == 1 and value >= 0):
                raise _NotSimple
            if value > MAX_FACTORIAL:
                raise TooLarge(f"factorial of {value} is too large")
            return self.note(Fraction(math.factorial(int(value))))
        return value

    def atom(self) -> Value:
        tok = self.peek()
        if tok is None:
            raise _NotSimple
        kind, text = tok
        self.i += 1
        if kind == "num":
            if "." in text or "e" in text or "E" in text:
                self.approximate = True
                mantissa, _, exp = text.lower().partition("e")
                if exp and abs(int(exp)) > MAX_EXPONENT:
                    raise TooLarge("exponent too large")
                return self.note(Fraction(mantissa) * Fraction(10) ** int(exp or 0))
            return self.note(Fraction(int(text)))
        if kind == "pi" or text == "\\pi":
            return math.pi
        if kind == "imag":
            return 1j
        if kind == "var":
            if self.env is None:
                raise _NotSimple
            return self.env[text]
        if text in ("(", "{", "["):
            closing = {"(": ")", "{": "}", "[": "]"}[text]
            if text == "[":
                raise _NotSimple  # an interval end, not a grouping
            value = self.expr()
            self.expect(closing)
            return value
        if text == "\\frac":
            return self.note(_divide(self.argument(), self.argument()))
        if text == "\\sqrt":
            index: Value = Fraction(2)
            if self.take("["):
                index = self.expr()
                self.expect("]")
            return self.note(_root(self.argument(), index))
        raise _NotSimple

    def argument(self) -> Value:
        """A command's argument: ``{…}`` or a single digit (``\\frac12``)."""
        group = self.braced()
        if group is not None:
            return group
        tok = self.peek()
        if tok is None:
            raise _NotSimple
        if tok[0] == "num" and tok[1].isdigit():
            digits = tok[1]
            if len(digits) == 1:
                self.i += 1
                return Fraction(int(digits))
            # "\frac12": the first digit is this argument, the rest stays for the next one
            self.tokens[self.i] = ("num", digits[1:])
            return Fraction(int(digits[0]))
        if tok[1] == "\\pi" or tok[0] == "pi":
            self.i += 1
            return math.pi
        raise _NotSimple


def _divide(a: Value, b: Value) -> Value:
    if b == 0:
        raise _NotSimple  # 1/0: sympy's zoo, or an error; not the fast path's call
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a / b
    if isinstance(a, complex) or isinstance(b, complex):
        return complex(a) / complex(b)
    return float(a) / float(b)


def magnitude(x: Value) -> float:
    """|x| as a float; inf when it is beyond floating point."""
    try:
        return abs(complex(x)) if isinstance(x, complex) else abs(float(x))
    except OverflowError:
        return math.inf


def _power(base: Value, exponent: Value) -> Value:
    if magnitude(exponent) > MAX_EXPONENT:
        if base in (0, 1):
            return base
        raise TooLarge(f"exponent {magnitude(exponent):g} is too large")
    if isinstance(base, complex) or isinstance(exponent, complex):
        if not (isinstance(exponent, Fraction) and exponent.denominator == 1 and abs(exponent) <= 64):
            raise _NotSimple
        return complex(base) ** int(exponent)
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        if base == 0 and exponent <= 0:
            raise _NotSimple  # 0^0, 0^-1
        if isinstance(base, Fraction):
            bits = max(base.numerator.bit_length(), base.denominator.bit_length())
            if bits * abs(int(exponent)) > MAX_EXACT_BITS:
                raise TooLarge("power too large")
            return base ** int(exponent)
        return float(base) ** int(exponent)
    if base < 0:
        raise _NotSimple  # a complex value
    if isinstance(base, Fraction) and isinstance(exponent, Fraction):
        return _root(_power(base, Fraction(exponent.numerator)), Fraction(exponent.denominator))
    return float(float(base) ** float(exponent))


def _root(value: Value, index: Value) -> Value:
    if isinstance(value, complex):
        raise _NotSimple
    if not (isinstance(index, Fraction) and index.denominator == 1 and 2 <= index <= 64):
        raise _NotSimple
    n = int(index)
    if value < 0:
        if n % 2 == 0:
            raise _NotSimple  # an imaginary root
        return -_root(-value, index)
    if isinstance(value, Fraction):
        num, den = _exact_root(value.numerator, n), _exact_root(value.denominator, n)
        if num is not None and den is not None:
            return Fraction(num, den)
    return float(float(value) ** (1.0 / n))


def _exact_root(x: int, n: int) -> int | None:
    if x.bit_length() > MAX_EXACT_BITS:
        raise TooLarge("number too large")
    r = round(x ** (1.0 / n)) if x < 2**1000 else math.isqrt(x) if n == 2 else None
    if r is None:
        return None
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**n == x:
            return c
    return None
