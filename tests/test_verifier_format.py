"""The `format` verifier on R1-style completions, well and badly formed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rlvr_client.models import Status
from rlvr_services.runtime.jobs import item_timeout
from rlvr_services.runtime.registry import REGISTRY
from rlvr_services.runtime.verifier import Execution, Task, Verdict
from rlvr_services.verifiers.format import FormatParams, FormatVerifier

REASONING = (
    "Okay, so the question asks for the sum of the first 10 positive integers.\n"
    "I remember the formula n(n+1)/2, so 10 * 11 / 2 = 55. Let me double-check: 1+2+...+10 = 55. Yes.\n"
)
PREFILLED = {"prefilled_think": True}
TAGS = {"require_answer_tags": True}
BOTH = {"prefilled_think": True, "require_answer_tags": True}

# fmt: off
CASES: list[Any] = [
    # the canonical R1 layout
    pytest.param(f"<think>\n{REASONING}</think>\n\nThe sum is $\\boxed{{55}}$.", {}, 1.0, "", id="r1"),
    # leading whitespace before <think> is harmless
    pytest.param(f"\n  <think>{REASONING}</think>The sum is 55.", {}, 1.0, "", id="leading-space"),
    # R1-Zero template with <answer> tags, tags not required
    pytest.param(f"<think>{REASONING}</think>\n<answer>55</answer>", {}, 1.0, "", id="answer-tags-optional"),
    # R1-Zero template with <answer> tags, tags required
    pytest.param(f"<think>{REASONING}</think>\n<answer>55</answer>\n", TAGS, 1.0, "", id="answer-tags-required"),
    # the prompt prefilled <think>: the completion starts inside the reasoning
    pytest.param(f"{REASONING}</think>\n\nThe sum is 55.", PREFILLED, 1.0, "", id="prefilled"),
    # prefilled, but the model wrote <think> again at the start: accepted
    pytest.param(f"<think>\n{REASONING}</think>\n\nThe sum is 55.", PREFILLED, 1.0, "", id="prefilled-repeated-open"),
    # prefilled with required answer tags
    pytest.param(f"{REASONING}</think>\n<answer>55</answer>", BOTH, 1.0, "", id="prefilled-answer-tags"),
    # no think section at all
    pytest.param("The sum is 55.", {}, 0.0, "no <think> opening tag", id="no-think"),
    # cut off while reasoning
    pytest.param(f"<think>\n{REASONING}Now let me also verify with", {}, 0.0, "no </think> closing tag", id="cut-off"),
    # prefilled and cut off while reasoning
    pytest.param(f"{REASONING}Now let me also verify with", PREFILLED, 0.0, "no </think> closing tag",
                 id="prefilled-cut-off"),
    # a prefilled template but the model also opens <think> midway
    pytest.param(f"{REASONING}<think>more</think>55", PREFILLED, 0.0, "1 <think> tag after a prefilled <think>",
                 id="prefilled-extra-open"),
    # without the prefill flag, a prefilled-style completion lacks its opening tag
    pytest.param(f"{REASONING}</think>\n\nThe sum is 55.", {}, 0.0, "no <think> opening tag", id="missing-open"),
    # two think sections
    pytest.param(f"<think>{REASONING}</think>Hmm.<think>again</think>55", {}, 0.0, "2 <think> tags", id="two-thinks"),
    # a stray second closing tag
    pytest.param(f"<think>{REASONING}</think>55</think>", {}, 0.0, "2 </think> tags", id="two-closes"),
    # a preamble before the think section
    pytest.param(f"Sure! <think>{REASONING}</think>55", {}, 0.0, "text before <think>", id="preamble"),
    # empty reasoning
    pytest.param("<think>\n\n</think>\nThe sum is 55.", {}, 0.0, "empty reasoning in <think>…</think>",
                 id="empty-reasoning"),
    # prefilled with empty reasoning
    pytest.param("  </think>The sum is 55.", PREFILLED, 0.0, "empty reasoning in <think>…</think>",
                 id="prefilled-empty-reasoning"),
    # nothing after the reasoning
    pytest.param(f"<think>{REASONING}</think>\n\n", {}, 0.0, "empty answer after </think>", id="empty-answer"),
    # the whole answer written inside the think section
    pytest.param(f"<think>{REASONING}The sum is 55.</think>", {}, 0.0, "empty answer after </think>",
                 id="answer-inside-think"),
    # answer tags required but absent
    pytest.param(f"<think>{REASONING}</think>The sum is 55.", TAGS, 0.0, "no <answer> tag after </think>",
                 id="tags-missing"),
    # answer tags required, cut off before </answer>
    pytest.param(f"<think>{REASONING}</think><answer>55", TAGS, 0.0, "no </answer> closing tag", id="tags-cut-off"),
    # answer tags required, but empty
    pytest.param(f"<think>{REASONING}</think><answer>\n</answer>", TAGS, 0.0, "empty <answer></answer>",
                 id="tags-empty"),
    # answer tags required, with chatter after them
    pytest.param(f"<think>{REASONING}</think><answer>55</answer> Hope this helps!", TAGS, 0.0,
                 "text outside <answer>…</answer> after </think>", id="tags-trailing-text"),
    # answer tags required, two answers
    pytest.param(f"<think>{REASONING}</think><answer>55</answer><answer>56</answer>", TAGS, 0.0,
                 "2 <answer> tags", id="tags-twice"),
    # a reasoning that only looks like it closes: the wrong slash
    pytest.param(f"<think>{REASONING}<\\think>The sum is 55.", {}, 0.0, "no </think> closing tag", id="bad-close"),
]
# fmt: on


def _task(completion: str, params: dict[str, Any]) -> Task:
    return Task(id="t", completion=completion, params=FormatParams.model_validate(params))


def _verdict(completion: str, params: dict[str, Any]) -> Verdict:
    [verdict] = FormatVerifier().verify_batch([_task(completion, params)])
    return verdict


@pytest.mark.parametrize(("completion", "params", "score", "reason"), CASES)
def test_format_cases(completion: str, params: dict[str, Any], score: float, reason: str) -> None:
    verdict = _verdict(completion, params)
    assert (verdict.status, verdict.score, verdict.reason) == (Status.OK, score, reason)


def test_batch_keeps_order() -> None:
    good, bad = f"<think>{REASONING}</think>55", "55"
    verdicts = FormatVerifier().verify_batch([_task(good, {}), _task(bad, {}), _task(good, {})])
    assert [v.score for v in verdicts] == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "completion",
    [
        "<think>" + "a" * 8_000_000 + "</think>answer",  # 8 MB of reasoning
        "<think>" * 1_000_000,  # a million opening tags
        "<" * 4_000_000 + "/think>" + " " * 4_000_000,  # near-misses of the closing tag, then blank answer
        "<think>x</think>" + "<answer>" * 500_000,  # many answer tags
    ],
)
def test_linear_time_on_huge_completions(completion: str) -> None:
    start = time.perf_counter()
    for params in ({}, PREFILLED, BOTH):
        assert _verdict(completion, params).status is Status.OK
    assert time.perf_counter() - start < 5


def test_params_and_registration() -> None:
    assert FormatParams.model_validate({}) == FormatParams(prefilled_think=False, require_answer_tags=False)
    with pytest.raises(ValueError):
        FormatParams.model_validate({"prefill": True})
    schema = FormatParams.model_json_schema()
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert REGISTRY.get_class("format") is FormatVerifier
    assert FormatVerifier.execution is Execution.INLINE
    assert item_timeout(FormatVerifier, FormatParams(), 60.0) == 1.0
