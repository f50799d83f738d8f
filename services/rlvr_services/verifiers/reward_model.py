"""The ``reward_model`` verifier (R1 stage 4): the scalar of a sequence-classification reward model.

R1 scores helpfulness on the final answer only and harmlessness on the whole response, reasoning
included: one reward model, two scopes (``answer``, ``all``). The prompt and the scoped response
are rendered with the reward model's own chat template by the backend (no doubled BOS). Input
longer than the model takes is an ``error`` unless the caller asks for left truncation (the end,
where the answer is, is kept). ``normalize`` maps the raw score: an affine (x - mean) / std, or a
sigmoid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..backends import pool as backends
from ..backends.types import Conversation
from ..runtime.aio import verify_batch_sync
from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .scope import Scope, scoped_text


class Normalize(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["affine", "sigmoid"] = "affine"
    mean: float = 0.0
    std: float = Field(default=1.0, gt=0)


class RewardModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str = Field(default="reward", min_length=1, max_length=128, description="A reward-model backend.")
    scope: Literal["answer", "all"] = Field(
        default="answer",
        description="answer (default; R1's helpfulness): the text after the last </think>; all (harmlessness): "
        "the whole completion, reasoning included.",
    )
    prompt: str | None = Field(default=None, description="The user turn; the item's prompt when absent.")
    truncation: Literal["error", "left"] = Field(
        default="error", description="Input over the model's length: error (default), or left-truncated."
    )
    normalize: Normalize | None = Field(default=None, description="Map the raw score: affine or sigmoid.")
    timeout_s: float | None = Field(default=None, gt=0)


@register
class RewardModelVerifier:
    name: ClassVar[str] = "reward_model"
    description: ClassVar[str] = (
        "Preference reward model (R1 stage 4): the scalar of a sequence-classification model on (prompt, response), "
        "rendered with the model's chat template; scope answer (helpfulness) or all (harmlessness). "
        "Needs a backend (in-process transformers, vLLM /classify or /pooling, SGLang, OpenRLHF)."
    )
    params_model: ClassVar[type[BaseModel]] = RewardModelParams
    execution: ClassVar[Execution] = Execution.ASYNC
    default_timeout_s: ClassVar[float] = 60.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return verify_batch_sync(self, tasks, self.default_timeout_s)

    async def averify(self, task: Task, deadline: float) -> Verdict:
        params = task.params
        assert isinstance(params, RewardModelParams)
        scoped = scoped_text(task.completion, Scope(params.scope))
        if scoped.text is None:
            return Verdict.not_applicable(scoped.missing)
        backend = backends.current().reward(params.backend)
        prompt = params.prompt if params.prompt is not None else task.prompt
        conversation = Conversation(prompt, scoped.text)  # as written: what the model was trained on
        [raw] = await backend.score([conversation], deadline, truncate=params.truncation == "left")
        if not math.isfinite(raw):
            return Verdict.error(f"the reward model returned {raw}", failure="bad_response")
        score = raw
        if params.normalize is not None:
            n = params.normalize
            score = 0.5 * (1 + math.tanh(raw / 2)) if n.kind == "sigmoid" else (raw - n.mean) / n.std
        return Verdict.ok(score, raw=raw, backend=params.backend, scope=params.scope)
