"""The judge on real programs in the real jail: test formats, statuses, languages and reward hacks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from rlvr_sandbox.judge import CallCase, CaseStatus, Compare, IOCase, Judge, Problem, outputs_match, values_match
from rlvr_sandbox.pool import RunStatus, Sandbox, SandboxConfig

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or os.geteuid() != 0, reason="the jail needs bubblewrap and root (see README)"
)

ADD_IO = [IOCase("1 2\n", "3\n"), IOCase("5 7\n", "12\n"), IOCase("100 -1\n", "99\n")]
HUMANEVAL_TEST = (
    "def check(candidate):\n"
    "    assert candidate(2, 3) == 5\n"
    "    assert abs(candidate(0.1, 0.2) - 0.3) < 1e-9\n"
    "    assert candidate(-1, 1) == 0\n"
)
MBPP_TEST = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
JS_TEST = "const assert = require('assert');\nfunction check(c) { assert.deepStrictEqual(c(2, 3), 5); }\n"
CALLS = [CallCase("add", (1, 2), {}, 3), CallCase("add", ([1], [2]), {}, [1, 2]), CallCase("add", (0.1, 0.2), {}, 0.3)]
SUM_CHECKER = (
    "import sys\n"
    "n = int(open('input.txt').read())\n"
    "a, b = map(int, open('output.txt').read().split())\n"
    "sys.exit(0 if a + b == n and a > 0 and b > 0 else 1)\n"
)

PY_ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
CPP_ADD = "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n"
C_ADD = '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }\n'
JS_ADD = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n"

P = CaseStatus.PASSED
W = CaseStatus.WRONG_ANSWER
R = CaseStatus.RUNTIME_ERROR

# fmt: off
CASES: list[Any] = [
    # stdin/stdout in each language
    pytest.param("python", PY_ADD, {"cases": ADD_IO}, [P, P, P], id="python-io"),
    pytest.param("cpp", CPP_ADD, {"cases": ADD_IO}, [P, P, P], id="cpp-io"),
    pytest.param("c", C_ADD, {"cases": ADD_IO}, [P, P, P], id="c-io"),
    pytest.param("javascript", JS_ADD, {"cases": ADD_IO}, [P, P, P], id="js-io"),
    # a wrong program: every test a wrong answer, the reason names the line
    pytest.param("python", "a, b = map(int, input().split())\nprint(a * b)\n", {"cases": ADD_IO}, [W, W, W],
                 id="wrong"),
    # printing only a prefix of the answer is wrong
    pytest.param("python", "a, b = map(int, input().split())\nprint(str(a + b)[:1])\n", {"cases": ADD_IO},
                 [P, W, W], id="prefix-output"),
    # a crash is a runtime error
    pytest.param("python", "raise SystemExit(3)\n", {"cases": ADD_IO[:1]}, [R], id="exit-3"),
    # stop_on_failure leaves the rest unrun
    pytest.param("python", "a, b = map(int, input().split())\nprint(a * b)\n",
                 {"cases": ADD_IO, "stop_on_failure": True}, [W], id="stop-on-failure"),
    # a compile error is reported for every test without compiling again
    pytest.param("cpp", "int main( {", {"cases": ADD_IO},
                 [CaseStatus.COMPILE_ERROR] * 3, id="compile-error"),
    # an infinite loop times out
    pytest.param("python", "while True: pass\n", {"cases": ADD_IO[:1], "timeout_s": 1.0},
                 [CaseStatus.TIMEOUT], id="timeout"),
    # a memory bomb is a memory limit
    pytest.param("python", "x = bytearray(400 << 20)\nprint(len(x))\n", {"cases": ADD_IO[:1], "memory_mb": 128},
                 [CaseStatus.MEMORY_LIMIT], id="memory"),
    # HumanEval-style check(candidate)
    pytest.param("python", "def add(a, b):\n    return a + b\n",
                 {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [P], id="humaneval"),
    pytest.param("python", "def add(a, b):\n    return a - b\n",
                 {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [W], id="humaneval-wrong"),
    # MBPP-style bare asserts
    pytest.param("python", "def add(a, b):\n    return a + b\n", {"test_code": MBPP_TEST}, [P], id="mbpp"),
    # reward hack: exit(0) before the asserts run
    pytest.param("python", "import sys\nsys.exit(0)\n", {"test_code": HUMANEVAL_TEST, "entry_point": "add"},
                 [R], id="hack-sys-exit-0"),
    # reward hack: os._exit(0), no traceback at all
    pytest.param("python", "import os\nos._exit(0)\n", {"test_code": HUMANEVAL_TEST, "entry_point": "add"},
                 [W], id="hack-os-exit-0"),
    # reward hack: forged pass lines
    pytest.param("python", "print('PASS')\nprint('ok 1')\nprint('{\"ok\": true}')\ndef add(a, b):\n    return 0\n",
                 {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [W], id="hack-forged-pass"),
    # reward hack: an object whose __eq__ is always true
    pytest.param("python", "class A:\n    def __eq__(self, o): return True\n    def __sub__(self, o): return 0\n"
                 "def add(a, b):\n    return A()\n", {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [W],
                 id="hack-always-equal"),
    # reward hack: a subclass of int with a lying __eq__
    pytest.param("python", "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
                 "def add(a, b):\n    return I(0)\n", {"test_code": MBPP_TEST}, [W], id="hack-int-subclass"),
    # reward hack: monkeypatching builtins the asserts use
    pytest.param("python", "import builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return 5\n",
                 {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [W], id="hack-patch-builtins"),
    # reward hack: reading stdin to find the tests gets nothing (the harness read it first)
    pytest.param("python", "import sys\nassert sys.stdin.read() == ''\ndef add(a, b):\n    return a + b\n",
                 {"test_code": HUMANEVAL_TEST, "entry_point": "add"}, [P], id="stdin-is-empty"),
    # function calls: values compared on the host, floats with a tolerance
    pytest.param("python", "def add(a, b):\n    return a + b\n", {"calls": CALLS, "float_tol": 1e-9}, [P, P, P],
                 id="calls"),
    pytest.param("python", "def add(a, b):\n    return a + b\n", {"calls": CALLS}, [P, P, W], id="calls-no-tol"),
    # function calls: always-equal objects do not survive JSON
    pytest.param("python", "class A:\n    def __eq__(self, o): return True\ndef add(a, b):\n    return A()\n",
                 {"calls": CALLS[:1]}, [R], id="hack-call-always-equal"),
    # function calls: a method of a fresh instance (LeetCode style)
    pytest.param("python", "class Solution:\n    def add(self, a, b):\n        return a + b\n",
                 {"calls": [CallCase("Solution.add", (2, 2), {}, 4)]}, [P], id="calls-method"),
    # function calls: a missing function is a runtime error
    pytest.param("python", "def plus(a, b):\n    return a + b\n", {"calls": CALLS[:1]}, [R], id="calls-missing"),
    # JavaScript asserts and calls
    pytest.param("javascript", "function add(a, b) { return a + b; }",
                 {"test_code": JS_TEST, "entry_point": "add"}, [P], id="js-assert"),
    pytest.param("javascript", "function add(a, b) { return a * b; }",
                 {"test_code": JS_TEST, "entry_point": "add"}, [W], id="js-assert-wrong"),
    pytest.param("javascript", "process.exit(0);", {"test_code": JS_TEST, "entry_point": "add"}, [W],
                 id="js-hack-exit-0"),
    pytest.param("javascript", "function add(a, b) { return a + b; }",
                 {"calls": [CALLS[0], CallCase("add", ("a", "b"), {}, "ab")]}, [P, P], id="js-calls"),
    # a checker for problems with many right answers
    pytest.param("python", "n = int(input())\nprint(1, n - 1)\n",
                 {"cases": [IOCase("5\n", ""), IOCase("9\n", "")], "checker": SUM_CHECKER}, [P, P], id="checker"),
    pytest.param("python", "n = int(input())\nprint(0, n)\n",
                 {"cases": [IOCase("5\n", "")], "checker": SUM_CHECKER}, [W], id="checker-rejects"),
]
# fmt: on


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    sandbox = Sandbox(SandboxConfig(slots=2))
    yield Judge(sandbox)
    sandbox.close()


@pytest.mark.parametrize(("language", "code", "problem", "expected"), CASES)
def test_judge(judge: Judge, language: str, code: str, problem: dict[str, Any], expected: list[CaseStatus]) -> None:
    result = judge.judge(code, Problem(language=language, **problem))
    got = [r.status for r in result.results]
    assert got == expected, [r.reason for r in result.results]
    for r in result.results:
        if r.status is not CaseStatus.PASSED:
            assert r.reason, "a failed test says why"


def test_compiled_once_per_program(judge: Judge) -> None:
    code = CPP_ADD.replace("a + b", "b + a")  # a source no other test compiles
    before = dict(judge.sandbox.stats)
    first = judge.judge(code, Problem("cpp", cases=ADD_IO))
    second = judge.judge(code, Problem("cpp", cases=ADD_IO))
    assert first.passed == second.passed == 3
    assert judge.sandbox.stats["compiles"] - before["compiles"] == 1
    assert judge.sandbox.stats["compile_cache_hits"] - before["compile_cache_hits"] == 5


def test_run_reports_time_and_memory(judge: Judge) -> None:
    run = judge.sandbox.execute("python", "x = bytearray(64 << 20)\nprint('done')\n")
    assert run.status is RunStatus.OK and run.stdout == b"done\n"
    assert run.memory_mb is not None and run.memory_mb >= 64
    assert 0 < run.time_s < 5


def test_sandbox_failure_is_not_a_verdict() -> None:
    broken = Sandbox(SandboxConfig(slots=1, python="/nonexistent/python3"))
    try:
        result = Judge(broken).judge(PY_ADD, Problem("python", cases=ADD_IO))
    finally:
        broken.close()
    assert [r.status for r in result.results] == [CaseStatus.SANDBOX_ERROR] * 3
    assert result.sandbox_error is not None and result.sandbox_error.reason


@pytest.mark.parametrize(
    ("got", "want", "mode", "tol", "match"),
    [
        ("3\n", "3\n", Compare.EXACT, None, True),
        ("3", "3\n", Compare.EXACT, None, False),
        ("3  \n\n\n", "3\n", Compare.LINES, None, True),
        ("1 2\n", "1  2\n", Compare.LINES, None, False),
        ("1 2\n", "1  2\n", Compare.TOKENS, None, True),
        ("1\r\n2\r\n", "1\n2\n", Compare.LINES, None, True),
        ("0.3000001\n", "0.3\n", Compare.LINES, 1e-6, True),
        ("0.31\n", "0.3\n", Compare.LINES, 1e-6, False),
        ("0.3 x\n", "0.3 y\n", Compare.TOKENS, 1e-6, False),
        ("1\n2\n", "1 2\n", Compare.LINES, 1e-6, False),
        ("nan\n", "nan\n", Compare.LINES, 1e-6, True),
        ("3", "", Compare.LINES, None, False),
    ],
)
def test_outputs_match(got: str, want: str, mode: Compare, tol: float | None, match: bool) -> None:
    assert outputs_match(got, want, mode, tol) is match


@pytest.mark.parametrize(
    ("got", "want", "tol", "match"),
    [
        (3, 3, None, True),
        (3, 3.0, None, True),
        (True, 1, None, False),
        (0.30000000000000004, 0.3, None, False),
        (0.30000000000000004, 0.3, 1e-9, True),
        ([1, [2, 3]], [1, [2, 3]], None, True),
        ([1, 2], [1, 2, 3], None, False),
        ({"a": 1}, {"a": 1.0}, None, True),
        ({"a": 1}, {"b": 1}, None, False),
        ("1", 1, None, False),
        (None, None, None, True),
    ],
)
def test_values_match(got: Any, want: Any, tol: float | None, match: bool) -> None:
    assert values_match(got, want, tol) is match


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", ".hidden", "..", ""])
def test_file_names_are_plain(judge: Judge, name: str) -> None:
    with pytest.raises(ValueError, match="plain name"):
        judge.sandbox.execute("python", "pass", files={name: b"x"})
