"""SandboxFusion's sandbox API: ``POST /run_code`` and ``GET /v1/ping``, at the root and under
``/compat/sandboxfusion``.

verl's sandbox settings (``sandbox_fusion.url``) and the ``sandbox-fusion`` SDK (``run_code``,
``set_sandbox_endpoint``) work unchanged: point them at ``http://HOST:8000`` (or ``…/compat/sandboxfusion``).
Served wherever ``POST /v1/run`` is (the embedded gateway and every ``code`` worker), through the same execution
path (:func:`rlvr_services.runs.run_program`: the shared pool of jails, network closed, as for every run).

The request is SandboxFusion's ``RunCodeRequest`` (``code``, ``language``, ``compile_timeout``, ``run_timeout``,
``memory_limit_MB``, ``stdin``, base64 ``files``, ``fetch_files``); the answer its ``RunCodeResponse``. The
mapping from our ``/v1/run`` statuses:

===============  ===========  ===============================================================================
/v1/run status   status       compile_result / run_result
===============  ===========  ===============================================================================
ok               Success      run_result Finished, return_code 0 (compiled languages: compile_result Finished, 0)
runtime_error    Failed       run_result Finished, return_code = exit status, or -signal when killed
memory_limit     Failed       run_result Finished, return_code = exit status or -signal (-9 if neither)
timeout          Failed       run_result TimeLimitExceeded, return_code null
output_limit     Failed       run_result Error, return_code null (the sandbox stopped an oversized output)
compile_error    Failed       compile_result Finished with the compiler's non-zero return_code and messages
                              (TimeLimitExceeded when the compiler ran out of time); no run_result
sandbox_error    SandboxError no results; ``message`` says what failed. Only our infrastructure faults: the SDK
                              retries them (``max_attempts``), and verl never counts one as a failed test
===============  ===========  ===============================================================================

``message`` is empty on Success and carries our ``reason`` otherwise. HTTP status is 200 for every run, as in
SandboxFusion; 422 (naming the field) for a malformed body, an unknown language, a language SandboxFusion
has that we do not run yet, a file name that is not a plain name, or ``files`` content that is not base64.

Deviations, and why:

- ``compile_timeout`` is accepted and checked but a compile runs under its language's own limit from
  ``languages.toml``: compiled programs are cached by source, so one compile serves many requests;
- ``memory_limit_MB`` ``-1`` (SandboxFusion's "no limit") and ``0`` mean our default, 512 MB: the jail always
  has a memory limit. ``run_timeout`` is at most 120 s, as on ``/v1/run``;
- file names are plain names in the program's working directory (no paths); ``files`` entries whose content is
  null are skipped; a ``fetch_files`` name the run did not create (or left as a link, or too large) is left out
  of ``files`` in the answer;
- unit-test execution modes (``pytest``, ``jest``, ``go_test``, ``junit``, ``gtest``, ``D_ut``), ``jupyter``,
  ``sql``, ``cuda``/``python_gpu``, ``verilog``, ``lean`` and ``react`` are not offered: 422;
- ``executor_pod_name`` is always null; the network is closed (SandboxFusion leaves it open).
"""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, FastAPI

from rlvr_client.compat_models import SandboxFusionCommandResult, SandboxFusionRequest, SandboxFusionResponse
from rlvr_client.errors import InvalidRequest
from rlvr_sandbox.languages import resolve
from rlvr_sandbox.pool import Execution
from rlvr_sandbox.pool import RunStatus as Status

from ...http import ERROR_RESPONSES
from ...runs import run_program
from ...verifiers.code import LANGUAGES

__all__ = ["SANDBOXFUSION_LANGUAGES", "install_sandboxfusion", "sandboxfusion_response"]

# SandboxFusion's own names (its RunCodeRequest.language), with ours where they differ
SANDBOXFUSION_LANGUAGES = (
    "python", "python2", "cpp", "nodejs", "go", "go_test", "java", "php", "csharp", "bash", "typescript", "sql",
    "rust", "cuda", "lua", "R", "perl", "D_ut", "ruby", "scala", "julia", "pytest", "junit", "kotlin_script",
    "jest", "verilog", "python_gpu", "lean", "swift", "racket", "gtest", "react",
)
_OUR_NAMES = {"nodejs": "javascript", "R": "r", "kotlin_script": "kotlin"}
DEFAULT_MEMORY_MB = 512


def language_name(name: str) -> str:
    """Our language for a SandboxFusion (or our own) language name; InvalidRequest (422) when we have none."""
    for candidate in (name, _OUR_NAMES.get(name, name)):
        try:
            return resolve(LANGUAGES, candidate).name
        except KeyError:
            continue
    known = ", ".join(sorted(LANGUAGES))
    if name in SANDBOXFUSION_LANGUAGES:
        message = f"language: {name!r} is a SandboxFusion language rlvr-stack does not run yet; it runs: {known}"
    else:
        message = f"language: unknown language {name!r}; rlvr-stack runs: {known}"
    raise InvalidRequest(message, details={"field": "language"})


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _return_code(run: Execution) -> int | None:
    if run.exit_code is not None:
        return run.exit_code
    return -run.signal if run.signal is not None else None


def sandboxfusion_response(run: Execution, *, compiled: bool) -> SandboxFusionResponse:
    """Our Execution as SandboxFusion's RunCodeResponse (the mapping in the module docstring)."""
    if run.status is Status.SANDBOX_ERROR:
        return SandboxFusionResponse(status="SandboxError", message=run.reason or "sandbox error")
    files = {name: base64.b64encode(data).decode() for name, data in run.fetched.items()}
    if run.status is Status.COMPILE_ERROR:
        timed_out = run.reason.startswith("compilation timed out")
        compile_result = SandboxFusionCommandResult(
            status="TimeLimitExceeded" if timed_out else "Finished",
            execution_time=round(run.time_s, 6),
            return_code=None if timed_out else (_return_code(run) or 1),
            stdout=_text(run.stdout),
            stderr=_text(run.stderr or run.reason.encode()),
        )
        return SandboxFusionResponse(status="Failed", message=run.reason, compile_result=compile_result, files=files)
    status: Literal["Finished", "Error", "TimeLimitExceeded"] = "Finished"
    code = _return_code(run)
    if run.status is Status.TIMEOUT:
        status, code = "TimeLimitExceeded", None
    elif run.status is Status.OUTPUT_LIMIT:
        status, code = "Error", None
    elif run.status is Status.MEMORY_LIMIT and code is None:
        code = -9
    run_result = SandboxFusionCommandResult(
        status=status,
        execution_time=round(run.time_s, 6),
        cpu_time=run.cpu_s,
        return_code=code,
        stdout=_text(run.stdout),
        stderr=_text(run.stderr),
    )
    ok = run.status is Status.OK
    return SandboxFusionResponse(
        status="Success" if ok else "Failed",
        message="" if ok else run.reason,
        compile_result=SandboxFusionCommandResult(status="Finished", return_code=0) if compiled else None,
        run_result=run_result,
        files=files,
    )


async def run_code(body: SandboxFusionRequest) -> SandboxFusionResponse:
    name = language_name(body.language)
    files = {path: base64.b64decode(data) for path, data in body.files.items() if data is not None}
    memory_mb = DEFAULT_MEMORY_MB if body.memory_limit_MB <= 0 else body.memory_limit_MB
    run = await run_program(
        name, body.code, stdin=(body.stdin or "").encode(), files=files, timeout_s=body.run_timeout,
        memory_mb=memory_mb, fetch=body.fetch_files,
    )
    return sandboxfusion_response(run, compiled=LANGUAGES[name].compiled)


async def ping() -> str:
    return "pong"


def install_sandboxfusion(app: FastAPI) -> None:
    """The routes at the root (as SandboxFusion serves them) and under ``/compat/sandboxfusion``."""
    for prefix in ("", "/compat/sandboxfusion"):
        router = APIRouter(prefix=prefix, tags=["compat: SandboxFusion"])
        router.add_api_route(
            "/run_code", run_code, methods=["POST"], response_model=SandboxFusionResponse,
            responses=ERROR_RESPONSES, summary="SandboxFusion run_code: one program in the jail (RunCodeResponse).",
        )
        router.add_api_route(
            "/v1/ping", ping, methods=["GET"], response_model=str, summary="SandboxFusion liveness: \"pong\".",
        )
        app.include_router(router)
