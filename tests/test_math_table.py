"""The `math` verifier against the contract table in ``math_table.py``.

``test_case`` checks our verdict for every case; ``test_raw_math_verify_difference`` checks that the
table's ``mv`` notes mark exactly the cases where raw Math-Verify disagrees with the expected score.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from math_table import CASES, Case
from math_verify import parse, verify

from rlvr_client.models import Status
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers.math import MathParams, MathVerifier

CATEGORIES = (
    "integers",
    "fractions",
    "decimals",
    "percentages",
    "latex",
    "expressions",
    "equations",
    "several variables",
    "sets",
    "tuples",
    "intervals",
    "matrices",
    "complex numbers",
    "scientific notation",
    "degrees",
    "text units",
    "multiple choice",
    "plain text",
    "several boxed",
    "no box",
    "answer tags",
    "long think",
    "cut off",
    "gold forms",
    "rel_tol",
    "strict vs lenient",
)
ROUND_TWO = (  # the forms of issue 14: at least MIN_ROUND_TWO cases each
    "several boxes in the gold",
    "formula subjects",
    "answers without digits",
    "choice letters in prose",
    "decimal commas",
    "one variable, several values",
    "display math and labelled parts",
    "other languages",
)
MIN_ROUND_TWO = 15
_HEADER = re.compile(r"^\s*# --- (.+?) ---\s*$")
_CASE_ID = re.compile(r'^\s*Case\("([^"]+)"')
RAW_CASES = [c for c in CASES if not c.params and c.expected is not None]


def _sections() -> dict[str, list[str]]:
    """Case ids under each ``# --- category ---`` header of math_table.py, in file order."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (Path(__file__).parent / "math_table.py").read_text().splitlines():
        if header := _HEADER.match(line):
            current = sections.setdefault(header.group(1), [])
        elif (case := _CASE_ID.match(line)) and current is not None:
            current.append(case.group(1))
    return sections


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    params = MathParams(gold=case.gold, **case.params)
    verdict = MathVerifier().verify_batch([Task(id="t", completion=case.completion, params=params)])[0]
    why = f"{case.comment} | verdict: {verdict.status.value} {verdict.score} {verdict.reason!r} {dict(verdict.details)}"
    if case.expected is None:
        assert verdict.status == Status.ERROR, why
    else:
        assert verdict.status == Status.OK, why
        assert verdict.score == case.expected, why


def _raw_math_verify(case: Case) -> bool:
    try:
        return bool(verify(parse(case.gold), parse(case.completion)))
    except Exception:  # noqa: BLE001 - raw Math-Verify failing is a False verdict
        return False


@pytest.mark.parametrize("case", RAW_CASES, ids=[c.id for c in RAW_CASES])
def test_raw_math_verify_difference(case: Case) -> None:
    raw = _raw_math_verify(case)
    differs = raw != bool(case.expected)
    assert differs == bool(case.mv), f"raw Math-Verify says {raw}, the table expects {case.expected}: " + (
        f"the mv note {case.mv!r} is stale" if case.mv else "add an mv note saying why ours is right"
    )


def test_table_structure() -> None:
    assert len(CASES) >= 420
    ids = [c.id for c in CASES]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, duplicates
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), [i for i in ids if " " in i or "_" in i]
    assert all(c.comment.strip() for c in CASES), [c.id for c in CASES if not c.comment.strip()]
    assert sum(c.expected == 0.0 for c in CASES) >= 30
    assert all(c.expected in (0.0, 1.0, None) for c in CASES)
    assert not [c.id for c in CASES if c.mv and (c.params or c.expected is None)], "mv only where it is tested"
    sections = _sections()
    assert list(sections) == list(CATEGORIES + ROUND_TWO), "math_table.py sections differ from CATEGORIES"
    empty = [name for name, members in sections.items() if not members]
    assert not empty, f"categories without cases: {empty}"
    thin = {name: len(sections[name]) for name in ROUND_TWO if len(sections[name]) < MIN_ROUND_TWO}
    assert not thin, f"round-two forms with fewer than {MIN_ROUND_TWO} cases: {thin}"
    for name in ROUND_TWO:
        wrong = [c for c in CASES if c.id in sections[name] and c.expected == 0.0]
        assert wrong, f"{name}: no near miss that must stay wrong"
    assert sorted(i for members in sections.values() for i in members) == sorted(ids), "every case in one section"
