"""Inline runner: cheap verifiers run in a thread pool of the serving process."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from .jobs import Job, verify_one
from .registry import REGISTRY
from .verifier import Verdict


class InlineRunner:
    """For verifiers whose work is bounded (regex, counting): no process hop, no kill needed."""

    def __init__(self, name: str, *, threads: int = 2) -> None:
        self.name = name
        self.restarts = 0
        self.verifier = REGISTRY.instance(name)
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=f"{name}-inline")

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]:
        return [self._pool.submit(verify_one, self.verifier, job) for job in jobs]

    def ready(self) -> bool:
        return True

    def wait_ready(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
