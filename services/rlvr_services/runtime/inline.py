"""Inline runner: cheap verifiers run in a thread pool of the serving process."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from .jobs import Job, verify_one
from .registry import REGISTRY
from .verifier import Verdict

log = logging.getLogger(__name__)


class InlineRunner:
    """For verifiers whose work is bounded (regex, counting): no process hop, no kill needed.

    With ``warm``, the verifier's ``warm_up`` (if it has one) runs once on one of the runner's threads when it
    is built, and the runner is ready when it has finished: the ``code`` verifier starts its jails then, not
    inside the first batch's deadline. A failed warm-up is logged and the runner is ready anyway (the items
    then get the verifier's own ``error`` verdicts, never a score).
    """

    def __init__(self, name: str, *, threads: int = 2, warm: bool = False) -> None:
        self.name = name
        self.restarts = 0
        self.verifier = REGISTRY.instance(name)
        self.closing = False
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=f"{name}-inline")
        self._warm = threading.Event()
        warm_up = getattr(self.verifier, "warm_up", None)
        if warm and callable(warm_up):
            # on a thread of the pool, not a thread of its own: a jail dies with the thread that started it
            # (bubblewrap's --die-with-parent is the parent *thread*'s death signal), and the pool's threads stay
            self._pool.submit(self._warm_up, warm_up)
        else:
            self._warm.set()

    def _warm_up(self, warm_up: object) -> None:
        try:
            assert callable(warm_up)
            warm_up()
        except Exception:
            log.exception("%s: warm-up failed; its items will say why when they run", self.name)
        finally:
            self._warm.set()

    def _verify(self, job: Job) -> Verdict:
        if self.closing:  # queued when the service began to stop: not started (a worker has handed it back)
            return Verdict.error("the service shut down before this item ran")
        return verify_one(self.verifier, job)

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]:
        return [self._pool.submit(self._verify, job) for job in jobs]

    def ready(self) -> bool:
        return self._warm.is_set()

    def wait_ready(self, timeout_s: float) -> bool:
        return self._warm.wait(timeout_s)

    def close(self) -> None:
        """Stop: items running finish (their work is bounded), items still queued are answered `error`."""
        self.closing = True
        self._pool.shutdown(wait=True, cancel_futures=False)
