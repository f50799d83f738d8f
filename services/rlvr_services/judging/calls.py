"""One judge call, made safely: cached, checked for truncation and emptiness, parsed into a label.

Shared by ``judge``, ``judge_pairwise`` and ``rubric``. Every way a call can fail raises
`BackendError` (``details.kind``: the transport's kind, ``truncated``, ``empty``, ``unparseable``)
so that the item becomes ``error``/``timeout``, never a score. ``on_unparseable: "zero"`` is the
caller's opt-in to count an unparseable reply as the worst label instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rlvr_client.errors import BackendError

from ..backends import pool as backends
from ..backends.types import ChatBackend, ChatReply, Sampling
from .cache import VerdictCache, cache_key
from .templates import verdict_line
from .verdicts import Unparseable, parse_label

REPLY_CHARS = 2000  # a judge reply is kept in details up to this many characters
_CACHE: VerdictCache[ChatReply] = VerdictCache()


class SamplingParams(BaseModel):
    """The judge's decoding settings, shared by the judge verifiers' params."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(
        default="judge", min_length=1, max_length=128, description="A backend named in the server's settings."
    )
    mode: Literal["generate", "choice"] = Field(
        default="generate",
        description="generate: free text, the verdict parsed from its final answer; choice: the reply is "
        "constrained to the verdict lines where the backend can enforce it (vLLM, in-process), else generated.",
    )
    samples: int = Field(default=1, ge=1, le=16, description="Votes per judged input; the score is their mean.")
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int | None = Field(default=0, description="Seed of the first vote (the k-th gets seed + k); null: none.")
    max_tokens: int = Field(
        default=1024, ge=1, le=65536, description="Reply budget; a reasoning judge needs room for its thinking."
    )
    timeout_s: float | None = Field(default=None, gt=0, description="The item's deadline (every call and retry).")
    on_unparseable: Literal["error", "zero"] = Field(
        default="error", description='error (default): no score; "zero": an unparseable reply votes for the worst.'
    )
    max_input_chars: int = Field(default=50_000, ge=1, description="A longer answer or reference is an error.")

    def sampling(self, vote: int) -> Sampling:
        seed = None if self.seed is None else self.seed + vote
        return Sampling(self.temperature, self.top_p, seed, self.max_tokens)


@dataclass
class CallLog:
    """What an item's judge calls cost and said, for its verdict's details."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replies: list[str] = field(default_factory=list)
    unparseable: int = 0  # replies counted as the worst vote (on_unparseable: zero)
    started: float = field(default_factory=time.monotonic)

    def details(self) -> dict[str, Any]:
        return {
            "reply": self.replies[0][:REPLY_CHARS] if self.replies else "",
            "calls": self.calls,
            "cached": self.calls > 0 and self.cached == self.calls,
            "cache_hits": self.cached,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "latency_s": round(time.monotonic() - self.started, 4),
            **({"unparseable_votes": self.unparseable} if self.unparseable else {}),
        }


async def ask(
    params: SamplingParams,
    messages: Sequence[dict[str, str]],
    choices: Sequence[str],
    vote: int,
    deadline: float,
    log: CallLog,
) -> ChatReply:
    """One checked judge call (cached when deterministic): a reply that is complete and not empty."""
    backend: ChatBackend = backends.current().chat(params.backend)
    sampling = params.sampling(vote)
    use_choices = choices if params.mode == "choice" else None
    key = None
    if sampling.deterministic:
        key = cache_key(params.backend, backend.model, list(messages), list(use_choices or []), sampling.__dict__)

    async def call() -> ChatReply:
        return await backend.chat(messages, sampling, use_choices, deadline)

    reply, hit = await _CACHE.get(key, call)
    log.calls += 1
    log.cached += hit
    if not hit:
        log.prompt_tokens += reply.prompt_tokens or 0
        log.completion_tokens += reply.completion_tokens or 0
    log.replies.append(reply.text)
    if reply.finish_reason == "length":
        raise BackendError(
            f"the judge's reply was cut at max_tokens={params.max_tokens} (finish_reason: length) before a "
            "verdict; raise max_tokens (a reasoning judge spends tokens on thinking)",
            details={"kind": "truncated", "reply": reply.text[:REPLY_CHARS]},
        )
    if not reply.text.strip():
        raise BackendError("the judge's reply is empty", details={"kind": "empty"})
    return reply


async def ask_label(
    params: SamplingParams,
    messages: Sequence[dict[str, str]],
    labels: Sequence[str],
    worst: str,
    vote: int,
    deadline: float,
    log: CallLog,
    parse: Callable[[str, Sequence[str]], str] = parse_label,
) -> str:
    """A checked call whose final answer names one of ``labels`` (``worst``: the opted-in unparseable vote).

    In choice mode the reply is constrained to the verdict lines of ``labels``."""
    choices = [verdict_line(label) for label in labels]
    reply = await ask(params, messages, choices, vote, deadline, log)
    try:
        return parse(reply.text, labels)
    except Unparseable as exc:
        if params.on_unparseable == "zero":
            log.unparseable += 1
            return worst
        raise BackendError(
            f"the judge's verdict could not be read: {exc}",
            details={"kind": "unparseable", "reply": reply.text[:REPLY_CHARS]},
        ) from None


def check_length(what: str, text: str, params: SamplingParams) -> None:
    """Refuse a graded text over ``max_input_chars`` (an ``error`` naming it, never a truncated judgement)."""
    if len(text) > params.max_input_chars:
        raise BackendError(
            f"the {what} is {len(text):,} characters; max_input_chars is {params.max_input_chars:,}",
            details={"kind": "too_long"},
        )


def cache_stats() -> dict[str, int]:
    return {"hits": _CACHE.hits, "misses": _CACHE.misses, "entries": len(_CACHE.entries)}


