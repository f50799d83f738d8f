"""`POST /v1/run`: one program run in the sandbox, for callers that judge outputs themselves.

Served by the gateway in embedded mode and by every `code` worker; it shares the `code` verifier's
pool of jails, so its runs and the verifier's are limited together.
"""

from __future__ import annotations

import asyncio

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


def install_run(app: FastAPI) -> None:
    @app.post(
        "/v1/run",
        response_model=RunResponse,
        responses=ERROR_RESPONSES,
        tags=["sandbox"],
        summary="Run one program in the sandbox and return its outputs.",
    )
    async def run(request: RunRequest) -> RunResponse:
        try:
            language = resolve(LANGUAGES, request.language)
        except KeyError as exc:
            raise InvalidRequest(f"language: {exc.args[0]}", details={"field": "language"}) from None
        if request.files and language.source in request.files:
            message = f"files: {language.source!r} is the program's own file name"
            raise InvalidRequest(message, details={"field": "files"})
        files = {name: text.encode() for name, text in (request.files or {}).items()}
        try:
            result = await asyncio.to_thread(
                shared_sandbox().execute, language, request.code, stdin=request.stdin.encode(), files=files,
                timeout_s=request.timeout_s, memory_mb=request.memory_mb,
            )
        except SandboxError as exc:
            result = Execution(SandboxStatus.SANDBOX_ERROR, reason=str(exc))
        return run_response(result)
