"""The ``code`` verifier: the completion's program run against tests in the sandbox.

Test formats (one per item): stdin/stdout ``tests`` (with an optional ``checker`` program for
problems with many right answers), function ``calls`` with JSON arguments and expected values, or an
assert-style ``test_code`` program (HumanEval/MBPP; with ``entry_point`` the harness calls
``check(entry_point)``). Score: the fraction of tests passed, or 1/0 with ``all_or_nothing``.

A ``sandbox_error`` on any test makes the item ``error`` (score null), never 0.0. A completion without
a code block of the language scores 0.0 with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rlvr_sandbox.errors import SandboxError
from rlvr_sandbox.judge import CallCase, CaseStatus, Compare, IOCase, Judge, Problem
from rlvr_sandbox.languages import load_languages, resolve
from rlvr_sandbox.pool import Sandbox

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from ..settings import SandboxSettings
from .extract import after_think, code_blocks

log = logging.getLogger(__name__)
LANGUAGES = load_languages()
MAX_TESTS = 1000


class StdioTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stdin: str = Field(default="", description="The program's standard input.")
    stdout: str = Field(description="The expected standard output (compared per `compare`).")


class CallTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fn: str = Field(min_length=1, max_length=200, description="Function to call, or `Class.method` (fresh instance).")
    args: list[Any] = Field(default_factory=list, description="Positional arguments, as JSON.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments, as JSON.")
    expected: Any = Field(description="The expected return value, as JSON (tuples are lists).")


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(description=f"One of {', '.join(sorted(LANGUAGES))} (or an alias: py, c++, js, …).")
    tests: list[StdioTest | CallTest] = Field(
        default_factory=list, max_length=MAX_TESTS,
        description="stdin/stdout cases ({stdin, stdout}) or function calls ({fn, args, kwargs, expected}).",
    )
    test_code: str | None = Field(
        default=None, max_length=1_000_000,
        description="An assert-style test program run after the solution (HumanEval/MBPP). Python and JavaScript.",
    )
    entry_point: str | None = Field(
        default=None, max_length=200, description="With test_code: the harness calls check(<entry_point>)."
    )
    checker: str | None = Field(
        default=None, max_length=1_000_000,
        description=(
            "A Python program that judges each stdin/stdout test: it reads input.txt, output.txt (the program's "
            "output) and answer.txt (the test's stdout) and exits 0 to accept. For problems with many right answers."
        ),
    )
    compare: Compare = Field(
        default=Compare.LINES,
        description="exact: byte for byte; lines (default): trailing spaces and blank lines ignored; tokens.",
    )
    float_tol: float | None = Field(
        default=None, ge=0, description="Numbers in outputs and return values match within this abs/rel tolerance."
    )
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Wall-clock limit of each test run.")
    memory_mb: int = Field(default=512, ge=16, le=8192, description="Memory limit of each test run (all processes).")
    all_or_nothing: bool = Field(default=False, description="Score 1.0 only when every test passes, else 0.0.")
    stop_on_failure: bool = Field(default=False, description="Stop at the first failed test (the rest count failed).")
    plain_returns: bool = Field(
        default=True, description="Assert tests: a solution function returning a non-plain object fails."
    )
    fence: Literal["last", "first", "none"] = Field(
        default="last",
        description=(
            "Which fenced block of the language is the program: the last (default) or first ```lang block "
            "after </think> (untagged blocks are used when none is tagged), or none: the whole answer is code."
        ),
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        try:
            return resolve(LANGUAGES, value).name
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None

    @model_validator(mode="after")
    def _one_test_format(self) -> CodeParams:
        kinds = {type(t) for t in self.tests}
        if len(kinds) > 1:
            raise ValueError("tests: use either stdin/stdout cases or function calls, not both")
        if self.test_code is not None and self.tests:
            raise ValueError("give either tests or test_code, not both")
        if self.test_code is None and not self.tests:
            raise ValueError("no tests: give tests (stdin/stdout or calls) or test_code")
        if self.checker is not None and kinds != {StdioTest}:
            raise ValueError("checker judges stdin/stdout tests only")
        if (self.test_code is not None or CallTest in kinds) and self.language not in ("python", "javascript"):
            raise ValueError(f"test_code and call tests run in python and javascript, not {self.language}")
        return self

    def problem(self) -> Problem:
        return Problem(
            language=self.language,
            cases=[IOCase(t.stdin, t.stdout) for t in self.tests if isinstance(t, StdioTest)],
            calls=[CallCase(t.fn, tuple(t.args), t.kwargs, t.expected) for t in self.tests if isinstance(t, CallTest)],
            test_code=self.test_code or "",
            entry_point=self.entry_point or "",
            checker=self.checker or "",
            compare=self.compare,
            float_tol=self.float_tol,
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
            stop_on_failure=self.stop_on_failure,
            plain_returns=self.plain_returns,
        )


def extract_program(completion: str, language: str, fence: str) -> str | None:
    """The program in the completion (after the reasoning), or None when there is none."""
    answer = after_think(completion)
    if answer is None:
        return None
    if fence == "none":
        return answer if answer.strip() else None
    aliases = set(LANGUAGES[language].aliases) | {language}
    blocks = code_blocks(answer)
    chosen = [body for tag, body in blocks if tag in aliases] or [body for tag, body in blocks if not tag]
    if not chosen:
        return None
    body = chosen[-1] if fence == "last" else chosen[0]
    return body if body.strip() else None


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox() -> Sandbox:
    """The process's sandbox (one pool of jails for the verifier and POST /v1/run), built on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Sandbox(SandboxSettings().config())
        return _shared


@register
class CodeVerifier:
    """Fraction of tests the completion's program passes in the sandbox."""

    name: ClassVar[str] = "code"
    description: ClassVar[str] = (
        "Runs the completion's last ```<language> block in the sandbox against stdin/stdout tests, function "
        "calls or an assert-style test program; score = fraction of tests passed (or all-or-nothing)."
    )
    params_model: ClassVar[type[BaseModel]] = CodeParams
    execution: ClassVar[Execution] = Execution.SANDBOX
    default_timeout_s: ClassVar[float] = 60.0

    def warm_up(self) -> None:
        """Start the shared sandbox's jails (its runner calls this once, in the background, when it starts)."""
        shared_sandbox().warm_up()

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, CodeParams):
            raise TypeError(f"code params must be CodeParams, not {type(params).__name__}")
        program = extract_program(task.completion, params.language, params.fence)
        if program is None:
            where = "the completion" if params.fence == "none" else f"a ```{params.language} block"
            return Verdict.ok(0.0, f"no program found: expected {where} after the reasoning")
        try:
            judgement = Judge(shared_sandbox()).judge(program, params.problem())
        except SandboxError as exc:
            return Verdict.error(f"sandbox unavailable: {exc}")
        broken = judgement.sandbox_error
        tests = [r.to_json() for r in judgement.results]
        if broken is not None:
            return Verdict.error(f"sandbox_error: {broken.reason}", tests=tests)
        passed, total = judgement.passed, judgement.total
        score = float(passed == total) if params.all_or_nothing else passed / total
        first_failure = next((r for r in judgement.results if r.status is not CaseStatus.PASSED), None)
        reason = "" if first_failure is None else f"{first_failure.status.value}: {first_failure.reason}"[:1000]
        return Verdict.ok(score, reason, passed=passed, total=total, language=params.language, tests=tests)
