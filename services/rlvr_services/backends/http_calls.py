"""One HTTP POST to a model server with the backend's limits, retries and circuit breaker.

Retried, with jittered exponential backoff that honours ``Retry-After``: connection errors, timeouts,
408, 429 and 5xx. Any other 4xx fails at once. Nothing waits past the item's deadline: an attempt's
timeout is cut to what is left, and a backoff that would end after it is not slept.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from rlvr_client.errors import BackendError, BackendTimeout

from .config import OpenAIBackend, RewardServerBackend
from .limits import CircuitBreaker, TokenBucket, remaining

Events = Callable[[str, str], None]  # (backend name, outcome): counted in /metrics

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_NOT_THE_BACKENDS_FAULT = frozenset({400, 413, 422})  # the item's input: no reason to open the breaker
_BODY_IN_MESSAGE = 300
# Connections per httpx client: httpcore's pool does work per request that grows with its connections, so
# one client with 64 connections spends ~3 ms of CPU a request; 16 clients of 4 spend ~1 ms (bench_judge).
CONNECTIONS_PER_CLIENT = 4


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff


@dataclass(frozen=True)
class _Failed:
    error: BackendError
    retry_after: float | None = None  # seconds the server asked for (0: our backoff); None: do not retry


class HttpBackend:
    """The transport part of a served backend, shared by chat and reward-model clients."""

    def __init__(self, name: str, config: OpenAIBackend | RewardServerBackend, events: Events) -> None:
        self.name = name
        self.config = config
        self.events = events
        self.breaker = CircuitBreaker(name, config.breaker_failures, config.breaker_reset_s)
        self.semaphore = asyncio.Semaphore(config.concurrency)
        self.requests = TokenBucket(config.requests_per_minute) if config.requests_per_minute else None
        self.tokens = TokenBucket(config.tokens_per_minute) if config.tokens_per_minute else None
        headers = {}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(f"backend {name!r}: environment variable {config.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        per_client = min(config.concurrency, CONNECTIONS_PER_CLIENT)
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        self.clients = [
            httpx.AsyncClient(
                base_url=config.base_url.rstrip("/"),
                headers=headers,
                limits=limits,
                timeout=httpx.Timeout(config.timeout_s),
                trust_env=False,  # a backend is where the settings say, never where a proxy variable sends it
            )
            for _ in range(-(-config.concurrency // per_client))
        ]
        self.client_load = [0] * len(self.clients)
        self.in_flight = 0

    def _fail(self, outcome: str, message: str, *, timeout: bool = False, breaker: bool = True) -> BackendError:
        self.events(self.name, outcome)
        if breaker:
            self.breaker.failure(message)
        cls = BackendTimeout if timeout else BackendError
        return cls(f"backend {self.name!r}: {message}", details={"kind": outcome, "backend": self.name})

    async def post(self, path: str, body: dict[str, Any], deadline: float, *, tokens: float = 0) -> tuple[Any, int]:
        """POST ``body`` as JSON; returns the decoded JSON answer and the number of attempts."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self.breaker.check()
            except BackendError:
                self.events(self.name, "circuit_open")
                raise
            outcome = await self._attempt(path, body, deadline, tokens)
            if not isinstance(outcome, _Failed):
                return outcome, attempt
            error, wait = outcome.error, outcome.retry_after
            if wait is None or attempt > self.config.retries:
                raise error
            backoff = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (attempt - 1))
            backoff = backoff * (0.5 + random.random() / 2)  # jitter
            pause = min(self.config.max_backoff_s, max(wait, backoff))
            if time.monotonic() + pause >= deadline:
                raise error
            self.events(self.name, "retry")
            await asyncio.sleep(pause)

    async def _attempt(self, path: str, body: dict[str, Any], deadline: float, tokens: float) -> Any:
        """One try: the decoded JSON answer, or a `_Failed`."""
        if self.requests is not None:
            await self.requests.take(1, deadline)
        if self.tokens is not None and tokens:
            await self.tokens.take(tokens, deadline)
        async with self.semaphore:
            self.in_flight += 1
            shard = min(range(len(self.clients)), key=self.client_load.__getitem__)
            self.client_load[shard] += 1
            try:
                left = remaining(deadline)
                timeout = min(self.config.timeout_s, left)
                response = await self.clients[shard].post(path, json=body, timeout=timeout)
            except httpx.TimeoutException:
                hit_deadline = time.monotonic() >= deadline - 0.01
                return _Failed(self._fail("timeout", f"no answer within {timeout:.3g}s", timeout=hit_deadline), 0.0)
            except httpx.TransportError as exc:
                return _Failed(self._fail("connect", f"{type(exc).__name__}: {exc}"), 0.0)
            finally:
                self.in_flight -= 1
                self.client_load[shard] -= 1
        status = response.status_code
        if status == 200:
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _Failed(self._fail("bad_response", f"200 with a body that is not JSON: {response.text[:80]!r}"))
            self.breaker.success()
            self.events(self.name, "ok")
            return data
        text = response.text[:_BODY_IN_MESSAGE]
        if status in _RETRY_STATUSES:
            outcome = "http_429" if status == 429 else ("http_408" if status == 408 else "http_5xx")
            error = self._fail(outcome, f"HTTP {status}: {text}", breaker=status != 429)
            return _Failed(error, _retry_after(response) or 0.0)
        return _Failed(self._fail("http_4xx", f"HTTP {status}: {text}", breaker=status not in _NOT_THE_BACKENDS_FAULT))

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))
