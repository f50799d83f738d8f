"""Queue mode never waits on nobody: verifiers without a live worker are answered at once, a worker that
dies holding an item is noticed by the item's deadline, and readiness reports each verifier's workers and
backlog. Also: one worker process serving several verifiers. Real Redis, real workers, real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import redis
from test_queue import kill_tree, queue_gateway, start_worker, thread_worker, wait_workers

from rlvr_client import NoLiveWorker, RetryPolicy, RewardClient
from rlvr_services import constants as keys
from rlvr_services.queue.states import redact_url, start_command
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import WorkerSettings
from rlvr_services.worker import create_worker_app

from conftest import PLUGINS, wait_ready

pytestmark = [pytest.mark.redis]


def item(name: str, *rewards: dict[str, Any]) -> dict[str, Any]:
    return {"id": name, "completion": "<think>x</think> y", "rewards": list(rewards)}


SLEEP = {"name": "sleep", "params": {"value": 0.5}}
WARMTH = {"name": "warmth"}
FORMAT = {"name": "format", "weight": 0.5}


def test_a_request_for_verifiers_without_a_worker_is_a_503_at_once(redis_url: str, redis_prefix: str) -> None:
    with queue_gateway(redis_url, redis_prefix, retry_after_s=4) as url, httpx.Client(base_url=url) as http:
        started = time.monotonic()
        r = http.post("/v1/score", json={"items": [item("a", SLEEP, WARMTH), item("b", SLEEP)]})
        assert time.monotonic() - started < 2
        assert r.status_code == 503 and r.headers["retry-after"] == "4"
        error = r.json()["error"]
        assert error["code"] == "no_live_worker"
        assert error["details"]["verifiers"] == ["sleep", "warmth"]
        command = f"RLVR_REDIS_PREFIX={redis_prefix} rlvr worker --verifier sleep,warmth --redis-url {redis_url}"
        assert error["details"]["command"] == command and command in error["message"]
        with RewardClient(url, retry=RetryPolicy(attempts=1)) as client, pytest.raises(NoLiveWorker) as caught:
            client.score([item("c", SLEEP)])
        assert "sleep" in caught.value.message
    demand = redis.Redis.from_url(redis_url)
    try:  # an autoscaler that scaled the verifier to zero sees the demand
        assert demand.llen(keys.demand_key(redis_prefix, "sleep")) == 2
        assert demand.llen(keys.demand_key(redis_prefix, "warmth")) == 1
        assert 0 < demand.ttl(keys.demand_key(redis_prefix, "sleep")) <= keys.DEMAND_TTL_S
    finally:
        demand.close()


def test_components_of_a_verifier_without_a_worker_are_errors_when_others_score(
    redis_url: str, redis_prefix: str
) -> None:
    with (
        thread_worker("warmth", redis_url, redis_prefix),
        queue_gateway(redis_url, redis_prefix) as url,
        RewardClient(url) as client,
    ):
        results = client.score([item("a", SLEEP, WARMTH, FORMAT), item("b", FORMAT)])
        # the worker's start deleted the demand list of its verifier; the refused one has its own
        demand = redis.Redis.from_url(redis_url)
        try:
            assert demand.exists(keys.demand_key(redis_prefix, "warmth")) == 0
            assert demand.llen(keys.demand_key(redis_prefix, "sleep")) == 1
        finally:
            demand.close()
    by_name = {c.name: c for c in results[0].components}
    assert (by_name["sleep"].status.value, by_name["sleep"].score) == ("error", None)
    assert "no live worker serves the sleep verifier" in by_name["sleep"].reason
    assert "rlvr worker --verifier sleep --redis-url" in by_name["sleep"].reason
    assert (by_name["warmth"].status.value, by_name["warmth"].score) == ("ok", 1.0)
    assert by_name["format"].status.value == "ok"
    assert results[0].reward == 1.0 + 0.5 * by_name["format"].score  # the error is left out, never a 0.0
    assert [c.name for c in results[1].components] == ["format"]


def test_an_item_whose_worker_died_is_a_timeout_by_its_deadline(redis_url: str, redis_prefix: str) -> None:
    worker = start_worker("sleep", redis_url, redis_prefix)
    try:
        wait_workers(redis_url, redis_prefix, "sleep", 1)
        with (
            queue_gateway(redis_url, redis_prefix, live_worker_s=1.5, timeout_grace_s=1.0) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            import threading

            box: dict[str, Any] = {}
            body = {"items": [item("slow", {"name": "sleep", "params": {"ms": 60_000, "timeout_s": 3}})]}
            started = time.monotonic()
            thread = threading.Thread(target=lambda: box.update(r=http.post("/v1/score", json=body)))
            thread.start()
            client = redis.Redis.from_url(redis_url)
            stream = keys.task_stream(redis_prefix, "sleep")
            try:
                deadline = time.monotonic() + 10
                while not client.xpending(stream, keys.GROUP)["pending"] and time.monotonic() < deadline:
                    time.sleep(0.02)  # until the worker holds the item
                kill_tree(worker)  # it dies holding it, and nobody replaces it
                thread.join(timeout=60)
                elapsed = time.monotonic() - started
                assert client.xlen(stream) == 0  # the entry nobody waits for is gone from the backlog
            finally:
                client.close()
    finally:
        kill_tree(worker)
    component = box["r"].json()["results"][0]["components"][0]
    assert (component["status"], component["score"]) == ("timeout", None)
    assert "no live sleep worker" in component["reason"]
    # its deadline (3 s) + grace (1 s), give or take a liveness poll; the request timeout is 900 s
    assert 3.5 < elapsed < 7, elapsed


def test_one_worker_serves_several_verifiers_and_readiness_reports_them(redis_url: str, redis_prefix: str) -> None:
    worker = start_worker(None, redis_url, redis_prefix, RLVR_VERIFIER="sleep,warmth")  # no --verifier: the env
    try:
        wait_workers(redis_url, redis_prefix, "sleep", 1)
        wait_workers(redis_url, redis_prefix, "warmth", 1)
        with queue_gateway(redis_url, redis_prefix) as url, httpx.Client(base_url=url, timeout=60) as http:
            r = http.post("/v1/score", json={"items": [item("a", SLEEP, WARMTH)]})
            assert [c["status"] for c in r.json()["results"][0]["components"]] == ["ok", "ok"]

            client = redis.Redis.from_url(redis_url)
            try:  # three entries in the math stream, which no worker serves
                for n in range(3):
                    client.xadd(keys.task_stream(redis_prefix, "math"), {keys.FIELD: json.dumps({"n": n})})
            finally:
                client.close()
            time.sleep(0.6)  # the gateway reads the states at most twice a second
            ready = http.get("/readyz")
            body = ready.json()
            assert ready.status_code == 200  # the gateway itself is ready; liveness is per verifier
            assert body["verifiers"]["sleep"]["live_workers"] == 1
            assert body["verifiers"]["warmth"]["live_workers"] == 1
            assert body["verifiers"]["math"] == {"live_workers": 0, "backlog": 3, "pending": 0, "dead_letters": 0}
            assert body["checks"]["workers:sleep"] == "ok (1 live)"
            assert "no live worker" in body["checks"]["workers:math"]
            infos = {v["name"]: v for v in http.get("/v1/verifiers").json()["verifiers"]}
            assert infos["warmth"]["queue"]["live_workers"] == 1 and infos["math"]["queue"]["backlog"] == 3
            assert infos["format"]["queue"] is None  # runs in the gateway itself
            metrics = http.get("/metrics").text
            assert 'rlvr_live_workers{verifier="warmth"} 1.0' in metrics
            schema = http.get("/openapi.json").json()["components"]["schemas"]
            assert {"live_workers", "backlog", "pending"} <= set(schema["QueueState"]["properties"])
            assert "verifiers" in schema["Health"]["properties"] and "queue" in schema["VerifierInfo"]["properties"]
    finally:
        kill_tree(worker)
    assert worker.returncode is not None


def test_a_worker_serving_several_verifiers_over_http_needs_the_name() -> None:
    settings = WorkerSettings(verifier=" sleep, warmth ", port=0, processes=1, plugins=PLUGINS)
    assert settings.verifiers == ["sleep", "warmth"]
    with serve_in_thread(create_worker_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        wait_ready(url)
        items = [{"id": "a", "completion": "x", "params": {}}]
        r = http.post("/v1/verify", json={"items": items, "verifier": "warmth"})
        assert r.status_code == 200 and r.json()["verifier"] == "warmth"
        assert r.json()["verdicts"][0]["status"] == "ok"
        unnamed = http.post("/v1/verify", json={"items": items})
        assert unnamed.status_code == 422 and unnamed.json()["error"]["code"] == "unknown_verifier"
        assert "serves sleep, warmth" in unnamed.json()["error"]["message"]
        assert http.post("/v1/verify", json={"items": items, "verifier": "math"}).status_code == 422
        assert set(http.get("/readyz").json()["checks"]) >= {"verifier:sleep", "verifier:warmth"}


@pytest.mark.parametrize(
    ("value", "problem"), [("", "at least one verifier"), ("math,math", "named twice"), (" , ", "at least one")]
)
def test_worker_verifier_setting_is_checked(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        WorkerSettings(verifier=value)


def test_worker_heartbeat_must_fit_the_liveness_window() -> None:
    with pytest.raises(ValueError, match="at most a third of live_worker_s"):
        WorkerSettings(verifier="math", heartbeat_s=6, live_worker_s=15)


def test_the_start_command_never_shows_a_redis_password() -> None:
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("rediss://app:s3cret@[::1]:6380/1") == "rediss://app:***@[::1]:6380/1"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    command = start_command(["math", "code"], "redis://u:pw@r:6379/0", "rlvr")
    assert command == "rlvr worker --verifier math,code --redis-url redis://u:***@r:6379/0"
