"""The runner of the model-based verifiers: coroutines on one event loop, hundreds in flight.

Judges and reward models wait on backends (HTTP, or a model thread), so they are not run one per
CPU process: an ``ASYNC`` verifier defines ``async def averify(task, deadline) -> Verdict`` and
every item is a task on the process's one model loop (a thread of its own). Each item has its
deadline: past it the item is a ``timeout``. A backend failure (`BackendError`) becomes an
``error`` (``timeout`` for `BackendTimeout`) naming what failed, never a score.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from rlvr_client.errors import BackendError, BackendTimeout

from ..backends import pool as backends
from .jobs import Job, describe_exception
from .registry import REGISTRY
from .verifier import AsyncVerifier, Task, Verdict

log = logging.getLogger(__name__)
T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rlvr-model-loop", daemon=True)
        self.thread.start()


_loop_lock = threading.Lock()
_loop: _LoopThread | None = None


def model_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop of the model-based verifiers (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = _LoopThread()
        return _loop.loop


def run_sync(coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
    """Run a coroutine on the model loop from another thread and wait for it."""
    return asyncio.run_coroutine_threadsafe(coro, model_loop()).result(timeout_s)


def verify_batch_sync(verifier: AsyncVerifier, tasks: Sequence[Task], timeout_s: float) -> list[Verdict]:
    """An ``ASYNC`` verifier's ``verify_batch``: every task on the model loop, a failure as its verdict."""

    async def one(task: Task) -> Verdict:
        try:
            return await asyncio.wait_for(verifier.averify(task, time.monotonic() + timeout_s), timeout_s)
        except TimeoutError:
            return Verdict.timeout(f"no verdict within {timeout_s:g}s", failure="deadline")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a verdict, never a score
            return verdict_for(exc)

    async def all_of() -> list[Verdict]:
        return list(await asyncio.gather(*(one(t) for t in tasks)))

    return run_sync(all_of())


def verdict_for(exc: BaseException) -> Verdict:
    """The verdict of an item whose verification raised."""
    if isinstance(exc, BackendError):
        extra = {k: v for k, v in exc.details.items() if k not in ("kind", "backend", "known")}
        make = Verdict.timeout if isinstance(exc, BackendTimeout) else Verdict.error
        return make(exc.message, failure=exc.kind, **extra)
    return Verdict.error(describe_exception(exc), failure="exception")


class AsyncRunner:
    """Runs one ``ASYNC`` verifier's items as tasks on the model loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.restarts = 0
        verifier = REGISTRY.instance(name)
        assert isinstance(verifier, AsyncVerifier), f"{name} has no averify"
        self.verifier = verifier
        self.cls = type(verifier)
        self.loop = model_loop()
        self.tasks: set[asyncio.Task[None]] = set()
        self.started: Future[None] = asyncio.run_coroutine_threadsafe(_start_backends(), self.loop)

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]:
        futures: list[Future[Verdict]] = [Future() for _ in jobs]
        if jobs:
            self.loop.call_soon_threadsafe(self._spawn, jobs, futures)
        return futures

    def _spawn(self, jobs: list[Job], futures: list[Future[Verdict]]) -> None:
        for job, fut in zip(jobs, futures, strict=True):
            task = self.loop.create_task(self._one(job, fut))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _one(self, job: Job, fut: Future[Verdict]) -> None:
        started = time.monotonic()
        deadline = started + job.timeout_s
        try:
            task = job.task_for(self.cls)
            verdict = await asyncio.wait_for(self.verifier.averify(task, deadline), job.timeout_s)
        except TimeoutError:
            verdict = Verdict.timeout(f"no verdict within {job.timeout_s:g}s", failure="deadline")
        except asyncio.CancelledError:
            verdict = Verdict.error("the service shut down before this item was judged", failure="shutdown")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a verdict, never a score
            verdict = verdict_for(exc)
        if verdict.status.value in ("error", "timeout"):
            backends.current().failures(self.name, str(verdict.details.get("failure", verdict.status.value)))
        if not fut.done():
            fut.set_result(verdict)

    def ready(self) -> bool:
        return self.started.done()

    def wait_ready(self, timeout_s: float) -> bool:
        try:
            self.started.result(timeout_s)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        async def cancel_all() -> None:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        try:
            run_sync(cancel_all(), 10)
        except Exception:
            log.exception("cancelling %s items failed", self.name)


_started: dict[int, asyncio.Future[None]] = {}


async def _start_backends() -> None:
    """Start the current backends once, whichever runner asks first (the others wait for it)."""
    current = backends.current()
    key = id(current)
    if key not in _started:
        _started[key] = asyncio.ensure_future(current.start())
    await asyncio.shield(_started[key])


def close_backends() -> None:
    """Close the process's backends (their clients live on the model loop)."""
    if _loop is None:
        return
    current = backends.current()
    _started.pop(id(current), None)
    try:
        run_sync(current.aclose(), 30)
    except Exception:
        log.exception("closing the backends failed")
