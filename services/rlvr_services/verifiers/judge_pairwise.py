"""The ``judge_pairwise`` verifier: the completion against a baseline response, judged in both orders.

Position bias is the known weakness of pairwise judges, so both orders are always asked: the
completion as response A and then as response B. A vote is a win only when both orders say so, a
loss likewise, and anything else (disagreement, or a TIE) is a tie. Score 1 / 0.5 / 0 per vote,
averaged over ``samples``; ``details.position_consistent`` says whether the orders agreed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ..judging.calls import CallLog, SamplingParams, ask_label, check_length
from ..judging.templates import PAIRWISE, Template, custom, neutralise
from ..runtime.aio import verify_batch_sync
from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text

_WIN, _TIE, _LOSS = 1.0, 0.5, 0.0


class PairwiseParams(SamplingParams):
    baseline: str = Field(min_length=1, description="The response the completion is compared with.")
    question: str | None = Field(default=None, description="The question; the item's prompt when absent.")
    answer_scope: Literal["answer", "all"] = Field(
        default="answer",
        description="answer (default): the text after the last </think>, of the completion and the baseline; all.",
    )
    custom_template: str | None = Field(
        default=None,
        max_length=20_000,
        description="A prompt with {question}, {answer_a} and {answer_b}, asking for 'VERDICT: A', 'B' or 'TIE'.",
    )

    @model_validator(mode="after")
    def _known_placeholders(self) -> PairwiseParams:
        if self.custom_template is not None:
            unknown = custom(self.custom_template, PAIRWISE.labels).placeholders() - {
                "question",
                "answer_a",
                "answer_b",
            }
            if unknown:
                raise ValueError(f"custom_template has unknown placeholders {sorted(unknown)}")
        return self

    def the_template(self) -> Template:
        return custom(self.custom_template, PAIRWISE.labels) if self.custom_template else PAIRWISE


def _answer(text: str, scope: str) -> str:
    scoped = scoped_text(text, Scope(scope))
    return (scoped.text or "").strip()


@register
class JudgePairwiseVerifier:
    name: ClassVar[str] = "judge_pairwise"
    description: ClassVar[str] = (
        "Pairwise LLM judge: the completion against params.baseline, judged in both orders; 1 win, 0.5 tie or "
        "disagreement between the orders, 0 loss (mean over samples). Needs a backend in the server's settings."
    )
    params_model: ClassVar[type[BaseModel]] = PairwiseParams
    execution: ClassVar[Execution] = Execution.ASYNC
    default_timeout_s: ClassVar[float] = 120.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return verify_batch_sync(self, tasks, self.default_timeout_s)

    async def averify(self, task: Task, deadline: float) -> Verdict:
        params = task.params
        assert isinstance(params, PairwiseParams)
        mine = _answer(task.completion, params.answer_scope)
        if not mine:
            return Verdict.ok(_LOSS, "the completion has no answer", decided_by="rule")
        theirs = _answer(params.baseline, params.answer_scope)
        for what, text in (("answer", mine), ("baseline", theirs)):
            check_length(what, text, params)
        template = params.the_template()
        labels = template.labels
        mine_safe, theirs_safe = neutralise(mine, labels), neutralise(theirs, labels)
        question = params.question if params.question is not None else task.prompt
        log = CallLog()

        async def order(k: int, first: bool) -> float:
            a, b = (mine_safe, theirs_safe) if first else (theirs_safe, mine_safe)
            messages = template.render({"question": question, "answer_a": a, "answer_b": b})
            worst = "B" if first else "A"  # an opted-in unparseable reply counts as a loss
            label = await ask_label(params, messages, labels, worst, k, deadline, log)
            if label == "TIE":
                return _TIE
            return _WIN if (label == "A") == first else _LOSS

        async def vote(k: int) -> tuple[float, list[float]]:
            both = await asyncio.gather(order(k, True), order(k, False))
            return (both[0] if both[0] == both[1] else _TIE), list(both)

        votes = await asyncio.gather(*(vote(k) for k in range(params.samples)))
        score = sum(v for v, _ in votes) / len(votes)
        consistent = all(orders[0] == orders[1] for _, orders in votes)
        return Verdict.ok(
            score,
            votes=[v for v, _ in votes],
            orders=[orders for _, orders in votes],
            position_consistent=consistent,
            decided_by="judge",
            **log.details(),
        )
