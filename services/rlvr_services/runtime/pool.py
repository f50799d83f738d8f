"""Process runner: verifier worker processes that are hard-killed and replaced at an item's deadline.

Each slot is one child process plus one thread in the serving process that feeds it. The thread
sends a batch of jobs down a pipe; the child answers one verdict per job, in order. The thread
waits for each answer at most the job's ``timeout_s`` (counted from the previous answer): past
that it SIGKILLs the child, answers ``timeout`` for that job, starts a fresh child and sends it the
rest of the batch. A child that dies on a job (segfault, OOM kill) gets that job an ``error``.
No signals are used in threads; the kill is a real process kill, so C code that never returns to
the interpreter (sympy on ``2**30**5``) cannot hang the service.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

from .jobs import Job, verify_one
from .verifier import Verdict

log = logging.getLogger(__name__)

WARM_ENV = "RLVR_FORKSERVER_WARM"  # read by runtime/warm.py inside the forkserver
_START_TIMEOUT_S = 120.0
_INT_MAX_STR_DIGITS = 20_000
_ctx_lock = threading.Lock()
_ctx: ForkServerContext | None = None


def _context(preload: Sequence[str]) -> ForkServerContext:
    """A forkserver context whose server has the verifier modules imported: children start in ms."""
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            ctx = mp.get_context("forkserver")
            assert isinstance(ctx, ForkServerContext)
            ctx.set_forkserver_preload(["rlvr_services.runtime.pool", *preload, "rlvr_services.runtime.warm"])
            _ctx = ctx
        return _ctx


def warm_in_forkserver(names: Sequence[str]) -> None:
    """Have the forkserver load the models of these verifiers (their ``warm_up``) before it forks any
    verifier process, so that all the processes share one copy of them (pages a child only reads stay
    shared) and start warm. It takes effect only before this process starts its first verifier
    process; a verifier not named here warms up in each of its processes instead."""
    with _ctx_lock:
        if _ctx is None:
            os.environ[WARM_ENV] = ",".join(names)


def _child_main(conn: Connection, verifier_name: str, plugins: tuple[str, ...], memory_mb: int) -> None:
    """Entry point of a verifier worker process."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):  # pragma: no cover - a lower hard limit is already in force
            pass
    sys.set_int_max_str_digits(_INT_MAX_STR_DIGITS)
    from .registry import load_plugins

    verifier = load_plugins(plugins).instance(verifier_name)
    warm_up = getattr(verifier, "warm_up", None)
    if callable(warm_up):
        warm_up()  # before the first item's deadline starts (next to nothing when the forkserver did it)
    conn.send({"ready": True})
    while True:
        try:
            message: dict[str, Any] = conn.recv()
        except (EOFError, OSError):
            return
        for raw in message["jobs"]:
            verdict = verify_one(verifier, Job.from_json(raw))
            conn.send(verdict.to_json())


class _Slot:
    """One child process and the thread that drives it."""

    def __init__(self, pool: ProcessRunner, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.is_ready = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"{pool.name}-slot{index}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self) -> None:
        self._kill()
        parent, child = self.pool.ctx.Pipe(duplex=True)
        proc = self.pool.ctx.Process(
            target=_child_main,
            args=(child, self.pool.name, self.pool.plugins, self.pool.memory_mb),
            name=f"rlvr-{self.pool.name}-{self.index}",
            daemon=True,
        )
        proc.start()
        child.close()
        self.proc, self.conn = proc, parent
        if not parent.poll(_START_TIMEOUT_S):
            raise RuntimeError(f"{self.pool.name} worker process did not start in {_START_TIMEOUT_S:.0f}s")
        parent.recv()
        self.is_ready.set()

    def _kill(self) -> None:
        self.is_ready.clear()
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(timeout=5)
            self.proc.close()
            self.proc = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _ensure(self) -> bool:
        if self.proc is not None and self.proc.is_alive():
            return True
        try:
            self._spawn()
            return True
        except Exception:
            log.exception("could not start a %s worker process", self.pool.name)
            self._kill()
            return False

    def _loop(self) -> None:
        self._ensure()
        while True:
            batch = self.pool.jobs.get()
            if batch is None:
                self._kill()
                return
            self._run(deque(batch))

    def _run(self, pending: deque[tuple[Job, Future[Verdict]]]) -> None:
        while pending:
            if self.pool.closing:  # the service is stopping: what it has not run it does not start
                for _, fut in pending:
                    fut.set_result(Verdict.error("the service shut down before this item ran"))
                return
            if not self._ensure():
                for _, fut in pending:
                    fut.set_result(Verdict.error(f"could not start a {self.pool.name} worker process"))
                return
            assert self.conn is not None and self.proc is not None
            try:
                self.conn.send({"jobs": [job.to_json() for job, _ in pending]})
            except (OSError, ValueError):
                self._kill()
                continue
            while pending:
                job, fut = pending[0]
                started = time.monotonic()
                answered = self.conn.poll(job.timeout_s)
                if answered:
                    try:
                        fut.set_result(Verdict.from_json(self.conn.recv()))
                        pending.popleft()
                        continue
                    except (EOFError, OSError):
                        pass  # the child died while working on this job
                pending.popleft()
                elapsed = time.monotonic() - started
                if self.pool.closing:
                    fut.set_result(Verdict.error("the service shut down while this item ran"))
                    self._kill()
                    break
                if answered or not self.proc.is_alive():
                    self.proc.join(timeout=5)
                    code = self.proc.exitcode
                    how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
                    fut.set_result(Verdict.error(f"verifier process died on this item ({how})"))
                else:
                    fut.set_result(
                        Verdict.timeout(
                            f"no verdict within {job.timeout_s:g}s; worker process killed and replaced",
                            elapsed_s=round(elapsed, 3),
                        )
                    )
                self.pool.restarts += 1
                self._kill()
                break


class ProcessRunner:
    """Runs one verifier in ``size`` worker processes."""

    def __init__(
        self,
        name: str,
        *,
        size: int,
        plugins: Sequence[str] = (),
        memory_mb: int = 0,
        max_chunk: int = 32,
    ) -> None:
        from .registry import BUILTIN_MODULES, REGISTRY

        self.name = name
        self.plugins = tuple(plugins)
        self.memory_mb = memory_mb
        self.max_chunk = max_chunk
        self.restarts = 0
        self.closing = False
        cls = REGISTRY.get_class(name)
        self.ctx = _context([*BUILTIN_MODULES, *self.plugins, cls.__module__])
        self.jobs: queue.SimpleQueue[list[tuple[Job, Future[Verdict]]] | None] = queue.SimpleQueue()
        self.slots = [_Slot(self, i) for i in range(max(1, size))]
        for slot in self.slots:
            slot.start()

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]:
        futures: list[Future[Verdict]] = [Future() for _ in jobs]
        if not jobs:
            return futures
        # Several chunks per slot keep every process busy when items differ in cost.
        chunk = max(1, min(self.max_chunk, -(-len(jobs) // (len(self.slots) * 4))))
        pairs = list(zip(jobs, futures, strict=True))
        for i in range(0, len(pairs), chunk):
            self.jobs.put(pairs[i : i + chunk])
        return futures

    def ready(self) -> bool:
        return any(slot.is_ready.is_set() for slot in self.slots)

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for slot in self.slots:
            if not slot.is_ready.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def close(self) -> None:
        """Stop: the items running are killed and answered `error` (a worker has handed them back by then)."""
        self.closing = True
        for _ in self.slots:
            self.jobs.put(None)
        for slot in self.slots:
            proc = slot.proc
            if proc is not None:
                try:
                    proc.kill()  # its slot's thread sees the death, answers the item and stops
                except (ValueError, OSError):  # already closed by its thread
                    pass
        for slot in self.slots:
            slot.thread.join(timeout=10)
        while True:  # anything still queued is answered, never left hanging
            try:
                batch = self.jobs.get_nowait()
            except queue.Empty:
                return
            for _, fut in batch or []:
                if not fut.done():
                    fut.set_result(Verdict.error("the service shut down before this item ran"))
