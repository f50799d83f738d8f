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
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from rlvr_client import RewardClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mathgen import Sample, make_samples


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


def warm_up(url: str) -> None:
    """Start-up costs (imports, regex caches) out of the timed runs; other items, so no gold is cached."""
    with httpx.Client(base_url=url, timeout=900) as http:
        http.post("/v1/score", json={"items": items_for(make_samples(256, seed=99), "warm")}).raise_for_status()


def post_batch(url: str, items: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    with httpx.Client(base_url=url, timeout=900) as http:
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
    with RewardClient(url) as client:
        client.wait_ready(120)


def verdicts_of(results: list[dict[str, Any]]) -> list[float | None]:
    return [r["components"][0]["score"] for r in results]


def accuracy(samples: list[Sample], verdicts: list[Any]) -> float:
    right = sum(1 for s, v in zip(samples, verdicts, strict=True) if bool(v) == (s.kind == "right") and v is not None)
    return right / len(samples)


@dataclass
class Stack:
    """A running stack: its URL and the processes whose CPU time is accounted."""

    url: str
    services: list[psutil.Process]  # gateway, worker main, redis: HTTP + queue handling

    def cpu(self) -> tuple[float, float]:
        """(CPU seconds of the service processes, CPU seconds of their verifier processes)."""
        service = verifier = 0.0
        for proc in self.services:
            t = proc.cpu_times()
            service += t.user + t.system
            for child in proc.children(recursive=True):
                try:
                    c = child.cpu_times()
                    verifier += c.user + c.system
                except psutil.NoSuchProcess:
                    pass
        return service, verifier


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rlvr(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    cmd = [str(Path(sys.executable).with_name("rlvr")), *args]
    return subprocess.Popen(
        cmd, env={**os.environ, "RLVR_LOG_LEVEL": "warning", **(env or {})}, stderr=subprocess.DEVNULL
    )


@contextmanager
def embedded_stack(args: argparse.Namespace) -> Iterator[Stack]:
    port = free_port()
    gateway = rlvr("serve", "--port", str(port), "--processes", str(args.processes))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        warm_up(url)
        yield Stack(url, [psutil.Process(gateway.pid)])
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)


@contextmanager
def queue_stack(args: argparse.Namespace) -> Iterator[Stack | None]:
    """A queue-mode gateway and one `rlvr worker` with the same number of verifier processes."""
    import redis

    try:
        redis.Redis.from_url(args.redis_url).ping()
    except redis.exceptions.ConnectionError:
        print(f"queue mode skipped: no Redis at {args.redis_url}")
        yield None
        return
    prefix = f"rlvr-bench-{uuid.uuid4().hex[:8]}"
    env = {"RLVR_REDIS_PREFIX": prefix}
    port = free_port()
    worker = rlvr(
        "worker",
        "--verifier",
        "math",
        "--redis-url",
        args.redis_url,
        "--processes",
        str(args.processes),
        "--port",
        "0",
        env=env,
    )
    gateway = rlvr("serve", "--redis-url", args.redis_url, "--port", str(port), "--processes", "1", env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        with httpx.Client(base_url=url) as http:  # wait until the worker has registered
            while "no live" in http.get("/readyz").json()["checks"]["workers:math"]:
                time.sleep(0.1)
        warm_up(url)
        services = [psutil.Process(gateway.pid), psutil.Process(worker.pid)]
        services += [p for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"][:1]
        yield Stack(url, services)
    finally:
        for proc in (gateway, worker):
            proc.terminate()
            proc.wait(timeout=30)
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def timed(stack: Stack, items: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]], float]:
    """Wall time, results, and CPU of HTTP/queue handling as a share of verifier CPU."""
    s0, v0 = stack.cpu()
    wall, results = post_batch(stack.url, items)
    s1, v1 = stack.cpu()
    return wall, results, (s1 - s0) / max(1e-9, v1 - v0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=3, help="rounds, each on fresh items; medians are reported")
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--no-queue", action="store_true")
    args = parser.parse_args()
    n = args.items
    print(
        f"{n} generated math completions x {args.reps} rounds; {args.processes} verifier processes; "
        f"{os.cpu_count()} cores"
    )

    walls: dict[str, list[float]] = {"naive": [], "embedded": [], "queue": []}
    acc: dict[str, list[float]] = {"naive": [], "embedded": [], "queue": []}
    base_times: list[float] = []
    identical, differ = True, Counter[str]()
    share: dict[str, list[float]] = {"embedded": [], "queue": []}
    queued = nullcontext(None) if args.no_queue else queue_stack(args)
    with embedded_stack(args) as emb_stack, queued as q_stack:
        for rep in range(args.reps):
            samples = make_samples(n, seed=1000 + rep)  # fresh golds: no cache carries over between rounds
            items = items_for(samples, f"r{rep}-")
            wall, times, naive = naive_loop(samples)
            walls["naive"].append(wall)
            base_times += times
            acc["naive"].append(accuracy(samples, naive))
            wall, results, cpu_share = timed(emb_stack, items)
            walls["embedded"].append(wall)
            share["embedded"].append(cpu_share)
            emb = verdicts_of(results)
            acc["embedded"].append(accuracy(samples, emb))
            differ.update(s.kind for s, a, b in zip(samples, naive, emb, strict=True) if bool(a) != bool(b))
            if q_stack is not None:
                wall, results, cpu_share = timed(q_stack, items)
                walls["queue"].append(wall)
                share["queue"].append(cpu_share)
                acc["queue"].append(accuracy(samples, verdicts_of(results)))
                identical = identical and verdicts_of(results) == emb
        latencies = one_by_one(emb_stack.url, items_for(make_samples(n, seed=77), "l"), clients=2 * args.processes)

    med = {k: statistics.median(v) for k, v in walls.items() if v}
    print(f"\n{'path':<40} {'wall s':>7} {'items/s':>8} {'vs naive':>9} {'accuracy':>9}")
    names = {
        "naive": "naive Math-Verify loop (1 process)",
        "embedded": "embedded /v1/score (1 request)",
        "queue": "queue mode /v1/score (1 worker)",
    }
    for key, wall in med.items():
        ratio = med["naive"] / wall
        print(f"{names[key]:<40} {wall:>7.2f} {n / wall:>8.1f} {ratio:>8.2f}x {statistics.mean(acc[key]):>9.3f}")
    print(
        f"\nper-item latency, naive loop:            p50 {pct(base_times, 0.5) * 1000:7.1f} ms"
        f"   p99 {pct(base_times, 0.99) * 1000:7.1f} ms"
    )
    print(
        f"per-item latency, 1-item HTTP requests:  p50 {pct(latencies, 0.5) * 1000:7.1f} ms"
        f"   p99 {pct(latencies, 0.99) * 1000:7.1f} ms   ({2 * args.processes} concurrent clients)"
    )
    emb_share = statistics.median(share["embedded"]) * 100
    print(f"HTTP handling CPU, embedded (gateway process): {emb_share:.1f}% of verifier CPU")
    if "queue" in med:
        overhead = med["queue"] / med["embedded"] - 1
        q_share = statistics.median(share["queue"]) * 100
        print(
            "HTTP + Redis handling CPU, queue mode (gateway + worker main + redis-server): "
            f"{q_share:.1f}% of verifier CPU"
        )
        print(
            f"queue mode vs embedded, same batch: {overhead * 100:+.1f}% wall time; "
            f"identical verdicts in every round: {identical}"
        )
    print(
        f"verdicts differing from the naive loop: {sum(differ.values())} of {n * args.reps}, "
        f"by generator label: {dict(differ)}"
    )


if __name__ == "__main__":
    main()
