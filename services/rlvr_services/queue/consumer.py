"""Worker side of queue mode: consume one verifier's task stream with a consumer group.

At-least-once: a task is acknowledged (and deleted, so XLEN is the backlog) in the same MULTI as
the write of its verdict to the gateway's result stream; verdicts that finish together are written
together, one entry per gateway. While a task is in flight, the worker
refreshes its claim (XCLAIM … JUSTID) every heartbeat, so only the tasks of a worker that went
silent reach the reclaim idle time; those are taken over with XAUTOCLAIM by any live worker.

A reclaimed task is a suspect: its worker died holding it. Suspects are run one at a time with
nothing else in flight, counting each such attempt in Redis, so a death is blamed on the task that
caused it and not on the innocent tasks fetched with it. A task whose attempts pass
``max_attempts`` (it keeps killing workers) goes to the dead-letter stream and its item gets an
``error`` verdict.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .. import constants as keys
from ..metrics import Metrics
from ..runtime.jobs import Job, Runner
from ..runtime.verifier import Verdict
from ..settings import WorkerSettings
from .producer import ensure_group

log = logging.getLogger(__name__)

_LINGER_S = 0.002


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("answering a task failed: %r", task.exception())


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
        self.prefetch = settings.prefetch or 8 * settings.processes
        self.redis: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.reader: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.inflight: set[str] = set()
        self.suspects: deque[tuple[str, Mapping[str, str]]] = deque()
        self.space = asyncio.Event()
        self.space.set()
        self.drained = asyncio.Event()
        self.drained.set()
        self.outbox: list[tuple[str, dict[str, Any], Verdict]] = []
        self.flushing = False
        self.tasks: list[asyncio.Task[None]] = []
        self.connected = False
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
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                self.connected = False
                log.warning("%s: Redis error (%s); retrying in 1s", loop_fn.__name__, exc)
                await asyncio.sleep(1.0)

    async def _read_loop(self) -> None:
        await ensure_group(self.redis, self.stream)
        self.connected = True
        while True:
            if self.suspects:
                await self._run_suspects()
                continue
            room = self.prefetch - len(self.inflight)
            if room < max(1, self.prefetch // 4) and self.inflight:  # fetch in groups, not one by one
                self.space.clear()
                await self.space.wait()
                continue
            reply: Any = await self.reader.xreadgroup(
                keys.GROUP, self.consumer, {self.stream: ">"}, count=room, block=1000
            )
            self.connected = True
            for _, entries in reply or []:
                self._start(list(entries))

    async def _run_suspects(self) -> None:
        """Run reclaimed tasks one at a time, alone, counting the attempts."""
        await self.drained.wait()
        while self.suspects:
            entry_id, fields = self.suspects.popleft()
            attempts = int(await self.redis.hincrby(self.attempts, entry_id, 1))
            await self.redis.expire(self.attempts, 24 * 3600)
            if attempts > self.settings.max_attempts:
                reason = (
                    f"task killed its worker each of the {attempts - 1} times it ran alone; moved to the dead-letter "
                    f"stream {self.dead}"
                )
                await self._bury(entry_id, dict(fields), reason)
                continue
            log.warning("running reclaimed task %s alone (attempt %d)", entry_id, attempts)
            self._start([(entry_id, fields)])
            await self.drained.wait()

    async def _heartbeat_loop(self) -> None:
        while True:
            now = time.time()
            await self.redis.zadd(self.workers, {self.consumer: now})
            await self.redis.zremrangebyscore(self.workers, "-inf", now - 10 * keys.LIVE_WORKER_S)
            held: list[Any] = [*self.inflight, *(entry_id for entry_id, _ in self.suspects)]
            if held:  # refresh our claims: a live worker's tasks never look idle
                await self.redis.xclaim(self.stream, keys.GROUP, self.consumer, 0, held, justid=True)
            await self._reclaim()
            await asyncio.sleep(self.settings.heartbeat_s)

    async def _reclaim(self) -> None:
        """Take over the tasks of workers that went silent; they become suspects."""
        if self.suspects:
            return
        idle_ms = int(self.settings.claim_idle_s * 1000)
        reply = await self.redis.xautoclaim(
            self.stream, keys.GROUP, self.consumer, idle_ms, "0-0", count=max(1, self.prefetch)
        )
        claimed = reply[1] if len(reply) > 1 else []
        for entry_id, fields in claimed:
            if fields is not None and entry_id not in self.inflight:
                log.warning("reclaimed task %s from a silent worker", entry_id)
                self.suspects.append((entry_id, fields))

    def _start(self, entries: list[tuple[str, Mapping[str, str]]]) -> None:
        runnable: list[tuple[str, dict[str, Any], Job]] = []
        for entry_id, fields in entries:
            if entry_id in self.inflight:
                continue
            try:
                body = json.loads(fields[keys.FIELD])
                job = Job.from_json(body["job"])
                if not isinstance(body.get("task_id"), str) or not isinstance(body.get("reply_to"), str):
                    raise ValueError("task_id and reply_to must be strings")
            except (KeyError, ValueError, TypeError) as exc:
                self._spawn(self._bury(entry_id, dict(fields), f"malformed task: {exc}"))
                continue
            self.inflight.add(entry_id)
            self.drained.clear()
            if time.time() > float(body.get("deadline", float("inf"))):
                verdict = Verdict.timeout("the request's deadline passed while the task waited in the queue")
                self._finish(entry_id, body, verdict)
            else:
                runnable.append((entry_id, body, job))
        if not runnable:
            return
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        futures = self.runner.submit([job for _, _, job in runnable])
        hist = self.metrics.latency.labels(self.verifier)
        for (entry_id, body, _), fut in zip(runnable, futures, strict=True):

            def done(f: Any, entry_id: str = entry_id, body: dict[str, Any] = body) -> None:
                hist.observe(time.monotonic() - started)
                loop.call_soon_threadsafe(self._finish, entry_id, body, f.result())

            fut.add_done_callback(done)

    def _spawn(self, coro: Any) -> None:
        asyncio.ensure_future(coro).add_done_callback(_log_failure)

    def _finish(self, entry_id: str, body: dict[str, Any], verdict: Verdict) -> None:
        """Queue a verdict for delivery; one flusher at a time writes whatever has gathered."""
        self.metrics.verdicts.labels(self.verifier, verdict.status.value).inc()
        self.outbox.append((entry_id, body, verdict))
        if not self.flushing:
            self.flushing = True
            self._spawn(self._flush())

    async def _flush(self) -> None:
        try:
            while self.outbox:
                await asyncio.sleep(_LINGER_S)  # let verdicts that finish together travel together
                batch, self.outbox = self.outbox, []
                await self._deliver(batch)
                for entry_id, _, _ in batch:
                    self.inflight.discard(entry_id)
                self.answered += len(batch)
                self.metrics.items.inc(len(batch))
                self.space.set()
                if not self.inflight:
                    self.drained.set()
        finally:
            self.flushing = False

    async def _deliver(self, batch: list[tuple[str, dict[str, Any], Verdict]]) -> None:
        """Write verdicts to their gateways' result streams, then ack and delete the tasks: one MULTI."""
        by_gateway: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _, body, verdict in batch:
            by_gateway[body["reply_to"]].append({"task_id": body["task_id"], "verdict": verdict.to_json()})
        ids = [entry_id for entry_id, _, _ in batch]
        for attempt in range(30):
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for reply_to, results in by_gateway.items():
                        payload = {"worker": self.consumer, "results": results}
                        pipe.xadd(reply_to, {keys.FIELD: json.dumps(payload, separators=(",", ":"))})
                        pipe.expire(reply_to, keys.RESULT_TTL_S)
                    pipe.xack(self.stream, keys.GROUP, *ids)
                    pipe.xdel(self.stream, *ids)
                    pipe.hdel(self.attempts, *ids)
                    await pipe.execute()
                return
            except RedisError as exc:  # the tasks stay pending: if we give up, another worker reclaims them
                log.warning("could not deliver %d verdicts (%s); retry %d", len(ids), exc, attempt + 1)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))

    async def _bury(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        """Move a task to the dead-letter stream and answer its item (if it can be read) with an error."""
        log.error("dead-lettering task %s: %s", entry_id, reason)
        dead: dict[Any, Any] = {**fields, "reason": reason, "entry_id": entry_id}
        await self.redis.xadd(self.dead, dead)
        try:
            body = json.loads(fields[keys.FIELD])
            if isinstance(body, dict) and isinstance(body.get("reply_to"), str) and "task_id" in body:
                self.inflight.add(entry_id)
                self.drained.clear()
                self._finish(entry_id, body, Verdict.error(reason))
                return
        except (KeyError, ValueError, TypeError):
            pass
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, keys.GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            pipe.hdel(self.attempts, entry_id)
            await pipe.execute()

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
