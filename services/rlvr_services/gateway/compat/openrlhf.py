"""OpenRLHF's remote reward protocol: ``POST /compat/openrlhf/get_reward`` (``--reward.remote_url``).

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}`` where each query is the prompt and the
response decoded *with* special tokens, and reads ``{"rewards", "scores", "extra_logs"}``; every key of
``extra_logs`` becomes a per-sample training metric. Its client retries any non-2xx response five times, a
second apart, and then gives up on the rollout. So this endpoint answers:

- 200 for every batch it could read, empty ones included. A sample whose verification failed gets the
  configured fallback (``RLVR_COMPAT_FALLBACK``) and ``extra_logs.rlvr_error = 1.0`` (OpenRLHF logs its mean);
- 422 for a malformed body or a label that gives no reward specs, naming the field;
- 503 (with Retry-After) only while the gateway is overloaded, starting or draining.

The completion is the query with its prompt cut off (also when OpenRLHF cut the prompt's start to fit
``max_len``) and the end-of-sequence texts (``RLVR_COMPAT_EOS_TEXTS``) stripped from its end. A label is a plain
answer (the math gold) or JSON carrying reward specs; ``/compat/openrlhf/<profile>/get_reward`` uses the named
profile of specs (``RLVR_COMPAT_PROFILES``) for plain labels instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter

from rlvr_client.compat_models import OpenRLHFRequest, OpenRLHFResponse
from rlvr_client.outcome import Outcome

from ...http import ERROR_RESPONSES
from .bridge import Bridge

log = logging.getLogger(__name__)

ERROR_LOG_KEY = "rlvr_error"
_PROBE_CHARS = 16


def strip_eos(text: str, eos_texts: Sequence[str]) -> str:
    """``text`` without the end-of-sequence / padding texts at its end (repeated, whitespace between them)."""
    while True:
        trimmed = text.rstrip()
        for eos in eos_texts:
            if eos and trimmed.endswith(eos):
                text = trimmed[: -len(eos)]
                break
        else:
            return text


def _kept_prompt_suffix(prompt: str, query: str) -> int:
    """The length of the longest end of ``prompt`` that ``query`` starts with (OpenRLHF keeps the prompt's end
    when it is too long), 0 when none does."""
    probe = query[:_PROBE_CHARS]
    if not probe:
        return 0
    start = prompt.find(probe)
    while start >= 0:
        if query.startswith(prompt[start:]):
            return len(prompt) - start
        start = prompt.find(probe, start + 1)
    return 0


def completion_of(query: str, prompt: str | None, eos_texts: Sequence[str]) -> str:
    """The response part of an OpenRLHF query: after its prompt, without trailing end-of-sequence texts."""
    text = query
    if prompt:
        at = query.find(prompt)
        if at >= 0:
            text = query[at + len(prompt) :]
        else:
            kept = _kept_prompt_suffix(prompt, query)
            if kept == 0:
                log.debug("openrlhf: a query does not contain its prompt; the whole query is scored")
            text = query[kept:]
    return strip_eos(text, eos_texts)


def _response(outcomes: Sequence[Outcome]) -> OpenRLHFResponse:
    rewards = [float(o.score) for o in outcomes]
    return OpenRLHFResponse(
        rewards=rewards, scores=list(rewards), extra_logs={ERROR_LOG_KEY: [1.0 if o.failed else 0.0 for o in outcomes]}
    )


def openrlhf_router(bridge: Bridge) -> APIRouter:
    router = APIRouter(prefix="/compat/openrlhf", tags=["compat: OpenRLHF"])
    eos_texts = tuple(bridge.settings.compat_eos_texts)

    async def answer(body: OpenRLHFRequest, profile: str | None) -> OpenRLHFResponse:
        templates = bridge.templates(profile)
        prompts: list[str | None] = list(body.prompts) if body.prompts is not None else [None] * len(body.query)
        labels = body.labels if body.labels is not None else [None] * len(body.query)
        samples = [
            bridge.sample(i, prompt or "", completion_of(query, prompt, eos_texts), label, templates, f"labels[{i}]")
            for i, (query, prompt, label) in enumerate(zip(body.query, prompts, labels, strict=True))
        ]
        return _response(await bridge.score(samples, field=lambda i: f"labels[{i}]"))

    summary = "OpenRLHF remote reward: {query, prompts, labels} -> {rewards, scores, extra_logs}."

    @router.post("/get_reward", response_model=OpenRLHFResponse, responses=ERROR_RESPONSES, summary=summary)
    async def get_reward(body: OpenRLHFRequest) -> OpenRLHFResponse:
        return await answer(body, None)

    @router.post(
        "/{profile}/get_reward", response_model=OpenRLHFResponse, responses=ERROR_RESPONSES, summary=summary
    )
    async def get_reward_with(profile: str, body: OpenRLHFRequest) -> OpenRLHFResponse:
        return await answer(body, profile)

    return router
