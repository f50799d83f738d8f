"""The `code` verifier and `POST /v1/run` through a real gateway on a real uvicorn server."""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import pytest

from rlvr_client import AsyncRewardClient, InvalidRequest, RewardClient, RunStatus, Status
from rlvr_sandbox.pool import Sandbox, SandboxConfig
from rlvr_services.runtime.inline import InlineRunner
from rlvr_services.runtime.jobs import Job
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers import code as code_module
from rlvr_services.verifiers.code import CodeParams, CodeVerifier, extract_program

needs_jail = pytest.mark.skipif(
    shutil.which("bwrap") is None or os.geteuid() != 0, reason="the jail needs bubblewrap and root (see README)"
)

ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
IO_TESTS = [
    {"stdin": "1 2\n", "stdout": "3\n"},
    {"stdin": "2 2\n", "stdout": "4\n"},
    {"stdin": "0 5\n", "stdout": "5\n"},
]


def fenced(body: str, tag: str = "python") -> str:
    return f"```{tag}\n{body if body.endswith(chr(10)) else body + chr(10)}```\n"


@pytest.mark.parametrize(("completion", "language", "fence", "expected"), [
    # the last block of the language wins: the model's corrected version
    (f"Try:\n{fenced('print(1)')}Fixed:\n{fenced('print(2)')}", "python", "last", "print(2)"),
    (f"Try:\n{fenced('print(1)')}Fixed:\n{fenced('print(2)')}", "python", "first", "print(1)"),
    # aliases in the fence tag
    (fenced("print(3)", "py"), "python", "last", "print(3)"),
    (fenced("int main(){}", "c++"), "cpp", "last", "int main(){}"),
    # a block of another language is not the program
    (fenced("print(1)") + fenced("console.log(1)", "js"), "python", "last", "print(1)"),
    # untagged blocks are used when no block is tagged
    ("```\nprint(4)\n```", "python", "last", "print(4)"),
    # tilde fences and longer fences
    ("~~~python\nprint(5)\n~~~", "python", "last", "print(5)"),
    ("````python\nx = '```'\n````", "python", "last", "x = '```'"),
    # code in the reasoning does not count
    (f"<think>{fenced('print(6)')}</think>no code here", "python", "last", None),
    (f"<think>plan</think>{fenced('print(7)')}", "python", "last", "print(7)"),
    # a completion cut off inside the reasoning has no program
    (f"<think>{fenced('print(8)')}", "python", "last", None),
    # an unclosed fence is not a program
    ("```python\nprint(9)", "python", "last", None),
    # fence=none: the whole answer is the program
    ("<think>x</think>print(10)", "python", "none", "print(10)"),
    # an empty block is no program
    ("```python\n```", "python", "last", None),
])
def test_extract_program(completion: str, language: str, fence: str, expected: str | None) -> None:
    got = extract_program(completion, language, fence)
    assert (got.strip() if got is not None else None) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"language": "cobol", "tests": IO_TESTS}, "unknown language 'cobol'; known: bash, c, cpp, go, java"),
        ({"language": "python"}, "no tests"),
        ({"language": "python", "tests": IO_TESTS, "test_code": "assert True"}, "either tests or test_code"),
        ({"language": "cpp", "test_code": "int x;"}, "run in python and javascript"),
        ({"language": "python", "tests": [{"fn": "f", "expected": 1}], "checker": "pass"}, "checker judges stdin"),
        ({"language": "python", "tests": [IO_TESTS[0], {"fn": "f", "expected": 1}]}, "not both"),
        ({"language": "python", "tests": IO_TESTS, "timeout_s": 0}, "greater than 0"),
    ],
)
def test_bad_params_are_422(gateway_url: str, params: dict[str, Any], message: str) -> None:
    with RewardClient(gateway_url) as client, pytest.raises(InvalidRequest) as info:
        client.score([{"id": "a", "completion": fenced(ADD), "rewards": [{"name": "code", "params": params}]}])
    assert message in str(info.value)
    assert "items[0].rewards[0].params" in str(info.value)


@needs_jail
def test_score_code_items(gateway_url: str) -> None:
    def item(i: str, completion: str, **params: Any) -> dict[str, Any]:
        spec = {"name": "code", "params": {"language": "python", "tests": IO_TESTS, **params}}
        return {"id": i, "completion": completion, "rewards": [spec]}

    items = [
        item("right", f"<think>add them</think>\n{fenced(ADD)}"),
        item("partial", fenced("a, b = map(int, input().split())\nprint(a * b if a == 0 else a + b)\n")),
        item("partial-aon", fenced("a, b = map(int, input().split())\nprint(a * b if a == 0 else a + b)\n"),
             all_or_nothing=True),
        item("no-code", "The answer is to add the numbers."),
        item("humaneval", fenced("def add(a, b):\n    return a + b\n"), tests=[],
             test_code="def check(f):\n    assert f(1, 2) == 3\n", entry_point="add"),
        item("hack", fenced("import os\nos._exit(0)\n"), tests=[],
             test_code="def check(f):\n    assert f(1, 2) == 3\n", entry_point="add"),
    ]
    with RewardClient(gateway_url) as client:
        results = {r.id: r for r in client.score(items)}
    assert results["right"].reward == 1.0
    assert results["partial"].reward == pytest.approx(2 / 3)
    partial = results["partial"].components[0]
    assert partial.details["passed"] == 2 and partial.details["total"] == 3
    assert [t["status"] for t in partial.details["tests"]] == ["passed", "passed", "wrong_answer"]
    assert partial.reason.startswith("wrong_answer")
    assert results["partial-aon"].reward == 0.0
    no_code = results["no-code"].components[0]
    assert no_code.status is Status.OK and no_code.score == 0.0 and "no program found" in no_code.reason
    assert results["humaneval"].reward == 1.0
    assert results["hack"].reward == 0.0


@needs_jail
def test_sandbox_failure_is_an_error_not_a_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Sandbox(SandboxConfig(slots=1, python="/nonexistent/python3"))
    monkeypatch.setattr(code_module, "_shared", broken)
    try:
        params = CodeParams(language="python", tests=IO_TESTS)  # type: ignore[arg-type]
        verdict = CodeVerifier().verify(Task("x", fenced(ADD), params))
    finally:
        broken.close()
    assert verdict.status is Status.ERROR and verdict.score is None
    assert verdict.reason.startswith("sandbox_error")


@needs_jail
def test_failed_warm_up_leaves_errors_not_a_wedged_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner warms the jails up at start; jails that cannot start give items `error`, and hold no slot."""
    broken = Sandbox(SandboxConfig(slots=2, python="/nonexistent/python3"))
    monkeypatch.setattr(code_module, "_shared", broken)
    runner = InlineRunner("code", threads=4, warm=True)
    try:
        assert runner.wait_ready(60), "a failed warm-up still makes the runner ready"
        job = Job("x", fenced(ADD), {"language": "python", "tests": IO_TESTS}, 30.0)
        verdicts = [f.result(timeout=60) for f in runner.submit([job, job, job])]
    finally:
        runner.close()
        broken.close()
    assert all(v.status is Status.ERROR and v.score is None for v in verdicts)
    assert all(v.reason.startswith("sandbox_error") for v in verdicts)


@needs_jail
@pytest.mark.parametrize(
    ("language", "code", "options", "status", "stdout"),
    [
        ("python", "print(input()[::-1])", {"stdin": "abc\n"}, RunStatus.OK, "cba\n"),
        ("py", "print(open('data.txt').read().upper())", {"files": {"data.txt": "hi"}}, RunStatus.OK, "HI\n"),
        ("cpp", "#include <cstdio>\nint main(){puts(\"cpp\");}", {}, RunStatus.OK, "cpp\n"),
        ("c", "#include <stdio.h>\nint main(void){puts(\"c\"); return 0;}", {}, RunStatus.OK, "c\n"),
        ("js", "console.log('js')", {}, RunStatus.OK, "js\n"),
        ("python", "import sys\nsys.exit(4)", {}, RunStatus.RUNTIME_ERROR, ""),
        ("python", "while True: pass", {"timeout_s": 1}, RunStatus.TIMEOUT, ""),
        ("python", "x = bytearray(300 << 20)", {"memory_mb": 64}, RunStatus.MEMORY_LIMIT, ""),
        ("cpp", "int main( {", {}, RunStatus.COMPILE_ERROR, ""),
        ("python", "import sys\nsys.stdout.buffer.write(b'\\xff\\xfeok')", {}, RunStatus.OK, "\ufffd\ufffdok"),
    ],
)
def test_run_endpoint(
    gateway_url: str, language: str, code: str, options: dict[str, Any], status: RunStatus, stdout: str
) -> None:
    with RewardClient(gateway_url) as client:
        result = client.run(language, code, **options)
    assert result.status is status, result
    assert result.stdout == stdout
    if status is RunStatus.COMPILE_ERROR:
        assert "error" in result.stderr
    if status is RunStatus.RUNTIME_ERROR:
        assert result.exit_code == 4
    if status is not RunStatus.OK:
        assert result.reason


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"language": "cobol", "code": "x"}, "unknown language 'cobol'"),
        ({"language": "python", "code": "x", "files": {"../etc/passwd": "x"}}, "not a plain file name"),
        ({"language": "python", "code": "x", "files": {"main.py": "x"}}, "the program's own file name"),
        ({"language": "python", "code": "x", "timeout_s": 1000}, "timeout_s"),
        ({"language": "python", "code": "x", "memory_mb": 1}, "memory_mb"),
        ({"language": "python"}, "code"),
    ],
)
def test_run_endpoint_validates(gateway_url: str, body: dict[str, Any], message: str) -> None:
    import httpx

    response = httpx.post(f"{gateway_url}/v1/run", json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]


@needs_jail
def test_run_endpoint_under_128_concurrent_clients(gateway_url: str) -> None:
    async def main() -> list[Any]:
        async def one(i: int) -> Any:
            async with AsyncRewardClient(gateway_url, timeout_s=120) as client:
                return await client.run("python", f"print({i} * 2)")

        return await asyncio.gather(*(one(i) for i in range(128)))

    results = asyncio.run(main())
    assert [r.status for r in results] == [RunStatus.OK] * 128
    assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(128)]
