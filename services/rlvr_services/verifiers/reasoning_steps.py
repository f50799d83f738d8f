"""The ``reasoning_steps`` shaping reward (open-r1): credit for visibly structured reasoning.

Counts step markers: "Step 1:", lines that start with "1." / "2)" or a "- " / "* " bullet, and the
words "First,", "Second,", "Next,", "Then,", "Finally,". One regular expression whose alternatives
are anchored and bounded (no nested repetition): linear time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text

STEP_MARKER = re.compile(
    r"^[ \t]*(?:\d{1,4}[.)]|[-*])[ \t]"  # a numbered line or a bullet
    r"|\bStep[ \t]{1,8}\d{1,4}[ \t]{0,8}:"  # Step 3:
    r"|\b(?:First|Second|Next|Then|Finally),",  # transition words
    re.MULTILINE,
)


class ReasoningStepsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: int = Field(default=3, ge=1, description="Markers needed for the full 1.0 (>= 1). Default 3.")
    scope: Literal["think", "all"] = Field(
        default="think", description='"think" (default): the <think> section only; "all": the whole completion.'
    )


def count_steps(text: str) -> int:
    """How many step markers ``text`` has."""
    return sum(1 for _ in STEP_MARKER.finditer(text))


@register
class ReasoningStepsVerifier:
    """``min(1, markers / target)``: reasoning laid out in steps earns up to 1.0."""

    name: ClassVar[str] = "reasoning_steps"
    description: ClassVar[str] = (
        'Counts step markers ("Step 1:", numbered lines, bullets, First/Second/Next/Then/Finally,) in the '
        "<think> section (or all of it); min(1, count / target)."
    )
    params_model: ClassVar[type[BaseModel]] = ReasoningStepsParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, ReasoningStepsParams):
            raise TypeError(f"reasoning_steps params must be ReasoningStepsParams, not {type(params).__name__}")
        scoped = scoped_text(task.completion, Scope(params.scope))
        if scoped.text is None:
            return Verdict.ok(0.0, scoped.missing, steps=0)
        steps = count_steps(scoped.text)
        reason = f"{steps} step marker(s), {params.target} wanted" if steps < params.target else ""
        return Verdict.ok(min(1.0, steps / params.target), reason, steps=steps)
