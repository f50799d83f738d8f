"""Gateway side of queue mode when Redis fails: it is down, or it came back without what the gateway wrote.

The gateway holds every job it queued until its verdict comes back (`Outstanding`), so nothing is lost for
good when Redis loses its streams: a Redis restarted without persistence (or failed over to a replica that
missed the last writes, or flushed) comes back without the task entries, the consumer groups and the
unread verdicts. `RedisWatch` polls Redis twice a second: its ``run_id`` (``INFO server``; new at every
start) and whether the task streams the gateway waits on still exist. When either says something may be
lost, `resend_lost` looks up each entry the gateway still waits on; the unanswered jobs of an entry that is
gone are queued again as a new entry, with their task ids unchanged (a verdict that arrives twice is
taken once). An entry that is still there is left alone: with AOF persistence nothing is re-sent.

The watch also says at once whether Redis answers: while it does not, requests get 503 with Retry-After
without waiting on a connection (and ``/readyz`` says why).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from .. import constants as keys
from ..runtime.jobs import Job
from ..runtime.verifier import Verdict
from .entries import TaskEntry

log = logging.getLogger(__name__)

WATCH_S = 0.5  # how often the gateway asks Redis who it is
CONNECT_TIMEOUT_S = 1.0  # a Redis that does not accept a connection within this is down
ANSWER_TIMEOUT_S = 1.0  # the watch's own commands are tiny: a Redis that takes longer is not answering


@dataclass(eq=False)
class Outstanding:
    """What one dispatch wrote to a task stream, held until every verdict is in."""

    stream: str
    reply_to: str
    deadline: float
    tasks: list[tuple[str, Job]]
    futures: list[asyncio.Future[Verdict]]
    entries: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # entry id, the tasks it carries

    def unanswered(self, indices: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(i for i in indices if not self.futures[i].done())


async def resend_lost(
    redis: aioredis.Redis,
    batches: Collection[Outstanding],
    results_key: str,
    deliver: Callable[[Mapping[str, str]], None],
) -> int:
    """Queue again the unanswered jobs of every entry of ``batches`` that is no longer in its stream.

    One MULTI reads which entries are still there and the verdicts not yet read from ``results_key`` (a worker
    deletes an entry in the MULTI that writes its verdict, so a verdict of a missing entry is either there or
    already delivered); those verdicts are delivered first. Returns how many jobs went out again."""
    looked_up = [(batch, entry) for batch in batches for entry in batch.entries if batch.unanswered(entry[1])]
    if not looked_up:
        return 0
    async with redis.pipeline(transaction=True) as pipe:
        for batch, (entry_id, _) in looked_up:
            pipe.xrange(batch.stream, entry_id, entry_id)
        pipe.xrange(results_key, "-", "+")
        replies: list[Any] = await pipe.execute()
    for _, fields in replies[-1] or []:
        deliver(fields)
    lost = [(batch, entry) for (batch, entry), found in zip(looked_up, replies[:-1], strict=True) if not found]
    resend: list[tuple[Outstanding, tuple[int, ...]]] = []
    for batch, (entry_id, indices) in lost:
        batch.entries.remove((entry_id, indices))
        undone = batch.unanswered(indices)
        if undone:
            resend.append((batch, undone))
    if not resend:
        return 0
    for stream in {batch.stream for batch, _ in resend}:
        await ensure_group(redis, stream)
    async with redis.pipeline(transaction=False) as pipe:
        for batch, undone in resend:
            tasks = [batch.tasks[i] for i in undone]
            pipe.xadd(batch.stream, TaskEntry(batch.reply_to, batch.deadline, tasks).encode())
        new_ids: list[Any] = await pipe.execute()
    for (batch, undone), entry_id in zip(resend, new_ids, strict=True):
        batch.entries.append((str(entry_id), undone))
    count = sum(len(undone) for _, undone in resend)
    log.warning("Redis lost %d task entr(ies) this gateway waits on: queued their %d job(s) again", len(lost), count)
    return count


async def ensure_group(redis: aioredis.Redis, stream: str) -> None:
    """Create the stream and its consumer group (from the start, so no task is skipped)."""
    try:
        await redis.xgroup_create(stream, keys.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class RedisWatch:
    """Whether Redis answers, and whether it is still the instance (``run_id``) the gateway wrote to."""

    def __init__(self, url: str) -> None:
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=ANSWER_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
        )
        self.down: str | None = None  # why Redis does not answer, or None
        self.run_id: str | None = None
        self.restarted_at = -math.inf  # time.time() when a new run_id was seen
        self.restarts = 0
        self.loss_suspected = False  # set by a poll, cleared by whoever looked for the losses

    async def poll(self, streams: Collection[str]) -> None:
        """Ask once; sets ``loss_suspected`` when something the gateway wrote may be lost (a new run id, or one of
        ``streams`` gone)."""
        names = sorted(streams)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.info("server")
                for name in names:
                    pipe.exists(name)
                replies: list[Any] = await pipe.execute()
        except (RedisError, OSError) as exc:
            if self.down is None:
                log.warning("Redis does not answer: %s", exc)
            self.down = str(exc) or type(exc).__name__
            return
        if self.down is not None:
            log.warning("Redis answers again")
        self.down = None
        run_id = str(replies[0].get("run_id", ""))
        before, self.run_id = self.run_id, run_id
        restarted = before is not None and run_id != before
        if restarted:
            self.restarts += 1
            self.restarted_at = time.time()
            log.warning("Redis restarted (run id %.8s… is now %.8s…): looking for lost task entries", before, run_id)
        gone = [name for name, exists in zip(names, replies[1:], strict=True) if not exists]
        if gone and not restarted:
            log.warning("task stream(s) %s no longer exist: looking for lost task entries", ", ".join(gone))
        self.loss_suspected = self.loss_suspected or restarted or bool(gone)

    def restarted_within(self, seconds: float) -> bool:
        return time.time() - self.restarted_at < seconds

    async def aclose(self) -> None:
        await self.redis.aclose()
