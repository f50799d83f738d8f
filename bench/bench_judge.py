"""Benchmark: the judge and reward-model service, each figure beside its baseline from the same run.

    .venv/bin/python bench/bench_judge.py [--items 4000] [--in-flight 64]

1. Service overhead per judged item, against a zero-latency OpenAI-compatible server in its own
   process (bench/zero_backend.py): the same chat requests sent straight to it with httpx at the same
   concurrency, over one client and over clients of 4 connections as the service splits them
   (baseline), then through the `judge` verifier's runner, then through POST /v1/score on a real
   uvicorn gateway. Overhead = p50 latency through the service − p50 of the direct call.
2. 512 items in flight in one /v1/score request: every id answered once, the backend asked once per item.
3. The verdict cache on GRPO-shaped groups (16 samples of a prompt, a few distinct final answers
   written with different reasoning): backend calls per item, with the cache and without it.
4. The in-process reward model (a tiny one trained here): batched by length under a token budget
   against a naive one-at-a-time loop, on the same conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def zero_backend() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "zero_backend.py"), str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def items(n: int, tag: str) -> list[dict[str, Any]]:
    """Distinct items (the cache never answers): a question, a reference and a reasoned answer."""
    return [
        {
            "id": f"{tag}{i}",
            "prompt": f"What is {i} + {i + 7}? ({tag})",
            "completion": f"<think>{i} + {i + 7} = {2 * i + 7}</think> The answer is {2 * i + 7}.",
        }
        for i in range(n)
    ]


JUDGE = {"name": "judge", "params": {"backend": "zero", "timeout_s": 60}}


def judge_params(item: dict[str, Any]) -> dict[str, Any]:
    return {"backend": "zero", "reference": item["completion"].rsplit(" ", 1)[-1].rstrip("."), "timeout_s": 60}


async def direct_calls(
    url: str, bodies: list[dict[str, Any]], in_flight: int, per_client: int
) -> tuple[float, list[float]]:
    """Baseline: the same chat requests straight to the backend, ``in_flight`` at a time, over httpx
    clients of ``per_client`` connections each (the service's own split, or one client for all)."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    clients = [httpx.AsyncClient(base_url=url, limits=limits, trust_env=False) for _ in range(in_flight // per_client)]

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            r = await client.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            r.json()
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(in_flight)))
    wall = time.perf_counter() - start
    for client in clients:
        await client.aclose()
    return wall, latencies


def runner_calls(batch: list[dict[str, Any]], in_flight: int) -> tuple[float, list[float], list[Any]]:
    """Through the judge verifier's runner: ``in_flight`` items outstanding at any time."""
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    from rlvr_services.runtime.jobs import Job
    from rlvr_services.runtime.runners import make_runner
    from rlvr_services.settings import CommonSettings

    runner = make_runner("judge", CommonSettings())
    assert runner.wait_ready(60)
    jobs = [Job(it["id"], it["completion"], judge_params(it), 60.0, it["prompt"]) for it in batch]
    latencies: list[float] = []
    verdicts: list[Any] = []
    pending: dict[Future[Any], float] = {}
    start = time.perf_counter()
    k = 0
    while k < len(jobs) or pending:
        while k < len(jobs) and len(pending) < in_flight:
            [fut] = runner.submit([jobs[k]])
            pending[fut] = time.perf_counter()
            k += 1
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        now = time.perf_counter()
        for fut in done:
            latencies.append(now - pending.pop(fut))
            verdicts.append(fut.result())
    wall = time.perf_counter() - start
    runner.close()
    return wall, latencies, verdicts


def bench_overhead(n: int, in_flight: int) -> None:
    from rlvr_services.backends import pool as backends
    from rlvr_services.backends.config import load_backends
    from rlvr_services.backends.http_calls import CONNECTIONS_PER_CLIENT
    from rlvr_services.judging.templates import EQUIVALENCE, neutralise
    from rlvr_services.runtime.registry import load_plugins

    load_plugins()
    with zero_backend() as url:
        batch = items(n, "o")
        bodies = []
        for it in batch:
            answer = it["completion"].split("</think>")[1].strip()
            messages = EQUIVALENCE.render(
                {
                    "question": it["prompt"],
                    "reference": judge_params(it)["reference"],
                    "answer": neutralise(answer, EQUIVALENCE.labels),
                }
            )
            bodies.append(
                {
                    "model": "zero",
                    "messages": messages,
                    "temperature": 0.0,
                    "top_p": 1.0,
                    "max_tokens": 1024,
                    "stream": False,
                    "seed": 0,
                }
            )
        per_client = min(in_flight, CONNECTIONS_PER_CLIENT)
        asyncio.run(direct_calls(url, bodies[:200], in_flight, per_client))  # warm-up
        cpu = time.process_time()
        wall_1, lat_1 = asyncio.run(direct_calls(url, bodies, in_flight, in_flight))
        cpu_1 = time.process_time() - cpu
        cpu = time.process_time()
        wall_d, lat_d = asyncio.run(direct_calls(url, bodies, in_flight, per_client))
        cpu_d = time.process_time() - cpu
        backends.configure(
            load_backends(
                {"zero": {"kind": "openai", "base_url": f"{url}/v1", "model": "zero", "concurrency": 256}}, None
            )
        )
        runner_calls(items(200, "w"), in_flight)  # warm-up
        backends.configure(
            load_backends(
                {"zero": {"kind": "openai", "base_url": f"{url}/v1", "model": "zero", "concurrency": 256}}, None
            )
        )
        cpu = time.process_time()
        wall_s, lat_s, verdicts = runner_calls(batch, in_flight)
        cpu_s = time.process_time() - cpu
        ok = sum(v.status.value == "ok" and v.score == 1.0 for v in verdicts)
        print(f"\n## 1. service overhead per judged item ({n} distinct items, {in_flight} in flight, instant backend)")
        print("| path | items/s | p50 ms | p99 ms | CPU ms per item (this process) |\n|---|---|---|---|---|")
        for label, wall, lat, cpu_used in (
            (f"direct, one httpx client of {in_flight} connections", wall_1, lat_1, cpu_1),
            (f"direct, httpx clients of {per_client} connections (baseline)", wall_d, lat_d, cpu_d),
            ("judge runner", wall_s, lat_s, cpu_s),
        ):
            print(
                f"| {label} | {n / wall:,.0f} | {pct(lat, 0.5) * 1e3:.2f} | {pct(lat, 0.99) * 1e3:.2f} "
                f"| {cpu_used / n * 1e3:.2f} |"
            )
        print(f"service CPU per judged item beyond the HTTP call itself: {(cpu_s - cpu_d) / n * 1e3:.2f} ms")
        print(
            f"overhead p50: {(pct(lat_s, 0.5) - pct(lat_d, 0.5)) * 1e3:.2f} ms per item; "
            f"throughput ratio service/direct {wall_d / wall_s:.2f}; verdicts ok 1.0: {ok}/{n}"
        )
        gateway_paths(url, in_flight)


def gateway_paths(url: str, in_flight: int) -> None:
    from rlvr_services.gateway.app import create_app
    from rlvr_services.server import serve_in_thread
    from rlvr_services.settings import GatewaySettings

    settings = GatewaySettings(
        port=0,
        processes=1,
        backends={"zero": {"kind": "openai", "base_url": f"{url}/v1", "model": "zero", "concurrency": 1024}},
    )
    with serve_in_thread(create_app(settings)) as gw, httpx.Client(base_url=gw, timeout=300, trust_env=False) as client:
        for _ in range(600):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.1)
        reqs = []
        for r in range(20):
            batch = items(in_flight, f"g{r}-")
            reqs.append({"items": [{**it, "rewards": [{"name": "judge", "params": judge_params(it)}]} for it in batch]})
        client.post("/v1/score", json=reqs[0]).raise_for_status()  # warm-up
        t = time.perf_counter()
        per_request = []
        for body in reqs[1:]:
            t0 = time.perf_counter()
            client.post("/v1/score", json=body).raise_for_status()
            per_request.append(time.perf_counter() - t0)
        wall = time.perf_counter() - t
        n = in_flight * len(per_request)
        print(
            f"| POST /v1/score, {in_flight} items a request, one request at a time | {n / wall:,.0f} | "
            f"{statistics.median(per_request) * 1e3:.1f} (per request) | |"
        )

        # 2. 512 in flight in one request: every id once, the backend asked once per item
        httpx.post(f"{url}/reset")
        batch = items(512, "f")
        body = {"items": [{**it, "rewards": [{"name": "judge", "params": judge_params(it)}]} for it in batch]}
        t = time.perf_counter()
        results = client.post("/v1/score", json=body).json()["results"]
        wall = time.perf_counter() - t
        stats = httpx.get(f"{url}/stats").json()
        ids = [r["id"] for r in results]
        scored = sum(r["components"][0]["status"] == "ok" for r in results)
        print("\n## 2. 512 items in flight (one request)")
        print(
            f"answered ids: {len(ids)}, distinct: {len(set(ids))}, in order: {ids == [it['id'] for it in batch]}, "
            f"ok: {scored}; backend requests: {stats['requests']}, distinct bodies: {stats['distinct']}, "
            f"most repeats of one body: {stats['max_repeats']}; {wall:.2f}s"
        )

        # 3. the cache on GRPO-shaped groups
        groups, size = 32, 16
        rng = random.Random(0)
        grpo = []
        for g in range(groups):
            answers = [str(rng.randint(1, 99)) for _ in range(3)]
            for s in range(size):
                final = rng.choice(answers)
                grpo.append(
                    {
                        "id": f"c{g}-{s}",
                        "prompt": f"Group {g}: what is the value?",
                        "completion": f"<think>path {s}: steps {rng.random():.6f}</think> The answer is {final}.",
                        "rewards": [{"name": "judge", "params": {"backend": "zero", "reference": answers[0]}}],
                    }
                )
        httpx.post(f"{url}/reset")
        client.post("/v1/score", json={"items": grpo}).raise_for_status()
        calls = httpx.get(f"{url}/stats").json()["requests"]
        print("\n## 3. the verdict cache on GRPO-shaped groups (32 prompts x 16 samples, 3 distinct answers each)")
        print(
            f"backend calls per item: without the cache 1.00 (one per item), with it {calls / len(grpo):.3f} "
            f"({calls} calls for {len(grpo)} items): {len(grpo) / calls:.1f}x fewer"
        )


def bench_reward_model(n: int) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rlvr_services.backends.config import TransformersBackend
    from rlvr_services.backends.local import LocalModel
    from rlvr_services.backends.types import Conversation
    from rlvr_trainer.tiny_graders import build_reward_model, reward_pairs

    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_reward_model(Path(tmp) / "rm")
        pairs = reward_pairs(n // 2, seed=7)
        conversations = []
        for k, pair in enumerate(pairs):
            for side in ("chosen", "rejected"):
                answer = pair[side][0]["content"]
                repeat = random.Random(k).randint(1, 6)  # lengths vary, as in a GRPO batch
                conversations.append(Conversation(pair["prompt"][0]["content"], " ".join([answer] * repeat)))
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        t = time.perf_counter()
        naive = []
        with torch.inference_mode():
            for c in conversations:
                enc = tokenizer.apply_chat_template(
                    [{"role": "user", "content": c.prompt}, {"role": "assistant", "content": c.response}],
                    tokenize=True,
                    return_dict=True,
                    return_tensors="pt",
                )
                naive.append(float(model(**enc).logits[0, 0]))
        wall_naive = time.perf_counter() - t

        async def batched() -> tuple[float, list[float]]:
            backend = LocalModel("rm", TransformersBackend(path=str(folder), task="reward"))
            await backend.start()
            await backend.score(conversations[:8], time.monotonic() + 60, truncate=False)  # warm-up
            t0 = time.perf_counter()
            scores = await backend.score(conversations, time.monotonic() + 600, truncate=False)
            wall = time.perf_counter() - t0
            await backend.aclose()
            return wall, scores

        wall_batched, scores = asyncio.run(batched())
        worst = max(abs(a - b) for a, b in zip(naive, scores, strict=True))
        print(f"\n## 4. in-process reward model ({len(conversations)} conversations, tiny model)")
        print(
            f"naive loop: {len(conversations) / wall_naive:,.0f}/s; "
            f"batched backend: {len(conversations) / wall_batched:,.0f}/s; "
            f"ratio {wall_naive / wall_batched:.1f}x; largest difference from the naive scores {worst:.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--reward-items", type=int, default=512)
    args = parser.parse_args()
    print(f"# bench_judge: {os.cpu_count()} cores")
    bench_overhead(args.items, args.in_flight)
    if args.reward_items:
        bench_reward_model(args.reward_items)


if __name__ == "__main__":
    main()
