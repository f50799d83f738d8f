"""The math verifier's fast path on its own: exact values, refusals, groups and expression identity."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rlvr_services.verifiers.numeric import (
    TooLarge,
    equal,
    expressions_equal,
    groups_equal,
    parse_group,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234", Fraction(1234)),  # thousands separators
        ("1{,}000", Fraction(1000)),  # LaTeX-braced separator (Math-Verify reads 1)
        ("1\\,000", Fraction(1000)),  # thin space (Math-Verify reads 1*0)
        ("\\dfrac12", Fraction(1, 2)),  # single-digit \frac arguments
        ("\\$18.00", Fraction(18)),  # dollars
        ("12 \\text{ cm}^2", Fraction(12)),  # a unit with its exponent is dropped, not squared
        ("1.2e5", Fraction(120000)),  # scientific notation (Math-Verify reads 1.2*E*5)
        ("2^{-1}", Fraction(1, 2)),
        ("\\sqrt[3]{27}", Fraction(3)),  # exact roots stay exact
        ("10!", Fraction(3628800)),
    ],
)
def test_exact_values(text: str, value: Fraction) -> None:
    number = parse_number(text)
    assert number is not None and number.value == value


@pytest.mark.parametrize("text", ["x+1", "(1,2)", "2 and 3", "e", "2^10", "\\sin 3", "1/0", "2 pi"])
def test_outside_the_grammar_goes_to_sympy(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize("text", ["10^{10^{10}}", "9^{9^{9^{9}}}", "100000!", "2^{100000}", "1e99999"])
def test_refused_before_evaluation(text: str) -> None:
    with pytest.raises(TooLarge):
        parse_number(text)


def test_rounding_rule_and_tolerance() -> None:
    third, six, four = parse_number("\\frac13"), parse_number("0.333333"), parse_number("0.3333")
    pi, rounded = parse_number("\\pi"), parse_number("3.14")
    assert third and six and four and pi and rounded
    assert equal(third, six) and not equal(third, four)  # 6 decimal places, as Math-Verify
    assert not equal(pi, rounded) and equal(pi, rounded, rel_tol=0.01)
    big, bigger = parse_number("1000000"), parse_number("1000001")
    assert big and bigger and not equal(big, bigger)  # integers get no tolerance by default
    half, percent = parse_number("0.5"), parse_number("50\\%")
    assert half and percent and equal(half, percent)  # 50% reads as 50 or as 0.5


def test_groups() -> None:
    def same(a: str, b: str) -> bool | None:
        ga, gb = parse_group(a), parse_group(b)
        assert ga is not None and gb is not None
        return groups_equal(ga, gb)

    assert same("-3, 2", "2, -3") is True  # a list of roots is unordered
    assert same("\\{1, 2\\}", "\\{2, 1\\}") is True
    assert same("(3, 4)", "(4, 3)") is False  # a pair is ordered
    assert same("[1, 2)", "(1, 2)") is False  # interval ends matter
    assert same("(-\\infty, 3]", "(-\\infty, 3]") is True
    assert same("-7, 9", "9") is False  # one root of two
    assert same("2, 5", "x = 2 \\text{ or } x = 5") is True
    assert same("\\{1, 2\\}", "(1, 2)") is None  # a set against a pair: sympy and the strict rule decide


def test_expression_identity() -> None:
    assert expressions_equal("(x+1)^2", "x^2 + 2x + 1") is True
    assert expressions_equal("x^2 - 1", "(x-1)(x+1)") is True
    assert expressions_equal("y = -4x + 2", "y = 2 - 4x") is True
    assert expressions_equal("y = x + 4", "y = x - 4") is False
    assert expressions_equal("2x + 3", "3") is False  # a number for an expression
    assert expressions_equal("y = 2x", "z = 2x", strict=True) is None  # renamed: Math-Verify decides
    assert expressions_equal("2x", "2y") is None  # other variables
    assert expressions_equal("\\sqrt{x}", "x^{1/2}") is None  # not rational at rational points
    # the same input always gets the same verdict (fixed points, no unseeded randomness)
    assert {expressions_equal("a^3 - b^3", "(a-b)(a^2+ab+b^2)") for _ in range(5)} == {True}


def test_mixed_numbers_and_tiny_decimals() -> None:
    mixed, improper = parse_number("10\\frac{1}{2}"), parse_number("\\frac{21}{2}")
    assert mixed and improper and equal(mixed, improper)  # ten and a half, not 10 * 1/2
    tiny, ten_times_smaller = parse_number("0.00000050"), parse_number("5.0 \\times 10^{-8}")
    assert tiny and ten_times_smaller and not equal(tiny, ten_times_smaller)  # both round to 0.000000


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("99颗", Fraction(99)),  # a CJK counter glued to the number
        ("12个苹果", Fraction(12)),
        ("3人", Fraction(3)),
        ("12개", Fraction(12)),  # Korean counter
        ("12 яблок", Fraction(12)),  # a word in another script
        ("12 élèves", Fraction(12)),  # a Latin word starting with an accent
        ("15 Äpfel", Fraction(15)),
        ("18 quả táo", Fraction(18)),  # Vietnamese: diacritics inside the words
        ("12'dir", Fraction(12)),  # a Turkish suffix after an apostrophe
        ("3,5", Fraction(7, 2)),  # a decimal comma
        ("1000,99", Fraction(100099, 100)),
        ("0,111", Fraction(111, 1000)),
        ("3{,}5", Fraction(7, 2)),  # LaTeX's decimal comma
        ("1,222", Fraction(1222)),  # three digits after a short group: thousands
    ],
)
def test_numbers_as_the_world_writes_them(text: str, value: Fraction) -> None:
    number = parse_number(text)
    assert number is not None and number.value == value


def test_words_that_are_not_units() -> None:
    assert parse_number("2θ") is None  # a Greek letter glued to a number is a variable, not a word
    pi = parse_number("3π")
    assert pi is not None and abs(float(pi.value) - 3 * 3.141592653589793) < 1e-12
    assert parse_number("3,5", decimal_comma=False) is None  # as the item separator of a list
    pair = parse_group("1,2", decimal_comma=False)
    assert pair is not None and [i.value for i in pair.items] == [1, 2]
    single = parse_group("1,2")
    assert single is not None and [i.value for i in single.items] == [Fraction(6, 5)]
