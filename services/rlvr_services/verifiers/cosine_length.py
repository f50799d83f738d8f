"""The ``cosine_length`` shaping reward: correctness-aware cosine length scaling (Yeo et al., 2025).

``progress = min(len, max_len) / max_len``; ``reward = lo + (hi - lo) * (1 + cos(pi * progress)) / 2``
where, for a correct completion, ``lo = min_value_correct`` and ``hi = max_value_correct`` (short and
right earns most), and for a wrong one ``lo = max_value_wrong`` and ``hi = min_value_wrong`` (short and
wrong is punished most, so a model that is unsure keeps thinking).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .length_units import UNIT_DESCRIPTION, TextUnit, text_length


class CosineLengthParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    correct: bool = Field(description="Whether the completion's answer is right (from the accuracy reward). Required.")
    max_len: int = Field(
        ge=1, description="The length at which the cosine reaches its end; longer is clipped. Required."
    )
    min_value_wrong: float = Field(default=-0.5, description="Reward of the shortest wrong completion. Default -0.5.")
    max_value_wrong: float = Field(default=0.0, description="Reward of a wrong completion at max_len. Default 0.0.")
    min_value_correct: float = Field(default=0.5, description="Reward of a correct completion at max_len. Default 0.5.")
    max_value_correct: float = Field(default=1.0, description="Reward of the shortest correct completion. Default 1.0.")
    unit: TextUnit = Field(default="chars", description=UNIT_DESCRIPTION)


def cosine_length_reward(length: int, params: CosineLengthParams) -> float:
    """The cosine-scaled reward for a completion of ``length`` that is (not) correct."""
    progress = min(length, params.max_len) / params.max_len
    cosine = math.cos(math.pi * progress)
    if params.correct:
        low, high = params.min_value_correct, params.max_value_correct
    else:
        low, high = params.max_value_wrong, params.min_value_wrong
    return low + 0.5 * (high - low) * (1.0 + cosine)


@register
class CosineLengthVerifier:
    """Short correct completions earn most, short wrong ones lose most; cosine in between."""

    name: ClassVar[str] = "cosine_length"
    description: ClassVar[str] = (
        "Correctness-aware cosine length scaling: correct goes from max_value_correct (empty) to "
        "min_value_correct (at max_len), wrong from min_value_wrong to max_value_wrong."
    )
    params_model: ClassVar[type[BaseModel]] = CosineLengthParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, CosineLengthParams):
            raise TypeError(f"cosine_length params must be CosineLengthParams, not {type(params).__name__}")
        length = text_length(task.completion, params.unit)
        reward = cosine_length_reward(length, params)
        return Verdict.ok(reward, length=length, unit=params.unit, correct=params.correct)
