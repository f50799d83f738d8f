"""The ``tag_count`` shaping reward (open-r1): partial credit for each R1-Zero tag written once.

0.25 each for exactly one ``<think>\\n``, one ``\\n</think>\\n``, one ``\\n<answer>\\n`` and one
``\\n</answer>``. ``str.count`` only: linear time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .extract import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

STRICT_TAGS = (f"{THINK_OPEN}\n", f"\n{THINK_CLOSE}\n", f"\n{ANSWER_OPEN}\n", f"\n{ANSWER_CLOSE}")
BARE_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


class TagCountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strict_newlines: bool = Field(
        default=True,
        description=(
            "Count the tags with their newlines (<think>\\n, \\n</think>\\n, \\n<answer>\\n, \\n</answer>); "
            "false counts the bare tags. Default true."
        ),
    )
    prefilled_think: bool = Field(
        default=False,
        description=(
            "The chat template already put <think> in the prompt: it counts as the one <think> (a <think> the "
            "completion repeats at its very start is accepted instead; any other one makes two). Default false."
        ),
    )


@register
class TagCountVerifier:
    """0.25 for each of the four R1-Zero tags that occurs exactly once."""

    name: ClassVar[str] = "tag_count"
    description: ClassVar[str] = (
        "Partial format credit: 0.25 each for exactly one <think>\\n, \\n</think>\\n, \\n<answer>\\n and "
        "\\n</answer> (bare tags with strict_newlines false; <think> given with prefilled_think)."
    )
    params_model: ClassVar[type[BaseModel]] = TagCountParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, TagCountParams):
            raise TypeError(f"tag_count params must be TagCountParams, not {type(params).__name__}")
        tags = STRICT_TAGS if params.strict_newlines else BARE_TAGS
        counts = {tag: task.completion.count(tag) for tag in tags}
        if params.prefilled_think and not task.completion.lstrip().startswith(THINK_OPEN):
            counts[tags[0]] += 1  # the template's <think>; one the model repeats at its start is accepted
        wrong = [f"{tag!r} x{n}" for tag, n in counts.items() if n != 1]
        score = 0.25 * (len(tags) - len(wrong))
        reason = f"not exactly once: {', '.join(wrong)}" if wrong else ""
        return Verdict.ok(score, reason, counts={tag: n for tag, n in counts.items()})
