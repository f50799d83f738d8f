"""Benchmark: the `math` verifier's scoring core (no HTTP) against a naive Math-Verify loop, on GRPO-shaped items.

    .venv/bin/python bench/bench_math.py [--prompts 250 --group 8 --reps 3 --procs 2]

Each round generates a fresh mix (bench/mathmix.py, a new seed per round: no cache carries over
between rounds) of ``prompts * group`` completions, and measures on the same items:

  * naive: one process (a fresh one each round, warmed up on the same unrelated items as ours, so
    neither keeps sympy or parse state from an earlier round), for each item Math-Verify
    ``parse(gold)``, ``parse(completion)``, ``verify(gold, pred)`` with default arguments;
    per-item times; an exception counts as False;
  * ours: ``rlvr_services.batch.embedded_scorer`` (the gateway's scoring core in this process,
    verifier processes behind it, no HTTP) started fresh for the round, warmed up on unrelated
    items, then sent the items as requests of ``--batch`` (256) items one after another, like
    trainer steps; then ``--latency-items`` single-item requests one after another (p50/p99).

Reported: items/s, items/s per core (ours over ``--procs``, naive over 1), the ratio, latency,
accuracy against the generator's labels, and verdict agreement: where both finish, which items
differ, by kind, by likely cause and by who agrees with the label. Medians over rounds for speed;
agreement is summed over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from math_verify import parse, verify

from rlvr_client.models import Component, ItemResult, RewardSpec, ScoreItem, Status
from rlvr_services.batch import embedded_scorer
from rlvr_services.settings import GatewaySettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mathmix import Sample, make_mix

METHOD_KEYS = ("method", "path", "via")
TIME_KEY = re.compile(r"(?:^|_)(ms|s|seconds|elapsed|duration|time)$")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# naive


@dataclass
class NaiveRun:
    wall: float
    cpu: float
    times: list[float]
    verdicts: list[bool]
    finished: list[bool]  # False: an exception (counted as a False verdict)


def naive_loop(samples: Sequence[Sample]) -> NaiveRun:
    times: list[float] = []
    verdicts: list[bool] = []
    finished: list[bool] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    for s in samples:
        t = time.perf_counter()
        try:
            verdict, ok = bool(verify(parse(s.gold), parse(s.completion))), True
        except Exception:  # noqa: BLE001 - the naive loop's failures are counted, not fatal
            verdict, ok = False, False
        times.append(time.perf_counter() - t)
        verdicts.append(verdict)
        finished.append(ok)
    return NaiveRun(time.perf_counter() - start, time.process_time() - cpu0, times, verdicts, finished)


def naive_round(warm: Sequence[Sample], samples: Sequence[Sample]) -> NaiveRun:
    """In a fresh process, like ours: no sympy or Math-Verify state from earlier rounds; warmed up first."""
    naive_loop(warm)
    return naive_loop(samples)


def run_naive(warm: Sequence[Sample], samples: Sequence[Sample]) -> NaiveRun:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(naive_round, warm, samples).result()


# ---------------------------------------------------------------------------------------------
# ours


@dataclass
class OursRun:
    wall: float
    cpu: float  # this process and its verifier processes
    cpu_main: float  # this process alone: request handling, pydantic, pipes
    components: list[Component]
    latencies: list[float]
    latency_components: list[Component]


def items_for(samples: Sequence[Sample], tag: str) -> list[ScoreItem]:
    return [
        ScoreItem(
            id=f"{tag}{i}",
            prompt=s.prompt,
            completion=s.completion,
            rewards=[RewardSpec(name="math", params={"gold": s.gold})],
        )
        for i, s in enumerate(samples)
    ]


def tree_cpu(proc: psutil.Process) -> tuple[float, float]:
    """CPU seconds of ``proc`` and of ``proc`` with all its descendants."""
    own = total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
        if p.pid == proc.pid:
            own = t.user + t.system
    return own, total


def component(result: ItemResult) -> Component:
    return result.components[0]


async def ours_round(
    samples: Sequence[Sample], warm: Sequence[Sample], latency: Sequence[Sample], procs: int, batch: int, tag: str
) -> OursRun:
    settings = GatewaySettings(processes=procs)
    me = psutil.Process()
    async with embedded_scorer(settings) as score:
        # start-up out of the measurement: processes started, imports and lazy sympy set-up done
        for start in range(0, len(warm), 64):
            await score(items_for(warm[start : start + 64], f"{tag}w{start}-"), None)
        items = items_for(samples, f"{tag}-")
        cpu0 = tree_cpu(me)
        t0 = time.perf_counter()
        results: list[ItemResult] = []
        for start in range(0, len(items), batch):
            results += await score(items[start : start + batch], None)
        wall = time.perf_counter() - t0
        cpu1 = tree_cpu(me)
        latencies: list[float] = []
        lat_components: list[Component] = []
        for item in items_for(latency, f"{tag}l"):
            t = time.perf_counter()
            (one,) = await score([item], None)
            latencies.append(time.perf_counter() - t)
            lat_components.append(component(one))
    return OursRun(
        wall, cpu1[1] - cpu0[1], cpu1[0] - cpu0[0], [component(r) for r in results], latencies, lat_components
    )


def ours_verdict(c: Component) -> bool:
    return c.status is Status.OK and c.score == 1.0


def verifier_times_ms(components: Sequence[Component]) -> tuple[str, list[float]] | None:
    """A per-item time the verdict details expose (a numeric key like ``elapsed_ms``), if any."""
    counts: Counter[str] = Counter()
    for c in components:
        for key, value in c.details.items():
            if TIME_KEY.search(key) and isinstance(value, int | float) and not isinstance(value, bool):
                counts[key] += 1
    if not counts:
        return None
    key, n = counts.most_common(1)[0]
    if n < len(components) / 2:
        return None
    scale = 1.0 if key.endswith("ms") else 1000.0
    return key, [float(c.details[key]) * scale for c in components if key in c.details]


# ---------------------------------------------------------------------------------------------
# agreement


def _mv_answer(text: str) -> list[Any]:
    """Math-Verify's reading of an answer text that ours extracted (boxed first, then as free text)."""
    parsed: list[Any] = parse("\\boxed{" + text + "}")
    if not any(not isinstance(p, str) for p in parsed):
        parsed = parse(text)
    return parsed


def _mv_verify(gold: list[Any], pred: list[Any]) -> bool:
    try:
        return bool(verify(gold, pred))
    except Exception:  # noqa: BLE001 - a diagnosis, not a measurement
        return False


def likely_cause(s: Sample, naive: bool, ours: bool, details: dict[str, Any]) -> str:
    """Why naive and ours differ on an item, by swapping one reading at a time (untimed, heuristic).

    naive = MV(naive gold, naive answer). Swap in ours' extracted answer: if the verdict flips, the
    answer extraction differs. Then swap the naive gold reading for the generator's gold value: if it
    flips, the gold reading differs. If it still differs from ours, ours compared differently.
    """
    extracted = details.get("extracted")
    if not isinstance(extracted, str) or not extracted:
        return "answer: ours took none" if not ours else "unknown (no `extracted` detail)"
    try:
        naive_gold = parse(s.gold)
        mine = _mv_answer(extracted.rstrip("…"))
        ref_gold = _mv_answer(s.gold_value)
    except Exception:  # noqa: BLE001
        return "unknown (diagnosis failed)"
    with_naive_gold = _mv_verify(naive_gold, mine)
    with_ref_gold = _mv_verify(ref_gold, mine)
    causes = []
    if with_naive_gold != naive:
        causes.append("answer: different one taken")
    if with_ref_gold != with_naive_gold:
        causes.append("gold: read differently")
    if with_ref_gold != ours:
        causes.append("comparison: same answer, other verdict")
    return " + ".join(causes) or "unknown"


@dataclass
class Agreement:
    total: int = 0
    naive_unfinished: int = 0
    ours_unfinished: Counter[str] = field(default_factory=Counter)
    both: int = 0
    same: int = 0
    differ: list[tuple[Sample, bool, bool, str]] = field(default_factory=list)  # sample, naive, ours, cause

    def add(self, samples: Sequence[Sample], naive: NaiveRun, ours: OursRun) -> None:
        for s, n_v, n_ok, comp in zip(samples, naive.verdicts, naive.finished, ours.components, strict=True):
            self.total += 1
            o_ok = comp.status is Status.OK
            if not n_ok:
                self.naive_unfinished += 1
            if not o_ok:
                self.ours_unfinished[f"{comp.status.value}: {comp.reason[:60]}"] += 1
            if not (n_ok and o_ok):
                continue
            self.both += 1
            o_v = ours_verdict(comp)
            if o_v == n_v:
                self.same += 1
            else:
                self.differ.append((s, n_v, o_v, likely_cause(s, n_v, o_v, comp.details)))


def breakdown(title: str, rows: list[tuple[str, bool, bool]], limit: int | None = None) -> list[str]:
    """rows: (key, ours matches the label, naive matches the label)."""
    n: Counter[str] = Counter()
    ours_ok: Counter[str] = Counter()
    naive_ok: Counter[str] = Counter()
    for key, o, nv in rows:
        n[key] += 1
        ours_ok[key] += o
        naive_ok[key] += nv
    width = max([len(title), *(len(k) for k in n)]) + 2
    out = [f"  {title:<{width}} {'items':>6} {'ours=label':>11} {'naive=label':>12}"]
    for key, c in n.most_common(limit):
        out.append(f"  {key:<{width}} {c:>6} {ours_ok[key]:>11} {naive_ok[key]:>12}")
    if limit is not None and len(n) > limit:
        out.append(f"  ... {len(n) - limit} more kinds")
    return out


# ---------------------------------------------------------------------------------------------


def accuracy(samples: Sequence[Sample], verdicts: Sequence[bool]) -> float:
    return sum(v == s.label for s, v in zip(samples, verdicts, strict=True)) / len(samples)


def rates(samples: Sequence[Sample], verdicts: Sequence[bool], outcome: str) -> str:
    picked = [v for s, v in zip(samples, verdicts, strict=True) if s.outcome == outcome]
    if not picked:
        return "-"
    good = sum(picked) if outcome == "right" else len(picked) - sum(picked)
    return f"{100 * good / len(picked):5.1f}%"


def unrelated(seed: int, n_prompts: int, group: int, avoid: set[str]) -> list[Sample]:
    """Items for warm-up and latency whose golds the measured items never use (no cache hits)."""
    return [s for s in make_mix(n_prompts, group, seed=seed) if s.gold not in avoid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=250)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3, help="rounds, each on a fresh mix; medians are reported")
    parser.add_argument("--procs", type=int, default=2, help="verifier processes of ours")
    parser.add_argument("--batch", type=int, default=256, help="items per request (a trainer step)")
    parser.add_argument("--latency-items", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000, help="seed of round 0; round r uses seed + r")
    args = parser.parse_args()
    n = args.prompts * args.group
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: os.cpu_count() = {os.cpu_count()} (usable: {affinity}); "
        f"{args.prompts} prompts x {args.group} completions = {n} items a round, {args.reps} round(s); "
        f"ours: {args.procs} verifier processes, requests of {args.batch} items"
    )

    walls: dict[str, list[float]] = {"naive": [], "ours": []}
    cpus: dict[str, list[float]] = {"naive": [], "ours": []}
    ours_main_cpu: list[float] = []
    misses: list[tuple[Sample, Component]] = []  # ours' verdict differs from the label
    p50: dict[str, list[float]] = {"naive": [], "ours": []}
    p99: dict[str, list[float]] = {"naive": [], "ours": []}
    acc: dict[str, list[float]] = {"naive": [], "ours": []}
    by_outcome: dict[str, list[str]] = {"naive": [], "ours": []}
    vtimes: list[tuple[str, list[float]]] = []
    detail_keys: Counter[str] = Counter()
    methods: Counter[str] = Counter()  # a details["method"]-like value: which path decided the verdict
    agreement = Agreement()
    mix: Counter[str] = Counter()
    for rep in range(args.reps):
        seed = args.seed + rep
        samples = make_mix(args.prompts, args.group, seed=seed)
        mix.update(s.outcome for s in samples)
        golds = {s.gold for s in samples}
        warm = unrelated(seed + 500_000, 24, 8, golds)[:128]
        latency = unrelated(seed + 900_000, args.latency_items * 2, 1, golds | {s.gold for s in warm})
        latency = latency[: args.latency_items]

        naive = run_naive(warm, samples)
        ours = asyncio.run(ours_round(samples, warm, latency, args.procs, args.batch, f"r{rep}"))

        o_verdicts = [ours_verdict(c) for c in ours.components]
        for name, wall, cpu, times, verdicts in (
            ("naive", naive.wall, naive.cpu, naive.times, naive.verdicts),
            ("ours", ours.wall, ours.cpu, ours.latencies, o_verdicts),
        ):
            walls[name].append(wall)
            cpus[name].append(cpu)
            p50[name].append(pct(times, 0.5))
            p99[name].append(pct(times, 0.99))
            acc[name].append(accuracy(samples, verdicts))
            if rep == 0:
                by_outcome[name] = [rates(samples, verdicts, o) for o in ("right", "wrong", "none")]
        found = verifier_times_ms(ours.components + ours.latency_components)
        if found:
            vtimes.append(found)
        for c in ours.components:
            detail_keys.update(c.details.keys())
            for key in METHOD_KEYS:
                if isinstance(c.details.get(key), str):
                    methods[f"{key}={c.details[key]}"] += 1
        agreement.add(samples, naive, ours)
        ours_main_cpu.append(ours.cpu_main)
        misses += [(s, c) for s, c in zip(samples, ours.components, strict=True) if ours_verdict(c) != s.label]
        print(
            f"  round {rep} (seed {seed}): naive {n / naive.wall:7.1f} items/s, ours {n / ours.wall:7.1f} items/s, "
            f"ratio {naive.wall / ours.wall:5.2f}x"
        )

    total = sum(mix.values())
    print(
        "mix: "
        + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in mix.most_common())
        + " (outcome of the completions)"
    )
    rate = {k: n / med(v) for k, v in walls.items()}
    per_core = {"naive": rate["naive"], "ours": rate["ours"] / args.procs}
    names = {"naive": "naive Math-Verify loop", "ours": "ours: embedded_scorer"}
    cores = {"naive": 1, "ours": args.procs}
    lat_how = {"naive": "per item in the loop", "ours": "1-item requests, sequential"}
    print(
        f"\n{'path':<24} {'cores':>5} {'wall s':>7} {'items/s':>8} {'/core':>7} {'CPU ms/item':>11} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'accuracy':>8}   latency measured as"
    )
    for key in ("naive", "ours"):
        print(
            f"{names[key]:<24} {cores[key]:>5} {med(walls[key]):>7.2f} {rate[key]:>8.1f} {per_core[key]:>7.1f} "
            f"{1000 * med(cpus[key]) / n:>11.2f} {1000 * med(p50[key]):>7.2f} {1000 * med(p99[key]):>7.2f} "
            f"{med(acc[key]):>8.3f}   {lat_how[key]}"
        )
    print(
        f"\nratio ours/naive: {rate['ours'] / rate['naive']:.2f}x items/s "
        f"({per_core['ours'] / per_core['naive']:.2f}x per core); target >= 10x on 2 cores"
    )
    print(
        "ours CPU counts this process and its verifier processes "
        f"(this process alone: {1000 * med(ours_main_cpu) / n:.2f} ms/item; "
        f"busy cores during the batches: {med(cpus['ours']) / med(walls['ours']):.2f} of {args.procs}); "
        "naive CPU is this process's."
    )
    print(
        "label agreement on round 0 by outcome (right: accepted, wrong: rejected, none: rejected): "
        + "; ".join(
            f"{key} " + " / ".join(f"{o} {r}" for o, r in zip(("right", "wrong", "none"), by_outcome[key], strict=True))
            for key in ("naive", "ours")
        )
    )
    if vtimes:
        key = vtimes[0][0]
        values = [v for _, vs in vtimes for v in vs]
        print(
            f"verifier-side per item (details[{key!r}]): p50 {pct(values, 0.5):.2f} ms, p99 {pct(values, 0.99):.2f} ms"
        )
    else:
        print(f"verifier-side per-item time: not exposed in verdict details (keys seen: {sorted(detail_keys)})")

    if methods:
        print("ours' verdicts by the path its details name: " + ", ".join(f"{k} {c}" for k, c in methods.most_common()))
    report_agreement(agreement)
    report_misses(misses)


def report_agreement(a: Agreement) -> None:
    d = a.differ
    ours_right = sum(1 for s, _, o, _ in d if o == s.label)
    print(f"\nverdict agreement, {a.total} items summed over rounds:")
    print(
        f"  finished: naive {a.total - a.naive_unfinished} (exceptions {a.naive_unfinished}), "
        f"ours {a.total - sum(a.ours_unfinished.values())} (status ok); both {a.both}"
    )
    for what, c in a.ours_unfinished.most_common(5):
        print(f"    ours not ok: {c} x {what}")
    print(
        f"  where both finish: same verdict on {a.same}, different on {len(d)}: "
        f"ours matches the label on {ours_right}, naive on {len(d) - ours_right}"
    )
    if not d:
        return
    rows = [(cause, o == s.label, nv == s.label) for s, nv, o, cause in d]
    for line in breakdown("likely cause", rows):
        print(line)
    for title, key in (("placement", "placement"), ("form", "form"), ("gold style", "gold_style")):
        for line in breakdown(title, [(str(getattr(s, key)), o == s.label, nv == s.label) for s, nv, o, _ in d]):
            print(line)
    for line in breakdown(
        "kind (form.surface@placement)", [(s.kind, o == s.label, nv == s.label) for s, nv, o, _ in d], 30
    ):
        print(line)
    causes = Counter(c for _, _, _, c in d)
    wins = Counter(c for s, _, o, c in d if o == s.label)
    print(
        f"  summary: where both finish, verdicts are the same except {len(d)} items: "
        + "; ".join(f"{c} {k} (ours matches the label on {wins[k]})" for k, c in causes.most_common())
    )


def report_misses(misses: Sequence[tuple[Sample, Component]], limit: int = 15) -> None:
    print(f"\nours differs from the label on {len(misses)} items" + (f" (first {limit}):" if misses else "."))
    for s, c in misses[:limit]:
        said = "1" if ours_verdict(c) else "0" if c.status is Status.OK else c.status.value
        details = ", ".join(f"{k}={str(v)[:40]!r}" for k, v in c.details.items())
        print(
            f"  {s.kind} label={int(s.label)} ours={said} gold[{s.gold_style}]={s.gold[-40:]!r} "
            f"answer={s.answer!r} | {c.reason[:70]!r} {details}"
        )


if __name__ == "__main__":
    main()
