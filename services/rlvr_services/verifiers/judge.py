"""The ``judge`` verifier (R1 stage 3): a model judges the completion's answer, against a reference.

The question is the item's prompt (or ``question``); the answer is the completion's text after its
last ``</think>`` (``answer_scope``). The built-in templates are the R1-style equivalence check
and a quality check with or without the reference; a custom template names its placeholders and
its labels (best first). With ``rule_first: "math"`` the math verifier decides first and the judge
is asked only when it cannot confirm the answer. ``swap`` judges with reference and answer in both
places and counts a vote only when both agree; ``samples`` is k votes; the score is their mean.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from rlvr_client.models import Status

from ..judging.calls import CallLog, SamplingParams, ask_label, check_length
from ..judging.templates import BUILTIN, Template, custom, neutralise
from ..runtime.aio import verify_batch_sync
from ..runtime.jobs import Job
from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text

CUSTOM_FIELDS = ("question", "reference", "answer")


class JudgeParams(SamplingParams):
    reference: str | list[str] | None = Field(
        default=None, description="The reference answer, or several of which any may match. Needed by equivalence."
    )
    question: str | None = Field(default=None, description="The question; the item's prompt when absent.")
    template: Literal["equivalence", "quality", "quality_reference", "custom"] = Field(
        default="equivalence",
        description="equivalence (R1 stage 3: same answer as the reference?), quality, quality_reference, or custom.",
    )
    custom_template: str | None = Field(
        default=None,
        max_length=20_000,
        description="With template custom: the judge's prompt, with {question}, {reference} and {answer} filled "
        "in one pass; it must ask for a final line 'VERDICT: <label>'.",
    )
    labels: list[str] = Field(
        default_factory=lambda: ["YES", "NO"],
        min_length=2,
        max_length=8,
        description="With template custom: the verdict labels, the passing one first.",
    )
    answer_scope: Literal["answer", "all"] = Field(
        default="answer", description="answer (default): the text after the last </think>; all: the whole completion."
    )
    rule_first: Literal["math"] | None = Field(
        default=None, description='"math": the math verifier decides first; the judge only when it cannot confirm.'
    )
    swap: bool = Field(default=False, description="Judge with reference and answer swapped too; pass only if both do.")

    @model_validator(mode="after")
    def _consistent(self) -> JudgeParams:
        if self.template == "custom":
            if not self.custom_template:
                raise ValueError("template custom needs custom_template")
            unknown = set(custom(self.custom_template, self.labels).placeholders()) - set(CUSTOM_FIELDS)
            if unknown:
                raise ValueError(f"custom_template has unknown placeholders {sorted(unknown)}; use {CUSTOM_FIELDS}")
            if len({label.upper() for label in self.labels}) != len(self.labels) or not all(
                label.strip() for label in self.labels
            ):
                raise ValueError("labels must be distinct and not empty")
        if self.template in ("equivalence", "quality_reference") and not self.reference:
            raise ValueError(f"template {self.template} needs a reference")
        if self.rule_first and not self.reference:
            raise ValueError("rule_first needs a reference")
        if self.swap and not self.reference:
            raise ValueError("swap needs a reference (it swaps the reference and the answer)")
        return self

    def the_template(self) -> Template:
        if self.template == "custom":
            assert self.custom_template is not None
            return custom(self.custom_template, self.labels)
        return BUILTIN[self.template]

    def references(self) -> list[str]:
        if self.reference is None:
            return [""]
        return [self.reference] if isinstance(self.reference, str) else list(self.reference)


async def _math_confirms(task: Task, references: Sequence[str], deadline: float) -> Verdict | None:
    """The math verifier's ``ok 1.0`` for some reference, else None (it could not confirm)."""
    from ..runtime.runners import shared_runner

    runner = shared_runner("math")
    left = max(0.01, deadline - time.monotonic())
    jobs = [
        Job(f"{task.id}:math{k}", task.completion, {"gold": ref}, left, task.prompt) for k, ref in enumerate(references)
    ]
    futures = runner.submit(jobs)
    verdicts = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
    for ref, verdict in zip(references, verdicts, strict=True):
        if verdict.status is Status.OK and verdict.score == 1.0:
            return Verdict.ok(1.0, "the math verifier confirmed the answer", decided_by="math", reference=ref)
    return None


@register
class JudgeVerifier:
    """A pointwise model judge: 1/0 (or the mean of the votes) for the completion's answer."""

    name: ClassVar[str] = "judge"
    description: ClassVar[str] = (
        "LLM judge (R1 stage 3): does the completion's final answer match the reference (equivalence), or is it "
        "good (quality)? Score 1/0, or the mean of `samples` votes. A backend failure, a truncated or unparseable "
        "reply is error/timeout, never 0. Needs a backend in the server's settings."
    )
    params_model: ClassVar[type[BaseModel]] = JudgeParams
    execution: ClassVar[Execution] = Execution.ASYNC
    default_timeout_s: ClassVar[float] = 120.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return verify_batch_sync(self, tasks, self.default_timeout_s)

    async def averify(self, task: Task, deadline: float) -> Verdict:
        params = task.params
        assert isinstance(params, JudgeParams)
        references = params.references()
        if params.rule_first == "math":
            confirmed = await _math_confirms(task, references, deadline)
            if confirmed is not None:
                return confirmed
        scoped = scoped_text(task.completion, Scope(params.answer_scope))
        if scoped.text is None or not scoped.text.strip():
            return Verdict.ok(0.0, scoped.missing or "the completion has no answer", decided_by="rule")
        answer = scoped.text.strip()
        for what, text in (("answer", answer), *((f"reference {k}", r) for k, r in enumerate(references))):
            check_length(what, text, params)
        template = params.the_template()
        labels = template.labels
        safe_answer = neutralise(answer, labels)
        question = params.question if params.question is not None else task.prompt
        log = CallLog()

        async def vote(k: int) -> tuple[bool, list[str]]:
            """One vote: the answer passes for some reference (in both orders with swap)."""
            said: list[str] = []
            for ref in references:
                orders = [(ref, safe_answer)]
                if params.swap:
                    orders.append((neutralise(answer, labels), ref))
                verdicts = await asyncio.gather(
                    *(
                        ask_label(
                            params,
                            template.render({"question": question, "reference": r, "answer": a}),
                            labels,
                            labels[-1],
                            k,
                            deadline,
                            log,
                        )
                        for r, a in orders
                    )
                )
                said.extend(verdicts)
                if all(v == labels[0] for v in verdicts):
                    return True, said
            return False, said

        votes = await asyncio.gather(*(vote(k) for k in range(params.samples)))
        passed = [ok for ok, _ in votes]
        score = sum(passed) / len(passed)
        details: dict[str, Any] = {
            "verdict": labels[0] if score >= 0.5 else labels[-1],
            "votes": [said for _, said in votes],
            "decided_by": "judge",
            **log.details(),
        }
        return Verdict.ok(score, **details)
