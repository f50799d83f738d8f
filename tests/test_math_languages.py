"""The `math` verifier's answer phrases in every language the `language` verifier supports.

A sweep over ``answer_phrases.toml`` (the project does not use hypothesis): for each language, each
of its phrases and labels, as written and capitalised, states a value after reasoning with other
numbers and before a check line with other numbers. The stated value must score 1 against its gold
and 0 against another, so the phrase (not the last line) decides. Plus the pieces the phrases rely
on: full-width folding, decimal commas, word boundaries.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import pytest

from rlvr_client.models import Status
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers import numerals, statement
from rlvr_services.verifiers.langdetect_text import SUPPORTED
from rlvr_services.verifiers.math import MathParams, MathVerifier
from rlvr_services.verifiers.phrasebook import PHRASES, TABLE_FILE, lowered

TABLE: dict[str, Any] = tomllib.loads(
    resources.files("rlvr_services.verifiers").joinpath(TABLE_FILE).read_text(encoding="utf-8")
)
BEFORE = "We have 3 + 4 = 7 and 7 × 2 = 14, so 14 - 5 = 9.\n"
AFTER = "\n(14 + 27 = 41, 41 - 1 = 40.)"
# (written, gold, a wrong gold): integers, a negative, a decimal, a fraction in $…$
VALUES = [("42", "42", "43"), ("-17", "-17", "17"), ("12.5", "12.5", "125"), ("$\\frac{3}{4}$", "0.75", "0.5")]
VERIFIER = MathVerifier()


def _score(completion: str, gold: str) -> float | None:
    verdict = VERIFIER.verify_batch([Task(id="t", completion=completion, params=MathParams(gold=gold))])[0]
    assert verdict.status == Status.OK, verdict.reason
    return verdict.score


def _statements(spec: dict[str, Any]) -> list[str]:
    """Each phrase and label ("Answer:") of a language, as in the table and capitalised."""
    said = [*spec["phrases"], *(f"{label}:" for label in spec["labels"])]
    return sorted({form for s in said for form in (s, s[:1].upper() + s[1:])})


def test_every_supported_language_has_a_table() -> None:
    assert sorted(TABLE) == sorted(SUPPORTED)
    assert PHRASES.languages == tuple(TABLE)
    for code, spec in TABLE.items():
        assert spec["phrases"] and spec["labels"] and spec["copulas"], code


@pytest.mark.parametrize("code", sorted(TABLE))
def test_answer_phrase_states_the_answer(code: str) -> None:
    misses = []
    for said in _statements(TABLE[code]):
        for written, gold, wrong in VALUES:
            completion = f"{BEFORE}{said} {written}.{AFTER}"
            right_score, wrong_score = _score(completion, gold), _score(completion, wrong)
            if (right_score, wrong_score) != (1.0, 0.0):
                misses.append(f"{completion!r}: {right_score} against {gold}, {wrong_score} against {wrong}")
    assert not misses, "\n".join(misses)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("答案：１２。", "答案:12. "),
        ("１，２", "1, 2"),
        ("الإجابة ٤٥", "الإجابة 45"),
        ("x² + y³", "x^2 + y^3"),
        ("it’s Ｂ", "it's B"),
        ("उत्तर ३६ है।", "उत्तर 36 है. "),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert numerals.fold(text) == folded


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("1000,99", "1000.99"),  # four digits before the comma
        ("0,111", "0.111"),  # a leading 0
        ("1,22", "1.22"),  # two digits after it
        ("-3,5", "-3.5"),
        ("1,222", "1,222"),  # thousands: exactly three digits after a 1-3 digit group
        ("12,500", "12,500"),
        ("1,2,3", "1,2,3"),  # several commas: a list
        ("(3,4)", "(3,4)"),  # inside brackets: a pair
        ("1, 2", "1, 2"),  # a space after the comma: a list
        ("x = 1,5", "x = 1.5"),
    ],
)
def test_decimal_comma(text: str, read: str) -> None:
    assert numerals.decimal_comma(text) == read
    assert numerals.has_decimal_comma(text) == (read != text)


def test_phrases_stand_at_word_boundaries() -> None:
    assert [m.group() for m in PHRASES.copula.finditer(lowered("This is 5"))] == ["is"]  # not the "is" of "This"
    assert [m.group() for m in PHRASES.phrase.finditer(lowered("所以答案是12"))] == ["答案是"]  # glued script
    assert list(PHRASES.phrase.finditer(lowered("Canswer is 5"))) == []
    assert [m.group() for m in PHRASES.phrase.finditer(lowered("The final answer is 3"))] == ["final answer is"]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("**Final Answer:** The largest $n$ is 34.", "34"),
        ("The answer is $7$, which is 2 more than 5.", "7"),
        ("So $p = -1$ and $p = \\frac{15}{8}$.", "p = -1, p = \\frac{15}{8}"),
        ("The answer is $x=2$ and $x = 3$ is extraneous.", "x=2"),
        ("Therefore the count is\n\\[\n9\n\\]", "9"),
        ("There are 12 ways in total.\n$\\blacksquare$", "12"),
        ("Since $f(-x) = -f(x)$, the function is odd.\n$odd$", "odd"),
        ("答案是12个。\n验证：12 - 5 = 7。", "12"),
    ],
)
def test_answer_line(text: str, answer: str) -> None:
    assert statement.answer_line(text) == answer
