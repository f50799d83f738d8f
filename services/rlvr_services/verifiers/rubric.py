"""The ``rubric`` verifier: weighted criteria, each with ordered choices, graded by a model judge.

A criterion's score is its choice's rank, from 0 (the first, worst choice) to 1 (the last, best).
The item's score is the weighted mean over criteria. ``per_criterion: false`` (default) asks one
structured call for all criteria (``VERDICT: {"criterion": "choice", ...}``); ``true`` asks one
call per criterion, whose reply can be constrained to the choices (``mode: choice``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rlvr_client.errors import BackendError

from ..judging.calls import CallLog, SamplingParams, ask, ask_label, check_length
from ..judging.templates import RUBRIC_ALL, RUBRIC_CRITERION, neutralise
from ..judging.verdicts import Unparseable, parse_json_verdict
from ..runtime.aio import verify_batch_sync
from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\- ]+$")
    description: str = Field(min_length=1, max_length=2000)
    weight: float = Field(default=1.0, gt=0)
    choices: list[str] = Field(min_length=2, max_length=10, description="From worst to best.")

    @model_validator(mode="after")
    def _distinct(self) -> Criterion:
        if len({c.strip().lower() for c in self.choices}) != len(self.choices) or not all(
            c.strip() for c in self.choices
        ):
            raise ValueError(f"criterion {self.name!r}: choices must be distinct and not empty")
        return self

    def rank(self, choice: str) -> float:
        wanted = choice.strip().lower()
        for k, c in enumerate(self.choices):
            if c.strip().lower() == wanted:
                return k / (len(self.choices) - 1)
        raise Unparseable(f"criterion {self.name!r}: {choice!r} is not one of {self.choices}")


class RubricParams(SamplingParams):
    criteria: list[Criterion] = Field(min_length=1, max_length=32)
    question: str | None = Field(default=None, description="The question; the item's prompt when absent.")
    per_criterion: bool = Field(default=False, description="One call per criterion instead of one structured call.")
    answer_scope: Literal["answer", "all"] = Field(default="answer")

    @model_validator(mode="after")
    def _names_distinct(self) -> RubricParams:
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criteria names must be distinct")
        return self


def _choices_text(criterion: Criterion) -> str:
    return "\n".join(f"- {c}" for c in criterion.choices)


@register
class RubricVerifier:
    name: ClassVar[str] = "rubric"
    description: ClassVar[str] = (
        "Rubric LLM judge: weighted criteria with ordered choices (worst to best); score is the weighted mean of "
        "each choice's rank in [0, 1]. One structured call, or one call per criterion. Needs a backend."
    )
    params_model: ClassVar[type[BaseModel]] = RubricParams
    execution: ClassVar[Execution] = Execution.ASYNC
    default_timeout_s: ClassVar[float] = 120.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return verify_batch_sync(self, tasks, self.default_timeout_s)

    async def averify(self, task: Task, deadline: float) -> Verdict:
        params = task.params
        assert isinstance(params, RubricParams)
        scoped = scoped_text(task.completion, Scope(params.answer_scope))
        answer = (scoped.text or "").strip()
        if not answer:
            return Verdict.ok(0.0, "the completion has no answer", decided_by="rule")
        check_length("answer", answer, params)
        question = params.question if params.question is not None else task.prompt
        log = CallLog()
        safe = neutralise(answer, [])  # the VERDICT marker; choices are ordinary words here
        votes = await asyncio.gather(
            *(self._vote(params, question, safe, k, deadline, log) for k in range(params.samples))
        )
        total_weight = sum(c.weight for c in params.criteria)
        scores = [sum(c.weight * ranks[c.name] for c in params.criteria) / total_weight for ranks, _ in votes]
        return Verdict.ok(
            sum(scores) / len(scores),
            choices=[chosen for _, chosen in votes],
            votes=scores,
            decided_by="judge",
            **log.details(),
        )

    async def _vote(
        self, params: RubricParams, question: str, answer: str, k: int, deadline: float, log: CallLog
    ) -> tuple[dict[str, float], dict[str, str]]:
        if params.per_criterion:
            labels = await asyncio.gather(
                *(
                    ask_label(
                        params,
                        RUBRIC_CRITERION.render(
                            {
                                "question": question,
                                "answer": answer,
                                "criterion": f"{c.name}: {c.description}",
                                "choices": _choices_text(c),
                            }
                        ),
                        c.choices,
                        c.choices[0],
                        k,
                        deadline,
                        log,
                    )
                    for c in params.criteria
                )
            )
            chosen = {c.name: label for c, label in zip(params.criteria, labels, strict=True)}
            return {c.name: c.rank(chosen[c.name]) for c in params.criteria}, chosen
        criteria = "\n".join(f"{c.name}: {c.description}\n{_choices_text(c)}" for c in params.criteria)
        example = json.dumps({c.name: c.choices[-1] for c in params.criteria}, ensure_ascii=False)
        messages = RUBRIC_ALL.render({"question": question, "answer": answer, "criteria": criteria, "example": example})
        reply = await ask(params, messages, [], k, deadline, log)
        try:
            raw = parse_json_verdict(reply.text)
            chosen = {c.name: str(raw[c.name]) for c in params.criteria}
            return {c.name: c.rank(chosen[c.name]) for c in params.criteria}, chosen
        except (Unparseable, KeyError) as exc:
            if params.on_unparseable == "zero":
                log.unparseable += 1
                return {c.name: 0.0 for c in params.criteria}, {}
            what = f"no choice for criterion {exc}" if isinstance(exc, KeyError) else str(exc)
            raise BackendError(
                f"the judge's rubric could not be read: {what}", details={"kind": "unparseable"}
            ) from None
