"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` (vLLM, SGLang, hosted APIs,
``transformers serve``), non-streaming, with the backend's limits and retries (``http_calls``).

Constrained choice is asked for in vLLM's shape (``structured_outputs: {"choice": [...]}``, or the
older ``guided_choice``) when the backend's ``choice_style`` says the server supports it; otherwise
the judge generates freely and the reply is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rlvr_client.errors import BackendError

from .config import OpenAIBackend
from .http_calls import Events, HttpBackend
from .types import ChatReply, Sampling


def _tokens_estimate(messages: Sequence[dict[str, str]], max_tokens: int) -> float:
    return sum(len(m.get("content", "")) for m in messages) / 4 + max_tokens


class OpenAIChat:
    def __init__(self, name: str, config: OpenAIBackend, events: Events) -> None:
        self.name = name
        self.model = config.model
        self.config = config
        self.supports_choice = config.choice_style != "none"
        self.http = HttpBackend(name, config, events)

    def body(
        self, messages: Sequence[dict[str, str]], sampling: Sampling, choices: Sequence[str] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.config.extra_body,
            "model": self.model,
            "messages": list(messages),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "stream": False,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if choices and self.config.choice_style == "structured_outputs":
            body["structured_outputs"] = {"choice": list(choices)}
        elif choices and self.config.choice_style == "guided_choice":
            body["guided_choice"] = list(choices)
        return body

    async def chat(
        self, messages: Sequence[dict[str, str]], sampling: Sampling, choices: Sequence[str] | None, deadline: float
    ) -> ChatReply:
        body = self.body(messages, sampling, choices)
        data, attempts = await self.http.post(
            "/chat/completions", body, deadline, tokens=_tokens_estimate(messages, sampling.max_tokens)
        )
        return parse_reply(self.name, data, attempts)

    def state(self) -> str:
        return self.http.breaker.state()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        await self.http.aclose()


def parse_reply(backend: str, data: Any, attempts: int) -> ChatReply:
    """The first choice of a chat-completions answer; a body of another shape is a `BackendError`."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        finish = str(choice.get("finish_reason") or "")
        usage = data.get("usage") or {}
        if not isinstance(text, str) or not isinstance(reasoning, str):
            raise TypeError("content is not text")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BackendError(
            f"backend {backend!r}: answer is not a chat completion ({type(exc).__name__}: {exc})",
            details={"kind": "bad_response", "backend": backend},
        ) from None
    return ChatReply(
        text=text,
        finish_reason=finish,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        reasoning=reasoning,
        attempts=attempts,
    )
