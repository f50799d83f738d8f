"""The sync and async clients against real servers: the embedded gateway, and small scripted servers
(503 with Retry-After, plain-text proxy errors, 4xx) run on a real uvicorn to exercise the retries."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client.parser import text_string_to_metric_families

from rlvr_client import (
    AsyncRewardClient,
    InternalError,
    InvalidRequest,
    Overloaded,
    PayloadTooLarge,
    RetryPolicy,
    RewardClient,
    Status,
    TransportError,
    Unavailable,
    UnknownVerifier,
)
from rlvr_services.server import serve_in_thread

FAST_RETRY = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)
FORMAT = {"name": "format", "weight": 0.5}


def sleep_items(n: int, prefix: str = "i") -> list[dict[str, Any]]:
    """Items whose reward is their own index; later items answer sooner, so order is not arrival order."""
    return [
        {
            "id": f"{prefix}{i}",
            "completion": "x",
            "rewards": [{"name": "sleep", "params": {"value": float(i), "ms": float(5 * (n - i))}}],
        }
        for i in range(n)
    ]


def math_items() -> list[dict[str, Any]]:
    return [
        {
            "id": "right",
            "completion": "<think>1+1</think> \\boxed{2}",
            "rewards": [{"name": "math", "params": {"gold": "2"}}],
        },
        {
            "id": "wrong",
            "completion": "<think>1+1</think> \\boxed{3}",
            "rewards": [{"name": "math", "params": {"gold": "2"}}],
        },
        {
            "id": "half",
            "completion": "<think>x</think> \\boxed{0.5}",
            "rewards": [{"name": "math", "params": {"gold": "1/2"}}],
        },
    ]


class CountingTransport(httpx.HTTPTransport):
    """A real HTTP transport that records every request it sends (connection failures included)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)

    def batch_sizes(self) -> list[int]:
        return [len(json.loads(r.content)["items"]) for r in self.requests if r.url.path == "/v1/score"]


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


@dataclass(frozen=True)
class RecordingRetry(RetryPolicy):
    """The client's backoff policy, recording the (attempt, retry_after) of every wait it computes."""

    seen: list[tuple[int, float | None]] = field(default_factory=list)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        self.seen.append((attempt, retry_after))
        return super().delay(attempt, retry_after)


def score_requests_served(url: str) -> float:
    """The gateway's own count of `POST /v1/score` answered 200."""
    text = httpx.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "rlvr_requests_total"
                and sample.labels.get("endpoint") == "/v1/score"
                and sample.labels.get("code") == "200"
            ):
                return sample.value
    return 0.0


# --- scripted servers -------------------------------------------------------------------------------------


@dataclass
class Script:
    """What a scripted server answers: ``failures`` error responses (None: always), then a valid ScoreResponse."""

    failures: int | None
    status: int = 503
    body: Any = field(
        default_factory=lambda: {"error": {"code": "overloaded", "message": "backlog full", "details": {}}}
    )
    headers: dict[str, str] = field(default_factory=lambda: {"Retry-After": "0"})
    calls: list[dict[str, Any]] = field(default_factory=list)


def scripted_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/score")
    async def score(request: Request) -> Response:
        body = await request.json()
        script.calls.append(body)
        if script.failures is None or len(script.calls) <= script.failures:
            if isinstance(script.body, str):
                return PlainTextResponse(script.body, status_code=script.status, headers=script.headers)
            return JSONResponse(script.body, status_code=script.status, headers=script.headers)
        results = [
            {
                "id": item["id"],
                "reward": 1.0,
                "components": [{"name": "format", "score": 1.0, "status": "ok", "reason": "", "details": {}}],
            }
            for item in body["items"]
        ]
        return JSONResponse({"results": results})

    return app


@pytest.fixture
def scripted() -> Iterator[Any]:
    """Start a scripted server: ``url = scripted(Script(...))``; stopped after the test."""
    stack: list[Any] = []

    def start(script: Script) -> str:
        cm = serve_in_thread(scripted_app(script))
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def free_port() -> int:
    """A port nothing listens on: bound, read, closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


ONE_ITEM = [{"id": "a", "completion": "<think>x</think>y"}]


# --- sync client against the real gateway -----------------------------------------------------------------


def test_round_trip_keeps_input_order(gateway_url: str) -> None:
    with RewardClient(gateway_url) as client:
        assert client.ready()
        results = client.score(math_items(), rewards=[FORMAT])
    assert [r.id for r in results] == ["right", "wrong", "half"]
    assert [r.reward for r in results] == [1.0, 0.0, 1.0]
    wrong = results[1].components
    assert [c.name for c in wrong] == ["math"]  # the item's own specs win over the request's defaults
    assert wrong[0].status is Status.OK and wrong[0].score == 0.0


def test_default_specs_apply_to_items_without_their_own(gateway_url: str) -> None:
    items = [{"id": "t", "completion": "<think>a</think>b"}, {"id": "n", "completion": "no tags"}]
    with RewardClient(gateway_url) as client:
        results = client.score(items, rewards=[FORMAT])
    assert [(r.id, r.reward) for r in results] == [("t", 0.5), ("n", 0.0)]


def test_batches_are_split_and_reassembled_in_order(gateway_url: str) -> None:
    transport = CountingTransport()
    before = score_requests_served(gateway_url)
    with RewardClient(gateway_url, max_batch_items=3, transport=transport) as client:
        results = client.score(sleep_items(10))
    assert [r.id for r in results] == [f"i{i}" for i in range(10)]
    assert [r.reward for r in results] == [float(i) for i in range(10)]
    assert transport.batch_sizes() == [3, 3, 3, 1]
    assert score_requests_served(gateway_url) - before == 4


def test_no_items_no_request(gateway_url: str) -> None:
    transport = CountingTransport()
    with RewardClient(gateway_url, transport=transport) as client:
        assert client.score([], rewards=[FORMAT]) == []
    assert transport.requests == []


def test_verifiers_lists_params_schemas(gateway_url: str) -> None:
    with RewardClient(gateway_url) as client:
        infos = {i.name: i for i in client.verifiers()}
    assert {"math", "format", "sleep"} <= set(infos)
    assert "gold" in infos["math"].params_schema["properties"]


def test_unknown_verifier_is_rebuilt_with_known_names(gateway_url: str) -> None:
    with RewardClient(gateway_url) as client, pytest.raises(UnknownVerifier) as caught:
        client.score(ONE_ITEM, rewards=[{"name": "no-such-verifier"}])
    err = caught.value
    assert isinstance(err, InvalidRequest)
    assert err.details["name"] == "no-such-verifier"
    assert {"math", "format", "sleep"} <= set(err.details["known"])
    assert "no-such-verifier" in err.message


def test_bad_param_is_invalid_request_naming_the_field(gateway_url: str) -> None:
    with RewardClient(gateway_url) as client, pytest.raises(InvalidRequest) as caught:
        client.score(ONE_ITEM, rewards=[{"name": "math", "params": {"gold": "2", "bogus": 1}}])
    assert type(caught.value) is InvalidRequest
    assert "rewards[0].params.bogus" in caught.value.message


def test_oversized_completion_is_payload_too_large(gateway_url: str) -> None:
    item = {"id": "big", "completion": "x" * 1_000_001}
    with RewardClient(gateway_url) as client, pytest.raises(PayloadTooLarge) as caught:
        client.score([item], rewards=[FORMAT])
    assert caught.value.details["field"] == "items[0].completion"
    assert caught.value.details["limit"] == 1_000_000


# --- retries, against scripted servers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "details", "expected_after"),
    [({"Retry-After": "1"}, {}, 1.0), ({}, {"retry_after_s": 0.5}, 0.5)],
    ids=["header", "body"],
)
def test_503_is_retried_honouring_retry_after(
    scripted: Any, headers: dict[str, str], details: dict[str, Any], expected_after: float
) -> None:
    body = {"error": {"code": "overloaded", "message": "backlog full", "details": details}}
    script = Script(failures=2, body=body, headers=headers)
    url = scripted(script)
    retry = RecordingRetry(attempts=5, initial_s=0.01, max_s=0.01)  # max_s caps the server's Retry-After
    with RewardClient(url, retry=retry) as client:
        results = client.score(ONE_ITEM, rewards=[FORMAT])
    assert [r.id for r in results] == ["a"] and results[0].reward == 1.0
    assert len(script.calls) == 3
    assert retry.seen == [(0, expected_after), (1, expected_after)]


def test_always_503_raises_overloaded_after_exactly_the_attempts(scripted: Any) -> None:
    script = Script(failures=None)
    url = scripted(script)
    with RewardClient(url, retry=RetryPolicy(attempts=4, initial_s=0.01, max_s=0.01)) as client:
        with pytest.raises(Overloaded) as caught:
            client.score(ONE_ITEM, rewards=[FORMAT])
    assert caught.value.message == "backlog full"
    assert len(script.calls) == 4


def test_plain_text_502_from_a_proxy_is_retried_as_unavailable(scripted: Any) -> None:
    script = Script(failures=1, status=502, body="<html>Bad Gateway</html>", headers={})
    url = scripted(script)
    with RewardClient(url, retry=FAST_RETRY) as client:
        assert client.score(ONE_ITEM, rewards=[FORMAT])[0].reward == 1.0
    assert len(script.calls) == 2

    script = Script(failures=None, status=502, body="<html>Bad Gateway</html>", headers={})
    url = scripted(script)
    with RewardClient(url, retry=FAST_RETRY) as client, pytest.raises(Unavailable) as caught:
        client.score(ONE_ITEM, rewards=[FORMAT])
    assert type(caught.value) is Unavailable
    assert "502" in caught.value.message and "Bad Gateway" in caught.value.message
    assert len(script.calls) == FAST_RETRY.attempts


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (422, {"error": {"code": "invalid_request", "message": "items[0].id: bad", "details": {}}}, InvalidRequest),
        (413, {"error": {"code": "payload_too_large", "message": "too big", "details": {}}}, PayloadTooLarge),
        (500, {"error": {"code": "internal_error", "message": "boom", "details": {}}}, InternalError),
        (404, "Not Found", InvalidRequest),
    ],
    ids=["422", "413", "500", "404-text"],
)
def test_client_errors_are_not_retried(scripted: Any, status: int, body: Any, cls: type[Exception]) -> None:
    script = Script(failures=None, status=status, body=body, headers={})
    url = scripted(script)
    with RewardClient(url, retry=FAST_RETRY) as client, pytest.raises(cls) as caught:
        client.score(ONE_ITEM, rewards=[FORMAT])
    assert type(caught.value) is cls
    assert len(script.calls) == 1


def test_closed_port_raises_transport_error_after_the_attempts() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    transport = CountingTransport()
    with RewardClient(url, retry=FAST_RETRY, transport=transport) as client:
        assert not client.ready()
        transport.requests.clear()
        with pytest.raises(TransportError) as caught:
            client.score(ONE_ITEM, rewards=[FORMAT])
    assert len(transport.requests) == FAST_RETRY.attempts
    assert url in caught.value.message
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_a_server_that_starts_late_is_reached_by_retrying() -> None:
    port = free_port()
    script = Script(failures=0)
    first_refused, stop = threading.Event(), threading.Event()

    class Refusals(CountingTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return super().handle_request(request)
            except httpx.ConnectError:
                first_refused.set()
                raise

    def serve_later() -> None:
        if not first_refused.wait(30):  # the client has now certainly tried and failed once
            return
        stop.wait(0.5)
        with serve_in_thread(scripted_app(script), port=port):
            stop.wait()

    server = threading.Thread(target=serve_later, daemon=True)
    server.start()
    transport = Refusals()
    try:
        retry = RetryPolicy(attempts=40, initial_s=0.05, max_s=0.2)
        with RewardClient(f"http://127.0.0.1:{port}", retry=retry, transport=transport) as client:
            results = client.score(ONE_ITEM, rewards=[FORMAT])
    finally:
        stop.set()
        server.join(30)
    assert [r.id for r in results] == ["a"]
    assert len(transport.requests) >= 2
    assert len(script.calls) == 1


# --- async client -----------------------------------------------------------------------------------------


async def test_async_round_trip_and_concurrent_calls(gateway_url: str) -> None:
    async with AsyncRewardClient(gateway_url) as client:
        results = await client.score(math_items())
        assert [(r.id, r.reward) for r in results] == [("right", 1.0), ("wrong", 0.0), ("half", 1.0)]
        first, second = await asyncio.gather(client.score(sleep_items(4, "a")), client.score(sleep_items(3, "b")))
        names = {i.name for i in await client.verifiers()}
    assert [(r.id, r.reward) for r in first] == [("a0", 0.0), ("a1", 1.0), ("a2", 2.0), ("a3", 3.0)]
    assert [(r.id, r.reward) for r in second] == [("b0", 0.0), ("b1", 1.0), ("b2", 2.0)]
    assert {"math", "format", "sleep"} <= names


async def test_async_batches_run_concurrently_and_keep_order(gateway_url: str) -> None:
    transport = AsyncCountingTransport()
    before = score_requests_served(gateway_url)
    async with AsyncRewardClient(gateway_url, max_batch_items=3, max_concurrency=2, transport=transport) as client:
        results = await client.score(sleep_items(10))
    assert [(r.id, r.reward) for r in results] == [(f"i{i}", float(i)) for i in range(10)]
    assert sorted(len(json.loads(r.content)["items"]) for r in transport.requests) == [1, 3, 3, 3]
    assert score_requests_served(gateway_url) - before == 4


async def test_async_errors_and_retries(gateway_url: str, scripted: Any) -> None:
    async with AsyncRewardClient(gateway_url) as client:
        with pytest.raises(UnknownVerifier) as caught:
            await client.score(ONE_ITEM, rewards=[{"name": "nope"}])
    assert "math" in caught.value.details["known"]

    script = Script(failures=2)
    async with AsyncRewardClient(scripted(script), retry=FAST_RETRY) as client:
        assert (await client.score(ONE_ITEM, rewards=[FORMAT]))[0].reward == 1.0
    assert len(script.calls) == 3

    script = Script(failures=None)
    async with AsyncRewardClient(scripted(script), retry=FAST_RETRY) as client:
        with pytest.raises(Overloaded):
            await client.score(ONE_ITEM, rewards=[FORMAT])
    assert len(script.calls) == FAST_RETRY.attempts

    transport = AsyncCountingTransport()
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncRewardClient(url, retry=FAST_RETRY, transport=transport) as client:
        with pytest.raises(TransportError):
            await client.score(ONE_ITEM, rewards=[FORMAT])
    assert len(transport.requests) == FAST_RETRY.attempts


def _score_from_two_loops(client: AsyncRewardClient) -> tuple[list[Any], list[Any], list[str]]:
    """Score from two `asyncio.run` loops (closing the client in the second); return both results and the
    ResourceWarnings about unclosed sockets (recorded, so that a leak cannot fail some later test)."""
    loops: list[asyncio.AbstractEventLoop] = []

    async def score(prefix: str, last: bool) -> list[Any]:
        loops.append(asyncio.get_running_loop())
        try:
            return await client.score(sleep_items(2, prefix))
        finally:
            if last:
                await client.aclose()

    with warnings.catch_warnings(record=True):  # whatever earlier tests left for the collector is not ours
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        first = asyncio.run(score("x", last=False))
        second = asyncio.run(score("y", last=True))
        gc.collect()
    assert loops[0] is not loops[1]
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    return first, second, leaks


def test_async_client_works_from_two_event_loops(gateway_url: str) -> None:
    """TRL may call the reward function from a different loop than the one that first used the client."""
    first, second, _ = _score_from_two_loops(AsyncRewardClient(gateway_url))
    assert [(r.id, r.reward) for r in first] == [("x0", 0.0), ("x1", 1.0)]
    assert [(r.id, r.reward) for r in second] == [("y0", 0.0), ("y1", 1.0)]


def test_switching_event_loops_leaks_no_connection(gateway_url: str) -> None:
    """Regression: the client used to keep one httpx client per loop and drop the old one unclosed."""
    _, _, leaks = _score_from_two_loops(AsyncRewardClient(gateway_url))
    assert leaks == []


def test_aclose_from_another_event_loop(gateway_url: str) -> None:
    """Regression: aclose() used to await an httpx client bound to an already closed loop."""
    client = AsyncRewardClient(gateway_url)

    async def score() -> list[Any]:
        return await client.score(sleep_items(1))

    async def close() -> None:
        await client.aclose()

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", ResourceWarning)
        assert asyncio.run(score())[0].reward == 0.0
        try:
            asyncio.run(close())
            closed = True
        except RuntimeError:  # "Event loop is closed"
            closed = False
        gc.collect()
    assert closed
