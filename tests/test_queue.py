"""Queue mode on a real Redis with real worker processes: kills, reclaims, dead letters, backpressure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from rlvr_client import Overloaded, RetryPolicy, RewardClient
from rlvr_services import constants as keys
from rlvr_services.gateway.app import create_app
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import GatewaySettings, WorkerSettings
from rlvr_services.worker import create_worker_app

from conftest import PLUGINS, wait_ready

pytestmark = [pytest.mark.redis]

RLVR = str(Path(sys.executable).with_name("rlvr"))


def start_worker(verifier: str | None, redis_url: str, prefix: str, **env: str) -> subprocess.Popen[bytes]:
    """`rlvr worker` in its own session, so a test can kill it with all its processes (``verifier`` None: the
    verifiers come from RLVR_VERIFIER in ``env``)."""
    environ = {
        **os.environ,
        "RLVR_REDIS_PREFIX": prefix,
        "RLVR_CLAIM_IDLE_S": "1.5",
        "RLVR_HEARTBEAT_S": "0.25",
        "RLVR_PROCESSES": "1",
        "RLVR_LOG_LEVEL": "warning",
        **env,
    }
    named = ["--verifier", verifier] if verifier else []
    cmd = [RLVR, "worker", *named, "--redis-url", redis_url, "--port", "0", "--plugin", PLUGINS[0]]
    return subprocess.Popen(cmd, env=environ, start_new_session=True, stderr=subprocess.DEVNULL)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def wait_workers(redis_url: str, prefix: str, verifier: str, n: int, timeout_s: float = 60.0) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if client.zcount(keys.workers_key(prefix, verifier), time.time() - 5, "+inf") >= n:
                return
            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError(f"{n} {verifier} workers did not register within {timeout_s}s")


@contextmanager
def queue_gateway(redis_url: str, prefix: str, **overrides: Any) -> Iterator[str]:
    settings = GatewaySettings(
        port=0, processes=1, plugins=PLUGINS, redis_url=redis_url, redis_prefix=prefix, **overrides
    )
    with serve_in_thread(create_app(settings)) as url:
        wait_ready(url)
        yield url


@contextmanager
def thread_worker(verifier: str, redis_url: str, prefix: str, **overrides: Any) -> Iterator[str]:
    """A real worker (its consumers, heartbeats and verifier processes) served from a thread of this process."""
    values: dict[str, Any] = {"port": 0, "processes": 1, "heartbeat_s": 0.25, "claim_idle_s": 1.5, **overrides}
    settings = WorkerSettings(verifier=verifier, plugins=PLUGINS, redis_url=redis_url, redis_prefix=prefix, **values)
    with serve_in_thread(create_worker_app(settings)) as url:
        wait_ready(url)
        yield url


def sleep_items(n: int, ms: float) -> list[dict[str, Any]]:
    return [
        {"id": f"i{i}", "completion": "", "rewards": [{"name": "sleep", "params": {"ms": ms, "value": i / 1000}}]}
        for i in range(n)
    ]


MIXED = [
    ("<think>3 + 4 = 7, half of 14</think>The answer is $\\boxed{7}$.", "7"),
    ("<think>It is 1/2</think>\\boxed{\\frac{1}{2}}", "0.5"),
    ("<think>so 12</think> Final answer: 13", "12"),
    ("The result is \\boxed{\\sqrt{2}}", "\\sqrt{2}"),
    ("<think>x</think><answer>42</answer>", "#### 42"),
    ("<think>no answer here", "5"),
]


def mixed_batch() -> list[dict[str, Any]]:
    return [
        {
            "id": f"m{i}",
            "completion": completion,
            "rewards": [{"name": "math", "params": {"gold": gold}}, {"name": "format", "weight": 0.25}],
        }
        for i, (completion, gold) in enumerate(MIXED * 4)
    ]


def test_same_batch_scores_identically_in_embedded_and_queue_mode(
    gateway_url: str, redis_url: str, redis_prefix: str
) -> None:
    worker = start_worker("math", redis_url, redis_prefix)
    try:
        wait_workers(redis_url, redis_prefix, "math", 1)
        with queue_gateway(redis_url, redis_prefix) as queue_url:
            with RewardClient(gateway_url) as embedded, RewardClient(queue_url) as queued:
                a = embedded.score(mixed_batch())
                b = queued.score(mixed_batch())
    finally:
        kill_tree(worker)
    assert [r.model_dump() for r in a] == [r.model_dump() for r in b]
    assert {r.reward for r in a} >= {1.25, 0.0}


@pytest.mark.slow
def test_kill_9_of_a_worker_mid_batch_loses_nothing(redis_url: str, redis_prefix: str) -> None:
    workers = [start_worker("sleep", redis_url, redis_prefix, RLVR_PREFETCH="4") for _ in range(2)]
    try:
        wait_workers(redis_url, redis_prefix, "sleep", 2)
        with queue_gateway(redis_url, redis_prefix) as url, httpx.Client(base_url=url, timeout=120) as http:
            import threading

            box: dict[str, httpx.Response] = {}
            thread = threading.Thread(
                target=lambda: box.update(r=http.post("/v1/score", json={"items": sleep_items(60, 50)}))
            )
            thread.start()
            time.sleep(0.6)  # both workers are mid-batch now
            kill_tree(workers[0])
            thread.join(timeout=120)
            response = box["r"]
    finally:
        for w in workers:
            kill_tree(w)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == [f"i{i}" for i in range(60)]
    assert all(r["components"][0]["status"] == "ok" for r in results), [
        r for r in results if r["components"][0]["status"] != "ok"
    ]
    assert [r["reward"] for r in results] == [i / 1000 for i in range(60)]
    client = redis.Redis.from_url(redis_url)
    try:  # every task acknowledged and deleted: nothing left behind, nothing dead-lettered
        assert client.xlen(keys.task_stream(redis_prefix, "sleep")) == 0
        assert client.xlen(keys.dead_stream(redis_prefix, "sleep")) == 0
    finally:
        client.close()


@pytest.mark.slow
def test_task_that_keeps_killing_workers_goes_to_dead_letter(redis_url: str, redis_prefix: str) -> None:
    items = [{"id": "poison", "completion": "", "rewards": [{"name": "sleep", "params": {"kill_worker": True}}]}]
    items += sleep_items(3, 1)
    env = {"RLVR_MAX_ATTEMPTS": "2"}
    worker = start_worker("sleep", redis_url, redis_prefix, **env)  # a request needs a live worker to be queued
    wait_workers(redis_url, redis_prefix, "sleep", 1)
    with queue_gateway(redis_url, redis_prefix) as url, httpx.Client(base_url=url, timeout=120) as http:
        import threading

        box: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: box.update(r=http.post("/v1/score", json={"items": items})))
        thread.start()
        started = 1
        while thread.is_alive() and started < 7:  # a supervisor restarting dead workers
            if started > 1:
                worker = start_worker("sleep", redis_url, redis_prefix, **env)
            started += 1
            while worker.poll() is None and thread.is_alive():
                time.sleep(0.1)
            kill_tree(worker)
        thread.join(timeout=60)
    response = box["r"]
    results = {r["id"]: r for r in response.json()["results"]}
    poison = results.pop("poison")["components"][0]
    assert poison["status"] == "error" and poison["score"] is None
    assert "dead-letter" in poison["reason"]
    assert [r["reward"] for r in results.values()] == [0.0, 0.001, 0.002]
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.xlen(keys.dead_stream(redis_prefix, "sleep")) == 1
    finally:
        client.close()


def test_full_backlog_is_a_503_with_retry_after(redis_url: str, redis_prefix: str) -> None:
    with (
        thread_worker("sleep", redis_url, redis_prefix),
        queue_gateway(redis_url, redis_prefix, max_backlog=5, retry_after_s=3) as url,
    ):
        with httpx.Client(base_url=url) as http:
            r = http.post("/v1/score", json={"items": sleep_items(10, 0)})
        assert r.status_code == 503
        assert r.headers["retry-after"] == "3"
        assert r.json()["error"]["code"] == "overloaded" and "backlog limit of 5" in r.json()["error"]["message"]
        with RewardClient(url, retry=RetryPolicy(attempts=2, max_s=0.1)) as client, pytest.raises(Overloaded):
            client.score(sleep_items(10, 0))


def test_queue_items_unanswered_by_the_deadline_are_timeouts(redis_url: str, redis_prefix: str) -> None:
    """A live worker that is too slow: the request timeout answers for it (and the entries are dropped)."""
    with (
        thread_worker("sleep", redis_url, redis_prefix),
        queue_gateway(redis_url, redis_prefix, request_timeout_s=1.0) as url,
        httpx.Client(base_url=url) as http,
    ):
        r = http.post("/v1/score", json={"items": sleep_items(2, 1500)})
    comps = [x["components"][0] for x in r.json()["results"]]
    assert [c["status"] for c in comps] == ["timeout", "timeout"]
    assert "no sleep worker answered" in comps[0]["reason"]


def test_readyz_reports_redis_and_workers(redis_url: str, redis_prefix: str) -> None:
    with queue_gateway(redis_url, redis_prefix) as url, httpx.Client(base_url=url) as http:
        body = http.get("/readyz").json()
        assert body["mode"] == "queue" and body["checks"]["redis"] == "ok"
        assert "no live worker" in body["checks"]["workers:math"]
        assert "rlvr_queue_depth" in http.get("/metrics").text


def test_readyz_is_503_when_redis_does_not_answer() -> None:
    settings = GatewaySettings(port=0, processes=1, redis_url="redis://127.0.0.1:1/0", redis_prefix="none")
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url) as http:
        r = http.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["redis"].startswith("error")
        assert http.get("/healthz").status_code == 200


def test_worker_serves_its_verifier_over_http() -> None:
    app = create_worker_app(WorkerSettings(verifier="math", port=0, processes=1))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        wait_ready(url)
        items = [
            {"id": "a", "completion": "\\boxed{3}", "params": {"gold": "3"}},
            {"id": "b", "completion": "\\boxed{4}", "params": {"gold": "3"}},
        ]
        body = http.post("/v1/verify", json={"items": items}).json()
        assert body["verifier"] == "math"
        assert [(v["id"], v["status"], v["score"]) for v in body["verdicts"]] == [("a", "ok", 1.0), ("b", "ok", 0.0)]
        bad = http.post("/v1/verify", json={"items": [{"id": "a", "completion": "x", "params": {}}]})
        assert bad.status_code == 422 and "items[0].params.gold" in bad.json()["error"]["message"]


def code_batch() -> list[dict[str, Any]]:
    tests = [{"stdin": "2 3\n", "stdout": "5\n"}, {"stdin": "10 -4\n", "stdout": "6\n"}]
    programs = [
        "a, b = map(int, input().split())\nprint(a + b)\n",  # right
        "a, b = map(int, input().split())\nprint(a * b if a == 10 else a + b)\n",  # half right
        "import os\nos._exit(0)\n",  # prints nothing
        "while True:\n    pass\n",  # times out
    ]
    return [
        {
            "id": f"c{i}",
            "completion": f"<think>plan</think>\n```python\n{program}```",
            "rewards": [{"name": "code", "params": {"language": "python", "tests": tests, "timeout_s": 1}}],
        }
        for i, program in enumerate(programs)
    ]


def verdicts(results: list[Any]) -> list[tuple[Any, ...]]:
    """What must agree between modes (per-test times and memory differ from run to run)."""
    return [(r.id, r.reward, [(c.status, c.score, c.reason) for c in r.components]) for r in results]


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/bwrap"), reason="the jail needs root and bwrap")
def test_code_verifier_in_queue_mode(gateway_url: str, redis_url: str, redis_prefix: str) -> None:
    worker = start_worker("code", redis_url, redis_prefix, RLVR_SANDBOX_SLOTS="2")
    try:
        wait_workers(redis_url, redis_prefix, "code", 1)
        with queue_gateway(redis_url, redis_prefix) as queue_url:
            with RewardClient(gateway_url) as embedded, RewardClient(queue_url) as queued:
                a = embedded.score(code_batch())
                b = queued.score(code_batch())
            # programs run on the code workers: the queue-mode gateway has no sandbox of its own
            assert httpx.post(f"{queue_url}/v1/run", json={"language": "python", "code": "print(1)"}).status_code == 404
    finally:
        kill_tree(worker)
    assert verdicts(a) == verdicts(b)
    assert [r.reward for r in a] == [1.0, 0.5, 0.0, 0.0]
    assert a[3].components[0].details["tests"][0]["status"] == "timeout"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/bwrap"), reason="the jail needs root and bwrap")
def test_code_worker_serves_run_over_http() -> None:
    app = create_worker_app(WorkerSettings(verifier="code", port=0, processes=1))
    with serve_in_thread(app) as url, RewardClient(url) as client:
        wait_ready(url)
        result = client.run("python", "print(input() * 2)", stdin="ab\n")
    assert (result.status.value, result.stdout) == ("ok", "abab\n")


THINK_EN = "<think>First I read the question. Then I count the words carefully and check each one.</think>"
THINK_MIXED = (
    "<think>First I read the question carefully. Ensuite je compte les mots un par un avec soin. "
    "Then I check the total again.</think>"
)
INSTRUCTION_SPECS: list[dict[str, Any]] = [
    {
        "name": "ifeval",
        "params": {
            "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
            "kwargs": [{}, {}],
        },
    },
    {"name": "language", "params": {"language": "en"}},
    {"name": "mixed_language", "params": {"threshold": 0.9}},
    {"name": "long_paragraphs", "params": {"max_words": 12}},
    {"name": "code_in_reasoning"},
    {"name": "repetition"},
    {"name": "tag_count"},
    {"name": "reasoning_steps"},
    {"name": "overlong", "params": {"max_len": 400, "cache_len": 100}},
    {"name": "cosine_length", "params": {"correct": True, "max_len": 400}},
    {"name": "length", "params": {"correct": False, "group_lengths": [50, 200, 400]}},
]


def instruction_batch() -> list[dict[str, Any]]:
    answers = ["the answer is four words", "The answer, in short, is Four.", "la réponse est quatre"]
    return [
        {"id": f"r{i}-{j}", "completion": f"{think}{answer}", "rewards": INSTRUCTION_SPECS}
        for i, think in enumerate((THINK_EN, THINK_MIXED))
        for j, answer in enumerate(answers)
    ]


@pytest.mark.slow
def test_instruction_and_shaping_verifiers_in_queue_mode(gateway_url: str, redis_url: str, redis_prefix: str) -> None:
    """Issue 5's verifiers give the same verdicts through Redis workers as embedded."""
    process_verifiers = ("ifeval", "language", "mixed_language")
    workers = [start_worker(name, redis_url, redis_prefix) for name in process_verifiers]
    try:
        for name in process_verifiers:
            wait_workers(redis_url, redis_prefix, name, 1)
        with queue_gateway(redis_url, redis_prefix) as queue_url:
            with RewardClient(gateway_url) as embedded, RewardClient(queue_url) as queued:
                a = embedded.score(instruction_batch())
                b = queued.score(instruction_batch())
                listed = {v.name for v in queued.verifiers()}
    finally:
        for worker in workers:
            kill_tree(worker)
    assert {spec["name"] for spec in INSTRUCTION_SPECS} <= listed
    assert [r.model_dump() for r in a] == [r.model_dump() for r in b]
    for result in a:
        statuses = {c.name: c.status.value for c in result.components}
        assert set(statuses.values()) == {"ok"}, statuses
    scores = {(r.id, c.name): c.score for r in a for c in r.components}
    assert scores[("r0-0", "ifeval")] == 1.0 and scores[("r0-1", "ifeval")] == 0.0
    assert scores[("r0-0", "language")] == 1.0 and scores[("r1-0", "language")] < 0.9
    assert scores[("r0-0", "mixed_language")] == 1.0 and scores[("r1-0", "mixed_language")] == 0.0
