"""The checks of deploy/compose-smoke.sh against a running compose stack, over HTTP and `docker` (stdlib only).

    python3 deploy/compose_smoke.py mixed --url http://127.0.0.1:8000
    python3 deploy/compose_smoke.py kill --url http://127.0.0.1:8000 --project rlvr-smoke --backlog-csv math.csv

`mixed` scores a batch of math, code, ifeval, language and format items, right and wrong ones, through the
gateway and checks every component's status and score; it first checks that every verifier the gateway lists
has a live worker (but those named by --no-worker-ok). `kill` sends a math batch big enough to be in flight
across the scaled math workers, SIGKILLs the math worker container holding the most claimed entries while it
holds them, and checks that every item is answered exactly once with the right score, nothing is left in the
stream or dead-lettered; all along it samples the math stream (XLEN, XPENDING, the group's lag) through
redis-cli in the redis container every --sample-s into --backlog-csv (time_s + a column named by the stream
key, holding --metric: the curve deploy/helm/keda_simulate.py replays) and a -detail.csv beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# rlvr_services.constants spells these (task_stream, dead_stream, GROUP); tests/test_compose_file.py keeps
# them equal. This file imports nothing of the project, so a clean clone's python3 runs it.
PREFIX = "rlvr"
MATH_STREAM = f"{PREFIX}:tasks:math"
MATH_DEAD = f"{PREFIX}:dead:math"
GROUP = "workers"
MODEL_VERIFIERS = ("judge", "judge_pairwise", "rubric", "reward_model")  # the compose file's `judge` profile

# one Lua call per sample: XLEN, pending entries, the group's lag (-1: Redis cannot tell), then
# consumer, pending pairs
SAMPLE_LUA = """
local len = redis.call('XLEN', KEYS[1])
if len == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0} end
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if not ok then return {len, 0, len} end
local lag = -1
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, value = nil, nil
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'lag' then value = group[i + 1] end
  end
  if name == ARGV[1] and type(value) == 'number' then lag = value end
end
local out = {len, summary[1], lag}
if type(summary[4]) == 'table' then
  for _, pair in ipairs(summary[4]) do
    out[#out + 1] = pair[1]
    out[#out + 1] = tonumber(pair[2])
  end
end
return out
"""


class SmokeFailure(Exception):
    """A check failed; the message says which and what was seen."""


# ---- HTTP ---------------------------------------------------------------------------------------------------


def http_json(url: str, body: Any | None = None, timeout_s: float = 600.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SmokeFailure(f"{request.method} {url}: HTTP {exc.code}: {exc.read()[:2000]!r}") from exc


# ---- the mixed batch ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    completion: str
    rewards: list[dict[str, Any]]
    expect: dict[str, float]  # verifier → the score it must give (status ok)

    def item(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": "", "completion": self.completion, "rewards": self.rewards}


def _code(language: str, source: str) -> str:
    return f"Here it is.\n```{language}\n{source}\n```\n"


def _io(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"stdin": i, "stdout": o} for i, o in pairs]


# a + b from stdin in each language the image ships beyond Python and C++: the image's compilers and runtimes work
OTHER_LANGUAGES = {
    "c": '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }',
    "javascript": 'const [a, b] = require("fs").readFileSync(0, "utf8").split(/\\s+/).map(Number);\n'
    "console.log(a + b);",
    "bash": "read -r a b\necho $((a + b))",
    "ruby": "a, b = STDIN.read.split.map(&:to_i)\nputs a + b",
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a + b) }',
    "rust": "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n"
    "    std::io::stdin().read_to_string(&mut s).unwrap();\n"
    "    let v: Vec<i64> = s.split_whitespace().map(|t| t.parse().unwrap()).collect();\n"
    '    println!("{}", v[0] + v[1]);\n}',
    "java": "import java.util.Scanner;\npublic class Main { public static void main(String[] args) {\n"
    "  Scanner in = new Scanner(System.in); System.out.println(in.nextLong() + in.nextLong()); } }",
    "typescript": 'const [a, b]: number[] = require("fs").readFileSync(0, "utf8").split(/\\s+/).map(Number);\n'
    "console.log(a + b);",
}


def mixed_cases() -> list[Case]:
    """Items whose right scores are known: each verifier right and wrong at least once."""
    no_comma = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    two_rules = {
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
        "kwargs": [{}, {"relation": "at least", "num_words": 8}],
    }
    add = "a, b = map(int, input().split())\nprint(a + b)"
    cpp = "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }"
    return [
        Case("math-right", "<think>1/2 is 0.5</think> The answer is \\boxed{0.5}",
             [{"name": "math", "params": {"gold": "\\frac{1}{2}"}}], {"math": 1.0}),
        Case("math-wrong", "<think>2 + 2</think> \\boxed{5}", [{"name": "math", "params": {"gold": "4"}}],
             {"math": 0.0}),
        Case("math-gsm8k", "<think>6 * 12 = 72</think> She has \\boxed{72} eggs.",
             [{"name": "math", "params": {"gold": "Six dozen.\n#### 72"}}], {"math": 1.0}),
        Case("code-python", _code("python", add), [{"name": "code", "params": {
            "language": "python", "tests": _io(("1 2\n", "3\n"), ("40 2\n", "42\n"))}}], {"code": 1.0}),
        Case("code-half", _code("python", "print(3)"), [{"name": "code", "params": {
            "language": "python", "tests": _io(("1 2\n", "3\n"), ("40 2\n", "42\n"))}}], {"code": 0.5}),
        Case("code-cpp", _code("cpp", cpp), [{"name": "code", "params": {
            "language": "cpp", "tests": _io(("1 2\n", "3\n"), ("5000000000 1\n", "5000000001\n"))}}], {"code": 1.0}),
        Case("code-hang", _code("python", "while True:\n    pass"), [{"name": "code", "params": {
            "language": "python", "tests": _io(("\n", "1\n")), "timeout_s": 1.0}}], {"code": 0.0}),
        *(
            Case(f"code-{language}", _code(language, source), [{"name": "code", "params": {
                "language": language, "tests": _io(("1 2\n", "3\n"), ("40 2\n", "42\n")), "timeout_s": 10.0}}],
                {"code": 1.0})
            for language, source in OTHER_LANGUAGES.items()
        ),
        Case("ifeval-right", "Short plain words and nothing else", [{"name": "ifeval", "params": no_comma}],
             {"ifeval": 1.0}),
        Case("ifeval-wrong", "Yes, it has a comma", [{"name": "ifeval", "params": no_comma}], {"ifeval": 0.0}),
        Case("ifeval-half", "Yes, this answer has far more than eight words in it",
             [{"name": "ifeval", "params": two_rules}], {"ifeval": 0.5}),
        Case("language-en", "<think>First I add the two numbers and then I check the result twice.</think> 4",
             [{"name": "language", "params": {"language": "en"}}], {"language": 1.0}),
        Case("language-zh", "<think>首先我把两个数字相加，然后再检查一遍结果。</think> 4",
             [{"name": "language", "params": {"language": "en"}}], {"language": 0.0}),
        Case("format-right", "<think>Reasoning here.</think> The answer is 4.", [{"name": "format"}],
             {"format": 1.0}),
        Case("format-wrong", "The answer is 4, no reasoning section.", [{"name": "format"}], {"format": 0.0}),
        Case("all-five",
             "<think>Two and two make four, so the sum is four.</think> The answer is \\boxed{4}\n"
             + _code("python", "print(4)"),
             [{"name": "math", "weight": 1.0, "params": {"gold": "4"}},
              {"name": "code", "weight": 0.5, "params": {"language": "python", "tests": _io(("\n", "4\n"))}},
              {"name": "ifeval", "weight": 0.25, "params": no_comma},
              {"name": "language", "weight": 0.25, "params": {"language": "en"}},
              {"name": "format", "weight": 0.2}],
             {"math": 1.0, "code": 1.0, "ifeval": 1.0, "language": 1.0, "format": 1.0}),
    ]


def check_live_workers(url: str, no_worker_ok: Sequence[str]) -> list[str]:
    """Every verifier the gateway lists has a live worker (queue mode), but the allowed ones."""
    listed = http_json(f"{url}/v1/verifiers")["verifiers"]
    missing = []
    for info in listed:
        queue = info.get("queue")
        if queue is None:
            raise SmokeFailure(f"/v1/verifiers: {info['name']} has no queue state: is the gateway in queue mode?")
        if queue["live_workers"] < 1 and info["name"] not in no_worker_ok:
            missing.append(info["name"])
    if missing:
        raise SmokeFailure(f"no live worker for {', '.join(missing)} (every listed verifier needs a consumer)")
    return [info["name"] for info in listed]


def check_results(cases: Sequence[Case], response: Any) -> None:
    results = response["results"]
    if [r["id"] for r in results] != [c.id for c in cases]:
        raise SmokeFailure(f"results are not the items in order: {[r['id'] for r in results]}")
    problems = []
    for case, result in zip(cases, results, strict=True):
        by_name = {c["name"]: c for c in result["components"]}
        weights = {spec["name"]: float(spec.get("weight", 1.0)) for spec in case.rewards}
        for name, score in case.expect.items():
            comp = by_name.get(name)
            if comp is None or comp["status"] != "ok" or not math.isclose(comp["score"], score, abs_tol=1e-9):
                problems.append(f"{case.id}: {name} should be ok/{score:g}, got {comp}")
        want = sum(weights[n] * s for n, s in case.expect.items())
        if result["reward"] is None or not math.isclose(result["reward"], want, abs_tol=1e-9):
            problems.append(f"{case.id}: reward should be {want:g}, got {result['reward']}")
    if problems:
        raise SmokeFailure("wrong verdicts:\n  " + "\n  ".join(problems))


def run_mixed(args: argparse.Namespace) -> None:
    url = args.url.rstrip("/")
    names = check_live_workers(url, args.no_worker_ok.split(","))
    print(f"mixed: the gateway lists {len(names)} verifiers; each has a live worker but {args.no_worker_ok}")
    cases = mixed_cases()
    start = time.monotonic()
    response = http_json(f"{url}/v1/score", {"items": [c.item() for c in cases]})
    took = time.monotonic() - start
    check_results(cases, response)
    verifiers = sorted({n for c in cases for n in c.expect})
    print(f"mixed: {len(cases)} items ({', '.join(verifiers)}) scored right in {took:.2f}s")


# ---- the kill test ------------------------------------------------------------------------------------------


def docker(*argv: str, timeout_s: float = 60.0) -> str:
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise SmokeFailure(f"docker {' '.join(argv[:4])}...: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def compose_containers(project: str, service: str) -> list[str]:
    out = docker("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}",
                 "--filter", f"label=com.docker.compose.service={service}")
    return out.split()


@dataclass(frozen=True)
class Sample:
    time_s: float
    length: int
    pending: int
    lag: int  # -1: Redis could not tell
    holders: dict[str, int]  # consumer → pending entries


def sample_stream(redis_container: str, t0: float) -> Sample:
    out = docker("exec", redis_container, "redis-cli", "--raw", "EVAL", SAMPLE_LUA, "1", MATH_STREAM, GROUP,
                 timeout_s=20.0)
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or not all(v.lstrip("-").isdigit() for v in lines[:3]):
        raise SmokeFailure(f"unexpected redis-cli output: {out[:300]!r}")
    holders = {lines[i]: int(lines[i + 1]) for i in range(3, len(lines) - 1, 2)}
    return Sample(time.monotonic() - t0, int(lines[0]), int(lines[1]), int(lines[2]), holders)


@dataclass
class Recorder:
    """Samples the math stream every `every_s` in a thread of its own."""

    redis_container: str
    every_s: float
    t0: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    error: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            try:
                s = sample_stream(self.redis_container, self.t0)
            except (SmokeFailure, subprocess.TimeoutExpired) as exc:
                self.error = exc
                return
            with self.lock:
                self.samples.append(s)
            tick += 1
            self.stop.wait(max(0.0, self.t0 + tick * self.every_s - time.monotonic()))

    def latest(self) -> Sample | None:
        with self.lock:
            return self.samples[-1] if self.samples else None

    def write(self, path: Path, metric: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time_s", MATH_STREAM])
            for s in self.samples:
                value = {"lag": s.lag if s.lag >= 0 else s.length - s.pending, "pending": s.pending,
                         "length": s.length}[metric]
                w.writerow([f"{s.time_s:.2f}", value])
        detail = path.with_name(path.stem + "-detail.csv")
        with detail.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time_s", "xlen", "xpending", "lag", "consumers_holding"])
            for s in self.samples:
                w.writerow([f"{s.time_s:.2f}", s.length, s.pending, s.lag, len(s.holders)])
        return detail


def math_batch(n: int, tag: str) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """n distinct polynomial items (no verdict cache helps), every other one wrong: (items, id → score)."""
    items, expect = [], {}
    for i in range(n):
        a, right = i + 2, i % 2 == 0
        c1 = 3 * a * a + (0 if right else 1)
        answer = f"x^{{3}}+{3 * a}x^{{2}}+{c1}x+{a ** 3}"
        item_id = f"{tag}-{i}"
        items.append({"id": item_id, "completion": f"<think>Expand it.</think> \\boxed{{{answer}}}",
                      "rewards": [{"name": "math", "params": {"gold": f"(x+{a})^3"}}]})
        expect[item_id] = 1.0 if right else 0.0
    return items, expect


def run_kill(args: argparse.Namespace) -> None:
    url = args.url.rstrip("/")
    (redis_container,) = compose_containers(args.project, "redis")
    workers = compose_containers(args.project, "math-worker")
    if len(workers) < 2:
        raise SmokeFailure(f"{len(workers)} math worker(s) running: scale math-worker to 2 or more first")
    hosts = {docker("inspect", "--format", "{{.Config.Hostname}}", c).strip(): c for c in workers}
    print(f"kill: {len(workers)} math workers; {args.requests} requests of {args.items} items in flight")

    recorder = Recorder(redis_container, args.sample_s)
    sampler = threading.Thread(target=recorder.run, name="backlog-sampler", daemon=True)
    sampler.start()
    batches = [math_batch(args.items, f"r{r}") for r in range(args.requests)]
    expect = {k: v for _, e in batches for k, v in e.items()}
    start = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=args.requests)
    futures = [pool.submit(http_json, f"{url}/v1/score", {"items": items}, 900.0) for items, _ in batches]

    killed, kill_at = None, 0.0
    while not killed:  # the worker holding the most entries, once the batch is well under way
        if all(f.done() for f in futures):
            raise SmokeFailure("the batch finished before a worker could be killed holding work: raise --items")
        s = recorder.latest()
        if recorder.error:
            raise SmokeFailure(f"sampling the stream failed: {recorder.error}")
        if s is not None and s.length >= args.kill_backlog and s.holders:
            consumer, held = max(s.holders.items(), key=lambda kv: kv[1])
            container = next((c for h, c in hosts.items() if consumer.startswith(h + "-")), None)
            if container and held:
                docker("kill", container)
                killed, kill_at = container[:12], time.monotonic() - start
                print(f"kill: t={kill_at:.1f}s SIGKILLed math worker {killed} holding {held} entries "
                      f"(stream: {s.length} entries, {s.pending} claimed)")
                break
        time.sleep(0.05)

    responses = [f.result() for f in futures]
    done_at = time.monotonic() - start
    pool.shutdown()
    answered: dict[str, int] = {}
    problems = []
    for response in responses:
        for result in response["results"]:
            answered[result["id"]] = answered.get(result["id"], 0) + 1
            (comp,) = result["components"]
            want = expect.get(result["id"])
            if comp["status"] != "ok" or want is None or not math.isclose(comp["score"], want):
                got = f"{comp['status']}/{comp['score']} {comp['reason']}"
                problems.append(f"{result['id']}: want ok/{want}, got {got}")
    twice = [k for k, n in answered.items() if n != 1]
    lost = sorted(set(expect) - set(answered))
    # let the curve show the drained tail, then look at what is left in Redis
    time.sleep(args.tail_s)
    recorder.stop.set()
    sampler.join(timeout=30)
    last = sample_stream(redis_container, recorder.t0)
    dead = int(docker("exec", redis_container, "redis-cli", "--raw", "XLEN", MATH_DEAD).strip() or 0)
    detail = recorder.write(Path(args.backlog_csv), args.metric)
    print(f"kill: all answered at t={done_at:.1f}s ({done_at - kill_at:.1f}s after the kill); backlog curve "
          f"({len(recorder.samples)} samples every {args.sample_s:g}s, column {MATH_STREAM} = {args.metric}): "
          f"{args.backlog_csv} (all columns: {detail})")
    if problems:
        raise SmokeFailure(f"{len(problems)} wrong verdicts, e.g.:\n  " + "\n  ".join(problems[:10]))
    if twice or lost or len(answered) != len(expect):
        raise SmokeFailure(f"items answered twice: {twice[:10]}; lost: {lost[:10]}")
    if last.length or last.pending or dead:
        raise SmokeFailure(f"left in Redis: {last.length} stream entries, {last.pending} claimed, {dead} dead letters")
    peak = max(recorder.samples, key=lambda s: s.length)
    print(f"kill: {len(expect)} items each answered exactly once with the right score; none lost, none "
          f"dead-lettered, the stream drained (peak {peak.length} entries at t={peak.time_s:.1f}s)")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    mixed = sub.add_parser("mixed", help="score a mixed batch and check every verdict")
    mixed.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    mixed.add_argument("--no-worker-ok", default=",".join(MODEL_VERIFIERS),
                       help="verifiers allowed to have no live worker (comma-separated; default: the judge profile's)")
    kill = sub.add_parser("kill", help="kill a math worker mid-batch; record the math stream's backlog")
    kill.add_argument("--url", required=True)
    kill.add_argument("--project", required=True, help="the compose project name")
    kill.add_argument("--backlog-csv", required=True, help="where to write the curve")
    kill.add_argument("--metric", choices=("lag", "pending", "length"), default="lag",
                      help="the value of the stream's column: the group's lag (KEDA lagCount, the chart's default), "
                      "its pending entries (pendingEntriesCount) or the stream length (streamLength)")
    kill.add_argument("--items", type=int, default=2500, help="math items per request")
    kill.add_argument("--requests", type=int, default=3, help="requests sent at once")
    kill.add_argument("--kill-backlog", type=int, default=100,
                      help="kill once the stream holds this many entries (the batch is well under way)")
    kill.add_argument("--sample-s", type=float, default=0.5, help="seconds between backlog samples")
    kill.add_argument("--tail-s", type=float, default=3.0, help="keep sampling this long after the last answer")
    args = p.parse_args(argv)
    try:
        run_mixed(args) if args.command == "mixed" else run_kill(args)
    except SmokeFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
