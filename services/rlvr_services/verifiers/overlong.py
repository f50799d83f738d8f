"""The ``overlong`` shaping reward: DAPO's soft overlong punishment.

With ``L_max = max_len`` and ``L_cache = cache_len``: 0 up to ``L_max - L_cache``, then a linear ramp
``(L_max - L_cache - len) / L_cache`` down to -1 at ``L_max``, and -1 beyond.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .length_units import text_length


class OverlongParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_len: int = Field(ge=1, description="L_max: the length at which the penalty reaches -1. Required.")
    cache_len: int = Field(
        ge=1, description="L_cache: the length of the ramp before max_len (must be < max_len). Required."
    )
    unit: Literal["chars", "words", "tokens"] = Field(
        default="chars",
        description=(
            'How the whole completion\'s length (nothing stripped) is measured: "chars" (default), "words" '
            '(whitespace-separated) or "tokens" (the caller\'s count, passed as tokens).'
        ),
    )
    tokens: int | None = Field(
        default=None,
        ge=0,
        description='Length in tokens (counted by the caller): required when unit is "tokens". Default none.',
    )

    @model_validator(mode="after")
    def _check(self) -> OverlongParams:
        if self.cache_len >= self.max_len:
            raise ValueError(f"cache_len ({self.cache_len}) must be < max_len ({self.max_len})")
        if self.unit == "tokens" and self.tokens is None:
            raise ValueError('tokens is required when unit is "tokens"')
        return self


def overlong_reward(length: int, max_len: int, cache_len: int) -> float:
    """DAPO's soft overlong punishment for a completion of ``length``."""
    expected = max_len - cache_len
    if length <= expected:
        return 0.0
    if length <= max_len:
        return (expected - length) / cache_len
    return -1.0


@register
class OverlongVerifier:
    """0 for a completion that fits, a linear penalty in the last ``cache_len``, -1 past ``max_len``."""

    name: ClassVar[str] = "overlong"
    description: ClassVar[str] = (
        "DAPO soft overlong punishment: 0 up to max_len - cache_len, then linearly down to -1 at max_len, "
        "-1 beyond; length in chars, words or caller-counted tokens."
    )
    params_model: ClassVar[type[BaseModel]] = OverlongParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, OverlongParams):
            raise TypeError(f"overlong params must be OverlongParams, not {type(params).__name__}")
        if params.unit != "tokens":
            length = text_length(task.completion, params.unit)
        elif params.tokens is not None:
            length = params.tokens
        else:  # the params model already refuses this
            return Verdict.error('unit "tokens" without a tokens count')
        reward = overlong_reward(length, params.max_len, params.cache_len)
        if length > params.max_len:
            reason = f"{length} {params.unit} is over max_len {params.max_len}"
        elif reward < 0:
            reason = f"{length} {params.unit} is in the last {params.cache_len} before max_len {params.max_len}"
        else:
            reason = ""
        return Verdict.ok(reward + 0.0, reason, length=length, unit=params.unit)
