"""The ``mixed_language`` filter (R1 stage 3): reasoning should stay in one language.

The score is the share of the dominant language over the counted words of :mod:`.langdetect_text`
(1.0 for monolingual text); with ``threshold`` set it becomes a pass/fail filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from . import langdetect_text
from .langdetect_text import tally_in_scope


class MixedLanguageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="None (default): the dominant language's share is the score; set: 1.0 at or above it, else 0.0.",
    )
    scope: Literal["think", "all", "answer"] = Field(
        default="think",
        description="think (default): the <think> section; answer: the text after </think>; all: the whole completion.",
    )
    min_words: int = Field(
        default=5, ge=1, description="Fewer counted words than this is not_applicable rather than a score (5)."
    )


@register
class MixedLanguageVerifier:
    """The share of the dominant language in the reasoning, or a pass/fail against ``threshold``."""

    name: ClassVar[str] = "mixed_language"
    description: ClassVar[str] = (
        "Stage-3 filter: the share of the dominant language over the counted words of the <think> section "
        "(1.0 when monolingual); with threshold set, 1.0 when that share reaches it, else 0.0."
    )
    params_model: ClassVar[type[BaseModel]] = MixedLanguageParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 5.0

    def warm_up(self) -> None:
        langdetect_text.warm_up()

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, MixedLanguageParams):
            raise TypeError(f"mixed_language params must be MixedLanguageParams, not {type(params).__name__}")
        found = tally_in_scope(task.completion, params.scope, params.min_words)
        if isinstance(found, Verdict):
            return found
        dominant = found.dominant()
        assert dominant is not None  # tally_in_scope answers not_applicable for an empty tally
        code, share = dominant
        details: dict[str, Any] = {
            "dominant": code, "share": round(share, 4), "words": found.total, "languages": found.shares()
        }
        if params.threshold is None:
            return Verdict.ok(share, **details)
        if share >= params.threshold:
            return Verdict.ok(1.0, **details)
        reason = f"dominant language {code} has {share:.1%} < threshold {params.threshold:.1%}"
        return Verdict.ok(0.0, reason, **details)
