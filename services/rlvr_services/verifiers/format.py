"""The ``format`` verifier: DeepSeek-R1's ``<think>reasoning</think>answer`` layout.

Only ``str.count``/``find``/``strip`` are used, so a multi-megabyte completion is checked in
linear time (no regular expression that could backtrack).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .extract import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN


class FormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefilled_think: bool = Field(
        default=False,
        description=(
            "The chat template already put <think> in the prompt, so the completion starts inside the "
            "reasoning and only closes it with </think> (a leading <think> is accepted too). Default false."
        ),
    )
    require_answer_tags: bool = Field(
        default=False,
        description="The answer after </think> must be exactly one non-empty <answer>…</answer>. Default false.",
    )


@register
class FormatVerifier:
    """1.0 when the completion is one non-empty think section followed by a non-empty answer."""

    name: ClassVar[str] = "format"
    description: ClassVar[str] = (
        "R1 format: exactly one <think>…</think> with non-empty reasoning, then a non-empty answer "
        "(optionally in <answer> tags); handles templates that prefill <think>. 1.0 or 0.0."
    )
    params_model: ClassVar[type[BaseModel]] = FormatParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        verdicts = []
        for task in tasks:
            params = task.params
            if not isinstance(params, FormatParams):
                raise TypeError(f"format params must be FormatParams, not {type(params).__name__}")
            problem = format_problem(task.completion, params)
            verdicts.append(Verdict.ok(0.0, problem) if problem else Verdict.ok(1.0))
        return verdicts


def format_problem(completion: str, params: FormatParams) -> str:
    """What is wrong with the completion's layout; empty when it is well formed."""
    opens, closes = completion.count(THINK_OPEN), completion.count(THINK_CLOSE)
    body = completion.lstrip()
    prefilled = params.prefilled_think and not body.startswith(THINK_OPEN)
    if prefilled:
        if opens:
            return f"{_count(opens, THINK_OPEN)} after a prefilled <think>"
    elif opens == 0:
        return "no <think> opening tag"
    elif opens > 1:
        return _count(opens, THINK_OPEN)
    elif not body.startswith(THINK_OPEN):
        return "text before <think>"
    if closes == 0:
        return "no </think> closing tag"
    if closes > 1:
        return _count(closes, THINK_CLOSE)
    start = 0 if prefilled else len(THINK_OPEN)
    end = body.find(THINK_CLOSE)
    if not body[start:end].strip():
        return "empty reasoning in <think>…</think>"
    answer = body[end + len(THINK_CLOSE) :].strip()
    if not answer:
        return "empty answer after </think>"
    return _answer_tags_problem(answer) if params.require_answer_tags else ""


def _answer_tags_problem(answer: str) -> str:
    opens, closes = answer.count(ANSWER_OPEN), answer.count(ANSWER_CLOSE)
    if opens == 0:
        return "no <answer> tag after </think>"
    if opens > 1:
        return _count(opens, ANSWER_OPEN)
    if closes == 0:
        return "no </answer> closing tag"
    if closes > 1:
        return _count(closes, ANSWER_CLOSE)
    if not answer.startswith(ANSWER_OPEN) or not answer.endswith(ANSWER_CLOSE):
        return "text outside <answer>…</answer> after </think>"
    if not answer[len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip():
        return "empty <answer></answer>"
    return ""


def _count(n: int, tag: str) -> str:
    return f"{n} {tag} tag{'s' if n > 1 else ''}"
