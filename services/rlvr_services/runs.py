"""`POST /v1/run`: one program run in the sandbox, for callers that judge outputs themselves.

Served by the gateway in embedded mode and by every `code` worker; it shares the `code` verifier's
pool of jails, so its runs and the verifier's are limited together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from rlvr_client.errors import InvalidRequest
from rlvr_client.models import RunRequest, RunResponse, RunStatus
from rlvr_sandbox.errors import SandboxError
from rlvr_sandbox.languages import resolve
from rlvr_sandbox.pool import Execution
from rlvr_sandbox.pool import RunStatus as SandboxStatus

from .http import ERROR_RESPONSES
from .verifiers.code import LANGUAGES, shared_sandbox


def run_response(run: Execution) -> RunResponse:
    stderr = run.stderr if run.status is not SandboxStatus.COMPILE_ERROR else (run.stderr or run.reason.encode())
    return RunResponse(
        status=RunStatus(run.status.value),
        exit_code=run.exit_code,
        signal=run.signal,
        stdout=run.stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace"),
        time_s=round(run.time_s, 6),
        cpu_s=run.cpu_s,
        memory_mb=run.memory_mb,
        reason=run.reason,
    )


async def run_program(
    language_name: str, code: str, *, stdin: bytes = b"", files: Mapping[str, bytes] | None = None,
    timeout_s: float = 10.0, memory_mb: int = 512, fetch: Sequence[str] = (),
) -> Execution:
    """The one execution path behind ``/v1/run`` and the SandboxFusion ``/run_code``: a jail of the shared pool.

    InvalidRequest (422) for an unknown language or a file name the program needs; an infrastructure fault
    comes back as a ``sandbox_error`` Execution, never as an exception.
    """
    try:
        language = resolve(LANGUAGES, language_name)
    except KeyError as exc:
        raise InvalidRequest(f"language: {exc.args[0]}", details={"field": "language"}) from None
    if files and language.source in files:
        message = f"files: {language.source!r} is the program's own file name"
        raise InvalidRequest(message, details={"field": "files"})
    try:
        return await asyncio.to_thread(
            shared_sandbox().execute, language, code, stdin=stdin, files=dict(files or {}),
            timeout_s=timeout_s, memory_mb=memory_mb, fetch=fetch,
        )
    except SandboxError as exc:
        return Execution(SandboxStatus.SANDBOX_ERROR, reason=str(exc))


def install_run(app: FastAPI) -> None:
    @app.post(
        "/v1/run",
        response_model=RunResponse,
        responses=ERROR_RESPONSES,
        tags=["sandbox"],
        summary="Run one program in the sandbox and return its outputs.",
    )
    async def run(request: RunRequest) -> RunResponse:
        files = {name: text.encode() for name, text in (request.files or {}).items()}
        result = await run_program(
            request.language, request.code, stdin=request.stdin.encode(), files=files,
            timeout_s=request.timeout_s, memory_mb=request.memory_mb,
        )
        return run_response(result)

    from .gateway.compat.sandboxfusion import install_sandboxfusion  # (imported here: it imports this module)

    install_sandboxfusion(app)  # SandboxFusion's /run_code and /v1/ping, wherever /v1/run is
