"""Redis key names and queue constants: every key rlvr-stack touches is spelled here."""

from __future__ import annotations

GROUP = "workers"  # consumer group of every task stream
FIELD = "data"  # the one field of every stream entry: a JSON document (never pickle)
RESULT_TTL_S = 3600  # a gateway's result stream expires this long after its last write
LIVE_WORKER_S = 15.0  # default of RLVR_LIVE_WORKER_S: a worker whose heartbeat is older is not counted as live
DEMAND_MAX = 100  # entries kept in a verifier's demand list
DEMAND_TTL_S = 600  # a demand list expires this long after the last refused request


def task_stream(prefix: str, verifier: str) -> str:
    """Tasks for one verifier; consumed by the group GROUP."""
    return f"{prefix}:tasks:{verifier}"


def dead_stream(prefix: str, verifier: str) -> str:
    """Tasks that exhausted their deliveries (they kept killing workers)."""
    return f"{prefix}:dead:{verifier}"


def result_stream(prefix: str, gateway_id: str) -> str:
    """Verdicts addressed to one gateway replica."""
    return f"{prefix}:results:{gateway_id}"


def workers_key(prefix: str, verifier: str) -> str:
    """Sorted set: consumer name → time of its last heartbeat (one set per verifier; a worker serving several
    verifiers is in each of their sets)."""
    return f"{prefix}:workers:{verifier}"


def demand_key(prefix: str, verifier: str) -> str:
    """List: one entry (a unix time) per request refused because the verifier had no live worker, at most
    DEMAND_MAX, expiring DEMAND_TTL_S after the last; a worker of the verifier deletes it when it starts.
    An autoscaler that scales workers to zero wakes them on its length (KEDA: a `redis` list trigger)."""
    return f"{prefix}:demand:{verifier}"


def attempts_key(prefix: str, verifier: str) -> str:
    """Hash: task entry id → times it was run alone after a worker died holding it."""
    return f"{prefix}:attempts:{verifier}"
