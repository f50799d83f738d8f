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
        self.closing = False
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=f"{name}-inline")

    def _verify(self, job: Job) -> Verdict:
        if self.closing:  # queued when the service began to stop: not started (a worker has handed it back)
            return Verdict.error("the service shut down before this item ran")
        return verify_one(self.verifier, job)

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]:
        return [self._pool.submit(self._verify, job) for job in jobs]

    def ready(self) -> bool:
        return True

    def wait_ready(self, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        """Stop: items running finish (their work is bounded), items still queued are answered `error`."""
        self.closing = True
        self._pool.shutdown(wait=True, cancel_futures=False)
