"""Running an app under uvicorn: in the foreground (CLI) or in a background thread (demo, tests).

In the foreground the first SIGTERM/SIGINT drains the app (``app.state.drain``, see `drain`) before uvicorn's
own shutdown; a second signal skips what is left of the drain.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .drain import Drain

# after a drain, requests still running get this long before uvicorn cancels them
_AFTER_DRAIN_S = 3


def _config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    drained = getattr(app.state, "drain", None) is not None
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=_AFTER_DRAIN_S if drained else None,
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
