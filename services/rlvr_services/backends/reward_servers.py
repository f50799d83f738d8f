"""Served reward models, in each server's own wire shape, many texts per request.

| kind | request | the score of text i |
|---|---|---|
| ``vllm_classify`` | ``POST /classify {"model", "input": [...], "use_activation": false}`` | ``data[i].probs[0]`` |
| ``vllm_pooling`` | ``POST /pooling {"model", "input": [...], "task": "classify", ...}`` | ``data[i].data[0]`` |
| ``sglang`` | ``POST /classify {"input_ids" or "text": [...]}`` | ``[i].embedding[0]`` |
| ``openrlhf`` | ``POST /get_reward {"query": [...]}`` | ``rewards[i]`` |

vLLM passes a one-label classifier's logit through a sigmoid unless told not to
(``raw_scores_field``), so the score would be squashed into (0, 1); we ask for the raw logit, the
number the in-process backend and TRL give. With a ``tokenizer`` folder the conversation is
rendered here with the reward model's chat template: vLLM gets the text with
``add_special_tokens: false`` and SGLang the token ids, so neither adds a second BOS; OpenRLHF's
server tokenizes without special tokens, so it gets the rendered text. Without a tokenizer the
text is the prompt followed by the response.
A batch waits ``linger_ms`` for more texts, up to ``batch_size``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from rlvr_client.errors import BackendError

from .batcher import MicroBatcher
from .config import RewardServerBackend
from .http_calls import Events, HttpBackend
from .types import Conversation

_PATHS = {"vllm_classify": "/classify", "vllm_pooling": "/pooling", "sglang": "/classify", "openrlhf": "/get_reward"}


def _first_number(value: Any) -> float:
    while isinstance(value, list):
        if not value:
            raise ValueError("empty score")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"score is not a number: {value!r}")
    return float(value)


def parse_scores(kind: str, data: Any, count: int) -> list[float]:
    """The scores of a reward server's answer, in request order; another shape raises ValueError."""
    if kind == "openrlhf":
        values = data["rewards"]
        scores = [_first_number(v) for v in values]
    elif kind == "sglang":
        rows = data if isinstance(data, list) else [data]
        scores = [_first_number(row["embedding"]) for row in rows]
    else:
        rows = sorted(data["data"], key=lambda row: int(row.get("index", 0)))
        key = "probs" if kind == "vllm_classify" else "data"
        scores = [_first_number(row[key]) for row in rows]
    if len(scores) != count:
        raise ValueError(f"{len(scores)} scores for {count} texts")
    return scores


class RewardServer:
    def __init__(self, name: str, config: RewardServerBackend, events: Events) -> None:
        self.name = name
        self.model = config.model or config.base_url
        self.config = config
        self.http = HttpBackend(name, config, events)
        self.tokenizer: Any = None
        self.batcher: MicroBatcher[tuple[Conversation, bool, float], float] = MicroBatcher(
            self._send, max_size=config.batch_size, linger_s=config.linger_ms / 1000, concurrency=config.concurrency
        )

    async def start(self) -> None:
        if self.config.tokenizer:
            from transformers import AutoTokenizer

            self.tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained, self.config.tokenizer)

    def state(self) -> str:
        return self.http.breaker.state()

    def render(self, conversation: Conversation, truncate: bool) -> str | list[int]:
        if self.tokenizer is None:
            return conversation.prompt + conversation.response
        messages = [
            {"role": "user", "content": conversation.prompt},
            {"role": "assistant", "content": conversation.response},
        ]
        ids = list(self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
        limit = self.tokenizer.model_max_length
        if isinstance(limit, int) and len(ids) > limit:
            if not truncate:
                raise BackendError(
                    f"input is {len(ids)} tokens; the reward model takes {limit} (set \"truncation\": \"left\")",
                    details={"kind": "too_long"},
                )
            ids = ids[-limit:]
            if self.config.kind != "sglang":
                return str(self.tokenizer.decode(ids, skip_special_tokens=False))
        if self.config.kind != "sglang":
            text: str = self.tokenizer.apply_chat_template(messages, tokenize=False)
            return text
        return ids

    def body(self, inputs: Sequence[str | list[int]]) -> dict[str, Any]:
        kind = self.config.kind
        if kind == "openrlhf":
            return {"query": list(inputs)}
        if kind == "sglang":
            field = "input_ids" if inputs and isinstance(inputs[0], list) else "text"
            return {field: list(inputs)}
        body: dict[str, Any] = {"input": list(inputs), self.config.raw_scores_field: False}
        if self.config.model:
            body["model"] = self.config.model
        if kind == "vllm_pooling":
            body["task"] = "classify"
        if self.tokenizer is not None:
            body["add_special_tokens"] = False  # the chat template wrote them
        return body

    async def score(self, conversations: Sequence[Conversation], deadline: float, *, truncate: bool) -> list[float]:
        return list(await asyncio.gather(*(self.batcher.submit((c, truncate, deadline)) for c in conversations)))

    async def _send(self, batch: list[tuple[Conversation, bool, float]]) -> list[float | BaseException]:
        out: list[float | BaseException] = [0.0] * len(batch)
        inputs: list[str | list[int]] = []
        index: list[int] = []
        for k, (conversation, truncate, _) in enumerate(batch):
            try:
                inputs.append(self.render(conversation, truncate))
                index.append(k)
            except BackendError as exc:
                out[k] = exc
        if not inputs:
            return out
        deadline = max(d for _, _, d in batch)  # each caller still stops waiting at its own deadline
        deadline = min(deadline, time.monotonic() + self.config.timeout_s * (self.config.retries + 1))
        data, _ = await self.http.post(_PATHS[self.config.kind], self.body(inputs), deadline)
        try:
            scores = parse_scores(self.config.kind, data, len(inputs))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.http.events(self.name, "bad_response")
            raise BackendError(
                f"backend {self.name!r}: the {self.config.kind} answer has an unexpected shape ({exc})",
                details={"kind": "bad_response"},
            ) from None
        for k, score in zip(index, scores, strict=True):
            out[k] = score
        return out

    async def aclose(self) -> None:
        await self.batcher.aclose()
        await self.http.aclose()
