"""A fault-injecting HTTP/1.1 reverse proxy for tests, between the service under test and a REAL upstream server.

The proxy runs its own asyncio loop on a background thread; it forwards each request to the upstream with
``httpx.AsyncClient`` and perturbs the exchange as told::

    with serve_in_thread(model_app) as upstream, FaultProxy(upstream) as proxy:
        proxy.set_faults(Fault.status(503, retry_after=0.1), Fault.drop())  # the next two requests, in order
        proxy.set_default(Fault.delay(0.05))  # every request after those (None: pass through)
        ...  # point the service at proxy.url
        assert proxy.in_flight_max <= 4
        assert proxy.log[0] == ("POST", "/v1/chat/completions", "status")

Responses are buffered (no streaming pass-through); upstream bodies are passed on decoded (no Content-Encoding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal

import httpx

FaultKind = Literal["delay", "status", "hang", "drop", "truncate_json", "replace_content", "answer_with", "garbage"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_REQUEST = HOP_BY_HOP | {"host", "content-length"}
# the body is passed on decoded by httpx, so its Content-Encoding no longer applies
_NOT_FORWARDED_RESPONSE = HOP_BY_HOP | {"content-length", "content-encoding"}
_JSON = [(b"Content-Type", b"application/json")]
_GARBAGE = b"<html><body>502 Bad Gateway</body></html> this is not JSON {"
_LINE_LIMIT = 1 << 20


@dataclass(frozen=True)
class Fault:
    """One perturbation, applied to one request (build it with the class methods)."""

    kind: FaultKind
    seconds: float = 0.0
    code: int = 200
    body: bytes = b""
    retry_after: str | None = None
    text: str = ""
    answer: Callable[[Any], str] | None = None

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then forward normally."""
        return cls("delay", seconds=seconds)

    @classmethod
    def status(
        cls, code: int, body: bytes = b'{"error":{"message":"injected"}}', retry_after: float | str | None = None
    ) -> Fault:
        """Answer ``code`` (JSON ``body``) without calling the upstream; ``Retry-After: <seconds>`` when given."""
        if retry_after is None or isinstance(retry_after, str):
            header = retry_after
        else:
            header = str(int(retry_after)) if float(retry_after).is_integer() else repr(float(retry_after))
        return cls("status", code=code, body=body, retry_after=header)

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer: until the client goes away or the proxy stops."""
        return cls("hang")

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without a single response byte."""
        return cls("drop")

    @classmethod
    def truncate_json(cls) -> Fault:
        """Forward; then ``choices[0].finish_reason = "length"`` and the message content cut to half its length."""
        return cls("truncate_json")

    @classmethod
    def replace_content(cls, text: str) -> Fault:
        """Forward; then ``choices[0].message.content = text``."""
        return cls("replace_content", text=text)

    @classmethod
    def answer_with(cls, answer: Callable[[Any], str]) -> Fault:
        """Forward; then ``choices[0].message.content = answer(request JSON)`` (a reply that depends on the
        request, e.g. on which response a pairwise prompt shows first)."""
        return cls("answer_with", answer=answer)

    @classmethod
    def garbage(cls) -> Fault:
        """Answer 200 (Content-Type: application/json) with a body that is not JSON, without calling the upstream."""
        return cls("garbage", code=200, body=_GARBAGE)


class _BadRequest(Exception):
    pass


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool
    finished: bool = False

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class FaultProxy:
    """A reverse proxy to ``upstream`` on ``127.0.0.1:<free port>``, served from a background thread."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", upstream_timeout_s: float | None = 120.0) -> None:
        self.upstream = upstream.rstrip("/")
        self._host = host
        self._upstream_timeout_s = upstream_timeout_s
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._default: Fault | None = None
        self._requests = 0
        self._in_flight = 0
        self._in_flight_max = 0
        self._connections = 0
        self._log: list[tuple[str, str, str]] = []
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # owned by the proxy's loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ---- control, from the test's thread

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fault proxy is not started")
        return f"http://{self._host}:{self._port}"

    def start(self, timeout_s: float = 10.0) -> FaultProxy:
        if self._thread is not None:
            raise RuntimeError("the fault proxy is already started")
        self._ready.clear()
        self._error = None
        self._port = None
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._port is None:
            self.stop()
            raise RuntimeError(f"the fault proxy did not start: {self._error!r}") from self._error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving: pending requests (``hang`` ones too) are cut off. Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        self._thread = None
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout_s)
        if thread.is_alive():
            raise RuntimeError(f"the fault proxy did not stop within {timeout_s:.0f}s")
        self._port = None
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"the fault proxy failed: {error!r}") from error

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set_faults(self, *faults: Fault) -> None:
        """Replace the queue: the next requests get these faults, one each, in order; then the default applies."""
        with self._lock:
            self._queue = deque(faults)

    def set_default(self, fault: Fault | None) -> None:
        """The fault for every request while the queue is empty (None: pass through)."""
        with self._lock:
            self._default = fault

    def reset_counters(self) -> None:
        """Zero ``requests`` and ``connections``, empty ``log``, and restart ``in_flight_max`` from ``in_flight``."""
        with self._lock:
            self._requests = 0
            self._connections = 0
            self._in_flight_max = self._in_flight
            self._log = []

    @property
    def requests(self) -> int:
        """Requests received (every one, whatever its fault)."""
        with self._lock:
            return self._requests

    @property
    def in_flight(self) -> int:
        """Requests received and not answered yet (a request leaves before its response's first byte is sent)."""
        with self._lock:
            return self._in_flight

    @property
    def in_flight_max(self) -> int:
        with self._lock:
            return self._in_flight_max

    @property
    def connections(self) -> int:
        """Client connections accepted (keep-alive reuse shows as fewer connections than requests)."""
        with self._lock:
            return self._connections

    @property
    def log(self) -> list[tuple[str, str, str]]:
        """A copy of ``(method, path without query, fault kind or "pass")``, one per request in arrival order."""
        with self._lock:
            return list(self._log)

    @property
    def faults_pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # ---- the proxy's own thread and loop

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by start() or stop(), never lost in the thread
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._upstream_timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            trust_env=False,
        )
        try:
            server = await asyncio.start_server(self._accept, self._host, 0, limit=_LINE_LIMIT)
            try:
                self._port = int(server.sockets[0].getsockname()[1])
                self._ready.set()
                await self._stopping.wait()
            finally:
                server.close()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                for writer in list(self._writers):  # connections whose task was cancelled before it ran
                    writer.transport.abort()
                self._writers.clear()
                await server.wait_closed()
        finally:
            await self._client.aclose()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a plain callback (not a coroutine) so that the connection is registered before anything can cancel it
        with self._lock:
            self._connections += 1
        self._writers.add(writer)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    body = json.dumps({"error": {"message": f"fault proxy: bad request: {exc}"}}).encode()
                    await _respond(writer, 400, _JSON, body, keep_alive=False)
                    break
                if request is None or not await self._handle(request, reader, writer):
                    break
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _begin(self, request: _Request) -> Fault | None:
        with self._lock:
            fault = self._queue.popleft() if self._queue else self._default
            self._requests += 1
            self._in_flight += 1
            self._in_flight_max = max(self._in_flight_max, self._in_flight)
            self._log.append((request.method, request.path, fault.kind if fault is not None else "pass"))
        return fault

    def _end(self, request: _Request) -> None:
        with self._lock:
            if not request.finished:
                request.finished = True
                self._in_flight -= 1

    async def _handle(self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for the next one."""
        fault = self._begin(request)
        try:
            kind = fault.kind if fault is not None else "pass"
            if fault is not None and kind == "hang":
                while await reader.read(65536):
                    pass
                return False
            if fault is not None and kind == "drop":
                return False
            reason: str | None = None
            if fault is not None and kind in ("status", "garbage"):
                status, headers, body = fault.code, list(_JSON), fault.body
                if fault.retry_after is not None:
                    headers.append((b"Retry-After", fault.retry_after.encode("latin-1")))
            else:
                if fault is not None and kind == "delay":
                    await asyncio.sleep(fault.seconds)
                status, reason, headers, body = await self._forward(request)
                if fault is not None and 200 <= status < 300:
                    if kind == "truncate_json":
                        body = _edit_first_choice(body, _truncate)
                    elif kind == "replace_content":
                        text = fault.text
                        body = _edit_first_choice(body, lambda choice: _replace(choice, text))
                    elif kind == "answer_with":
                        assert fault.answer is not None
                        text = fault.answer(json.loads(request.body or b"null"))
                        body = _edit_first_choice(body, lambda choice: _replace(choice, text))
            # out of flight before the first response byte: a client never sees its request still counted
            self._end(request)
            await _respond(writer, status, headers, body, keep_alive=request.keep_alive, reason=reason)
            return request.keep_alive
        finally:
            self._end(request)

    async def _forward(self, request: _Request) -> tuple[int, str, list[tuple[bytes, bytes]], bytes]:
        assert self._client is not None
        excluded = _NOT_FORWARDED_REQUEST | _connection_tokens(request.headers)
        headers = [(name, value) for name, value in request.headers if name.decode("latin-1").lower() not in excluded]
        try:
            response = await self._client.request(
                request.method, self.upstream + request.target, headers=headers, content=request.body
            )
        except httpx.HTTPError as exc:
            message = f"fault proxy: upstream {self.upstream} failed: {type(exc).__name__}: {exc}"
            body = json.dumps({"error": {"message": message}}).encode()
            return 502, "Bad Gateway", list(_JSON), body
        excluded = _NOT_FORWARDED_RESPONSE | _connection_tokens(response.headers.raw)
        kept = [(name, value) for name, value in response.headers.raw if name.decode("latin-1").lower() not in excluded]
        return response.status_code, response.reason_phrase, kept, response.content


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[str]:
    """The lower-case options of the Connection headers (the headers they name are hop-by-hop too)."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.decode("latin-1").lower() == "connection"
        for token in value.decode("latin-1").split(",")
        if token.strip()
    }


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on the connection, or None at a clean end of the connection between requests."""
    try:
        line = await reader.readline()
        while line in (b"\r\n", b"\n"):  # stray empty lines before a request are allowed
            line = await reader.readline()
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"request line {line[:100]!r}")
        method, target, version = parts
        headers: list[tuple[bytes, bytes]] = []
        while True:
            header = await reader.readline()
            if not header:
                raise asyncio.IncompleteReadError(b"", None)
            if header in (b"\r\n", b"\n"):
                break
            name, sep, value = header.partition(b":")
            if not sep or not name.strip():
                raise _BadRequest(f"header line {header[:100]!r}")
            headers.append((name.strip(), value.strip()))
        by_name = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
        if "chunked" in by_name.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            length = int(by_name.get("content-length", "0"))
            if length < 0:
                raise _BadRequest(f"Content-Length {length}")
            body = await reader.readexactly(length)
    except ValueError as exc:  # a line over the limit, a length or chunk size that is not a number
        raise _BadRequest(str(exc)) from exc
    tokens = _connection_tokens(headers)
    keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
    return _Request(method=method, target=target, headers=headers, body=body, keep_alive=keep_alive)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\n")).strip():  # trailers, then the final empty line
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readuntil(b"\n")


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    keep_alive: bool,
    reason: str | None = None,
) -> None:
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: keep-alive" if keep_alive else b"Connection: close")
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()


def _edit_first_choice(body: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """``body`` with ``edit`` applied to ``choices[0]``; unchanged when it is not an OpenAI-shaped JSON body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return body
    edit(choices[0])
    return json.dumps(data, ensure_ascii=False).encode()


def _truncate(choice: dict[str, Any]) -> None:
    choice["finish_reason"] = "length"
    message = choice.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        message["content"] = message["content"][: len(message["content"]) // 2]
    if isinstance(choice.get("text"), str):  # legacy /v1/completions
        choice["text"] = choice["text"][: len(choice["text"]) // 2]


def _replace(choice: dict[str, Any], text: str) -> None:
    message = choice.get("message")
    if isinstance(message, dict):
        message["content"] = text
    else:
        choice["message"] = {"role": "assistant", "content": text}
