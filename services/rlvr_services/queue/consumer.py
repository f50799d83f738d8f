"""Worker side of queue mode: consume one verifier's task stream with a consumer group.

At-least-once: an entry (one or more jobs of one gateway) is acknowledged, and deleted so that
XLEN is the backlog, in the same MULTI as the write of its verdicts to the gateway's result
stream; entries that finish together are written together. While an entry is in flight the worker
refreshes its claim (XCLAIM … JUSTID) every heartbeat, so only the entries of a worker that went
silent reach the reclaim idle time; any live worker then takes them over with XAUTOCLAIM.

A reclaimed entry is a suspect: its worker died holding it. One with several jobs is split into
one entry per job; a single-job suspect runs alone, with nothing else in flight, and the attempt
is counted in Redis, so a death is blamed on the job that caused it and not on the innocent jobs
fetched with it. A job whose attempts pass ``max_attempts`` (it keeps killing workers) goes to
the dead-letter stream and its item gets an ``error`` verdict.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .. import constants as keys
from ..metrics import Metrics
from ..runtime.jobs import Runner
from ..runtime.registry import REGISTRY
from ..runtime.verifier import Execution, Verdict
from ..settings import WorkerSettings
from .entries import TaskEntry, encode_results
from .producer import ensure_group

log = logging.getLogger(__name__)

_LINGER_S = 0.002
ASYNC_PREFETCH = 512  # jobs a worker of a model-based verifier holds at once (they wait on the backend)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("answering a task failed: %r", task.exception())


@dataclass
class _Held:
    """An entry this worker holds until all its verdicts are written."""

    entry_id: str
    entry: TaskEntry
    verdicts: list[Verdict | None] = field(default_factory=list)
    remaining: int = 0


class StreamConsumer:
    def __init__(self, runner: Runner, settings: WorkerSettings, metrics: Metrics) -> None:
        assert settings.redis_url, "a stream consumer needs a Redis URL"
        self.runner = runner
        self.settings = settings
        self.metrics = metrics
        self.verifier = settings.verifier
        self.stream = keys.task_stream(settings.redis_prefix, self.verifier)
        self.dead = keys.dead_stream(settings.redis_prefix, self.verifier)
        self.workers = keys.workers_key(settings.redis_prefix, self.verifier)
        self.attempts = keys.attempts_key(settings.redis_prefix, self.verifier)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # jobs waiting for a verdict at most: a model-based verifier waits on I/O, so it holds hundreds
        io_bound = REGISTRY.get_class(self.verifier).execution is Execution.ASYNC
        self.prefetch = settings.prefetch or (ASYNC_PREFETCH if io_bound else 8 * settings.processes)
        self.redis: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.reader: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_timeout=30
        )
        self.held: dict[str, _Held] = {}
        self.jobs_pending = 0  # fetched, no verdict yet
        self.avg_entry = 1.0
        self.suspects: deque[tuple[str, Mapping[str, str]]] = deque()
        self.space = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.outbox: list[_Held] = []
        self.flushing = False
        self.tasks: list[asyncio.Task[None]] = []
        self.answered = 0

    async def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self._guard(self._read_loop), name="rlvr-consume"),
            asyncio.create_task(self._guard(self._heartbeat_loop), name="rlvr-heartbeat"),
        ]

    async def _guard(self, loop_fn: Any) -> None:
        """Run a loop forever; Redis outages are logged and retried, never fatal."""
        while True:
            try:
                await loop_fn()
            except RedisError as exc:
                log.warning("%s: Redis error (%s); retrying in 1s", loop_fn.__name__, exc)
                await asyncio.sleep(1.0)

    async def _read_loop(self) -> None:
        await ensure_group(self.redis, self.stream)
        while True:
            if self.suspects:
                await self._run_suspects()
                continue
            room = self.prefetch - self.jobs_pending
            if room < max(1, self.prefetch // 4) and self.jobs_pending:  # fetch in groups, not one by one
                self.space.clear()
                await self.space.wait()
                continue
            count = max(1, int(room / self.avg_entry))
            reply: Any = await self.reader.xreadgroup(
                keys.GROUP, self.consumer, {self.stream: ">"}, count=count, block=1000
            )
            for _, entries in reply or []:
                self._start(list(entries))

    async def _heartbeat_loop(self) -> None:
        while True:
            now = time.time()
            await self.redis.zadd(self.workers, {self.consumer: now})
            await self.redis.zremrangebyscore(self.workers, "-inf", now - 10 * keys.LIVE_WORKER_S)
            claims: list[Any] = [*self.held, *(entry_id for entry_id, _ in self.suspects)]
            if claims:  # refresh our claims: a live worker's entries never look idle
                await self.redis.xclaim(self.stream, keys.GROUP, self.consumer, 0, claims, justid=True)
            await self._reclaim()
            await asyncio.sleep(self.settings.heartbeat_s)

    async def _reclaim(self) -> None:
        """Take over the entries of workers that went silent; they become suspects."""
        if self.suspects:
            return
        idle_ms = int(self.settings.claim_idle_s * 1000)
        reply = await self.redis.xautoclaim(
            self.stream, keys.GROUP, self.consumer, idle_ms, "0-0", count=max(1, self.prefetch)
        )
        claimed = reply[1] if len(reply) > 1 else []
        for entry_id, fields in claimed:
            if fields is not None and entry_id not in self.held:
                log.warning("reclaimed entry %s from a silent worker", entry_id)
                self.suspects.append((entry_id, fields))

    async def _run_suspects(self) -> None:
        """Split reclaimed entries into single jobs; run single-job suspects alone, counting attempts."""
        await self.drained.wait()
        while self.suspects:
            entry_id, fields = self.suspects.popleft()
            try:
                entry = TaskEntry.decode(fields)
            except (KeyError, ValueError, TypeError) as exc:
                await self._bury(entry_id, fields, f"malformed task entry: {exc}")
                continue
            if len(entry.tasks) > 1:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for single in entry.split():
                        pipe.xadd(self.stream, single.encode())
                    pipe.xack(self.stream, keys.GROUP, entry_id)
                    pipe.xdel(self.stream, entry_id)
                    await pipe.execute()
                continue
            attempts = int(await self.redis.hincrby(self.attempts, entry_id, 1))
            await self.redis.expire(self.attempts, 24 * 3600)
            if attempts > self.settings.max_attempts:
                reason = (
                    f"task killed its worker each of the {attempts - 1} times it ran alone; moved to the "
                    f"dead-letter stream {self.dead}"
                )
                await self._bury(entry_id, fields, reason)
                continue
            log.warning("running reclaimed task %s alone (attempt %d)", entry_id, attempts)
            self._start([(entry_id, fields)])
            await self.drained.wait()

    def _hold(self, entry_id: str, entry: TaskEntry) -> _Held:
        held = _Held(entry_id, entry, [None] * len(entry.tasks), len(entry.tasks))
        self.held[entry_id] = held
        self.jobs_pending += len(entry.tasks)
        self.avg_entry = 0.8 * self.avg_entry + 0.2 * len(entry.tasks)
        self.drained.clear()
        return held

    def _start(self, entries: list[tuple[str, Mapping[str, str]]]) -> None:
        jobs, owners = [], []
        now = time.time()
        for entry_id, fields in entries:
            if entry_id in self.held:
                continue
            try:
                entry = TaskEntry.decode(fields)
            except (KeyError, ValueError, TypeError) as exc:
                self._spawn(self._bury(entry_id, fields, f"malformed task entry: {exc}"))
                continue
            held = self._hold(entry_id, entry)
            for i, (_, job) in enumerate(entry.tasks):
                if now > entry.deadline:
                    expired = Verdict.timeout("the request's deadline passed while it waited in the queue")
                    self._verdict(held, i, expired)
                else:
                    jobs.append(job)
                    owners.append((held, i))
        if not jobs:
            return
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        hist = self.metrics.latency.labels(self.verifier)
        for (held, i), fut in zip(owners, self.runner.submit(jobs), strict=True):

            def done(f: Any, held: _Held = held, i: int = i) -> None:
                hist.observe(time.monotonic() - started)
                loop.call_soon_threadsafe(self._verdict, held, i, f.result())

            fut.add_done_callback(done)

    def _spawn(self, coro: Any) -> None:
        asyncio.ensure_future(coro).add_done_callback(_log_failure)

    def _verdict(self, held: _Held, index: int, verdict: Verdict) -> None:
        """Record one job's verdict; a finished entry is queued for delivery."""
        self.metrics.verdicts.labels(self.verifier, verdict.status.value).inc()
        held.verdicts[index] = verdict
        held.remaining -= 1
        self.jobs_pending -= 1
        if self.prefetch - self.jobs_pending >= max(1, self.prefetch // 4):
            self.space.set()
        if held.remaining == 0:
            self.outbox.append(held)
            if not self.flushing:
                self.flushing = True
                self._spawn(self._flush())

    async def _flush(self) -> None:
        """One flusher at a time writes whatever has finished meanwhile."""
        try:
            while self.outbox:
                await asyncio.sleep(_LINGER_S)  # let entries that finish together travel together
                batch, self.outbox = self.outbox, []
                await self._deliver(batch)
                for held in batch:
                    self.held.pop(held.entry_id, None)
                    self.answered += len(held.entry.tasks)
                    self.metrics.items.inc(len(held.entry.tasks))
                if not self.held:
                    self.drained.set()
        finally:
            self.flushing = False

    async def _deliver(self, batch: list[_Held]) -> None:
        """Write verdicts to their gateways' result streams, then ack and delete the entries: one MULTI."""
        by_gateway: dict[str, list[tuple[str, Verdict]]] = defaultdict(list)
        for held in batch:
            for (task_id, _), verdict in zip(held.entry.tasks, held.verdicts, strict=True):
                assert verdict is not None
                by_gateway[held.entry.reply_to].append((task_id, verdict))
        ids = [held.entry_id for held in batch]
        for attempt in range(30):
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for reply_to, results in by_gateway.items():
                        pipe.xadd(reply_to, encode_results(self.consumer, results))
                        pipe.expire(reply_to, keys.RESULT_TTL_S)
                    pipe.xack(self.stream, keys.GROUP, *ids)
                    pipe.xdel(self.stream, *ids)
                    pipe.hdel(self.attempts, *ids)
                    await pipe.execute()
                return
            except RedisError as exc:  # the entries stay pending: if we give up, another worker reclaims them
                log.warning("could not deliver %d entries (%s); retry %d", len(ids), exc, attempt + 1)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))

    async def _bury(self, entry_id: str, fields: Mapping[str, str], reason: str) -> None:
        """Move an entry to the dead-letter stream and answer its items (if readable) with an error."""
        log.error("dead-lettering %s: %s", entry_id, reason)
        dead: dict[Any, Any] = {**fields, "reason": reason, "entry_id": entry_id}
        await self.redis.xadd(self.dead, dead)
        try:
            entry = TaskEntry.decode(fields)
        except (KeyError, ValueError, TypeError):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, keys.GROUP, entry_id)
                pipe.xdel(self.stream, entry_id)
                pipe.hdel(self.attempts, entry_id)
                await pipe.execute()
            return
        held = self._hold(entry_id, entry)
        for i in range(len(entry.tasks)):
            self._verdict(held, i, Verdict.error(reason))

    async def checks(self) -> dict[str, str]:
        try:
            await self.redis.ping()
            return {"redis": "ok"}
        except RedisError as exc:
            return {"redis": f"error: {exc}"}

    async def update_metrics(self) -> None:
        try:
            self.metrics.queue_depth.labels(self.verifier).set(await self.redis.xlen(self.stream))
            self.metrics.dead_letters.labels(self.verifier).set(await self.redis.xlen(self.dead))
        except RedisError:
            pass

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, RedisError):
                pass
        try:
            await self.redis.zrem(self.workers, self.consumer)
            pending = await self.redis.xpending_range(self.stream, keys.GROUP, "-", "+", 1, consumername=self.consumer)
            if not pending:
                await self.redis.xgroup_delconsumer(self.stream, keys.GROUP, self.consumer)
        except RedisError:
            pass
        await self.redis.aclose()
        await self.reader.aclose()
