"""Graceful shutdown with real processes and real signals: SIGTERM drains a worker (it finishes or hands
back what it claimed) and a gateway (it stops taking requests and finishes those in flight)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from test_queue import RLVR, kill_tree, start_worker, thread_worker, wait_workers

from rlvr_services import constants as keys

from conftest import PLUGINS

pytestmark = [pytest.mark.redis]


def recorded_items(n: int, ms: float, record: Path) -> list[dict[str, Any]]:
    params = {"ms": ms, "record": str(record)}
    return [
        {"id": f"i{i}", "completion": "", "rewards": [{"name": "sleep", "params": {**params, "value": float(i)}}]}
        for i in range(n)
    ]


def runs(record: Path) -> list[tuple[float, str, float]]:
    """(value, worker tag, time finished) of every completed run."""
    if not record.exists():
        return []
    return [(float(v), tag, float(t)) for v, tag, t in (line.split() for line in record.read_text().splitlines())]


def pending_of(client: redis.Redis, stream: str, pid: int) -> int | None:
    """Entries pending for the consumer of process ``pid``; None when it has no consumer in the group."""
    for consumer in client.xinfo_consumers(stream, keys.GROUP):
        if f"-{pid}-" in consumer["name"]:
            return int(consumer["pending"])
    return None


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s}s")
        time.sleep(0.02)


def post_in_background(url: str, body: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def send() -> None:
        try:
            box["response"] = httpx.post(f"{url}/v1/score", json=body, timeout=120)
        except httpx.HTTPError as exc:  # the test asserts on what came back
            box["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    return thread, box


@contextmanager
def two_workers(
    redis_url: str, prefix: str, drain_s: float, processes: int = 1
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """Worker A (to be stopped) and worker B (which never reclaims within the test: claim idle 60 s)."""
    env = {"RLVR_DRAIN_TIMEOUT_S": str(drain_s), "RLVR_PREFETCH": "2"}
    a = start_worker("sleep", redis_url, prefix, RLVR_TEST_WORKER_TAG="A", **env)
    b = start_worker(
        "sleep", redis_url, prefix, RLVR_TEST_WORKER_TAG="B", RLVR_CLAIM_IDLE_S="60", RLVR_PROCESSES=str(processes),
        **env,
    )
    try:
        wait_workers(redis_url, prefix, "sleep", 2)
        yield a, b
    finally:
        kill_tree(a)
        kill_tree(b)


def sigterm_when_busy(client: redis.Redis, stream: str, worker: subprocess.Popen[bytes]) -> float:
    wait_until(lambda: (pending_of(client, stream, worker.pid) or 0) >= 1, 20, "worker A claiming an entry")
    worker.send_signal(signal.SIGTERM)
    return time.time()


def test_sigterm_worker_finishes_what_it_claimed(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    from test_queue import queue_gateway

    record = tmp_path / "runs.txt"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = keys.task_stream(redis_prefix, "sleep")
    try:
        with two_workers(redis_url, redis_prefix, drain_s=20) as (a, _b), queue_gateway(redis_url, redis_prefix) as url:
            thread, box = post_in_background(url, {"items": recorded_items(8, 600, record)})
            stopped_at = sigterm_when_busy(client, stream, a)
            assert a.wait(timeout=15) == 0  # drained, then exited cleanly, well within the drain timeout
            exit_s = time.time() - stopped_at
            assert pending_of(client, stream, a.pid) is None  # it left nothing pending: its consumer is gone
            thread.join(timeout=60)
    finally:
        client.close()
    response = box["response"]
    assert response.status_code == 200, response.text
    assert [c["status"] for r in response.json()["results"] for c in r["components"]] == ["ok"] * 8
    done = runs(record)
    assert Counter(v for v, _, _ in done) == Counter(float(i) for i in range(8))  # every item run once
    assert any(tag == "A" and t > stopped_at for _, tag, t in done), "A finished the entries it held"
    assert exit_s < 5


def test_sigterm_worker_hands_back_what_it_cannot_finish(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    from test_queue import queue_gateway

    record = tmp_path / "runs.txt"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = keys.task_stream(redis_prefix, "sleep")
    try:
        with (
            two_workers(redis_url, redis_prefix, drain_s=0.5, processes=2) as (a, _b),
            queue_gateway(redis_url, redis_prefix) as url,
        ):
            started = time.monotonic()
            thread, box = post_in_background(url, {"items": recorded_items(6, 1500, record)})
            stopped_at = sigterm_when_busy(client, stream, a)
            assert a.wait(timeout=10) == 0
            assert time.time() - stopped_at < 5  # the drain timeout, then the hand-back
            assert pending_of(client, stream, a.pid) is None
            thread.join(timeout=60)
            elapsed = time.monotonic() - started
    finally:
        client.close()
    response = box["response"]
    assert response.status_code == 200, response.text
    assert [c["status"] for r in response.json()["results"] for c in r["components"]] == ["ok"] * 6
    done = runs(record)
    assert Counter(v for v, _, _ in done) == Counter(float(i) for i in range(6))
    assert {tag for _, tag, _ in done} == {"B"}  # A finished nothing: what it held went back and B ran it
    assert elapsed < 30  # B reclaims nothing within 60 s: only a hand-back explains the answer


@contextmanager
def gateway_process(redis_url: str, prefix: str, drain_s: float) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`rlvr serve` in queue mode as its own process; yields it and its URL (read from its log)."""
    env = {
        **os.environ,
        "RLVR_REDIS_PREFIX": prefix,
        "RLVR_DRAIN_TIMEOUT_S": str(drain_s),
        "RLVR_PROCESSES": "1",
        "RLVR_LOG_LEVEL": "info",
    }
    cmd = [RLVR, "serve", "--redis-url", redis_url, "--port", "0", "--plugin", PLUGINS[0]]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    found: dict[str, str] = {}
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"Uvicorn running on (http://\S+)", line)
            if match:
                found["url"] = match.group(1)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: "url" in found or proc.poll() is not None, 60, "the gateway starting")
        assert "url" in found, "".join(lines)
        yield proc, found["url"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        reader.join(timeout=5)
        assert proc.stderr is not None
        proc.stderr.close()


def sleep_body(ms: float, n: int = 2) -> dict[str, Any]:
    return {"items": [{"id": f"s{i}", "completion": "", "rewards": [{"name": "sleep", "params": {"ms": ms}}]}
                      for i in range(n)]}


def test_sigterm_gateway_finishes_requests_in_flight_and_refuses_new_ones(redis_url: str, redis_prefix: str) -> None:
    with thread_worker("sleep", redis_url, redis_prefix, processes=2):
        wait_workers(redis_url, redis_prefix, "sleep", 1)
        # 1. within the drain timeout: the request in flight is answered in full
        with gateway_process(redis_url, redis_prefix, drain_s=20) as (proc, url):
            thread, box = post_in_background(url, sleep_body(1500))
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            with httpx.Client(base_url=url, timeout=10) as http:
                ready = http.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["shutdown"].startswith("draining")
                refused = http.post("/v1/score", json=sleep_body(0))
                assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
                assert refused.json()["error"]["code"] == "not_ready"
                assert http.get("/healthz").status_code == 200
            thread.join(timeout=30)
            assert proc.wait(timeout=15) == 0
        response = box["response"]
        assert response.status_code == 200, response.text
        assert [c["status"] for r in response.json()["results"] for c in r["components"]] == ["ok", "ok"]

        # 2. past the drain timeout: what still waits on a worker is answered with `error`, not cut off
        with gateway_process(redis_url, redis_prefix, drain_s=0.5) as (proc, url):
            thread, box = post_in_background(url, sleep_body(4000))
            time.sleep(0.5)
            stopped = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            thread.join(timeout=30)
            assert proc.wait(timeout=15) == 0
            assert time.monotonic() - stopped < 4
        response = box["response"]
        assert response.status_code == 200, response.text
        comps = [c for r in response.json()["results"] for c in r["components"]]
        assert [(c["status"], c["score"]) for c in comps] == [("error", None), ("error", None)]
        assert "RLVR_DRAIN_TIMEOUT_S" in comps[0]["reason"]
