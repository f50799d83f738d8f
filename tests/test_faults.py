"""Faults that must lose nothing, with real processes: Redis restarted mid-batch (without persistence, and with
AOF), Redis unreachable, a worker killed on every item of a batch in turn, and a gateway stopped while its
request waits on a queue nobody consumes. Each prints what it measured."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis_process import RedisProcess
from test_queue import kill_tree, queue_gateway, start_worker, wait_workers
from test_shutdown import gateway_process, post_in_background, wait_until

from rlvr_services import constants as keys

pytestmark = [pytest.mark.redis]


@pytest.fixture
def private_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", aof=getattr(request, "param", None))
    server.start()
    try:
        yield server
    finally:
        server.close()


def sleep_batch(n: int, ms: float, base: float, **params: Any) -> dict[str, Any]:
    """Items whose right verdict is their own value (base + i/1000), so a verdict given to the wrong item shows."""
    return {
        "items": [
            {"id": f"i{i}", "completion": "",
             "rewards": [{"name": "sleep", "params": {"ms": ms, "value": base + i / 1000, "timeout_s": 60, **params}}]}
            for i in range(n)
        ]
    }


def right_items(response: httpx.Response, n: int, base: float) -> int:
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == [f"i{i}" for i in range(n)]  # each item answered once, in order
    return sum(
        1 for i, r in enumerate(results)
        if r["components"][0]["status"] == "ok" and r["reward"] == pytest.approx(base + i / 1000)
    )


@pytest.mark.parametrize("private_redis", [None, "always"], ids=["no-persistence", "aof"], indirect=True)
def test_redis_restart_mid_batch_loses_nothing(private_redis: RedisProcess) -> None:
    n, ms, down_s = 40, 150, 1.5
    prefix = f"rlvr-fault-{uuid.uuid4().hex[:8]}"
    worker = start_worker("sleep", private_redis.url, prefix, RLVR_PROCESSES="2")
    try:
        wait_workers(private_redis.url, prefix, "sleep", 1)
        with queue_gateway(private_redis.url, prefix, request_timeout_s=60) as url, httpx.Client(timeout=90) as http:
            started = time.monotonic()
            right_before = right_items(http.post(f"{url}/v1/score", json=sleep_batch(n, ms, 1.0)), n, 1.0)
            baseline_s = time.monotonic() - started

            started = time.monotonic()
            thread, box = post_in_background(url, sleep_batch(n, ms, 2.0))
            time.sleep(baseline_s / 3)  # mid-batch: entries queued, some being run, some answered
            private_redis.kill()
            time.sleep(down_s)
            private_redis.start()
            thread.join(timeout=90)
            fault_s = time.monotonic() - started
            right = right_items(box["response"], n, 2.0)
            metrics = http.get(f"{url}/metrics").text
    finally:
        kill_tree(worker)
    resent = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("rlvr_resent_jobs_total"))
    mode = f"AOF appendfsync {private_redis.aof}" if private_redis.aof else "no persistence"
    print(
        f"\nRedis restart mid-batch ({mode}): {right}/{n} items right (before the fault {right_before}/{n}); "
        f"batch {fault_s:.2f}s against {baseline_s:.2f}s without the fault: the fault added "
        f"{fault_s - baseline_s:.2f}s (Redis down {down_s}s); {resent:g} jobs re-sent"
    )
    assert right_before == n and right == n
    if private_redis.aof == "always":
        assert resent == 0  # nothing was lost, so nothing went out again
    else:
        assert resent > 0
    assert fault_s - baseline_s < down_s + 10  # never the request timeout


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_redis_unreachable_is_a_503_with_retry_after_within_a_second(private_redis: RedisProcess, how: str) -> None:
    prefix = f"rlvr-fault-{uuid.uuid4().hex[:8]}"
    with (
        queue_gateway(private_redis.url, prefix, retry_after_s=3) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        assert http.get("/readyz").status_code == 200
        private_redis.kill() if how == "killed" else private_redis.pause()
        time.sleep(2)  # the gateway's watch has seen it (it asks twice a second, with a 1 s timeout)
        timings = []
        for _ in range(3):
            started = time.monotonic()
            score = http.post("/v1/score", json=sleep_batch(2, 0, 0.0))
            ready = http.get("/readyz")
            timings.append(time.monotonic() - started)
            assert score.status_code == 503 and score.headers["retry-after"] == "3", score.text
            assert score.json()["error"]["code"] == "unavailable"
            assert "Redis does not answer" in score.json()["error"]["message"]
            assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")
        assert http.get("/healthz").status_code == 200
        if how == "stopped":
            private_redis.resume()
        else:
            private_redis.start()
        wait_until(lambda: http.get("/readyz").status_code == 200, 10, "readiness after Redis is back")
    print(f"\nRedis {how}: /v1/score and /readyz both answered 503 in {max(timings):.3f}s at most")
    assert max(timings) < 1.0


def test_a_worker_killed_on_every_item_in_turn_loses_nothing(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """Each item's first run kills the worker running it (SIGKILL of its process group); a supervisor starts a new
    worker each time. The batch completes, every item answered once with its own verdict, none dead-lettered."""
    n = 6
    started_log, done_log = tmp_path / "started.txt", tmp_path / "done.txt"
    env = {"RLVR_PREFETCH": "1", "RLVR_MAX_ATTEMPTS": "2"}
    workers: dict[str, Any] = {}
    killed: list[float] = []
    spawned = 0

    def spawn() -> None:
        nonlocal spawned
        spawned += 1
        tag = f"w{spawned}"
        workers[tag] = start_worker("sleep", redis_url, redis_prefix, RLVR_TEST_WORKER_TAG=tag, **env)

    def starts() -> list[tuple[float, str]]:
        if not started_log.exists():
            return []
        return [(float(v), tag) for v, tag, _ in (line.split() for line in started_log.read_text().splitlines())]

    spawn()
    spawn()
    try:
        wait_workers(redis_url, redis_prefix, "sleep", 2)
        with queue_gateway(redis_url, redis_prefix) as url:
            body = sleep_batch(n, 1200, 3.0, started=str(started_log), record=str(done_log))
            began = time.monotonic()
            thread, box = post_in_background(url, body)
            while thread.is_alive() and time.monotonic() - began < 150:
                for value, tag in starts():
                    if value not in killed and tag in workers:  # its first run: kill the worker running it
                        killed.append(value)
                        kill_tree(workers.pop(tag))
                        spawn()
                time.sleep(0.05)
            thread.join(timeout=30)
            elapsed = time.monotonic() - began
    finally:
        for worker in workers.values():
            kill_tree(worker)
    right = right_items(box["response"], n, 3.0)
    done = Counter(float(line.split()[0]) for line in done_log.read_text().splitlines())
    print(f"\nworker killed on each of {n} items in turn: {right}/{n} right, {len(killed)} kills, {elapsed:.1f}s")
    assert sorted(killed) == [3.0 + i / 1000 for i in range(n)]  # every item killed its worker once
    assert right == n
    assert done == Counter(3.0 + i / 1000 for i in range(n))  # and then ran to the end exactly once
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.xlen(keys.dead_stream(redis_prefix, "sleep")) == 0
        assert client.xlen(keys.task_stream(redis_prefix, "sleep")) == 0
    finally:
        client.close()


class FakeHeartbeat:
    """A 'worker' that heartbeats and consumes nothing: requests are queued for it and wait."""

    def __init__(self, redis_url: str, prefix: str, verifier: str) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.key = keys.workers_key(prefix, verifier)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.zadd(self.key, {"silent-consumer": time.time()})
            except redis.exceptions.RedisError:
                pass
            self.stop.wait(0.3)

    def __enter__(self) -> FakeHeartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.client.close()


@pytest.mark.parametrize("redis_state", ["up", "down"])
def test_sigterm_gateway_waiting_on_an_unconsumed_queue_exits_within_its_grace(
    private_redis: RedisProcess, redis_state: str
) -> None:
    """Whatever it holds (and with Redis gone too), a gateway told to stop answers its callers and exits within
    its drain timeout + the answer grace."""
    drain_s = 1.0
    prefix = f"rlvr-fault-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(private_redis.url)
    stream = keys.task_stream(prefix, "sleep")
    with FakeHeartbeat(private_redis.url, prefix, "sleep"), gateway_process(private_redis.url, prefix, drain_s) as (
        proc,
        url,
    ):
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "the gateway ready")
        thread, box = post_in_background(url, sleep_batch(3, 0, 4.0))
        wait_until(lambda: client.xlen(stream) >= 1, 10, "the request queued")
        if redis_state == "down":
            # The first entry seen is not the whole pipeline answered: let the gateway read its replies (the batch
            # may span several entries) before Redis goes, or it rightly answers 503 "could not enqueue".
            time.sleep(0.5)
            private_redis.kill()
            time.sleep(1)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=60)
        answered_s = time.monotonic() - stopped
        code = proc.wait(timeout=60)
        exit_s = time.monotonic() - stopped
    client.close()
    print(f"\ngateway SIGTERM with a request on an unconsumed queue (Redis {redis_state}): answered in "
          f"{answered_s:.2f}s, exited in {exit_s:.2f}s (drain timeout {drain_s:g}s)")
    assert code == 0
    response = box["response"]
    assert response.status_code == 200, response.text
    components = [r["components"][0] for r in response.json()["results"]]
    assert [(c["status"], c["score"]) for c in components] == [("error", None)] * 3
    assert "RLVR_DRAIN_TIMEOUT_S" in components[0]["reason"]
    assert exit_s < drain_s + 5  # the drain timeout, the answer grace (2 s), then out
