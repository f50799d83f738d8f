"""The ``repetition`` shaping reward: a penalty for repeated n-grams (degenerate looping text).

Tokens are CJK-aware: every Han, Hiragana, Katakana or Hangul-syllable character is a token of its own
(those scripts do not separate words with spaces), other text is split on whitespace and punctuation and
lower-cased. One regular expression with plain character classes (no backtracking) and one set of
n-grams: linear in the completion's length, deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text

# Hiragana, Katakana (without the middle dot ・), CJK extension A, unified ideographs, compatibility
# ideographs, Hangul syllables, supplementary ideographs (extensions B and later)
_KANA = "\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff"
_CJK = _KANA + "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7a3\U00020000-\U0003134f"
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is a token of its own."""
    return _TOKEN.findall(text.lower())


class RepetitionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_size: int = Field(default=3, ge=1, le=64, description="Tokens per n-gram (1 to 64). Default 3.")
    max_penalty: float = Field(
        default=-1.0, le=0.0, description="The reward when every n-gram is a repeat (must be <= 0). Default -1.0."
    )
    scope: Scope = Field(
        default=Scope.ALL,
        description=(
            'Which text is read: "think" (the reasoning), "answer" (after the last </think>) or "all" '
            '(the whole completion, tags removed). Default "all".'
        ),
    )


def repetition_ratio(tokens: Sequence[str], n: int) -> tuple[float, int, int]:
    """``1 - unique/total`` over the n-grams of ``tokens``, with the two counts; 0.0 with too few tokens."""
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0, 0, 0
    unique = len(set(zip(*(tokens[i : len(tokens) - n + 1 + i] for i in range(n)), strict=True)))
    return 1.0 - unique / total, unique, total


@register
class RepetitionVerifier:
    """``(1 - unique n-grams / n-grams) * max_penalty``: 0 for text that never repeats itself."""

    name: ClassVar[str] = "repetition"
    description: ClassVar[str] = (
        "Shaping penalty for repeated n-grams: (1 - unique/total n-grams) * max_penalty, in [max_penalty, 0]; "
        "CJK characters are tokens of their own, other text is split on whitespace and punctuation."
    )
    params_model: ClassVar[type[BaseModel]] = RepetitionParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 2.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, RepetitionParams):
            raise TypeError(f"repetition params must be RepetitionParams, not {type(params).__name__}")
        scoped = scoped_text(task.completion, params.scope)
        if scoped.text is None:  # nothing to repeat: no penalty (status stays ok, as for every shaping reward)
            return Verdict.ok(0.0, scoped.missing, tokens=0, ngrams=0, unique_ngrams=0)
        tokens = tokenize(scoped.text)
        ratio, unique, total = repetition_ratio(tokens, params.ngram_size)
        reward = ratio * params.max_penalty
        if total == 0:
            reason = f"fewer than {params.ngram_size} tokens"
        elif unique < total:
            reason = f"{total - unique} of {total} {params.ngram_size}-grams repeat"
        else:
            reason = ""
        return Verdict.ok(reward + 0.0, reason, tokens=len(tokens), ngrams=total, unique_ngrams=unique)
