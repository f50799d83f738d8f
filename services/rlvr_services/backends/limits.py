"""What stands between the verifiers and a backend: a concurrency cap, rate limits, a circuit breaker.

All of it lives on the one event loop of the model-based verifiers (``runtime.aio``), so plain
counters need no locks.
"""

from __future__ import annotations

import asyncio
import time

from rlvr_client.errors import BackendError, BackendTimeout


class TokenBucket:
    """``rate_per_minute`` units a minute, bursting up to a minute's worth; ``take`` waits for room."""

    def __init__(self, rate_per_minute: float) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = rate_per_minute
        self.level = rate_per_minute
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, units: float, deadline: float) -> None:
        units = min(units, self.capacity)  # one request larger than a minute's budget still goes, alone
        while True:
            self._refill()
            if self.level >= units:
                self.level -= units
                return
            wait = (units - self.level) / self.rate
            if time.monotonic() + wait > deadline:
                raise BackendTimeout(
                    "the backend's rate limit leaves no room before the item's deadline", details={"kind": "rate_limit"}
                )
            await asyncio.sleep(wait)


class CircuitBreaker:
    """Opens after ``failures`` consecutive failed calls; while open, calls fail at once.

    After ``reset_s`` one trial call is let through: success closes the breaker, failure opens it again.
    """

    def __init__(self, name: str, failures: int, reset_s: float) -> None:
        self.name = name
        self.threshold = failures
        self.reset_s = reset_s
        self.consecutive = 0
        self.opened_at: float | None = None
        self.trial_running = False
        self.last_failure = ""
        self.times_opened = 0

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def check(self) -> None:
        """Raise if no call may go now; otherwise the call may proceed (maybe as the trial)."""
        if self.opened_at is None:
            return
        if not self.trial_running and time.monotonic() - self.opened_at >= self.reset_s:
            self.trial_running = True
            return
        raise BackendError(
            f"backend {self.name!r} is failing (circuit open after {self.consecutive} consecutive failures; "
            f"last: {self.last_failure})",
            details={"kind": "circuit_open", "backend": self.name},
        )

    def success(self) -> None:
        self.consecutive = 0
        self.opened_at = None
        self.trial_running = False

    def failure(self, reason: str) -> None:
        self.consecutive += 1
        self.last_failure = reason[:300]
        if self.trial_running or self.consecutive >= self.threshold:
            if self.opened_at is None or self.trial_running:
                self.times_opened += 1
            self.opened_at = time.monotonic()
            self.trial_running = False

    def state(self) -> str:
        if self.opened_at is None:
            return "ok"
        return f"circuit open: {self.consecutive} consecutive failures; last: {self.last_failure}"


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline`` (a ``time.monotonic()`` value); raises when none is left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise BackendTimeout("the item's deadline passed", details={"kind": "deadline"})
    return left
