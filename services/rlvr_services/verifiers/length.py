"""The ``length`` shaping reward: Kimi k1.5's group-relative length penalty.

Over the lengths of every completion sampled for the prompt, ``λ = 0.5 - (len - min) / (max - min)``
(0 when all are the same length): the shortest earns +0.5, the longest -0.5. A correct completion gets
``λ``; a wrong one ``min(0, λ)``, so being short never pays for a wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .length_units import UNIT_DESCRIPTION, TextUnit, text_length


class LengthParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    correct: bool = Field(description="Whether the completion's answer is right (from the accuracy reward). Required.")
    group_lengths: list[Annotated[int, Field(ge=0)]] = Field(
        min_length=1,
        description=(
            "The lengths, in unit, of every completion sampled for this prompt (non-empty, each >= 0; this "
            "one's own length is added to it). Required."
        ),
    )
    unit: TextUnit = Field(default="chars", description=UNIT_DESCRIPTION)


def length_lambda(length: int, group_lengths: Sequence[int]) -> float:
    """Kimi k1.5's ``λ`` for ``length`` among ``group_lengths`` (which it joins)."""
    shortest = min(length, min(group_lengths))
    longest = max(length, max(group_lengths))
    if longest == shortest:
        return 0.0
    return 0.5 - (length - shortest) / (longest - shortest)


@register
class LengthVerifier:
    """+0.5 for the shortest of the group down to -0.5 for the longest; wrong answers only lose."""

    name: ClassVar[str] = "length"
    description: ClassVar[str] = (
        "Kimi k1.5 length penalty: lambda = 0.5 - (len - min)/(max - min) over the prompt's group; "
        "lambda when correct, min(0, lambda) when wrong."
    )
    params_model: ClassVar[type[BaseModel]] = LengthParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, LengthParams):
            raise TypeError(f"length params must be LengthParams, not {type(params).__name__}")
        length = text_length(task.completion, params.unit)
        lam = length_lambda(length, params.group_lengths)
        reward = lam if params.correct else min(0.0, lam)
        return Verdict.ok(reward + 0.0, length=length, unit=params.unit, lam=lam, correct=params.correct)
