"""Adversarial inputs for the `math` verifier: every one is answered by its deadline and the pool stays healthy.

Each input goes through the real process runner with a 2 s deadline, followed by a normal item in the
same submit call: the adversarial verdict is ok (0.0/1.0), timeout or error, and arrives within the
deadline plus one second; the normal item is still scored 1.0. A wrong answer must never score 1.0.
Two inputs are in flight at a time (one per worker process), so even if every one hit its deadline
the table would take ~50 s.

``test_caps_reject_fast`` calls the verifier directly, without the runner's kill, on the size, tower
and nesting attacks: the verifier's own caps must make it return within 5 s.
"""

from __future__ import annotations

import functools
import resource
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from enum import Enum
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import pytest

from rlvr_client.models import Status
from rlvr_services.runtime.jobs import Job
from rlvr_services.runtime.pool import ProcessRunner
from rlvr_services.runtime.verifier import Task, Verdict
from rlvr_services.verifiers.math import MathParams, MathVerifier

DEADLINE_S = 2.0
GRACE_S = 1.0  # the adversarial verdict arrives within DEADLINE_S + GRACE_S of submission
NORMAL_WAIT_S = 30.0
TABLE_CONCURRENCY = 2  # pairs in flight: the runner has two worker processes
IN_PROCESS_JOIN_S = 5.0
CAPS_MEMORY_MB = 2048  # the verifier called directly still must not eat the test machine's memory
MB = 1_000_000

NORMAL_COMPLETION = "The answer is $\\boxed{\\frac{3}{4}}$."
NORMAL_GOLD = "0.75"


class Expect(Enum):
    """What an ok verdict may score. Timeout and error are always allowed (never a score)."""

    NO_MATCH = "no-match"  # the answer differs from the gold: 1.0 would be a false reward
    MATCH = "match"  # the answer is the gold (often character for character): an ok verdict must be 1.0
    MUST_MATCH = "must-match"  # an ordinary answer wrapped in junk: must be ok and 1.0
    ANY = "any"  # equal, but a cap may legitimately score it 0.0 rather than prove it


class Attack(NamedTuple):
    id: str
    gold: str
    completion: str
    comment: str  # what it attacks
    expect: Expect = Expect.NO_MATCH
    size_attack: bool = False  # a pure size/tower/nesting attack: also run in-process by test_caps_reject_fast


def _tower(base: str, levels: int) -> str:
    """``base^{base^{...}}`` with ``levels`` bases."""
    return "^{".join([base] * levels) + "}" * (levels - 1)


def _nest(open_: str, close: str, core: str, depth: int) -> str:
    return open_ * depth + core + close * depth


# deterministic digit strings; the last digit is not 9, so "+1" only changes the last digit
DIGITS_5000 = ("31415926535897932384626433832795028841971693993751" * 100)[:4999] + "4"
DIGITS_999 = ("27182818284590452353602874713526624977572470936999" * 20)[:998] + "5"


def _plus_one(digits: str) -> str:
    return digits[:-1] + str(int(digits[-1]) + 1)


TOWER_10 = "10^{10^{10}}"
TOWER_9 = _tower("9", 4)
TOWER_2 = _tower("2", 50)
NUMBERS = " ".join(str(i * 7919 % 100_003) for i in range(200_000))[:MB]
MATRIX = "\\begin{pmatrix}" + " \\\\ ".join(" & ".join(str(r + c) for c in range(100)) for r in range(100))
ONES_10K = "+".join(["1"] * 10_000)
LOG_200 = _nest("\\log(", ")", "2", 200)
SQRT_500 = _nest("\\sqrt{", "}", "2", 500)
FRAC_300 = _nest("\\frac{1}{", "}", "2", 300)
# the same shapes kept just under the 1,000-character \boxed{} cap, so they reach the parser and sympy
LN_150 = _nest("\\ln(", ")", "2", 150)
SQRT_140 = _nest("\\sqrt{", "}", "2", 140)
FRAC_95 = _nest("\\frac{1}{", "}", "2", 95)

# fmt: off
ATTACKS: list[Attack] = [
    Attack("tower-10^10^10", "5", f"\\boxed{{{TOWER_10}}}",
           "power tower whose value has 10^10 digits: sympy evaluating it never returns", size_attack=True),
    Attack("tower-9^9^9^9", "5", f"\\boxed{{{TOWER_9}}}",
           "4-level tower of 9s, astronomically larger than 10^10^10", size_attack=True),
    Attack("tower-2x50", "5", f"\\boxed{{{TOWER_2}}}",
           "50-level tower of 2s: deep exponent nesting plus an unevaluable value", size_attack=True),
    Attack("tower-10^10^10-plus-one", TOWER_10, f"\\boxed{{{TOWER_10} + 1}}",
           "differs from the huge gold by 1: a float/relative-tolerance compare would call it equal", size_attack=True),
    Attack("tower-10^10^10-self", TOWER_10, f"\\boxed{{{TOWER_10}}}",
           "identical tower on both sides: only a textual comparison can prove it without evaluating",
           Expect.MATCH, size_attack=True),
    Attack("gold-tower-10^10^10", TOWER_10, "The answer is \\boxed{5}.",
           "the tower is the GOLD: parsing the gold must be bounded too", size_attack=True),
    Attack("gold-tower-9^9^9^9", TOWER_9, "The answer is \\boxed{5}.",
           "4-level tower of 9s as the gold", size_attack=True),
    Attack("gold-tower-2x50", TOWER_2, "The answer is \\boxed{5}.",
           "50-level tower of 2s as the gold", size_attack=True),
    Attack("nested-log-200", "5", f"\\boxed{{{LOG_200}}}",
           "200 nested \\log: recursion depth in the LaTeX parser and in sympy", size_attack=True),
    Attack("nested-log-200-answer-tag", "5", f"<answer>{LOG_200}</answer>",
           "the same in <answer> tags, which skip the \\boxed length cap", size_attack=True),
    Attack("nested-sqrt-500", "5", f"\\boxed{{{SQRT_500}}}",
           "500 nested \\sqrt: parser recursion depth", size_attack=True),
    Attack("nested-sqrt-500-bare", "5", f"The answer is ${SQRT_500}$",
           "the same as free text, found by the fallback search", size_attack=True),
    Attack("nested-frac-300", "3", f"\\boxed{{{FRAC_300}}}",
           "300 nested \\frac: parser recursion depth and a deep sympy tree", size_attack=True),
    Attack("nested-ln-150-under-cap", "5", f"\\boxed{{{LN_150}}}",
           "150 nested \\ln in 750 characters: under the length cap, into sympy", size_attack=True),
    Attack("nested-sqrt-140-under-cap", "5", f"\\boxed{{{SQRT_140}}}",
           "140 nested \\sqrt in 981 characters: under the length cap", size_attack=True),
    Attack("nested-frac-95-under-cap", "3", f"\\boxed{{{FRAC_95}}}",
           "95 nested \\frac in 951 characters: under the length cap", size_attack=True),
    Attack("int-5000-digits-self", DIGITS_5000, f"\\boxed{{{DIGITS_5000}}}",
           "5,000-digit integer against itself: over Python's int/str digit limit", Expect.MATCH, size_attack=True),
    Attack("int-5000-digits-plus-one", DIGITS_5000, f"\\boxed{{{_plus_one(DIGITS_5000)}}}",
           "5,000-digit integer against itself + 1: equality needs exact big-int arithmetic", size_attack=True),
    Attack("int-999-digits-self", DIGITS_999, f"\\boxed{{{DIGITS_999}}}",
           "999-digit integer against itself: just under the answer-length cap", Expect.MATCH, size_attack=True),
    Attack("int-999-digits-plus-one", DIGITS_999, f"\\boxed{{{_plus_one(DIGITS_999)}}}",
           "999-digit integer against itself + 1: float rounding would call them equal", size_attack=True),
    Attack("factorial-100000", "5", "\\boxed{100000!}",
           "a 456,574-digit value from 7 characters", size_attack=True),
    Attack("binomial-power-expansion", "x^{100000} + 100000 x^{99999} + 1", "\\boxed{(x+1)^{100000}}",
           "simplify((x+1)^100000 - expansion) expands a 100,001-term polynomial", size_attack=True),
    Attack("sum-to-10^10", "50000000005000000000", "\\boxed{\\sum_{i=1}^{10^{10}} i}",
           "a sum with 10^10 terms: easy in closed form, endless term by term; a cap may score it 0.0",
           Expect.ANY, size_attack=True),
    Attack("binom-10^6", "5", "\\boxed{\\binom{10^{6}}{500000}}",
           "a 301,027-digit binomial coefficient", size_attack=True),
    Attack("sin-10^100", "0", "\\boxed{\\sin(10^{100})}",
           "argument reduction of a 100-digit angle; the value is about -0.37, not 0", size_attack=True),
    Attack("exp-10^10", "5", "\\boxed{e^{10^{10}}}",
           "e to a 10^10 power: evalf to many digits is unbounded work", size_attack=True),
    Attack("tiny-10^-10^10", "0", "\\boxed{10^{-10^{10}}}",
           "positive but underflows to 0.0: a float comparison calls it 0", size_attack=True),
    Attack("root-10^9", "1", "\\boxed{\\sqrt[10^9]{2}}",
           "2^(1e-9) = 1.0000000007: a tolerance comparison calls it 1", size_attack=True),
    Attack("pmatrix-100x100", "5", f"\\boxed{{{MATRIX} \\end{{pmatrix}}}}",
           "a 10,000-entry matrix: parse time and matrix comparison", size_attack=True),
    Attack("left-paren-1MB", "5", "\\left(" * (MB // 6),
           "1 MB of \\left( for the free-text fallback", size_attack=True),
    Attack("open-brace-100k", "5", "The answer is \\boxed{5" + "{" * 100_000,
           "100k unbalanced { after a \\boxed: the brace matcher scans to the end", size_attack=True),
    Attack("boxed-unclosed-100k", "5", "\\boxed{" * 100_000,
           "100k \\boxed{ never closed: quadratic if every \\boxed is matched separately", size_attack=True),
    Attack("frac-open-50k", "5", "\\frac{" * 50_000,
           "\\frac{ repeated 50k times: unclosed deep nesting in the fallback", size_attack=True),
    Attack("caret-1MB", "5", "^" * MB,
           "1 MB of ^: an exponent chain with no operands", size_attack=True),
    Attack("pmatrix-never-ended", "5", "The answer is \\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4}.",
           "\\begin{pmatrix} without \\end: the LaTeX grammar must fail cleanly"),
    Attack("boxed-1MB-digits", "7", "\\boxed{" + "7" * MB + "}",
           "1 MB of digits inside \\boxed{}: a million-digit integer", size_attack=True),
    Attack("think-1MB-numbers-then-7", "7", "<think>" + NUMBERS + "</think>\nSo the answer is $\\boxed{7}$.",
           "1 MB of numbers in the think section must not hide or slow the real answer", Expect.MUST_MATCH),
    Attack("words-2MB-no-answer", "5", "lorem ipsum dolor sit amet " * (2 * MB // 27),
           "2 MB of prose with no answer: the fallback must only search the tail", size_attack=True),
    Attack("think-close-100k", "5", "</think>" * 100_000,
           "100k </think> tags: repeated splitting on the think marker"),
    Attack("nul-flood-then-boxed", "5", "\x00" * 100_000 + "The answer is \\boxed{5}.",
           "100k null bytes before a real answer: C-string handling and pipe transport", Expect.MATCH),
    Attack("nul-in-boxed", "5", "The answer is \\boxed{4\x002}.",
           "a null byte inside the answer"),
    Attack("lone-surrogate", "5", "The answer is \\boxed{\ud800} \udfff.",
           "lone surrogates: not encodable as UTF-8 (logging, JSON, pipes)"),
    Attack("ones-sum-10k-boxed", "10000", f"\\boxed{{{ONES_10K}}}",
           "a 10k-term sum in \\boxed: a deep left-nested Add; a length cap may score it 0.0",
           Expect.ANY, size_attack=True),
    Attack("ones-sum-10k-bare", "10000", f"The total is {ONES_10K}",
           "the same as free text: the fallback sees only the tail, which sums to less", size_attack=True),
    Attack("prose-backtrack-50k", "5", "the answer is " * 50_000,
           "regex backtracking bait for the prose/answer-phrase patterns", size_attack=True),
    Attack("infty-minus-infty", "0", "\\boxed{\\infty - \\infty}",
           "oo - oo is nan, which must not compare equal to 0"),
    Attack("zero-pow-zero", "1", "\\boxed{0^0}",
           "0^0: sympy says 1, some conventions say undefined", Expect.ANY),
    Attack("one-over-zero", "0", "\\boxed{1/0}",
           "division by zero: zoo must not compare equal to 0"),
]
# fmt: on


def _verdict_score_ok(attack: Attack, verdict: Verdict) -> None:
    """The adversarial verdict is never a false reward and, where the answer is right, is a reward."""
    assert verdict.status in (Status.OK, Status.TIMEOUT, Status.ERROR), verdict
    if attack.expect is Expect.MUST_MATCH:
        assert verdict.status is Status.OK and verdict.score == 1.0, verdict
    if verdict.status is not Status.OK:
        return
    assert verdict.score in (0.0, 1.0), verdict
    if attack.expect is Expect.NO_MATCH:
        assert verdict.score == 0.0, f"{attack.id}: a wrong answer scored 1.0 ({verdict.reason})"
    elif attack.expect is Expect.MATCH:
        assert verdict.score == 1.0, f"{attack.id}: a right answer scored 0.0 ({verdict.reason})"


@pytest.fixture(scope="module")
def runner() -> Iterator[ProcessRunner]:
    r = ProcessRunner("math", size=2, memory_mb=2048)
    assert r.wait_ready(60)
    yield r
    r.close()


def _params(gold: str) -> dict[str, Any]:
    return {"gold": gold, "timeout_s": DEADLINE_S}


def _normal_job(job_id: str) -> Job:
    return Job(id=job_id, completion=NORMAL_COMPLETION, params=_params(NORMAL_GOLD), timeout_s=DEADLINE_S)


class Outcome(NamedTuple):
    verdict: Verdict | None  # None: nothing within DEADLINE_S + GRACE_S of submission
    elapsed_s: float  # submission to the adversarial verdict
    normal: Verdict | None  # the normal item submitted right after it


def _run_pair(runner: ProcessRunner, attack: Attack) -> Outcome:
    adversarial = Job(id=attack.id, completion=attack.completion, params=_params(attack.gold), timeout_s=DEADLINE_S)
    started = time.monotonic()
    adv_future, normal_future = runner.submit([adversarial, _normal_job(f"{attack.id}-normal")])
    try:
        verdict: Verdict | None = adv_future.result(timeout=DEADLINE_S + GRACE_S)
    except FutureTimeout:
        verdict = None
    elapsed = time.monotonic() - started
    try:
        normal: Verdict | None = normal_future.result(timeout=NORMAL_WAIT_S)
    except FutureTimeout:
        normal = None
    return Outcome(verdict, elapsed, normal)


@pytest.fixture(scope="module")
def table(runner: ProcessRunner, request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """Every selected attack through the runner, TABLE_CONCURRENCY pairs in flight (one per worker process).

    Sequentially, 49 inputs that all hit the 2 s deadline would take ~100 s; two at a time, ~50 s.
    """
    selected = {
        item.callspec.id
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_adversarial_input_is_bounded"
    }
    attacks = [a for a in ATTACKS if a.id in selected]
    with ThreadPoolExecutor(max_workers=TABLE_CONCURRENCY, thread_name_prefix="adversarial") as pool:
        outcomes = list(pool.map(functools.partial(_run_pair, runner), attacks))
    return {a.id: o for a, o in zip(attacks, outcomes, strict=True)}


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.id) for a in ATTACKS])
def test_adversarial_input_is_bounded(table: dict[str, Outcome], attack: Attack) -> None:
    outcome = table[attack.id]
    assert outcome.verdict is not None, f"{attack.id}: no verdict within {DEADLINE_S + GRACE_S:g}s of submission"
    assert outcome.elapsed_s <= DEADLINE_S + GRACE_S, f"{attack.id}: verdict after {outcome.elapsed_s:.2f}s"
    _verdict_score_ok(attack, outcome.verdict)
    normal = outcome.normal
    assert normal is not None and normal.status is Status.OK and normal.score == 1.0, (
        f"{attack.id}: the normal item after it was not scored 1.0: {normal}"
    )


def test_runner_healthy_after_table(runner: ProcessRunner, table: dict[str, Outcome]) -> None:
    # depends on `table`, so it runs after every selected table item whatever the test order
    assert runner.ready()
    futures = runner.submit([_normal_job(f"after-{i}") for i in range(20)])
    verdicts = [f.result(timeout=30) for f in futures]
    assert all(v.status is Status.OK and v.score == 1.0 for v in verdicts), verdicts


def _caps_child(conn: Connection, gold: str, completion: str) -> None:
    """In a disposable process: the verifier called directly (no runner, no kill); sends verdicts or the error."""
    limit = CAPS_MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    task = Task(id="caps", completion=completion, params=MathParams(gold=gold))
    try:
        conn.send([v.to_json() for v in MathVerifier().verify_batch([task])])
    except Exception as exc:  # noqa: BLE001 - reported to the test: the runtime makes it an error verdict
        conn.send(f"{type(exc).__name__}: {str(exc)[:200]}")


def _verify_directly(runner: ProcessRunner, attack: Attack) -> tuple[bool, list[Verdict] | str | None]:
    """(returned within IN_PROCESS_JOIN_S, its verdicts or the exception it raised).

    Not a thread in the test process: sympy's big-int arithmetic holds the GIL, so a hung daemon
    thread would freeze pytest itself (``10^{10^{10}}`` blocks the main thread's 5 s join for
    minutes). A forkserver child (the runner's context, verifier modules preloaded) starts in
    milliseconds and is killed at the join timeout.
    """
    receiver, sender = runner.ctx.Pipe(duplex=False)
    proc = runner.ctx.Process(target=_caps_child, args=(sender, attack.gold, attack.completion), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(IN_PROCESS_JOIN_S):
            return False, None
        try:
            raw = receiver.recv()
        except EOFError:
            pytest.fail(f"{attack.id}: the verifier crashed its process (exit code {proc.exitcode})")
        if isinstance(raw, str):
            return True, raw
        return True, [Verdict.from_json(v) for v in raw]
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        proc.close()
        receiver.close()


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.id) for a in ATTACKS if a.size_attack])
def test_caps_reject_fast(runner: ProcessRunner, attack: Attack) -> None:
    returned, outcome = _verify_directly(runner, attack)
    assert returned, f"{attack.id}: the verifier did not return within {IN_PROCESS_JOIN_S:g}s on its own"
    if isinstance(outcome, str):
        return  # it raised: the runtime turns that into an error verdict, never a score
    assert outcome is not None and len(outcome) == 1
    _verdict_score_ok(attack, outcome[0])
