"""Dispatchers: how the gateway gets verdicts for a verifier's jobs.

`EmbeddedDispatcher` runs the verifiers in this process's runners (the default, no Redis).
`rlvr_services.queue.producer.QueueDispatcher` sends them over Redis Streams to workers.
Both give the scorer the same interface, so verifiers have one code path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Protocol

from rlvr_client.models import QueueState

from ..backends import pool as backends
from ..metrics import Metrics
from ..runtime.aio import close_backends
from ..runtime.jobs import Job, Runner
from ..runtime.registry import REGISTRY, Registry
from ..runtime.runners import forget_runners, make_runners
from ..runtime.verifier import Execution, Verdict
from ..settings import CommonSettings, GatewaySettings


class Dispatcher(Protocol):
    mode: str

    async def start(self) -> None: ...

    async def unserved(self, names: list[str]) -> dict[str, str]:
        """Of these verifiers, those nobody would run now, each with the reason its items get as `error`;
        raise `NoLiveWorker` when that is all of them."""

    async def admit(self, counts: Mapping[str, int]) -> None:
        """Raise `Overloaded` if these many new jobs per verifier cannot be taken now."""

    async def dispatch(self, verifier: str, jobs: list[Job]) -> list[Verdict]: ...

    async def checks(self) -> dict[str, str]:
        """Readiness checks: name → "ok" or what is wrong."""

    async def queue_states(self) -> dict[str, QueueState]:
        """Queue mode: live workers and backlog per queued verifier ({} otherwise)."""

    async def abort(self, reason: str) -> None:
        """Answer what still waits on another process with `error` (shutdown); no-op where nothing waits so."""

    async def update_metrics(self) -> None: ...

    async def close(self) -> None: ...


async def run_on(runner: Runner, jobs: list[Job], metrics: Metrics) -> list[Verdict]:
    """Submit jobs to a local runner and await every verdict, recording latency."""
    start = time.monotonic()
    futures = runner.submit(jobs)
    hist = metrics.latency.labels(runner.name)

    return await all_done(futures, lambda: hist.observe(time.monotonic() - start))


async def all_done(futures: list[Future[Verdict]], observe: Callable[[], None]) -> list[Verdict]:
    """Await a batch of runner futures with one wake-up of the event loop for the whole batch.

    (``asyncio.wrap_future`` per item costs a thread-safe loop wake-up per verdict, which at fast-path
    speeds is most of the serving process's CPU.)
    """
    if not futures:
        return []
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    lock = threading.Lock()
    left = len(futures)

    def wake() -> None:
        if not finished.done():
            finished.set_result(None)

    def done(_: object) -> None:
        nonlocal left
        observe()
        with lock:
            left -= 1
            last = left == 0
        if last:
            try:
                loop.call_soon_threadsafe(wake)
            except RuntimeError:  # the loop closed while the batch ran (shutdown): nobody is waiting
                pass

    for fut in futures:
        fut.add_done_callback(done)
    await finished
    return [fut.result() for fut in futures]


class LocalRunners:
    """The runners of the verifiers this process runs itself."""

    def __init__(self, settings: CommonSettings, names: list[str], *, inline_threads: int = 2) -> None:
        self.runners = make_runners(names, settings, inline_threads=inline_threads)
        self.model_based = any(REGISTRY.get_class(n).execution is Execution.ASYNC for n in names)

    def get(self, name: str) -> Runner:
        return self.runners[name]

    def checks(self) -> dict[str, str]:
        out = {f"verifier:{n}": ("ok" if r.ready() else "starting") for n, r in self.runners.items()}
        if self.model_based:
            out.update(backends.current().checks())  # an open circuit breaker makes the service not ready
        return out

    def update_metrics(self, metrics: Metrics) -> None:
        for name, runner in self.runners.items():
            metrics.restarts.labels(name).set(runner.restarts)

    def close(self) -> None:
        forget_runners(self.runners)
        for runner in self.runners.values():
            runner.close()
        if self.model_based:  # only the service that runs the model verifiers owns the backends
            close_backends()


class EmbeddedDispatcher:
    mode = "embedded"

    def __init__(self, registry: Registry, settings: GatewaySettings, metrics: Metrics) -> None:
        self.registry = registry
        self.settings = settings
        self.metrics = metrics
        self.local: LocalRunners | None = None

    async def start(self) -> None:
        self.local = await asyncio.to_thread(
            LocalRunners, self.settings, self.registry.names(), inline_threads=self.settings.inline_threads
        )

    async def unserved(self, names: list[str]) -> dict[str, str]:
        return {}

    async def admit(self, counts: Mapping[str, int]) -> None:
        return None

    async def dispatch(self, verifier: str, jobs: list[Job]) -> list[Verdict]:
        assert self.local is not None, "dispatcher not started"
        return await run_on(self.local.get(verifier), jobs, self.metrics)

    async def checks(self) -> dict[str, str]:
        return self.local.checks() if self.local else {"verifiers": "starting"}

    async def queue_states(self) -> dict[str, QueueState]:
        return {}

    async def abort(self, reason: str) -> None:
        return None

    async def update_metrics(self) -> None:
        if self.local:
            self.local.update_metrics(self.metrics)

    async def close(self) -> None:
        if self.local:
            await asyncio.to_thread(self.local.close)
