"""What Redis says about each queued verifier: its live workers and its backlog, read in one round trip."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis

from rlvr_client.models import QueueState

from .. import constants as keys


def _count(reply: Any) -> int:
    if isinstance(reply, BaseException):  # e.g. NOGROUP: the stream was never created
        return 0
    if isinstance(reply, dict):  # XPENDING's summary
        return int(reply.get("pending", 0) or 0)
    return int(reply or 0)


async def read_states(
    redis: aioredis.Redis, prefix: str, names: Sequence[str], live_s: float
) -> dict[str, QueueState]:
    """Live workers (heartbeat within ``live_s``), stream length, pending entries and dead letters per verifier.

    Raises RedisError when Redis does not answer."""
    now = time.time()
    pipe = redis.pipeline(transaction=False)
    for name in names:
        stream = keys.task_stream(prefix, name)
        pipe.zcount(keys.workers_key(prefix, name), now - live_s, "+inf")
        pipe.xlen(stream)
        pipe.xpending(stream, keys.GROUP)
        pipe.xlen(keys.dead_stream(prefix, name))
    replies = await pipe.execute(raise_on_error=False)
    out = {}
    for i, name in enumerate(names):
        live, backlog, pending, dead = (_count(r) for r in replies[4 * i : 4 * i + 4])
        out[name] = QueueState(live_workers=live, backlog=backlog, pending=pending, dead_letters=dead)
    return out


def redact_url(url: str) -> str:
    """A Redis URL fit for a message: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def start_command(names: Sequence[str], redis_url: str, prefix: str) -> str:
    """The command that starts a worker for these verifiers against this Redis."""
    env = f"RLVR_REDIS_PREFIX={prefix} " if prefix != "rlvr" else ""
    return f"{env}rlvr worker --verifier {','.join(names)} --redis-url {redact_url(redis_url)}"
