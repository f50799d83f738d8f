"""The verdict cache: one judge call per distinct input, shared by every item that asks it.

Keyed by backend, model, rendered messages, choices and sampling settings (the vote's seed
included). Only deterministic calls are cached (temperature 0, or a seed). Identical calls that
are in flight at the same time share one call; a failed call is not cached, so a retry asks again.
The 8–16 samples of a GRPO group that reach the same final answer therefore cost one call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class VerdictCache(Generic[T]):
    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[str, T] = OrderedDict()
        self.in_flight: dict[str, asyncio.Future[T]] = {}
        self.hits = 0
        self.misses = 0

    async def get(self, key: str | None, compute: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The value for ``key`` and whether the cache answered (``key`` None: always computed)."""
        if key is None:
            return await compute(), False
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return self.entries[key], True
        if key in self.in_flight:
            self.hits += 1
            return await asyncio.shield(self.in_flight[key]), True
        self.misses += 1
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.in_flight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it, nobody else needs to
            raise
        finally:
            self.in_flight.pop(key, None)
        future.set_result(value)
        self.entries[key] = value
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return value, False
