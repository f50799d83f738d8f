"""Gateway side of queue mode: jobs go to one Redis Stream per verifier, verdicts come back on this
gateway replica's own result stream, read with a blocking XREAD (no polling loop).

Verifiers that run inline (bounded, cheap: `format`) stay in the gateway unless
``RLVR_QUEUE_INLINE=true``; the CPU-bound ones go to the workers.

Never waiting on nobody: a verifier whose workers' heartbeats are all older than ``RLVR_LIVE_WORKER_S`` is
refused at once (`unserved`), and the refusal is recorded in its demand list (an autoscaler that scaled
it to zero wakes on it). While an item waits, if its verifier has no live worker left, the item is `timeout`
at its own deadline plus ``RLVR_TIMEOUT_GRACE_S`` instead of the request timeout, and entries nobody waits
for any more are deleted from the stream.

Redis failures (`recovery`): while Redis does not answer, requests get 503 at once; when it comes back without
the entries this gateway waits on (restarted without persistence, flushed), their jobs are queued again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from rlvr_client.errors import NoLiveWorker, Overloaded, Unavailable
from rlvr_client.models import QueueState

from .. import constants as keys
from ..gateway.dispatch import LocalRunners, run_on
from ..metrics import Metrics
from ..runtime.jobs import Job
from ..runtime.registry import Registry
from ..runtime.verifier import Execution, Verdict
from ..settings import GatewaySettings
from .entries import TaskEntry, chunk_size, decode_results
from .recovery import CONNECT_TIMEOUT_S, WATCH_S, Outstanding, RedisWatch, ensure_group, resend_lost
from .states import read_states, start_command

log = logging.getLogger(__name__)


__all__ = ["QueueDispatcher", "ensure_group"]


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
        # a pooled connection that Redis closed (it restarted) is reconnected once, not failed to the caller
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
        )
        # the blocking XREAD must outlast its block time: redis-py's default socket timeout is 5 s
        self.reader_redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_timeout=30, socket_connect_timeout=CONNECT_TIMEOUT_S
        )
        self.local: LocalRunners | None = None
        self.reader: asyncio.Task[None] | None = None
        self.results_from = "0-0"  # the reader's position in the result stream
        self.outstanding: set[Outstanding] = set()  # what each dispatch waits on, to re-send if Redis loses it
        self.watch = RedisWatch(settings.redis_url)
        self.watcher: asyncio.Task[None] | None = None
        self.live_cache: dict[str, tuple[float, int]] = {}
        self.states_cache: tuple[float, dict[str, QueueState]] = (0.0, {})
        self.aborted: Verdict | None = None  # the verdict `abort` gave the items it answered

    async def start(self) -> None:
        self.local = await asyncio.to_thread(
            LocalRunners, self.settings, self.local_names, inline_threads=self.settings.inline_threads
        )
        try:
            for name in self.queued:
                await ensure_group(self.redis, keys.task_stream(self.prefix, name))
        except RedisError as exc:
            log.warning("Redis at %s does not answer yet: %s", self.settings.redis_url, exc)
        await self.watch.poll(())
        self.reader = asyncio.create_task(self._read_results(), name="rlvr-results-reader")
        self.watcher = asyncio.create_task(self._watch_redis(), name="rlvr-redis-watch")

    async def _watch_redis(self) -> None:
        """Poll Redis; when it lost what this gateway wrote, queue the lost jobs again (`recovery`)."""
        while True:
            await asyncio.sleep(WATCH_S)
            batches = list(self.outstanding)
            await self.watch.poll({batch.stream for batch in batches})
            if not self.watch.loss_suspected:
                continue
            self.results_from = "0-0"  # maybe a new result stream: read it from its start (re-reads are dropped)
            try:
                self.metrics.resent_jobs.inc(await resend_lost(self.redis, batches, self.results_key, self._deliver))
                self.watch.loss_suspected = False
            except RedisError as exc:  # it went away again: the next poll tries again
                log.warning("could not look up or re-send lost task entries yet: %s", exc)

    def _unavailable(self, why: str) -> Unavailable:
        return Unavailable(f"Redis does not answer: {why}", details={"retry_after_s": self.settings.retry_after_s})

    async def _read_results(self) -> None:
        failing = False
        while True:
            try:
                reply: Any = await self.reader_redis.xread(
                    {self.results_key: self.results_from}, count=1000, block=2000
                )
            except RedisError as exc:
                if not failing:
                    log.warning("reading results from Redis failed (%s); retrying every %gs", exc, WATCH_S)
                failing = True
                await asyncio.sleep(WATCH_S)
                continue
            failing = False
            for _, entries in reply or []:
                ids = []
                for entry_id, fields in entries:
                    self.results_from = entry_id
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
        since = now - self.settings.live_worker_s
        live = int(await self.redis.zcount(keys.workers_key(self.prefix, verifier), since, "+inf"))
        self.live_cache[verifier] = (now, live)
        return live

    def _no_worker(self, names: list[str]) -> str:
        return (
            f"no live worker serves the {', '.join(names)} verifier{'s' if len(names) > 1 else ''} (no heartbeat "
            f"within {self.settings.live_worker_s:g}s); start one: "
            f"{start_command(names, self.settings.redis_url or '', self.prefix)}"
        )

    async def unserved(self, names: list[str]) -> dict[str, str]:
        """Of these verifiers, those with no live worker, each with the reason to give its items.

        Raises `NoLiveWorker` (503) when no verifier of the request can be served, `Unavailable` (503) at once
        while Redis does not answer."""
        if self.watch.down is not None and any(n in self.queued for n in names):
            raise self._unavailable(self.watch.down)
        try:
            dead = [n for n in names if n in self.queued and await self._live_workers(n) == 0]
            if dead:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for name in dead:
                        demand = keys.demand_key(self.prefix, name)
                        pipe.rpush(demand, f"{time.time():.3f}")
                        pipe.ltrim(demand, -keys.DEMAND_MAX, -1)
                        pipe.expire(demand, keys.DEMAND_TTL_S)
                    await pipe.execute()
        except RedisError as exc:
            raise self._unavailable(str(exc)) from exc
        if dead and len(dead) == len(names):
            raise NoLiveWorker(
                self._no_worker(dead),
                details={
                    "verifiers": dead,
                    "command": start_command(dead, self.settings.redis_url or "", self.prefix),
                    "retry_after_s": self.settings.retry_after_s,
                },
            )
        return {name: self._no_worker([name]) for name in dead}

    async def admit(self, counts: Mapping[str, int]) -> None:
        for name, n in counts.items():
            if name not in self.queued:
                continue
            try:
                depth = int(await self.redis.xlen(keys.task_stream(self.prefix, name)))
            except RedisError as exc:
                raise self._unavailable(str(exc)) from exc
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
        queued_at = time.time()
        deadline = queued_at + self.settings.request_timeout_s
        task_ids = [uuid.uuid4().hex for _ in jobs]
        futures: list[asyncio.Future[Verdict]] = []
        hist = self.metrics.latency.labels(verifier)
        start = time.monotonic()
        for task_id in task_ids:
            fut: asyncio.Future[Verdict] = loop.create_future()
            fut.add_done_callback(lambda _f: hist.observe(time.monotonic() - start))
            self.pending[task_id] = fut
            futures.append(fut)
        sent = Outstanding(stream, self.results_key, deadline, list(zip(task_ids, jobs, strict=True)), futures)
        pipe = self.redis.pipeline(transaction=False)
        abandoned: set[int] = set()
        try:
            try:
                size = chunk_size(len(jobs), await self._live_workers(verifier))
                spans = [tuple(range(i, min(i + size, len(jobs)))) for i in range(0, len(jobs), size)]
                for span in spans:
                    pipe.xadd(stream, TaskEntry(self.results_key, deadline, [sent.tasks[i] for i in span]).encode())
                sent.entries = list(zip(await pipe.execute(), spans, strict=True))
                self.outstanding.add(sent)
            except RedisError as exc:
                raise Unavailable(
                    f"could not enqueue {verifier} tasks: {exc}", details={"retry_after_s": self.settings.retry_after_s}
                ) from exc
            due = [queued_at + job.timeout_s + self.settings.timeout_grace_s for job in jobs]
            abandoned = await self._wait(verifier, futures, due, deadline)
            out = []
            for i, fut in enumerate(futures):
                if fut.done():
                    out.append(fut.result())
                    if fut.result() is self.aborted:
                        abandoned.add(i)
                else:
                    fut.cancel()
                    abandoned.add(i)
                    out.append(
                        Verdict.timeout(
                            f"no {verifier} worker answered within {self.settings.request_timeout_s:g}s (queue mode)"
                        )
                    )
            return out
        finally:
            self.outstanding.discard(sent)
            for task_id in task_ids:
                self.pending.pop(task_id, None)
            await self._forget(stream, [entry_id for entry_id, span in sent.entries if set(span) <= abandoned])

    async def _wait(
        self, verifier: str, futures: list[asyncio.Future[Verdict]], due: list[float], deadline: float
    ) -> set[int]:
        """Wait for the verdicts until ``deadline``; while the verifier has no live worker, answer each item
        whose ``due`` time has passed with `timeout` itself. Returns the indices it answered."""
        poll_s = max(0.2, min(1.0, self.settings.live_worker_s / 3))
        given_up: set[int] = set()
        while True:
            waiting = [i for i, fut in enumerate(futures) if not fut.done()]
            now = time.time()
            if not waiting or now >= deadline:
                return given_up
            soonest = min(due[i] for i in waiting)  # nothing can be given up before then: no need to wake
            await asyncio.wait([futures[i] for i in waiting], timeout=min(deadline - now, max(poll_s, soonest - now)))
            now = time.time()
            overdue = [i for i in waiting if not futures[i].done() and now >= due[i]]
            if not overdue:
                continue
            try:
                live = await self._live_workers(verifier)
            except RedisError:
                continue  # cannot tell: keep waiting, up to the request timeout
            if live:
                continue  # a live worker reclaims what a dead one held
            await self.watch.poll(())  # is it the Redis the heartbeats went to? (it may be back without them)
            if self.watch.down is not None or self.watch.restarted_within(self.settings.live_worker_s):
                continue  # cannot tell yet: keep waiting
            for i in overdue:
                given_up.add(i)
                futures[i].set_result(
                    Verdict.timeout(
                        f"no live {verifier} worker: the one that took the item stopped, or none took it, and none "
                        f"answered by its deadline + {self.settings.timeout_grace_s:g}s (queue mode)"
                    )
                )

    async def _forget(self, stream: str, entry_ids: list[str]) -> None:
        """Delete entries nobody waits for any more (a worker that later holds one finds it gone)."""
        if not entry_ids:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(stream, keys.GROUP, *entry_ids)
                pipe.xdel(stream, *entry_ids)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not delete %d abandoned entries from %s: %s", len(entry_ids), stream, exc)

    async def queue_states(self) -> dict[str, QueueState]:
        """Live workers and backlog of each queued verifier (read at most twice a second; {} if Redis is down)."""
        at, states = self.states_cache
        now = time.time()
        if now - at < 0.5:
            return states
        if self.watch.down is not None:  # known down: do not wait on it
            return {}
        try:
            states = await read_states(self.redis, self.prefix, self.queued, self.settings.live_worker_s)
        except RedisError:
            return {}
        self.states_cache = (now, states)
        for name, state in states.items():
            self.live_cache[name] = (now, state.live_workers)
        return states

    async def abort(self, reason: str) -> None:
        """Answer every item still waiting on a worker with `error` (the drain timeout passed)."""
        self.aborted = Verdict.error(reason)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_result(self.aborted)

    async def checks(self) -> dict[str, str]:
        out: dict[str, str] = self.local.checks() if self.local else {}
        if self.watch.down is not None:  # known down: no need to wait on a connection to say so
            out["redis"] = f"error: {self.watch.down}"
            return out
        try:
            await self.redis.ping()
            out["redis"] = "ok"
        except RedisError as exc:
            out["redis"] = f"error: {exc}"
            return out
        # a verifier without a worker does not make the gateway unready: its requests are answered at once
        for name, state in (await self.queue_states()).items():
            live = state.live_workers
            out[f"workers:{name}"] = (
                f"ok ({live} live)" if live else "ok (no live worker: requests that need it are refused at once)"
            )
        return out

    async def update_metrics(self) -> None:
        if self.local:
            self.local.update_metrics(self.metrics)
        for name, state in (await self.queue_states()).items():
            self.metrics.queue_depth.labels(name).set(state.backlog)
            self.metrics.dead_letters.labels(name).set(state.dead_letters)
            self.metrics.live_workers.labels(name).set(state.live_workers)

    async def close(self) -> None:
        for task in (self.reader, self.watcher):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, RedisError):
                pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_result(Verdict.error("the gateway shut down before a worker answered"))
        if self.local:
            await asyncio.to_thread(self.local.close)
        await self.redis.aclose()
        await self.reader_redis.aclose()
        await self.watch.aclose()
