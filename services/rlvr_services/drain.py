"""Graceful shutdown: what a service does between SIGTERM and its exit (a rollout does this to every pod).

The first SIGTERM (or SIGINT) starts the drain and nothing else happens in the signal handler. Draining:

- ``/readyz`` answers 503, so the orchestrator stops sending traffic;
- a new work request (anything but ``/healthz``, ``/readyz`` and ``/metrics``) gets 503 ``not_ready`` with
  ``Retry-After`` and ``Connection: close``: the clients retry, on another replica;
- requests in flight go on, and the service's own drain steps run (a worker stops claiming stream entries
  and finishes the ones it holds).

The server exits once all of that is done, or when ``drain_timeout_s`` has passed; at the timeout the
service's timeout hooks run first (the gateway answers what still waits on a worker with ``error``) and the
service's shutdown then hands back what is left (a worker re-queues the jobs it did not finish). A second
signal skips the rest of the drain (uvicorn's own shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from rlvr_client.errors import NotReady

from .http import error_response

log = logging.getLogger(__name__)

# served while draining, and not counted as work in flight
PASS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
ANSWER_GRACE_S = 2.0  # after the timeout hooks, how long answers in flight get to leave


class Drain:
    """The drain state of one service process."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.requested = False  # set from the signal handler
        self.draining = False
        self.finished = False
        self.deadline = math.inf  # time.monotonic()
        self.in_flight = 0
        self.steps: list[Callable[[], Awaitable[None]]] = []
        self.timeout_hooks: list[Callable[[], Awaitable[None]]] = []

    def add_step(self, step: Callable[[], Awaitable[None]]) -> None:
        """A coroutine function that returns once its part of the service is drained."""
        self.steps.append(step)

    def add_timeout_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run when the drain timeout passes with work still in hand."""
        self.timeout_hooks.append(hook)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def _requests_done(self) -> None:
        while self.in_flight:
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Drain; returns when the service may exit (``finished`` is then true)."""
        self.draining = True
        started = time.monotonic()
        self.deadline = started + self.timeout_s
        log.warning(
            "shutting down: draining (%d request(s) in flight; up to %gs, RLVR_DRAIN_TIMEOUT_S)",
            self.in_flight, self.timeout_s,
        )
        work = asyncio.gather(self._requests_done(), *(step() for step in self.steps))
        try:
            await asyncio.wait_for(work, timeout=self.timeout_s)
            log.warning("drained in %.1fs", time.monotonic() - started)
        except TimeoutError:
            log.warning(
                "drain timeout of %gs passed with %d request(s) in flight; answering or handing back the rest",
                self.timeout_s, self.in_flight,
            )
            for hook in self.timeout_hooks:
                try:
                    await asyncio.wait_for(hook(), timeout=ANSWER_GRACE_S)
                except TimeoutError:
                    log.warning("a drain timeout hook did not finish within %gs", ANSWER_GRACE_S)
            try:
                await asyncio.wait_for(self._requests_done(), timeout=ANSWER_GRACE_S)
            except TimeoutError:
                pass
        finally:
            self.finished = True


class DrainGate:
    """ASGI middleware: counts work requests in flight; while draining, refuses new ones with a 503."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in PASS_PATHS:
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            refusal = error_response(
                NotReady(
                    "this replica is shutting down and takes no new requests; retry (another replica will answer)",
                    details={"retry_after_s": 1, "reason": "shutting_down"},
                )
            )
            refusal.headers["Connection"] = "close"
            await refusal(scope, receive, send)
            return
        self.drain.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.in_flight -= 1
