"""The stage-3 filters `long_paragraphs` and `code_in_reasoning` on R1-style completions."""

from __future__ import annotations

from typing import Any

import pytest

from rlvr_client import InvalidRequest, RewardClient, Status
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers.code_in_reasoning import CodeInReasoningParams, CodeInReasoningVerifier
from rlvr_services.verifiers.long_paragraphs import LongParagraphsParams, LongParagraphsVerifier, paragraph_lengths

PROSE = "We need the sum of the first ten integers. The formula n(n+1)/2 gives 55, and adding them confirms it."
LONG = " ".join(["word"] * 320)
PY_BLOCK = "```python\ndef f(n):\n    return n * (n + 1) // 2\n```"
CODE_LINES = "def total(n):\n    s = 0\n    for i in range(n + 1):\n        s = s + i\n    return s"
JS_LINES = "let s = 0;\nfor (let i = 1; i <= 10; i++) {\n  s += i;\n}"
MATH = "So x = 3 + 4, which is 7.\nThen y = 2 * x = 14.\n\\[ y = 2x \\]\nSo the answer is 14."


@pytest.mark.parametrize(("completion", "params", "score", "why"), [
    # short paragraphs in the reasoning
    (f"<think>{PROSE}\n\n{PROSE}</think>55", {}, 1.0, ""),
    # one wall of text in the reasoning
    (f"<think>{PROSE}\n\n{LONG}</think>55", {}, 0.0, "1 paragraph(s) over 300 words (longest 320)"),
    # a long answer does not count with the default scope
    (f"<think>{PROSE}</think>{LONG}", {}, 1.0, ""),
    # ... but does with scope=all
    (f"<think>{PROSE}</think>{LONG}", {"scope": "all"}, 0.0, "1 paragraph(s) over 300 words (longest 338)"),
    # the threshold is a param
    (f"<think>{PROSE}</think>x", {"max_words": 10}, 0.0, "1 paragraph(s) over 10 words (longest 19)"),
    # a prefilled <think>: the reasoning starts the completion
    (f"{PROSE}\n\n{LONG}</think>55", {}, 0.0, "1 paragraph(s) over 300 words (longest 320)"),
])
def test_long_paragraphs(completion: str, params: dict[str, Any], score: float, why: str) -> None:
    verdict = LongParagraphsVerifier().verify(Task("x", completion, LongParagraphsParams(**params)))
    assert (verdict.status, verdict.score, verdict.reason) == (Status.OK, score, why)


def test_long_paragraphs_without_think_is_not_applicable() -> None:
    verdict = LongParagraphsVerifier().verify(Task("x", "just an answer", LongParagraphsParams()))
    assert verdict.status is Status.NOT_APPLICABLE


def test_paragraph_lengths() -> None:
    assert paragraph_lengths("a b\nc\n\n\n d e f \n\n") == [3, 3]
    assert paragraph_lengths("") == []


@pytest.mark.parametrize(("completion", "params", "score"), [
    # plain prose reasoning
    (f"<think>{PROSE}</think>55", {}, 1.0),
    # prose with inline math and a LaTeX display line
    (f"<think>{MATH}</think>14", {}, 1.0),
    # a fenced block in the reasoning
    (f"<think>{PROSE}\n{PY_BLOCK}\n</think>55", {}, 0.0),
    # unfenced Python in the reasoning
    (f"<think>{PROSE}\n{CODE_LINES}\n</think>55", {}, 0.0),
    # unfenced JavaScript in the reasoning
    (f"<think>{JS_LINES}</think>55", {}, 0.0),
    # code in the answer is fine with the default scope
    (f"<think>{PROSE}</think>\n{PY_BLOCK}", {}, 1.0),
    # ... not with scope=all
    (f"<think>{PROSE}</think>\n{PY_BLOCK}", {"scope": "all"}, 0.0),
    # two code-like lines are below the default run of three
    ("<think>Let me write s = a + b;\nand t = s * 2;\nthen stop.</think>x", {}, 1.0),
    # ... and above a run of two
    ("<think>Let me write s = a + b;\nand t = s * 2;\nthen stop.</think>x", {"min_lines": 1}, 0.0),
])
def test_code_in_reasoning(completion: str, params: dict[str, Any], score: float) -> None:
    verdict = CodeInReasoningVerifier().verify(Task("x", completion, CodeInReasoningParams(**params)))
    assert (verdict.status, verdict.score) == (Status.OK, score), verdict
    if score == 0.0:
        assert verdict.reason


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("long_paragraphs", {"max_words": 0}, "max_words"),
        ("long_paragraphs", {"scope": "answer"}, "scope"),
        ("code_in_reasoning", {"min_lines": 0}, "min_lines"),
        ("code_in_reasoning", {"lines": 3}, "lines"),
    ],
)
def test_bad_params_are_422(gateway_url: str, name: str, params: dict[str, Any], field: str) -> None:
    with RewardClient(gateway_url) as client, pytest.raises(InvalidRequest) as info:
        client.score([{"id": "a", "completion": "<think>x</think>y", "rewards": [{"name": name, "params": params}]}])
    assert f"items[0].rewards[0].params.{field}" in str(info.value)


def test_filters_through_the_gateway(gateway_url: str) -> None:
    item = {
        "id": "a",
        "completion": f"<think>{PROSE}\n{CODE_LINES}\n</think>55",
        "rewards": [{"name": "long_paragraphs"}, {"name": "code_in_reasoning"}],
    }
    with RewardClient(gateway_url) as client:
        (result,) = client.score([item])
    assert [(c.name, c.score) for c in result.components] == [("long_paragraphs", 1.0), ("code_in_reasoning", 0.0)]
