"""Running an app under uvicorn: in the foreground (CLI) or in a background thread (demo, tests).

In the foreground the first SIGTERM/SIGINT drains the app (``app.state.drain``, see `drain`) before uvicorn's
own shutdown; a second signal skips what is left of the drain.

Slow clients cannot hold connections: a request head not whole within ``RLVR_HEADER_TIMEOUT_S`` gets 408 and
the connection is closed, and one whose body is still arriving past ``RLVR_BODY_TIMEOUT_S`` (the app answers
408 then, see `intake`) is closed a second later, whatever the app did.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from rlvr_client.errors import RequestTimeout

from .drain import Drain
from .settings import CommonSettings

# after a drain, requests still running get this long before uvicorn cancels them
_AFTER_DRAIN_S = 3


class _DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines on the request head and body (set by `deadline_protocol`)."""

    header_timeout_s = 10.0
    body_timeout_s = 60.0
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_late)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _watch(self) -> None:
        """Arm the head deadline while a head is partly in, the body deadline while a body is coming."""
        state = self.conn.their_state
        if state is not h11.IDLE and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        elif state is h11.IDLE and self._head_timer is None and self.conn.trailing_data[0]:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_late)
        if state is h11.SEND_BODY and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout_s + 1.0, self._body_late)
        elif state is not h11.SEND_BODY and self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # a head partly in: say why before closing (an idle connection just closes)
            late = RequestTimeout(
                f"the request head did not arrive in full within {self.header_timeout_s:g}s (RLVR_HEADER_TIMEOUT_S)",
                details={"timeout_s": self.header_timeout_s},
            )
            body = json.dumps(late.to_body()).encode()
            head = (
                "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                f"content-length: {len(body)}\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self._unset_keepalive_if_required()
        self.transport.close()

    def _body_late(self) -> None:
        self._body_timer = None
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            self.transport.close()  # the app answered 408 (or had answered already); the body is not wanted


def deadline_protocol(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """The h11 protocol class with these deadlines."""
    return type(
        "DeadlineH11Protocol",
        (_DeadlineProtocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )


def _config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    drained = getattr(app.state, "drain", None) is not None
    settings = getattr(app.state, "settings", None)
    header_s, body_s = (
        (settings.header_timeout_s, settings.body_timeout_s) if isinstance(settings, CommonSettings) else (10.0, 60.0)
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=_AFTER_DRAIN_S if drained else None,
        http=deadline_protocol(header_s, body_s),
    )


class DrainingServer(uvicorn.Server):
    """uvicorn, with the first exit signal turned into a drain (run on the event loop, not in the handler)."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain.requested:  # a second signal: exit now
            super().handle_exit(sig, frame)
        else:
            self.drain.requested = True

    async def on_tick(self, counter: int) -> bool:
        if self.drain.requested and self._draining is None:
            self._draining = asyncio.create_task(self.drain.run(), name="rlvr-drain")
        if self.drain.finished:
            self.should_exit = True
        return await super().on_tick(counter)


def _server(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Server:
    config = _config(app, host, port, log_level)
    drain = getattr(app.state, "drain", None)
    return DrainingServer(config, drain) if isinstance(drain, Drain) else uvicorn.Server(config)


def serve(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    _server(app, host, port, log_level).run()


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning", start_timeout_s: float = 120.0
) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields its base URL once it accepts connections."""
    server = _server(app, host, port, log_level)
    thread = threading.Thread(target=server.run, name="rlvr-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server thread exited during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start within {start_timeout_s:.0f}s")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
