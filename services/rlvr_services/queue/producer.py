"""Gateway side of queue mode: jobs go to one Redis Stream per verifier, verdicts come back on this
gateway replica's own result stream, read with a blocking XREAD (no polling loop).

Verifiers that run inline (bounded, cheap: `format`) stay in the gateway unless
``RLVR_QUEUE_INLINE=true``; the CPU-bound ones go to the workers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from rlvr_client.errors import Overloaded, Unavailable

from .. import constants as keys
from ..gateway.dispatch import LocalRunners, run_on
from ..metrics import Metrics
from ..runtime.jobs import Job
from ..runtime.registry import Registry
from ..runtime.verifier import Execution, Verdict
from ..settings import GatewaySettings
from .entries import TaskEntry, chunk_size, decode_results

log = logging.getLogger(__name__)


async def ensure_group(redis: aioredis.Redis, stream: str) -> None:
    """Create the stream and its consumer group (from the start, so no task is skipped)."""
    try:
        await redis.xgroup_create(stream, keys.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class QueueDispatcher:
    mode = "queue"

    def __init__(self, registry: Registry, settings: GatewaySettings, metrics: Metrics) -> None:
        assert settings.redis_url, "queue mode needs a Redis URL"
        self.registry = registry
        self.settings = settings
        self.metrics = metrics
        self.prefix = settings.redis_prefix
        self.gateway_id = uuid.uuid4().hex[:16]
        self.results_key = keys.result_stream(self.prefix, self.gateway_id)
        self.pending: dict[str, asyncio.Future[Verdict]] = {}
        self.local_names = [
            n
            for n in registry.names()
            if registry.get_class(n).execution is Execution.INLINE and not settings.queue_inline
        ]
        self.queued = [n for n in registry.names() if n not in self.local_names]
        self.redis: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        # the blocking XREAD must outlast its block time: redis-py's default socket timeout is 5 s
        self.reader_redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_timeout=30
        )
        self.local: LocalRunners | None = None
        self.reader: asyncio.Task[None] | None = None
        self.live_cache: dict[str, tuple[float, int]] = {}

    async def start(self) -> None:
        self.local = await asyncio.to_thread(
            LocalRunners, self.settings, self.local_names, inline_threads=self.settings.inline_threads
        )
        try:
            for name in self.queued:
                await ensure_group(self.redis, keys.task_stream(self.prefix, name))
        except RedisError as exc:
            log.warning("Redis at %s does not answer yet: %s", self.settings.redis_url, exc)
        self.reader = asyncio.create_task(self._read_results(), name="rlvr-results-reader")

    async def _read_results(self) -> None:
        last = "0-0"
        while True:
            try:
                reply: Any = await self.reader_redis.xread({self.results_key: last}, count=1000, block=2000)
            except RedisError as exc:
                log.warning("reading results from Redis failed (%s); retrying in 1s", exc)
                await asyncio.sleep(1.0)
                continue
            for _, entries in reply or []:
                ids = []
                for entry_id, fields in entries:
                    last = entry_id
                    ids.append(entry_id)
                    self._deliver(fields)
                if ids:
                    try:
                        await self.redis.xdel(self.results_key, *ids)
                    except RedisError:  # the stream expires anyway
                        pass

    def _deliver(self, fields: Mapping[str, str]) -> None:
        try:
            results = decode_results(fields)
        except (KeyError, ValueError, TypeError) as exc:
            log.error("malformed result on %s: %s", self.results_key, exc)
            return
        for task_id, verdict in results:
            fut = self.pending.pop(task_id, None)
            if fut is not None and not fut.done():  # a duplicate (at-least-once) finds nothing
                fut.set_result(verdict)

    async def _live_workers(self, verifier: str) -> int:
        """Live workers of a verifier, looked up at most once a second."""
        now = time.time()
        cached = self.live_cache.get(verifier)
        if cached is not None and now - cached[0] < 1.0:
            return cached[1]
        live = int(await self.redis.zcount(keys.workers_key(self.prefix, verifier), now - keys.LIVE_WORKER_S, "+inf"))
        self.live_cache[verifier] = (now, live)
        return live

    async def admit(self, counts: Mapping[str, int]) -> None:
        for name, n in counts.items():
            if name not in self.queued:
                continue
            try:
                depth = int(await self.redis.xlen(keys.task_stream(self.prefix, name)))
            except RedisError as exc:
                raise Unavailable(
                    f"Redis does not answer: {exc}", details={"retry_after_s": self.settings.retry_after_s}
                ) from exc
            if depth + n > self.settings.max_backlog:
                raise Overloaded(
                    f"the {name} queue holds {depth:,} tasks; {n:,} more would pass the backlog limit of "
                    f"{self.settings.max_backlog:,}. Retry later.",
                    details={"verifier": name, "depth": depth, "retry_after_s": self.settings.retry_after_s},
                )

    async def dispatch(self, verifier: str, jobs: list[Job]) -> list[Verdict]:
        if verifier not in self.queued:
            assert self.local is not None
            return await run_on(self.local.get(verifier), jobs, self.metrics)
        loop = asyncio.get_running_loop()
        stream = keys.task_stream(self.prefix, verifier)
        deadline = time.time() + self.settings.request_timeout_s
        task_ids = [uuid.uuid4().hex for _ in jobs]
        futures: list[asyncio.Future[Verdict]] = []
        hist = self.metrics.latency.labels(verifier)
        start = time.monotonic()
        for task_id in task_ids:
            fut: asyncio.Future[Verdict] = loop.create_future()
            fut.add_done_callback(lambda _f: hist.observe(time.monotonic() - start))
            self.pending[task_id] = fut
            futures.append(fut)
        tasks = list(zip(task_ids, jobs, strict=True))
        pipe = self.redis.pipeline(transaction=False)
        try:
            try:
                size = chunk_size(len(jobs), await self._live_workers(verifier))
                for i in range(0, len(tasks), size):
                    pipe.xadd(stream, TaskEntry(self.results_key, deadline, tasks[i : i + size]).encode())
                await pipe.execute()
            except RedisError as exc:
                raise Unavailable(
                    f"could not enqueue {verifier} tasks: {exc}", details={"retry_after_s": self.settings.retry_after_s}
                ) from exc
            await asyncio.wait(futures, timeout=max(0.0, deadline - time.time()))
            out = []
            for fut in futures:
                if fut.done():
                    out.append(fut.result())
                else:
                    fut.cancel()
                    out.append(
                        Verdict.timeout(
                            f"no {verifier} worker answered within {self.settings.request_timeout_s:g}s (queue mode)"
                        )
                    )
            return out
        finally:
            for task_id in task_ids:
                self.pending.pop(task_id, None)

    async def checks(self) -> dict[str, str]:
        out: dict[str, str] = self.local.checks() if self.local else {}
        try:
            await self.redis.ping()
            out["redis"] = "ok"
        except RedisError as exc:
            out["redis"] = f"error: {exc}"
            return out
        for name in self.queued:
            live = await self._live_workers(name)
            out[f"workers:{name}"] = f"ok ({live} live)" if live else "ok (no live worker yet; tasks wait in the queue)"
        return out

    async def update_metrics(self) -> None:
        if self.local:
            self.local.update_metrics(self.metrics)
        try:
            for name in self.queued:
                self.metrics.queue_depth.labels(name).set(await self.redis.xlen(keys.task_stream(self.prefix, name)))
                self.metrics.dead_letters.labels(name).set(await self.redis.xlen(keys.dead_stream(self.prefix, name)))
        except RedisError:
            pass

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except (asyncio.CancelledError, RedisError):
                pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_result(Verdict.error("the gateway shut down before a worker answered"))
        if self.local:
            await asyncio.to_thread(self.local.close)
        await self.redis.aclose()
        await self.reader_redis.aclose()
