"""The ``ifeval`` verifier: Google IFEval's verifiable instructions (and the extended set), strict or loose.

Each item names instruction ids and their kwargs, as IFEval's data does. The score is the fraction
of instructions followed (or 1/0 with ``all_or_nothing``); ``details`` lists which were followed and
which were not. The checkers live in ``verifiers/instructions`` (one registry, ids as IFEval spells them).

Loose mode is IFEval's: an instruction is followed if the response, or the response without its
first line, without its last line, or without both — each also with every ``*`` removed — follows it.
As in IFEval, an empty (or blank) response follows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .extract import after_think
from .instructions import INSTRUCTIONS, Instruction, ifeval_language


class IFEvalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction_id_list: list[str] = Field(
        min_length=1, description='Instruction ids as IFEval spells them, e.g. "punctuation:no_comma".'
    )
    kwargs: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "One dict of kwargs per instruction, in the same order (null values are dropped, so IFEval's "
            "rows can be passed as they are). Omitted: no kwargs for any instruction."
        ),
    )
    mode: Literal["strict", "loose"] = Field(
        default="strict",
        description="strict: the response as it is; loose: IFEval's loose variants (first/last line and * removed).",
    )
    all_or_nothing: bool = Field(
        default=False, description="Score 1.0 only when every instruction is followed, else 0.0. Default false."
    )
    think: Literal["strip", "keep"] = Field(
        default="strip",
        description=(
            "strip: check only the text after the last </think> (an unclosed <think> means no answer: 0.0); "
            "keep: check the whole completion."
        ),
    )
    prompt: str | None = Field(
        default=None,
        description="The prompt for combination:repeat_prompt when its kwargs give none; default the item's prompt.",
    )

    @model_validator(mode="after")
    def _check_instructions(self) -> IFEvalParams:
        if self.kwargs is None:
            self.kwargs = [{} for _ in self.instruction_id_list]
        if len(self.kwargs) != len(self.instruction_id_list):
            raise ValueError(
                f"kwargs has {len(self.kwargs)} entries but instruction_id_list has "
                f"{len(self.instruction_id_list)}: give one dict per instruction"
            )
        cleaned = []
        for index, (id, kwargs) in enumerate(zip(self.instruction_id_list, self.kwargs, strict=True)):
            found = INSTRUCTIONS.get(id)
            if found is None:
                raise ValueError(
                    f"unknown instruction id {id!r} at instruction_id_list[{index}]; known ids: "
                    f"{', '.join(sorted(INSTRUCTIONS))}"
                )
            given = {name: value for name, value in kwargs.items() if value is not None}
            unknown = sorted(set(given) - set(found.kwargs))
            if unknown:
                accepted = ", ".join(found.kwargs) or "none"
                raise ValueError(
                    f"kwargs[{index}] has {', '.join(map(repr, unknown))}, which {id} does not take "
                    f"(it takes: {accepted})"
                )
            cleaned.append(given)
        self.kwargs = cleaned
        return self


@register
class IFEvalVerifier:
    """Fraction of the item's IFEval instructions that the answer follows."""

    name: ClassVar[str] = "ifeval"
    description: ClassVar[str] = (
        "IFEval verifiable instructions (Google's 25, e.g. punctuation:no_comma, length_constraints:number_words, "
        "and the extended set) with their kwargs, strict or loose; score = fraction followed."
    )
    params_model: ClassVar[type[BaseModel]] = IFEvalParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 5.0

    def warm_up(self) -> None:
        ifeval_language.warm_up()

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, IFEvalParams):
            raise TypeError(f"ifeval params must be IFEvalParams, not {type(params).__name__}")
        ids = params.instruction_id_list
        answer = task.completion if params.think == "keep" else after_think(task.completion)
        if answer is None:
            reason = "unclosed <think>: no answer after the reasoning"
            nothing = [False] * len(ids)
            return Verdict.ok(0.0, reason, mode=params.mode, followed=[], failed=ids, follow_instruction_list=nothing)
        prompt = task.prompt if params.prompt is None else params.prompt
        variants = response_variants(answer, params.mode)
        results = []
        for index, (id, kwargs) in enumerate(zip(ids, params.kwargs or [], strict=True)):
            instruction = INSTRUCTIONS[id]
            try:
                results.append(follows(instruction, variants, kwargs, prompt))
            except ValueError as exc:
                return Verdict.error(f"{id} (instruction {index}): {exc}", instruction=id, index=index)
        followed = [id for id, ok in zip(ids, results, strict=True) if ok]
        failed = [id for id, ok in zip(ids, results, strict=True) if not ok]
        if params.all_or_nothing:
            score = 1.0 if not failed else 0.0
        else:
            score = len(followed) / len(ids)
        reason = f"not followed: {', '.join(failed)}" if failed else ""
        return Verdict.ok(
            score, reason, mode=params.mode, followed=followed, failed=failed, follow_instruction_list=results
        )


def follows(instruction: Instruction, variants: Sequence[str], kwargs: dict[str, Any], prompt: str) -> bool:
    """Whether any variant of the response follows the instruction; a blank variant follows nothing."""
    checked = [variant for variant in variants if variant.strip()]
    if not checked:
        instruction.check("", kwargs, prompt)  # only so that bad kwargs raise for a blank response too
        return False
    return any(instruction.check(variant, kwargs, prompt) for variant in checked)


def response_variants(response: str, mode: str) -> list[str]:
    """The texts to check: the response itself (strict), or IFEval's eight loose variants, duplicates dropped."""
    if mode == "strict":
        return [response]
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    variants = [response, without_first, without_last, without_both]
    variants += [variant.replace("*", "") for variant in variants]
    return list(dict.fromkeys(variants))
