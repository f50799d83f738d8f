"""The fault proxy's own tests, against a small real upstream on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fault_proxy import Fault, FaultProxy

from rlvr_services.server import serve_in_thread

CONTENT = "The answer is 42, as computed."
CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}


class Upstream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits = 0

    def hit(self) -> None:
        with self._lock:
            self._hits += 1

    @property
    def hits(self) -> int:
        with self._lock:
            return self._hits


def upstream_app(counter: Upstream) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        counter.hit()
        payload = await request.json()
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": payload.get("model", "tiny"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": CONTENT}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10},
        }
        return JSONResponse(body, headers={"X-Upstream": "yes"})

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        counter.hit()
        await asyncio.sleep(0.3)
        return {"slow": True}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        counter.hit()
        return {
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": (await request.body()).decode(),
        }

    return app


@pytest.fixture(scope="module")
def upstream_counter() -> Upstream:
    return Upstream()


@pytest.fixture(scope="module")
def upstream(upstream_counter: Upstream) -> Iterator[str]:
    with serve_in_thread(upstream_app(upstream_counter)) as url:
        yield url


@pytest.fixture
def proxy(upstream: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream) as proxy:
        yield proxy


def wait_for(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_pass_through_keep_alive_and_headers(proxy: FaultProxy, upstream: str) -> None:
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        for _ in range(3):
            response = client.post("/v1/chat/completions", json=CHAT)
            assert response.status_code == 200
            assert response.json()["choices"][0]["message"]["content"] == CONTENT
            assert response.headers["x-upstream"] == "yes"
            assert response.headers["content-length"] == str(len(response.content))
        echo = client.post("/echo?a=1&b=two", content=b"raw body", headers={"X-Test": "forwarded"}).json()
    assert proxy.connections == 1  # all four requests on one kept-alive connection
    assert proxy.requests == 4
    assert echo["query"] == "a=1&b=two"
    assert echo["body"] == "raw body"
    assert echo["headers"]["x-test"] == "forwarded"
    assert echo["headers"]["host"] == upstream.removeprefix("http://")
    assert proxy.log == [("POST", "/v1/chat/completions", "pass")] * 3 + [("POST", "/echo", "pass")]


async def test_connection_close_is_honoured(proxy: FaultProxy) -> None:
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        body = json.dumps(CHAT).encode()
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)  # to EOF: the proxy closed its side
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close" in head
    assert json.loads(payload)["choices"][0]["finish_reason"] == "stop"


def test_delay(proxy: FaultProxy) -> None:
    proxy.set_faults(Fault.delay(0.2))
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=CHAT)
        assert time.monotonic() - started >= 0.2
        assert response.json()["choices"][0]["message"]["content"] == CONTENT
    assert proxy.log == [("POST", "/v1/chat/completions", "delay")]


def test_status_does_not_call_upstream(proxy: FaultProxy, upstream_counter: Upstream) -> None:
    proxy.set_faults(
        Fault.status(429, retry_after=2), Fault.status(500, body=b"oops"), Fault.status(503, retry_after=0.5)
    )
    before = upstream_counter.hits
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        first = client.post("/v1/chat/completions", json=CHAT)
        second = client.post("/v1/chat/completions", json=CHAT)
        third = client.post("/v1/chat/completions", json=CHAT)
        assert upstream_counter.hits == before
        passed = client.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "2"
    assert first.json() == {"error": {"message": "injected"}}
    assert (second.status_code, second.content, "retry-after" in second.headers) == (500, b"oops", False)
    assert (third.status_code, third.headers["retry-after"]) == (503, "0.5")
    assert passed.status_code == 200
    assert upstream_counter.hits == before + 1
    assert [kind for _, _, kind in proxy.log] == ["status", "status", "status", "pass"]
    assert proxy.connections == 1


def test_default_fault_and_queue_order(proxy: FaultProxy) -> None:
    proxy.set_default(Fault.status(502))
    proxy.set_faults(Fault.status(500), Fault.status(503))
    assert proxy.faults_pending == 2
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        codes = [client.post("/v1/chat/completions", json=CHAT).status_code for _ in range(4)]
        proxy.set_default(None)
        codes.append(client.post("/v1/chat/completions", json=CHAT).status_code)
    assert codes == [500, 503, 502, 502, 200]
    assert proxy.faults_pending == 0


def test_drop_then_recover(proxy: FaultProxy) -> None:
    proxy.set_faults(Fault.drop())
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/chat/completions", json=CHAT)
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert [kind for _, _, kind in proxy.log] == ["drop", "pass"]
    assert proxy.in_flight == 0


def test_truncate_json(proxy: FaultProxy) -> None:
    proxy.set_faults(Fault.truncate_json())
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        response = client.post("/v1/chat/completions", json=CHAT)
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == CONTENT[: len(CONTENT) // 2]
    assert response.headers["content-length"] == str(len(response.content))


def test_replace_content(proxy: FaultProxy) -> None:
    proxy.set_faults(Fault.replace_content("VERDICT: CORRECT"), Fault.replace_content(""))
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        first = client.post("/v1/chat/completions", json=CHAT).json()
        second = client.post("/v1/chat/completions", json=CHAT).json()
    assert first["choices"][0]["message"]["content"] == "VERDICT: CORRECT"
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["usage"]["total_tokens"] == 10
    assert second["choices"][0]["message"]["content"] == ""


def test_garbage(proxy: FaultProxy, upstream_counter: Upstream) -> None:
    proxy.set_faults(Fault.garbage())
    before = upstream_counter.hits
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        response = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert upstream_counter.hits == before


def test_upstream_down_is_a_502() -> None:
    with FaultProxy("http://127.0.0.1:1") as proxy, httpx.Client(base_url=proxy.url, timeout=5) as client:
        response = client.get("/v1/models")
    assert response.status_code == 502
    assert "fault proxy" in response.json()["error"]["message"]


async def test_in_flight_counts(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(8)))
        assert all(response.json() == {"slow": True} for response in responses)
        assert proxy.requests == 8
        assert proxy.in_flight_max == 8
        assert proxy.in_flight == 0
        proxy.reset_counters()
        assert (proxy.requests, proxy.in_flight_max, proxy.log) == (0, 0, [])
        # one after the other, over the eight pooled connections: never two in flight at once
        for _ in range(6):
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert proxy.requests == 6
    assert proxy.in_flight_max == 1


async def test_hang_ends_when_the_client_gives_up(proxy: FaultProxy) -> None:
    proxy.set_faults(Fault.hang())
    async with httpx.AsyncClient(base_url=proxy.url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/chat/completions", json=CHAT)
    wait_for(lambda: proxy.in_flight == 0)
    assert proxy.in_flight_max == 1
    assert proxy.log == [("POST", "/v1/chat/completions", "hang")]


async def test_stop_is_prompt_while_a_request_hangs(upstream: str) -> None:
    proxy = FaultProxy(upstream).start()
    try:
        proxy.set_faults(Fault.hang())
        async with httpx.AsyncClient(base_url=proxy.url, timeout=10) as client:
            pending = asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
            while proxy.in_flight == 0:
                assert not pending.done()
                await asyncio.sleep(0.01)
            started = time.monotonic()
            proxy.stop()
            assert time.monotonic() - started < 1.0
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await pending
    finally:
        proxy.stop()
    with pytest.raises(RuntimeError):
        _ = proxy.url
