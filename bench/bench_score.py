"""Benchmark: `math` through /v1/score (embedded and queue mode) against a naive Math-Verify loop.

    .venv/bin/python bench/bench_score.py [--items 1024] [--processes N] [--no-queue]

Measured in one run, on the same generated items (bench/mathgen.py):
  * baseline: one process, for each item `parse(gold)`, `parse(completion)`, `verify(gold, pred)`;
  * embedded: one POST /v1/score with every item, to a real uvicorn gateway (verifier processes);
  * queue: the same request to a queue-mode gateway with one `rlvr worker` over a real Redis;
  * latency: the items again as one-item requests from concurrent clients (end-to-end p50/p99).
Verdicts are compared with the generator's labels and between modes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mathgen import Sample, make_samples

from rlvr_services.gateway.app import create_app
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import GatewaySettings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def items_for(samples: list[Sample], tag: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{tag}{i}",
            "prompt": s.prompt,
            "completion": s.completion,
            "rewards": [{"name": "math", "params": {"gold": s.gold}}],
        }
        for i, s in enumerate(samples)
    ]


def naive_loop(samples: list[Sample]) -> tuple[float, list[float], list[bool | None]]:
    from math_verify import parse, verify

    times, verdicts = [], []
    start = time.perf_counter()
    for s in samples:
        t = time.perf_counter()
        try:
            verdicts.append(bool(verify(parse(s.gold), parse(s.completion))))
        except Exception:  # noqa: BLE001 - the naive loop's failures are counted, not fatal
            verdicts.append(None)
        times.append(time.perf_counter() - t)
    return time.perf_counter() - start, times, verdicts


def post_batch(url: str, items: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    with httpx.Client(base_url=url, timeout=900) as http:
        warm = items_for(make_samples(256, seed=99), "warm")  # other items: no gold is cached for the timed run
        http.post("/v1/score", json={"items": warm}).raise_for_status()
        start = time.perf_counter()
        r = http.post("/v1/score", json={"items": items})
        wall = time.perf_counter() - start
        r.raise_for_status()
        return wall, r.json()["results"]


def one_by_one(url: str, items: list[dict[str, Any]], clients: int) -> list[float]:
    def send(item: dict[str, Any], http: httpx.Client) -> float:
        t = time.perf_counter()
        http.post("/v1/score", json={"items": [item]}).raise_for_status()
        return time.perf_counter() - t

    with httpx.Client(base_url=url, timeout=900, limits=httpx.Limits(max_connections=clients)) as http:
        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(lambda it: send(it, http), items))


def wait_ready(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        for _ in range(1200):
            if http.get("/readyz").status_code == 200:
                return
            time.sleep(0.05)
    raise SystemExit(f"{url} never became ready")


def verdicts_of(results: list[dict[str, Any]]) -> list[float | None]:
    return [r["components"][0]["score"] for r in results]


def accuracy(samples: list[Sample], verdicts: list[Any]) -> float:
    right = sum(1 for s, v in zip(samples, verdicts, strict=True) if bool(v) == (s.kind == "right") and v is not None)
    return right / len(samples)


def queue_run(args: argparse.Namespace, items: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]] | None:
    import redis

    try:
        redis.Redis.from_url(args.redis_url).ping()
    except redis.exceptions.ConnectionError:
        print(f"queue mode skipped: no Redis at {args.redis_url}")
        return None
    prefix = f"rlvr-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "RLVR_REDIS_PREFIX": prefix, "RLVR_LOG_LEVEL": "warning"}
    rlvr = str(Path(sys.executable).with_name("rlvr"))
    cmd = [
        rlvr,
        "worker",
        "--verifier",
        "math",
        "--redis-url",
        args.redis_url,
        "--processes",
        str(args.processes),
        "--port",
        "0",
    ]
    worker = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        settings = GatewaySettings(port=0, processes=1, redis_url=args.redis_url, redis_prefix=prefix)
        with serve_in_thread(create_app(settings)) as url:
            wait_ready(url)
            with httpx.Client(base_url=url) as http:  # wait until the worker has registered
                while "no live" in http.get("/readyz").json()["checks"]["workers:math"]:
                    time.sleep(0.1)
            return post_batch(url, items)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1024)
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--no-queue", action="store_true")
    args = parser.parse_args()

    samples = make_samples(args.items)
    items = items_for(samples, "b")
    print(f"{args.items} generated math completions; {args.processes} verifier processes; {os.cpu_count()} cores")

    base_wall, base_times, base_verdicts = naive_loop(samples)
    base_rate = args.items / base_wall

    settings = GatewaySettings(port=0, processes=args.processes)
    with serve_in_thread(create_app(settings)) as url:
        wait_ready(url)
        emb_wall, emb_results = post_batch(url, items)
        latencies = one_by_one(url, items_for(samples, "l"), clients=2 * args.processes)
    emb_rate = args.items / emb_wall
    emb_verdicts = verdicts_of(emb_results)

    queued = None if args.no_queue else queue_run(args, items)

    rows = [
        ("naive Math-Verify loop (1 process)", base_wall, base_rate, "1.00x", accuracy(samples, base_verdicts)),
        ("embedded /v1/score", emb_wall, emb_rate, f"{emb_rate / base_rate:.2f}x", accuracy(samples, emb_verdicts)),
    ]
    if queued is not None:
        q_wall, q_results = queued
        rows.append(
            (
                "queue mode /v1/score (1 worker)",
                q_wall,
                args.items / q_wall,
                f"{args.items / q_wall / base_rate:.2f}x",
                accuracy(samples, verdicts_of(q_results)),
            )
        )
    print(f"\n{'path':<38} {'wall s':>8} {'items/s':>9} {'vs naive':>9} {'accuracy':>9}")
    for name, wall, rate, ratio, acc in rows:
        print(f"{name:<38} {wall:>8.2f} {rate:>9.1f} {ratio:>9} {acc:>9.3f}")
    print(
        f"\nper-item latency, naive loop:            p50 {pct(base_times, 0.5) * 1000:7.1f} ms"
        f"   p99 {pct(base_times, 0.99) * 1000:7.1f} ms"
    )
    print(
        f"per-item latency, 1-item HTTP requests:  p50 {pct(latencies, 0.5) * 1000:7.1f} ms"
        f"   p99 {pct(latencies, 0.99) * 1000:7.1f} ms   ({2 * args.processes} concurrent clients)"
    )
    if queued is not None:
        overhead = queued[0] / emb_wall - 1
        same = verdicts_of(queued[1]) == emb_verdicts
        print(f"queue mode overhead vs embedded: {overhead * 100:+.1f}% of wall time; identical verdicts: {same}")
    differ = [
        (s.kind, b, e) for s, b, e in zip(samples, base_verdicts, emb_verdicts, strict=True) if bool(b) != bool(e)
    ]
    by_label = Counter(d[0] for d in differ)
    print(f"verdicts differing from the naive loop: {len(differ)} of {args.items}, by true label: {dict(by_label)}")


if __name__ == "__main__":
    main()
