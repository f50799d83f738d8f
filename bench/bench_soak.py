"""Soak: steady mixed traffic against a real stack for minutes, with every process's memory sampled.

    .venv/bin/python bench/bench_soak.py [--minutes 10] [--rate 25] [--mode embedded|queue|both] [--out soak]

Each request carries 16 items of mixed kinds (math, code in the jail, ifeval, format, language), sent at a
steady rate (``--rate`` requests a second, at most ``--clients`` outstanding) to `rlvr serve` (embedded
mode) or to a queue-mode gateway with one `rlvr worker --verifier math,code,ifeval,format,language` over
Redis. Every item has a known verdict, so a wrong score counts as an error too.

Reported per mode: requests and items a second, p50/p99 request latency, errors and timeouts, and the RSS
and PSS of every process of the stack (gateway, worker, their verifier processes and jails; Redis) every
``--sample-s`` seconds. PSS is the figure that adds up across processes that share pages (the verifier
processes are forked). Memory growth is judged after warm-up: the summed PSS at the end against its value
at ``--warm-up-min``, each the mean over a one-minute window. Writes ``OUT/soak-MODE.csv`` and
``OUT/soak-MODE.png`` (raw samples faint, a moving average over them).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import free_port, pct, rlvr, wait_ready
from mathgen import make_samples

KINDS = ("math", "code", "ifeval", "format", "language")
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
MUL = "a, b = map(int, input().split())\nprint(a * b)\n"
CODE_TESTS = [{"stdin": "2 3\n", "stdout": "5\n"}, {"stdin": "10 4\n", "stdout": "14\n"}]
IFEVAL = {"instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]}


def item_pool(n: int) -> list[tuple[dict[str, Any], float]]:
    """``n`` items with the score each must get: a fifth of each kind, right and wrong answers alike."""
    samples = [s for s in make_samples(4 * n, seed=5) if s.kind in ("right", "wrong")]
    out: list[tuple[dict[str, Any], float]] = []
    for i in range(n):
        kind, good = KINDS[i % len(KINDS)], (i // len(KINDS)) % 2 == 0
        think = "<think>First I read the question. Then I work it out step by step and check it.</think>"
        if kind == "math":
            s = samples[i]
            spec: dict[str, Any] = {"name": "math", "params": {"gold": s.gold}}
            item, want = {"completion": s.completion}, 1.0 if s.kind == "right" else 0.0
        elif kind == "code":
            program = ADD if good else MUL
            spec = {"name": "code", "params": {"language": "python", "tests": CODE_TESTS, "timeout_s": 5}}
            item, want = {"completion": f"{think}\n```python\n{program}```"}, 1.0 if good else 0.0
        elif kind == "ifeval":
            answer = "the answer is four words" if good else "The answer, in short, is Four."
            spec = {"name": "ifeval", "params": IFEVAL}
            item, want = {"completion": f"{think} {answer}"}, 1.0 if good else 0.0
        elif kind == "format":
            spec = {"name": "format"}
            item = {"completion": f"{think} The answer is 4." if good else "The answer is 4."}
            want = 1.0 if good else 0.0
        else:  # the language verifier reads the reasoning: French reasoning fails `language: en`
            french = "<think>D'abord je lis la question. Ensuite je la résous pas à pas et je vérifie.</think>"
            spec = {"name": "language", "params": {"language": "en"}}
            item = {"completion": f"{think if good else french} The answer is four."}
            want = 1.0 if good else 0.0
        out.append(({"id": f"{kind}-{i}", "prompt": "What is it?", **item, "rewards": [spec]}, want))
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    items: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    wrong: int = 0
    http_errors: Counter[str] = field(default_factory=Counter)


async def traffic(url: str, pool: list[tuple[dict[str, Any], float]], args: argparse.Namespace, tally: Tally) -> None:
    """``args.rate`` requests a second of ``args.batch`` items each, for ``args.minutes``."""
    batches = itertools.cycle([pool[k : k + args.batch] for k in range(0, len(pool) - args.batch + 1, args.batch)])
    slots = asyncio.Semaphore(args.clients)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, trust_env=False) as http:

        async def one(batch: list[tuple[dict[str, Any], float]], serial: int) -> None:
            items = [{**it, "id": f"{it['id']}-{serial}"} for it, _ in batch]
            t = time.perf_counter()
            try:
                r = await http.post("/v1/score", json={"items": items})
            except httpx.HTTPError as exc:
                tally.http_errors[type(exc).__name__] += 1
                return
            finally:
                slots.release()
            tally.latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                tally.http_errors[str(r.status_code)] += 1
                return
            for result, (_, want) in zip(r.json()["results"], batch, strict=True):
                comp = result["components"][0]
                tally.statuses[comp["status"]] += 1
                tally.items += 1
                tally.wrong += comp["status"] == "ok" and comp["score"] != want

        start, tasks = time.perf_counter(), set()
        for serial in itertools.count():
            due = start + serial / args.rate
            if due - start > args.minutes * 60:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await slots.acquire()  # at most --clients outstanding: a slow stack lowers the rate, visibly
            task = asyncio.create_task(one(next(batches), serial))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


def memory(roots: list[psutil.Process]) -> dict[str, tuple[float, float]]:
    """name → (RSS MiB, PSS MiB) of every process of the stack (the roots and all their descendants)."""
    out: dict[str, tuple[float, float]] = {}
    for root in roots:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                info = proc.memory_full_info()
                name = f"{proc.name()}:{proc.pid}"
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            out[name] = (info.rss / 2**20, info.pss / 2**20)
    return out


async def sampler(roots: list[psutil.Process], every_s: float, rows: list[tuple[float, dict[str, Any]]]) -> None:
    start = time.perf_counter()
    while True:
        rows.append((time.perf_counter() - start, memory(roots)))
        await asyncio.sleep(every_s)


def window_mean(rows: list[tuple[float, float]], t0: float, t1: float) -> float:
    values = [v for t, v in rows if t0 <= t <= t1]
    return sum(values) / len(values) if values else float("nan")


@contextmanager
def stack(mode: str, redis_url: str) -> Iterator[tuple[str, list[psutil.Process]]]:
    port, procs = free_port(), []
    env = {"RLVR_REDIS_PREFIX": f"rlvr-soak-{uuid.uuid4().hex[:8]}"}
    try:
        if mode == "queue":
            verifiers = ",".join(KINDS)
            procs.append(rlvr("worker", "--verifier", verifiers, "--redis-url", redis_url, "--port", "0", env=env))
            gateway = rlvr("serve", "--redis-url", redis_url, "--port", str(port), "--processes", "1", env=env)
        else:
            gateway = rlvr("serve", "--port", str(port))
        procs.append(gateway)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        if mode == "queue":
            with httpx.Client(base_url=url, trust_env=False) as http:
                while any(
                    v["live_workers"] == 0 for k, v in http.get("/readyz").json()["verifiers"].items() if k in KINDS
                ):
                    time.sleep(0.2)
        roots = [psutil.Process(p.pid) for p in procs]
        if mode == "queue":
            roots += [p for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"][:1]
        yield url, roots
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=40)
            except Exception:  # noqa: BLE001 - a stack that will not stop is killed
                proc.kill()


def plot(path: Path, mode: str, rows: list[tuple[float, dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [t / 60 for t, _ in rows]
    pss = [sum(p for _, p in m.values()) for _, m in rows]
    rss = [sum(r for r, _ in m.values()) for _, m in rows]
    fig, ax = plt.subplots(figsize=(8, 4))
    for values, label in ((pss, "summed PSS"), (rss, "summed RSS")):
        k = max(1, len(values) // 20)
        smooth = [
            sum(values[max(0, i - k + 1) : i + 1]) / len(values[max(0, i - k + 1) : i + 1]) for i in range(len(values))
        ]
        (line,) = ax.plot(times, smooth, label=f"{label} (moving average)")
        ax.plot(times, values, color=line.get_color(), alpha=0.25, linewidth=0.8)
    ax.set_xlabel("minutes")
    ax.set_ylabel("MiB")
    ax.set_title(f"soak, {mode} mode: memory of every process of the stack")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_mode(mode: str, args: argparse.Namespace) -> None:
    pool = item_pool(args.batch * 64)
    tally, rows = Tally(), []
    with stack(mode, args.redis_url) as (url, roots):

        async def main() -> None:
            watch = asyncio.create_task(sampler(roots, args.sample_s, rows))
            try:
                await traffic(url, pool, args, tally)
            finally:
                watch.cancel()

        start = time.perf_counter()
        asyncio.run(main())
        wall = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    names = sorted({name for _, m in rows for name in m})
    with (args.out / f"soak-{mode}.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time_s", "pss_mib_total", "rss_mib_total", *(f"pss_mib:{n}" for n in names)])
        for t, m in rows:
            total_pss, total_rss = sum(p for _, p in m.values()), sum(r for r, _ in m.values())
            writer.writerow(
                [
                    f"{t:.1f}",
                    f"{total_pss:.1f}",
                    f"{total_rss:.1f}",
                    *(f"{m[n][1]:.1f}" if n in m else "" for n in names),
                ]
            )
    plot(args.out / f"soak-{mode}.png", mode, rows)
    pss = [(t, sum(p for _, p in m.values())) for t, m in rows]
    rss = [(t, sum(r for r, _ in m.values())) for t, m in rows]
    end, warm = rows[-1][0], args.warm_up_min * 60
    growth = {
        label: (window_mean(series, end - 60, end) / window_mean(series, warm, warm + 60) - 1) * 100
        for label, series in (("PSS", pss), ("RSS", rss))
    }
    requests = len(tally.latencies)
    print(f"\n## soak, {mode} mode: {wall / 60:.1f} min, {args.rate} requests/s of {args.batch} items offered")
    print("| requests/s | items/s | p50 ms | p99 ms | errors | timeouts | wrong scores | HTTP failures |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {requests / wall:.1f} | {tally.items / wall:.0f} | {pct(tally.latencies, 0.5) * 1e3:.0f} | "
        f"{pct(tally.latencies, 0.99) * 1e3:.0f} | {tally.statuses['error']} | {tally.statuses['timeout']} | "
        f"{tally.wrong} | {sum(tally.http_errors.values())} {dict(tally.http_errors) or ''} |"
    )
    print(
        f"memory ({len(names)} processes seen, the jail's short-lived runs included): "
        f"summed PSS {pss[0][1]:.0f} MiB at start, "
        f"{window_mean(pss, warm, warm + 60):.0f} after {args.warm_up_min:g} min warm-up, "
        f"{window_mean(pss, end - 60, end):.0f} at the end: growth {growth['PSS']:+.1f}% "
        f"(RSS {growth['RSS']:+.1f}%); samples in {args.out / f'soak-{mode}.csv'}, plot {args.out / f'soak-{mode}.png'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=25.0, help="requests a second")
    parser.add_argument("--batch", type=int, default=16, help="items a request")
    parser.add_argument("--clients", type=int, default=32, help="requests outstanding at most")
    parser.add_argument("--mode", choices=["embedded", "queue", "both"], default="both")
    parser.add_argument("--warm-up-min", type=float, default=2.0, help="growth is measured from here")
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--redis-url", default=os.environ.get("RLVR_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--out", type=Path, default=Path("soak"))
    args = parser.parse_args()
    print(f"# bench_soak: {os.cpu_count()} cores")
    for mode in ("embedded", "queue") if args.mode == "both" else (args.mode,):
        run_mode(mode, args)


if __name__ == "__main__":
    main()
