"""The ``language`` reward (R1 stage 2): the share of the reasoning written in the target language.

DeepSeek-R1's language-consistency reward is the proportion of target-language words in the chain
of thought. Words are counted by :mod:`.langdetect_text` (script first, lingua per sentence and
clause for Latin and Cyrillic, Han and kana per character), code, LaTeX, URLs and numbers left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from . import langdetect_text
from .langdetect_text import SUPPORTED, describe_supported, tally_in_scope


class LanguageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(description="Target language, an ISO 639-1 code such as en, zh, fr (required).")
    scope: Literal["think", "all", "answer"] = Field(
        default="think",
        description="think (default): the <think> section; answer: the text after </think>; all: the whole completion.",
    )
    min_words: int = Field(
        default=5, ge=1, description="Fewer counted words than this is not_applicable rather than a score (5)."
    )

    @field_validator("language")
    @classmethod
    def _supported(cls, value: str) -> str:
        code = value.strip().lower()
        if code not in SUPPORTED:
            raise ValueError(f"unsupported language {value!r}; supported: {describe_supported()}")
        return code


@register
class LanguageVerifier:
    """The share of counted words of the reasoning that are in the target language."""

    name: ClassVar[str] = "language"
    description: ClassVar[str] = (
        "Stage-2 language-consistency reward: the share of the words of the <think> section (or the answer, or "
        "the whole completion) written in the target language; code, LaTeX, URLs and numbers are not counted."
    )
    params_model: ClassVar[type[BaseModel]] = LanguageParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 5.0

    def warm_up(self) -> None:
        langdetect_text.warm_up()

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, LanguageParams):
            raise TypeError(f"language params must be LanguageParams, not {type(params).__name__}")
        found = tally_in_scope(task.completion, params.scope, params.min_words)
        if isinstance(found, Verdict):
            return found
        share = found.share(params.language)
        return Verdict.ok(
            share, target=params.language, share=round(share, 4), words=found.total, languages=found.shares()
        )
