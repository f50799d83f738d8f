"""SandboxFusion's ``POST /run_code`` and ``GET /v1/ping`` against the live gateway, driven by the SDK's own client.

The ``sandbox-fusion`` SDK 0.3.7 (pinned in tests/requirements-peers.txt, loaded by
:func:`peer_code.sandbox_fusion`) posts ``RunCodeRequest.dict()`` and raises on a non-200 answer or a
``SandboxError`` (which it retries). Its request model has no ``memory_limit_MB`` and no ``c``: those cases are
posted as raw JSON, in the shape of the server's ``RunCodeRequest``. verl's own caller, ``call_sandbox_api``
(verl 0.9.1), posts to the full ``…/run_code`` URL with ``memory_limit_MB``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from compat_stub import KEY, KEYS, RUN_ONLY_KEY
from fastapi import FastAPI
from peer_code import sandbox_fusion, verl_sandbox_fusion
from pydantic import SecretStr

from rlvr_sandbox.errors import SandboxError
from rlvr_services import runs
from rlvr_services.auth import KeyRing, install_auth, load_api_keys
from rlvr_services.http import install_error_handlers
from rlvr_services.metrics import Metrics
from rlvr_services.server import serve_in_thread

PREFIXES = ["", "/compat/sandboxfusion"]
SUM = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"
CPP_HELLO = '#include <cstdio>\nint main() { std::puts("hello"); return 0; }\n'
GO_SUM = 'package main\n\nimport "fmt"\n\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a + b) }\n'
JAVA_EXIT = "public class Main { public static void main(String[] args) { System.exit(4); } }"
FILES_PROGRAM = "text = open('in.txt').read()\nopen('out.txt', 'w').write(text.upper())\nprint(len(text))\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def sdk() -> ModuleType:
    return sandbox_fusion()


def run(sdk: ModuleType, url: str, **request: Any) -> Any:
    """One call of the SDK's own synchronous ``run_code`` (one attempt: a SandboxError raises at once)."""
    return sdk.run_code(sdk.RunCodeRequest(**request), endpoint=url, max_attempts=1, client_timeout=60)


# request, status, phase ("compile" or "run"), its status, return code, stdout
CASES: list[tuple[dict[str, Any], str, str, str, int | None, str]] = [
    ({"language": "python", "code": SUM, "stdin": "2 3"}, "Success", "run", "Finished", 0, "5\n"),
    ({"language": "python", "code": "print(6)", "stdin": "2 3"}, "Success", "run", "Finished", 0, "6\n"),  # wrong
    ({"language": "cpp", "code": CPP_HELLO}, "Success", "run", "Finished", 0, "hello\n"),
    ({"language": "cpp", "code": "int main() { return x; }"}, "Failed", "compile", "Finished", 1, ""),
    ({"language": "python", "code": "raise SystemExit(3)"}, "Failed", "run", "Finished", 3, ""),
    ({"language": "python", "code": "import os\nos.kill(os.getpid(), 9)"}, "Failed", "run", "Finished", -9, ""),
    ({"language": "python", "code": "while 1: pass", "run_timeout": 1}, "Failed", "run", "TimeLimitExceeded", None, ""),
    (
        {"language": "nodejs", "code": "process.stdin.on('data', d => console.log(d.toString().trim() + '!'))",
         "stdin": "hi"},
        "Success", "run", "Finished", 0, "hi!\n",
    ),
    # the other languages, by SandboxFusion's names
    ({"language": "bash", "code": "read a b; echo $((a + b))", "stdin": "2 3"}, "Success", "run", "Finished", 0, "5\n"),
    ({"language": "ruby", "code": "puts STDIN.read.split.sum(&:to_i)", "stdin": "2 3"}, "Success", "run", "Finished",
     0, "5\n"),
    ({"language": "go", "code": GO_SUM, "stdin": "2 3"}, "Success", "run", "Finished", 0, "5\n"),
    ({"language": "go", "code": "package main\nfunc main() { x }\n"}, "Failed", "compile", "Finished", 1, ""),
    ({"language": "java", "code": JAVA_EXIT}, "Failed", "run", "Finished", 4, ""),
    ({"language": "rust", "code": 'fn main() { println!("hello"); }'}, "Success", "run", "Finished", 0, "hello\n"),
    ({"language": "rust", "code": "fn main() { loop {} }", "run_timeout": 1}, "Failed", "run", "TimeLimitExceeded",
     None, ""),
    ({"language": "typescript", "code": 'const n: number = 7;\nconsole.log(n * 6);'}, "Success", "run", "Finished",
     0, "42\n"),
]
COMPILED = {"cpp", "go", "java", "rust", "typescript"}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("request_", "status", "phase", "phase_status", "code", "stdout"), CASES)
def test_sdk_run_code_table(
    sdk: ModuleType, gateway_url: str, prefix: str, request_: dict[str, Any], status: str, phase: str,
    phase_status: str, code: int | None, stdout: str,
) -> None:
    resp = run(sdk, gateway_url + prefix, **request_)
    assert resp.status.value == status, resp
    result = resp.compile_result if phase == "compile" else resp.run_result
    assert result is not None and result.status.value == phase_status, resp
    if phase == "compile":
        assert resp.run_result is None and result.return_code not in (None, 0) and result.stderr
    else:
        assert result.return_code == code and result.stdout == stdout, resp
        assert (resp.compile_result is not None) == (request_["language"] in COMPILED)
    assert (status == "Success") != bool(resp.message)  # empty on Success, our reason otherwise
    # the SDK's own verdict helper reads the answer as SandboxFusion's would be read
    summary = sdk.client.summary_run_code_result(resp, sdk.SummaryMapping())
    expected = {"Success": "Success", "Failed": "Failed"}[status]
    assert summary == expected


def test_files_in_and_fetch_files_out(sdk: ModuleType, gateway_url: str) -> None:
    resp = run(
        sdk, gateway_url, language="python", code=FILES_PROGRAM, files={"in.txt": b64(b"abc\n")},
        fetch_files=["out.txt", "missing.txt"],
    )
    assert resp.status.value == "Success" and resp.run_result.stdout == "4\n"
    assert resp.files == {"out.txt": b64(b"ABC\n")}  # a file the run did not make is left out


def test_memory_limit_and_c_as_raw_json(gateway_url: str) -> None:
    hog = "x = bytearray(400 << 20)\nprint(len(x))"
    body = {"language": "python", "code": hog, "memory_limit_MB": 64}
    answer = httpx.post(f"{gateway_url}/run_code", json=body, timeout=60).json()
    assert answer["status"] == "Failed" and answer["run_result"]["status"] == "Finished", answer
    assert answer["run_result"]["return_code"] not in (None, 0) and "memory" in answer["message"]
    c = {"language": "c", "code": '#include <stdio.h>\nint main(void) { puts("c"); return 0; }', "memory_limit_MB": -1}
    answer = httpx.post(f"{gateway_url}/compat/sandboxfusion/run_code", json=c, timeout=60).json()
    assert answer["status"] == "Success" and answer["run_result"]["stdout"] == "c\n", answer
    assert answer["compile_result"] == {
        "status": "Finished", "execution_time": None, "cpu_time": None, "return_code": 0, "stdout": None,
        "stderr": None,
    }


@pytest.mark.parametrize("prefix", PREFIXES)
def test_verl_call_sandbox_api(gateway_url: str, prefix: str) -> None:
    """verl's own SandboxFusion caller (its ``sandbox_fusion.url`` is the full ``…/run_code`` URL)."""
    verl = verl_sandbox_fusion()
    url = f"{gateway_url}{prefix}/run_code"
    answer, error = verl.call_sandbox_api(url, SUM, "4 5", 10, 5, 1024, "python")
    assert error is None and answer["status"] == "Success" and answer["run_result"]["stdout"] == "9\n", answer
    answer, error = verl.call_sandbox_api(url, "int main() { return x; }", None, 10, 5, 1024, "cpp")
    assert error is None and answer["status"] == "Failed" and answer["compile_result"]["return_code"] != 0
    assert answer["run_result"] is None


@pytest.mark.parametrize("prefix", PREFIXES)
def test_ping(gateway_url: str, prefix: str) -> None:
    r = httpx.get(f"{gateway_url}{prefix}/v1/ping")
    assert r.status_code == 200 and r.json() == "pong"


BAD_BODIES = [
    ({"language": "python"}, "code"),
    ({"code": "print(1)"}, "language"),
    ({"language": "lean", "code": "x"}, "language"),
    ({"language": "cobol", "code": "x"}, "language"),
    ({"language": "python", "code": "x", "run_timeout": 0}, "run_timeout"),
    ({"language": "python", "code": "x", "compile_timeout": "soon"}, "compile_timeout"),
    ({"language": "python", "code": "x", "memory_limit_MB": 8}, "memory_limit_MB"),
    ({"language": "python", "code": "x", "files": {"in.txt": "not base64!"}}, "files"),
    ({"language": "python", "code": "x", "files": {"../in.txt": b64(b"x")}}, "files"),
    ({"language": "python", "code": "x", "fetch_files": ["/etc/passwd"]}, "fetch_files"),
    ({"language": "python", "code": "x", "stdin": 5}, "stdin"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_bodies_get_422_naming_the_field(gateway_url: str, body: dict[str, Any], field: str) -> None:
    r = httpx.post(f"{gateway_url}/run_code", json=body)
    assert r.status_code == 422, r.text
    assert f"{field}:" in r.json()["error"]["message"] or r.json()["error"]["message"].startswith(field), r.text


def test_language_we_do_not_run_yet_says_so(gateway_url: str) -> None:
    r = httpx.post(f"{gateway_url}/compat/sandboxfusion/run_code", json={"language": "lean", "code": "x"})
    assert r.status_code == 422 and "SandboxFusion language rlvr-stack does not run yet" in r.text


class BrokenSandbox:
    calls = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        BrokenSandbox.calls += 1
        raise SandboxError("the jail could not start")


def test_infrastructure_failure_is_a_sandbox_error_the_sdk_retries(
    sdk: ModuleType, gateway_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "shared_sandbox", BrokenSandbox)
    answer = httpx.post(f"{gateway_url}/run_code", json={"language": "python", "code": "print(1)"})
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "SandboxError", "message": "the jail could not start", "compile_result": None, "run_result": None,
        "executor_pod_name": None, "files": {},
    }
    BrokenSandbox.calls = 0
    request = sdk.RunCodeRequest(language="python", code="print(1)")
    with pytest.raises(Exception, match="Sandbox responded with error: the jail could not start"):
        sdk.run_code(request, endpoint=gateway_url, max_attempts=2)
    assert BrokenSandbox.calls == 2  # retried, never read as a failed test


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    app = FastAPI()
    install_error_handlers(app)
    runs.install_run(app)
    install_auth(app, KeyRing(load_api_keys(SecretStr(json.dumps(KEYS)), None)), Metrics(), "127.0.0.1")
    with serve_in_thread(app) as url:
        yield url


@pytest.mark.parametrize("prefix", PREFIXES)
def test_run_code_needs_the_run_scope_and_ping_is_open(sdk: ModuleType, keyed_url: str, prefix: str) -> None:
    body = {"language": "python", "code": "print(1)"}
    assert httpx.post(f"{keyed_url}{prefix}/run_code", json=body).status_code == 401
    score_only = httpx.post(f"{keyed_url}{prefix}/run_code", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert score_only.status_code == 403
    assert httpx.get(f"{keyed_url}{prefix}/v1/ping").json() == "pong"
    # the SDK sends no headers: the key goes in the endpoint URL as Basic credentials
    host = keyed_url.removeprefix("http://")
    resp = run(sdk, f"http://sdk:{RUN_ONLY_KEY}@{host}{prefix}", language="python", code="print(1)")
    assert resp.status.value == "Success" and resp.run_result.stdout == "1\n"
