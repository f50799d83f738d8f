"""The ``long_paragraphs`` filter (R1 stage 3): readable reasoning has no wall-of-text paragraphs.

Paragraphs are separated by blank lines; words are whitespace-separated runs. Linear time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .extract import think_section


class LongParagraphsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_words: int = Field(default=300, ge=1, description="A paragraph with more words than this is too long (300).")
    scope: Literal["think", "all"] = Field(
        default="think", description="think (default): the <think> section only; all: the whole completion."
    )


def paragraph_lengths(text: str) -> list[int]:
    """Words per paragraph (paragraphs split at blank lines), empty paragraphs left out."""
    lengths: list[int] = []
    words = 0
    for line in text.splitlines():
        if line.strip():
            words += len(line.split())
        elif words:
            lengths.append(words)
            words = 0
    if words:
        lengths.append(words)
    return lengths


@register
class LongParagraphsVerifier:
    """1.0 when no paragraph of the reasoning is longer than ``max_words``, else 0.0 naming them."""

    name: ClassVar[str] = "long_paragraphs"
    description: ClassVar[str] = (
        "Stage-3 filter: 1.0 when every paragraph (split at blank lines) of the <think> section (or the whole "
        "completion) has at most max_words words, else 0.0 with the long paragraphs in details."
    )
    params_model: ClassVar[type[BaseModel]] = LongParagraphsParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, LongParagraphsParams):
            raise TypeError(f"long_paragraphs params must be LongParagraphsParams, not {type(params).__name__}")
        text = task.completion if params.scope == "all" else think_section(task.completion)
        if text is None:
            return Verdict.not_applicable("no closed <think> section to check")
        lengths = paragraph_lengths(text)
        long = [{"paragraph": i + 1, "words": n} for i, n in enumerate(lengths) if n > params.max_words]
        if long:
            worst = max(p["words"] for p in long)
            reason = f"{len(long)} paragraph(s) over {params.max_words} words (longest {worst})"
            return Verdict.ok(0.0, reason, paragraphs=len(lengths), long=long)
        return Verdict.ok(1.0, paragraphs=len(lengths), longest=max(lengths, default=0))
