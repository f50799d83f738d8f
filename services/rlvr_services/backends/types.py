"""The two kinds of backend the model-based verifiers call, and the values they exchange."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of one judge call. Deterministic (cacheable) when temperature is 0 or seeded."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    max_tokens: int = 1024

    @property
    def deterministic(self) -> bool:
        return self.temperature == 0 or self.seed is not None


@dataclass(frozen=True)
class ChatReply:
    text: str
    finish_reason: str  # "stop", "length", ... as the server says
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning: str = ""  # a reasoning parser's separate field (vLLM's reasoning_content), if any
    attempts: int = 1


@dataclass(frozen=True)
class Conversation:
    """What a reward model scores: the prompt and the response (already cut to the scope)."""

    prompt: str
    response: str


class ChatBackend(Protocol):
    """A chat model: an OpenAI-compatible server, or a causal LM in this process."""

    name: str
    model: str
    supports_choice: bool  # constrained choice is enforced, not just asked for

    async def chat(
        self, messages: Sequence[dict[str, str]], sampling: Sampling, choices: Sequence[str] | None, deadline: float
    ) -> ChatReply: ...

    def state(self) -> str: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class RewardBackend(Protocol):
    """A sequence-classification reward model: one scalar per conversation."""

    name: str
    model: str

    async def score(self, conversations: Sequence[Conversation], deadline: float, *, truncate: bool) -> list[float]: ...

    def state(self) -> str: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...
