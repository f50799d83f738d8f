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
the dead-letter stream and its item gets an ``error`` verdict. Entries pending for this very worker that it
does not hold (Redis delivered them, the reply was lost when the connection broke) are taken back whenever the
read loop (re)starts.

A worker serving several verifiers runs one consumer per verifier; each heartbeats into its own
verifier's set of live workers. Draining (SIGTERM, `drain`): the consumer leaves that set, stops
claiming (no XREADGROUP, no XAUTOCLAIM) and finishes the entries it holds, still refreshing their
claims. What is unfinished when it closes is handed back (`_hand_back`): finished verdicts are
delivered, and the unfinished jobs of an entry go back on the stream as a new entry in the same MULTI
that acknowledges the old one, for the next worker's XREADGROUP; reclaimed suspects it did not run stay
pending for another worker to reclaim, their attempt counts intact.
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
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
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
_HAND_BACK_WAIT_S = 5.0  # how long a closing consumer waits for a delivery in progress
_RETRY_S = 0.5  # a loop that met a Redis error starts again this much later
_DELIVERY_TRIES = 120  # about two minutes of retries (at most 1 s apart) while Redis does not answer
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


def consumer_name() -> str:
    """A name for this process's consumers: host, pid and a random part (pids repeat across containers)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StreamConsumer:
    def __init__(
        self,
        runner: Runner,
        settings: WorkerSettings,
        metrics: Metrics,
        verifier: str | None = None,
        name: str | None = None,
    ) -> None:
        assert settings.redis_url, "a stream consumer needs a Redis URL"
        self.runner = runner
        self.settings = settings
        self.metrics = metrics
        self.verifier = verifier or runner.name
        self.stream = keys.task_stream(settings.redis_prefix, self.verifier)
        self.dead = keys.dead_stream(settings.redis_prefix, self.verifier)
        self.workers = keys.workers_key(settings.redis_prefix, self.verifier)
        self.attempts = keys.attempts_key(settings.redis_prefix, self.verifier)
        self.consumer = name or consumer_name()
        # jobs waiting for a verdict at most: a model-based verifier waits on I/O, so it holds hundreds
        io_bound = REGISTRY.get_class(self.verifier).execution is Execution.ASYNC
        self.prefetch = settings.prefetch or (ASYNC_PREFETCH if io_bound else 8 * settings.processes)
        # a pooled connection that Redis closed (it restarted) is reconnected once, not failed to the caller
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, decode_responses=True, retry=Retry(NoBackoff(), 1, (RedisConnectionError,))
        )
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
        self.claiming = True  # false once draining: no new entries are taken
        self.closing = False  # true once handing back: late verdicts are ignored
        self.alone: set[str] = set()  # reclaimed entries run alone (their attempt is counted)

    async def start(self) -> None:
        try:  # a worker that scaled up on its verifier's demand list has answered the demand
            await self.redis.delete(keys.demand_key(self.settings.redis_prefix, self.verifier))
        except RedisError as exc:
            log.warning("Redis does not answer yet: %s", exc)
        self.tasks = [
            asyncio.create_task(self._guard(self._read_loop), name=f"rlvr-consume-{self.verifier}"),
            asyncio.create_task(self._guard(self._heartbeat_loop), name=f"rlvr-heartbeat-{self.verifier}"),
        ]

    async def _guard(self, loop_fn: Any) -> None:
        """Run a loop until it returns; Redis outages are logged and retried, never fatal."""
        while True:
            try:
                await loop_fn()
                return
            except RedisError as exc:
                log.warning("%s: Redis error (%s); retrying in %gs", loop_fn.__name__, exc, _RETRY_S)
                await asyncio.sleep(_RETRY_S)

    async def _read_loop(self) -> None:
        await ensure_group(self.redis, self.stream)
        await self._adopt_lost_deliveries()
        while self.claiming:
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
                self._start(list(entries))  # claimed even if draining began meanwhile: run them

    async def _adopt_lost_deliveries(self) -> None:
        """Take the entries pending for this consumer that it does not hold: Redis delivered them (and, with AOF,
        kept that) but the reply was lost when the connection broke. Without this they would wait for the reclaim
        idle time, then run one at a time as suspects."""
        if not self.claiming:
            return
        pending = await self.redis.xpending_range(
            self.stream, keys.GROUP, "-", "+", max(100, 4 * self.prefetch), consumername=self.consumer
        )
        known = set(self.held) | {entry_id for entry_id, _ in self.suspects}  # suspects run alone, counted
        lost: list[Any] = [p["message_id"] for p in pending if p["message_id"] not in known]
        if not lost:
            return
        claimed: Any = await self.redis.xclaim(self.stream, keys.GROUP, self.consumer, 0, lost)
        entries = [(entry_id, fields) for entry_id, fields in claimed if fields]
        log.warning("%s: took back %d entr(ies) delivered to this worker whose reply was lost", self.verifier,
                    len(entries))
        self._start(entries)

    async def _heartbeat_loop(self) -> None:
        while True:
            now = time.time()
            if self.claiming:  # a draining worker is not counted as live: it takes nothing new
                await self.redis.zadd(self.workers, {self.consumer: now})
                await self.redis.zremrangebyscore(self.workers, "-inf", now - 10 * self.settings.live_worker_s)
            claims: list[Any] = list(self.held)
            if self.claiming:  # draining, leave the suspects we have not run to whoever reclaims them
                claims += [entry_id for entry_id, _ in self.suspects]
            if claims:  # refresh our claims: a live worker's entries never look idle
                await self.redis.xclaim(self.stream, keys.GROUP, self.consumer, 0, claims, justid=True)
            if self.claiming:
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
        while self.suspects and self.claiming:
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
            self.alone.add(entry_id)
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
                try:
                    loop.call_soon_threadsafe(self._verdict, held, i, f.result())
                except RuntimeError:  # the loop closed (shutdown): the entry was handed back
                    pass

            fut.add_done_callback(done)

    def _spawn(self, coro: Any) -> None:
        asyncio.ensure_future(coro).add_done_callback(_log_failure)

    def _verdict(self, held: _Held, index: int, verdict: Verdict) -> None:
        """Record one job's verdict; a finished entry is queued for delivery."""
        if self.closing or held.verdicts[index] is not None:
            return  # handed back already
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
                    self.alone.discard(held.entry_id)
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
        for attempt in range(_DELIVERY_TRIES):
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
                await asyncio.sleep(min(1.0, 0.1 * 2**attempt))  # soon after Redis is back: at most 1 s late

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

    async def drain(self) -> None:
        """Stop claiming and return once every entry this consumer holds is answered (or it is closed)."""
        if self.claiming:
            self.claiming = False
            self.space.set()  # wake a read loop waiting for room: it exits
            try:
                await self.redis.zrem(self.workers, self.consumer)
            except RedisError as exc:
                log.warning("could not leave the live set %s: %s", self.workers, exc)
        reader = self.tasks[0] if self.tasks else None
        if reader is not None:
            await asyncio.wait([reader])  # its last XREADGROUP (block 1 s) has returned and its entries started
        while self.held or self.outbox or self.flushing:
            await asyncio.sleep(0.02)

    async def _hand_back(self) -> None:
        """Deliver what finished, put the unfinished jobs back on the stream (one MULTI per entry); a reclaimed
        entry this worker was running alone stays pending, its attempt uncounted (it did not kill us)."""
        self.closing = True
        waited = 0.0
        while self.flushing:  # a delivery in progress owns its entries
            if waited > _HAND_BACK_WAIT_S:
                log.warning("%s: a delivery is still retrying; the entries in hand will be reclaimed", self.verifier)
                return
            await asyncio.sleep(0.02)
            waited += 0.02
        leftovers, self.held = list(self.held.values()), {}
        for held in self.outbox:
            if all(h.entry_id != held.entry_id for h in leftovers):
                leftovers.append(held)
        self.outbox = []
        async with self.redis.pipeline(transaction=False) as pipe:  # a gateway deletes the entries it gave up on
            for held in leftovers:
                pipe.xrange(self.stream, held.entry_id, held.entry_id)
            present = [bool(r) for r in await pipe.execute()]
        requeued = kept = 0
        for held, wanted in zip(leftovers, present, strict=True):
            done = [(tid, v) for (tid, _), v in zip(held.entry.tasks, held.verdicts, strict=True) if v is not None]
            undone = [task for task, v in zip(held.entry.tasks, held.verdicts, strict=True) if v is None]
            if not wanted:
                undone = []
            if held.entry_id in self.alone and undone:
                await self.redis.hincrby(self.attempts, held.entry_id, -1)
                kept += 1
                continue
            async with self.redis.pipeline(transaction=True) as pipe:
                if done:
                    pipe.xadd(held.entry.reply_to, encode_results(self.consumer, done))
                    pipe.expire(held.entry.reply_to, keys.RESULT_TTL_S)
                if undone:
                    pipe.xadd(self.stream, TaskEntry(held.entry.reply_to, held.entry.deadline, undone).encode())
                pipe.xack(self.stream, keys.GROUP, held.entry_id)
                pipe.xdel(self.stream, held.entry_id)
                pipe.hdel(self.attempts, held.entry_id)
                await pipe.execute()
            requeued += len(undone)
            self.answered += len(done)
        if requeued or kept or self.suspects:
            log.warning(
                "%s: handed back %d unfinished job(s) to the stream; left %d reclaimed entr(ies) pending for "
                "another worker",
                self.verifier, requeued, kept + len(self.suspects),
            )

    async def close(self) -> None:
        self.claiming = False
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, RedisError):
                pass
        try:
            await self._hand_back()
        except RedisError as exc:  # what we hold stays pending: another worker reclaims it
            log.warning("%s: could not hand back the entries in hand (%s); they will be reclaimed", self.verifier, exc)
        try:
            await self.redis.zrem(self.workers, self.consumer)
            pending = await self.redis.xpending_range(self.stream, keys.GROUP, "-", "+", 1, consumername=self.consumer)
            if not pending:
                await self.redis.xgroup_delconsumer(self.stream, keys.GROUP, self.consumer)
        except RedisError:
            pass
        await self.redis.aclose()
        await self.reader.aclose()
