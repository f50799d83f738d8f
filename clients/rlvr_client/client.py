"""Sync and async clients for the rlvr-stack gateway.

Both batch large requests (``max_batch_items`` per HTTP call), retry with exponential backoff on
503 and on connection errors (honouring Retry-After), and raise the server's error as the same
exception class from :mod:`rlvr_client.errors`. With an API key (``api_key``, or ``RLVR_API_KEY`` in the
environment) they send ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import random
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import NotReady, RLVRError, TransportError, Unavailable, error_from_body
from .models import (
    ItemResult,
    RewardSpec,
    RunRequest,
    RunResponse,
    ScoreItem,
    ScoreRequest,
    ScoreResponse,
    VerifierInfo,
    VerifiersResponse,
)

DEFAULT_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "RLVR_API_KEY"


def _auth_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header for ``api_key``, else for ``RLVR_API_KEY``; none when neither is set."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    return {"Authorization": f"Bearer {key.strip()}"} if key and key.strip() else {}


@dataclass(frozen=True)
class RetryPolicy:
    """How to retry a call that failed with 503 or a connection error."""

    attempts: int = 6
    initial_s: float = 0.25
    max_s: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_s)
        base: float = min(self.initial_s * (2**attempt), self.max_s)
        return base * (0.5 + random.random() / 2)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # httpx's own default (certifi), built once per process


def _chunks(items: Sequence[ScoreItem], size: int) -> list[Sequence[ScoreItem]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _request_body(items: Sequence[ScoreItem], rewards: Sequence[RewardSpec] | None) -> dict[str, Any]:
    req = ScoreRequest(items=list(items), rewards=list(rewards) if rewards is not None else None)
    return req.model_dump(mode="json", exclude_none=True)


def _coerce_items(items: Iterable[ScoreItem | dict[str, Any]]) -> list[ScoreItem]:
    return [i if isinstance(i, ScoreItem) else ScoreItem.model_validate(i) for i in items]


def _coerce_specs(rewards: Iterable[RewardSpec | dict[str, Any]] | None) -> list[RewardSpec] | None:
    if rewards is None:
        return None
    return [r if isinstance(r, RewardSpec) else RewardSpec.model_validate(r) for r in rewards]


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    err = error_from_body(response.status_code, body)
    if isinstance(err, Unavailable) and "retry_after_s" not in err.details:
        header = response.headers.get("retry-after")
        if header is not None:
            try:
                err.details["retry_after_s"] = float(header)
            except ValueError:
                pass
    raise err


def _backoff(policy: RetryPolicy, attempt: int, exc: Exception, url: str) -> float:
    """Seconds to wait before retrying after ``exc``; raises when it is not retryable or tries are spent."""
    retry_after = exc.retry_after if isinstance(exc, Unavailable) else None
    retryable = isinstance(exc, (Unavailable, httpx.TransportError))
    if retryable and attempt < policy.attempts - 1:
        return policy.delay(attempt, retry_after)
    if isinstance(exc, RLVRError):
        raise exc
    raise TransportError(f"could not reach rlvr-stack at {url}: {type(exc).__name__}: {exc}") from exc


class RewardClient:
    """Blocking client. ``with RewardClient(url) as c: c.score(items, rewards)``.

    ``api_key``: sent as a bearer token; when not given, ``RLVR_API_KEY`` from the environment (if set)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout_s: float = 600.0,
        max_batch_items: int = 512,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.max_batch_items = max_batch_items
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, transport=transport, headers=_auth_headers(api_key)
        )

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        for attempt in itertools.count():
            try:
                response = self._http.request(method, path, json=json)
                _raise_for(response)
                return response.json()
            except (RLVRError, httpx.TransportError) as exc:
                time.sleep(_backoff(self.retry, attempt, exc, self.url))

    def score(
        self,
        items: Iterable[ScoreItem | dict[str, Any]],
        rewards: Iterable[RewardSpec | dict[str, Any]] | None = None,
    ) -> list[ItemResult]:
        """Score items (split into batches of ``max_batch_items``); results keep the input order."""
        all_items, specs = _coerce_items(items), _coerce_specs(rewards)
        out: list[ItemResult] = []
        for chunk in _chunks(all_items, self.max_batch_items):
            if not chunk:
                continue
            body = self._call("POST", "/v1/score", _request_body(chunk, specs))
            out.extend(ScoreResponse.model_validate(body).results)
        return out

    def verifiers(self) -> list[VerifierInfo]:
        return VerifiersResponse.model_validate(self._call("GET", "/v1/verifiers")).verifiers

    def run(self, language: str, code: str, **options: Any) -> RunResponse:
        """Run one program in the sandbox (`POST /v1/run`); options: stdin, files, timeout_s, memory_mb."""
        body = RunRequest(language=language, code=code, **options).model_dump(exclude_none=True)
        return RunResponse.model_validate(self._call("POST", "/v1/run", body))

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until GET /readyz answers 200; raise `NotReady` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise NotReady(f"{self.url} did not become ready within {timeout_s:g}s")
            time.sleep(0.05)


class AsyncRewardClient:
    """Asyncio client; batches run concurrently (at most ``max_concurrency`` at once).

    Each call opens its own connection pool and closes it before returning, so one client object can
    be used from any event loop (TRL runs async rewards on a loop of its own) and leaks nothing.
    ``api_key`` as for :class:`RewardClient`.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout_s: float = 600.0,
        max_batch_items: int = 512,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.max_batch_items = max_batch_items
        self.retry = retry or RetryPolicy()
        self._headers = _auth_headers(api_key)
        self._timeout_s = timeout_s
        self._transport = transport
        self._max_concurrency = max_concurrency

    async def __aenter__(self) -> AsyncRewardClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _client(self) -> httpx.AsyncClient:
        # building an SSL context costs tens of milliseconds: make it once, not once per call
        return httpx.AsyncClient(
            base_url=self.url,
            timeout=self._timeout_s,
            transport=self._transport,
            verify=_ssl_context(),
            headers=self._headers,
        )

    async def aclose(self) -> None:
        """Nothing to release: connections live only for the duration of a call."""

    async def _call(self, http: httpx.AsyncClient, method: str, path: str, json: Any = None) -> Any:
        for attempt in itertools.count():
            try:
                response = await http.request(method, path, json=json)
                _raise_for(response)
                return response.json()
            except (RLVRError, httpx.TransportError) as exc:
                await asyncio.sleep(_backoff(self.retry, attempt, exc, self.url))

    async def score(
        self,
        items: Iterable[ScoreItem | dict[str, Any]],
        rewards: Iterable[RewardSpec | dict[str, Any]] | None = None,
    ) -> list[ItemResult]:
        all_items, specs = _coerce_items(items), _coerce_specs(rewards)
        gate = asyncio.Semaphore(self._max_concurrency)

        async def one(http: httpx.AsyncClient, chunk: Sequence[ScoreItem]) -> list[ItemResult]:
            if not chunk:
                return []
            async with gate:
                body = await self._call(http, "POST", "/v1/score", _request_body(chunk, specs))
            return ScoreResponse.model_validate(body).results

        async with self._client() as http:
            parts = await asyncio.gather(*(one(http, c) for c in _chunks(all_items, self.max_batch_items)))
        return [r for part in parts for r in part]

    async def verifiers(self) -> list[VerifierInfo]:
        async with self._client() as http:
            body = await self._call(http, "GET", "/v1/verifiers")
        return VerifiersResponse.model_validate(body).verifiers

    async def run(self, language: str, code: str, **options: Any) -> RunResponse:
        """Run one program in the sandbox (`POST /v1/run`); options: stdin, files, timeout_s, memory_mb."""
        request = RunRequest(language=language, code=code, **options).model_dump(exclude_none=True)
        async with self._client() as http:
            body = await self._call(http, "POST", "/v1/run", request)
        return RunResponse.model_validate(body)
