"""Judging a program against tests: stdin/stdout cases, function calls, assert programs, checkers.

Every comparison happens here, on the host: expected outputs never enter the jail (a checker, which
needs the expected answer, runs in a jail of its own without the contestant's program).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from .harness import HARNESSES, make_spec, read_results
from .languages import Language
from .pool import Execution, RunStatus


class CaseStatus(str, Enum):
    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    COMPILE_ERROR = "compile_error"
    SANDBOX_ERROR = "sandbox_error"


class Compare(str, Enum):
    EXACT = "exact"  # byte for byte
    LINES = "lines"  # trailing whitespace of each line and trailing blank lines ignored
    TOKENS = "tokens"  # any run of whitespace is one separator


@dataclass(frozen=True)
class IOCase:
    stdin: str
    stdout: str


@dataclass(frozen=True)
class CallCase:
    fn: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    expected: Any = None


@dataclass(frozen=True)
class Problem:
    """What to run and how to judge it. Exactly one of ``cases``, ``calls``, ``test_code`` is used."""

    language: str
    cases: Sequence[IOCase] = ()
    calls: Sequence[CallCase] = ()
    test_code: str = ""
    entry_point: str = ""
    checker: str = ""  # a Python program: reads input.txt, output.txt, answer.txt; exit 0 accepts
    compare: Compare = Compare.LINES
    float_tol: float | None = None  # with TOKENS/LINES: numeric tokens within this abs/rel tolerance match
    timeout_s: float = 5.0
    memory_mb: int = 512
    stop_on_failure: bool = False
    plain_returns: bool = True


@dataclass(frozen=True)
class CaseResult:
    status: CaseStatus
    time_s: float = 0.0
    memory_mb: float | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "time_s": round(self.time_s, 4), "memory_mb": self.memory_mb,
                "reason": self.reason}


@dataclass(frozen=True)
class Judgement:
    results: list[CaseResult]
    total: int

    @property
    def passed(self) -> int:
        return sum(r.status is CaseStatus.PASSED for r in self.results)

    @property
    def sandbox_error(self) -> CaseResult | None:
        return next((r for r in self.results if r.status is CaseStatus.SANDBOX_ERROR), None)


_RUN_TO_TEST = {
    RunStatus.RUNTIME_ERROR: CaseStatus.RUNTIME_ERROR,
    RunStatus.TIMEOUT: CaseStatus.TIMEOUT,
    RunStatus.MEMORY_LIMIT: CaseStatus.MEMORY_LIMIT,
    RunStatus.OUTPUT_LIMIT: CaseStatus.RUNTIME_ERROR,
    RunStatus.COMPILE_ERROR: CaseStatus.COMPILE_ERROR,
    RunStatus.SANDBOX_ERROR: CaseStatus.SANDBOX_ERROR,
}


def _failed(run: Execution) -> CaseResult:
    reason = run.reason
    lines = run.stderr[-4096:].decode("utf-8", "replace").strip().splitlines()
    if lines and run.status is not RunStatus.COMPILE_ERROR:
        last = lines[-1].strip()[:300]  # the exception's own line, not the middle of a traceback
        reason = f"{reason}: {last}" if reason else last
    return CaseResult(_RUN_TO_TEST.get(run.status, CaseStatus.RUNTIME_ERROR), run.time_s, run.memory_mb, reason)


def _normalize(text: str, mode: Compare) -> list[str]:
    if mode is Compare.TOKENS:
        return text.split()
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _close(a: str, b: str, tol: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= tol or abs(x - y) <= tol * max(abs(x), abs(y))


def outputs_match(got: str, want: str, mode: Compare, float_tol: float | None = None) -> bool:
    """Whether a program's output matches the expected one under ``mode`` (and the float tolerance)."""
    if mode is Compare.EXACT:
        return got == want
    a, b = _normalize(got, mode), _normalize(want, mode)
    if float_tol is None:
        return a == b
    if mode is Compare.LINES:
        a = [tok for line in a for tok in (*line.split(), "\n")]
        b = [tok for line in b for tok in (*line.split(), "\n")]
    return len(a) == len(b) and all(_close(x, y, float_tol) for x, y in zip(a, b, strict=True))


def values_match(got: Any, want: Any, float_tol: float | None) -> bool:
    """JSON values compared structurally; floats within the tolerance; 1 == 1.0 but True != 1."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, int | float) and isinstance(want, int | float):
        if got == want:
            return True
        if float_tol is None or math.isnan(got) or math.isnan(want):
            return False
        return abs(got - want) <= float_tol or abs(got - want) <= float_tol * max(abs(got), abs(want))
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(values_match(x, y, float_tol) for x, y in zip(got, want, strict=True))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(values_match(got[k], want[k], float_tol) for k in got)
    return type(got) is type(want) and bool(got == want)


class Executor(Protocol):
    """What the judge needs of a sandbox: the jail (`pool.Sandbox`) and `container.ContainerSandbox` both are one."""

    def language(self, name: str) -> Language: ...

    def execute(
        self,
        language: str | Language,
        code: str | bytes,
        *,
        stdin: bytes = b"",
        files: Mapping[str, bytes] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
    ) -> Execution: ...


class Judge:
    """Runs one program against a problem's tests in a sandbox."""

    def __init__(self, sandbox: Executor) -> None:
        self.sandbox = sandbox

    def judge(self, code: str, problem: Problem) -> Judgement:
        lang = self.sandbox.language(problem.language)
        if problem.test_code:
            return Judgement([self._assert_program(code, problem, lang.name)], 1)
        tests: list[Any] = list(problem.calls) if problem.calls else list(problem.cases)
        results: list[CaseResult] = []
        for test in tests:
            if isinstance(test, CallCase):
                result = self._call(code, test, problem, lang.name)
            else:
                result = self._io(code, test, problem)
            results.append(result)
            if result.status in (CaseStatus.COMPILE_ERROR, CaseStatus.SANDBOX_ERROR):
                # the same program fails the same way on every test: stop paying for it
                results += [CaseResult(result.status, reason=result.reason)] * (len(tests) - len(results))
                break
            if problem.stop_on_failure and result.status is not CaseStatus.PASSED:
                break
        return Judgement(results, len(tests))

    def _io(self, code: str, case: IOCase, problem: Problem) -> CaseResult:
        run = self.sandbox.execute(
            problem.language, code, stdin=case.stdin.encode(), timeout_s=problem.timeout_s,
            memory_mb=problem.memory_mb,
        )
        if not run.ok:
            return _failed(run)
        got = run.stdout.decode("utf-8", "replace")
        if problem.checker:
            return self._check(case, got, run, problem)
        if outputs_match(got, case.stdout, problem.compare, problem.float_tol):
            return CaseResult(CaseStatus.PASSED, run.time_s, run.memory_mb)
        return CaseResult(CaseStatus.WRONG_ANSWER, run.time_s, run.memory_mb, _diff_reason(got, case.stdout))

    def _check(self, case: IOCase, got: str, run: Execution, problem: Problem) -> CaseResult:
        files = {"input.txt": case.stdin.encode(), "output.txt": got.encode(), "answer.txt": case.stdout.encode()}
        verdict = self.sandbox.execute("python", problem.checker, files=files, timeout_s=max(problem.timeout_s, 5.0))
        if verdict.status is RunStatus.SANDBOX_ERROR:
            return _failed(verdict)
        if verdict.ok:
            return CaseResult(CaseStatus.PASSED, run.time_s, run.memory_mb)
        if verdict.status is RunStatus.RUNTIME_ERROR and verdict.exit_code is not None:
            message = (verdict.stdout or verdict.stderr)[-300:].decode("utf-8", "replace").strip()
            return CaseResult(CaseStatus.WRONG_ANSWER, run.time_s, run.memory_mb, f"checker rejected: {message}")
        return CaseResult(CaseStatus.SANDBOX_ERROR, run.time_s, run.memory_mb, f"checker failed: {verdict.reason}")

    def _harnessed(self, code: str, language: str, problem: Problem, mode: str, **spec: Any) -> tuple[Execution, Any]:
        harness = HARNESSES.get(language)
        if harness is None:
            raise ValueError(f"{mode} tests are supported for {', '.join(sorted(HARNESSES))}, not {language}")
        nonce, stdin = make_spec(mode, **spec)
        run = self.sandbox.execute(
            language, harness.program, stdin=stdin, files={harness.solution_file: code.encode()},
            timeout_s=problem.timeout_s, memory_mb=problem.memory_mb,
        )
        results = read_results(run.stdout, nonce)
        return run, (results[0] if len(results) == 1 else None)

    def _call(self, code: str, case: CallCase, problem: Problem, language: str) -> CaseResult:
        run, result = self._harnessed(
            code, language, problem, "call", name=case.fn, args=list(case.args), kwargs=case.kwargs
        )
        if result is None:
            return _failed(run) if not run.ok else CaseResult(
                CaseStatus.RUNTIME_ERROR, run.time_s, run.memory_mb, "the program ended before returning a value"
            )
        if not result.get("ok"):
            return CaseResult(CaseStatus.RUNTIME_ERROR, run.time_s, run.memory_mb, str(result.get("error", ""))[-600:])
        if values_match(result.get("value"), case.expected, problem.float_tol):
            return CaseResult(CaseStatus.PASSED, run.time_s, run.memory_mb)
        shown = repr(result.get("value"))[:200]
        return CaseResult(CaseStatus.WRONG_ANSWER, run.time_s, run.memory_mb, f"returned {shown}")

    def _assert_program(self, code: str, problem: Problem, language: str) -> CaseResult:
        run, result = self._harnessed(
            code, language, problem, "assert", test_code=problem.test_code, entry_point=problem.entry_point,
            plain_returns=problem.plain_returns,
        )
        if result is None:
            return _failed(run) if not run.ok else CaseResult(
                CaseStatus.WRONG_ANSWER, run.time_s, run.memory_mb, "the tests did not run to the end"
            )
        if result.get("ok"):
            return CaseResult(CaseStatus.PASSED, run.time_s, run.memory_mb)
        error = str(result.get("error", ""))
        status = CaseStatus.WRONG_ANSWER if error.startswith("AssertionError") else CaseStatus.RUNTIME_ERROR
        return CaseResult(status, run.time_s, run.memory_mb, error[-600:])


def _diff_reason(got: str, want: str) -> str:
    a, b = got.splitlines(), want.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.rstrip() != y.rstrip():
            return f"line {i + 1}: got {x[:80]!r}, expected {y[:80]!r}"
    return f"got {len(a)} lines, expected {len(b)}"
