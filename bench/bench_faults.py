"""Benchmark: what a Redis restart under a queue-mode batch costs, and that it loses nothing.

    .venv/bin/python bench/bench_faults.py [--prompts 500 --group 8 --processes 2 --kill-at 0.3 --down-s 2.5 --runs 3]

For each persistence setting (none; AOF ``appendfsync always``; AOF ``appendfsync everysec``): a private
redis-server, a ``rlvr worker --verifier math`` process and a queue-mode gateway. A batch of GRPO-shaped math
items (bench/mathmix.py: ``prompts * group`` items, one request) is scored once without a fault, then again with
Redis SIGKILLed at ``--kill-at`` of the fault-free time and started again ``--down-s`` later (same port, same
directory), ``--runs`` times. Reported per setting: items right (the same verdict as the fault-free run just
before), the median batch time with the fault against without, the time the fault added (and beyond the outage
itself), jobs the gateway queued again because Redis lost them.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mathmix import make_mix
from redis_process import RedisProcess

from rlvr_services import constants as keys
from rlvr_services.gateway.app import create_app
from rlvr_services.queue.entries import chunk_size
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import GatewaySettings

RLVR = str(Path(sys.executable).with_name("rlvr"))
SETTINGS = [("no persistence", None), ("AOF, appendfsync always", "always"), ("AOF, appendfsync everysec", "everysec")]


def batch(prompts: int, group: int, seed: int) -> dict[str, Any]:
    return {
        "items": [
            {"id": f"m{i}", "prompt": s.prompt, "completion": s.completion,
             "rewards": [{"name": "math", "params": {"gold": s.gold}}]}
            for i, s in enumerate(make_mix(prompts, group, seed))
        ]
    }


def verdicts(response: httpx.Response) -> list[tuple[Any, ...]]:
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    return [
        (r["id"], *[(c["status"], c["score"]) for c in r["components"]]) for r in response.json()["results"]
    ]


def entries_added(client: redis.Redis, stream: str) -> int:
    """Entries ever added to the stream (XINFO STREAM, Redis 7): workers delete what they answered."""
    try:
        return int(client.xinfo_stream(stream)["entries-added"])
    except redis.exceptions.ResponseError:  # no such stream yet
        return 0


def wait_live(url: str, prefix: str, timeout_s: float = 120) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout_s
    try:
        while client.zcount(keys.workers_key(prefix, "math"), time.time() - 5, "+inf") < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the math worker did not start")
            time.sleep(0.1)
    finally:
        client.close()


def resent_jobs(http: httpx.Client, url: str) -> float:
    for line in http.get(f"{url}/metrics").text.splitlines():
        if line.startswith("rlvr_resent_jobs_total"):
            return float(line.split()[-1])
    return 0.0


def run_setting(name: str, aof: str | None, body: dict[str, Any], args: argparse.Namespace, workdir: Path) -> str:
    server = RedisProcess(workdir / (aof or "none"), aof=aof)
    server.start()
    prefix = f"rlvr-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "RLVR_REDIS_PREFIX": prefix, "RLVR_LOG_LEVEL": "warning"}
    cmd = [RLVR, "worker", "--verifier", "math", "--redis-url", server.url, "--port", "0",
           "--processes", str(args.processes)]
    worker = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    settings = GatewaySettings(port=0, processes=1, redis_url=server.url, redis_prefix=prefix, log_level="warning")
    try:
        wait_live(server.url, prefix)
        with serve_in_thread(create_app(settings)) as url, httpx.Client(timeout=900) as http:
            http.post(f"{url}/v1/score", json=batch(4, 8, args.seed + 1)).raise_for_status()  # warm up
            clean: list[float] = []
            faulted: list[float] = []
            right = 0
            for _ in range(args.runs):
                started = time.monotonic()
                truth = verdicts(http.post(f"{url}/v1/score", json=body))
                clean.append(time.monotonic() - started)
                seconds, response = faulted_run(http, url, server, prefix, body, clean[-1], args)
                faulted.append(seconds)
                right += sum(1 for a, b in zip(truth, verdicts(response), strict=True) if a == b)
            resent = resent_jobs(http, url)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its verifier processes
        worker.wait(timeout=30)
        server.close()
    clean_s, fault_s = statistics.median(clean), statistics.median(faulted)
    added = fault_s - clean_s
    n = len(body["items"]) * args.runs
    return (
        f"| {name} | {right}/{n} | {clean_s:.2f} | {fault_s:.2f} | {added:.2f} | {added - args.down_s:+.2f} | "
        f"{resent / args.runs:.0f} |"
    )


def faulted_run(
    http: httpx.Client, url: str, server: RedisProcess, prefix: str, body: dict[str, Any], clean_s: float,
    args: argparse.Namespace,
) -> tuple[float, httpx.Response]:
    """The batch again, Redis killed once all of it is queued (at ``kill_at`` of the clean time at the earliest)."""
    box: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: box.update(r=http.post(f"{url}/v1/score", json=body)))
    n = len(body["items"])
    queued = redis.Redis.from_url(server.url)
    stream = keys.task_stream(prefix, "math")
    until = entries_added(queued, stream) + -(-n // chunk_size(n, 1))
    started = time.monotonic()
    thread.start()
    while entries_added(queued, stream) < until:  # all queued: now they can be lost
        time.sleep(0.002)
    queued.close()
    time.sleep(max(0.0, started + clean_s * args.kill_at - time.monotonic()))
    server.kill()
    time.sleep(args.down_s)
    server.start()
    thread.join()
    return time.monotonic() - started, box["r"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2, help="verifier processes of the math worker")
    parser.add_argument("--kill-at", type=float, default=0.3, help="when to kill Redis, as a share of the clean time")
    parser.add_argument("--down-s", type=float, default=2.5, help="how long Redis stays down")
    parser.add_argument("--runs", type=int, default=3, help="clean and faulted runs per setting (medians shown)")
    args = parser.parse_args()
    body = batch(args.prompts, args.group, args.seed)
    print(
        f"{len(body['items'])} math items in one request; Redis SIGKILLed at {args.kill_at:.0%} of the clean run, "
        f"back {args.down_s:g}s later; math worker with {args.processes} processes; medians of {args.runs} runs\n"
    )
    print("| Redis persistence | items right | clean s | with the fault s | added s | added beyond the outage s | "
          "jobs re-sent a run |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="rlvr-bench-faults-") as tmp:
        for name, aof in SETTINGS:
            print(run_setting(name, aof, body, args, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
