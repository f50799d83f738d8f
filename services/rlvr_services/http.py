"""HTTP pieces shared by the gateway and the worker: the one exception handler, request metrics and the health
endpoints (the body checks are in `intake`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rlvr_client.errors import (
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RLVRError,
    Unauthorized,
    Unavailable,
)
from rlvr_client.models import ErrorResponse, Health, QueueState

from .metrics import Metrics

log = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "A field or the body is over a configured limit."},
    422: {"model": ErrorResponse, "description": "Invalid request; the message names the field."},
    503: {
        "model": ErrorResponse,
        "description": "Overloaded, not ready, shutting down, or (queue mode) no live worker for the verifiers the "
        "request needs; retry after Retry-After seconds.",
    },
}


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def error_response(exc: RLVRError) -> JSONResponse:
    headers = {}
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, Unauthorized):
        invalid = ', error="invalid_token"' if exc.details.get("reason") == "invalid" else ""
        headers["WWW-Authenticate"] = f'Bearer realm="rlvr-stack"{invalid}'
    return JSONResponse(exc.to_body(), status_code=exc.http_status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """The one exception handler: every error leaves as ``{"error": {code, message, details}}``."""

    async def on_rlvr(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RLVRError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            msg = str(err.get("msg", "invalid"))
            problems.append(f"{_loc(err.get('loc', ()))}: {msg}")
        detail_errors = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg"))} for e in exc.errors()]
        return error_response(InvalidRequest("; ".join(problems[:20]), details={"errors": detail_errors[:100]}))

    async def on_http(request: Request, exc: Exception) -> Response:
        """Routing's own answers (404, 405) in the one shape; 405 keeps its Allow header."""
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        err: RLVRError
        if exc.status_code == 404:
            err = NotFound(f"{where}: no such route (see /openapi.json)")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            err = MethodNotAllowed(f"{where}: method not allowed here (allowed: {allowed})", details={"allow": allowed})
        elif exc.status_code < 500:
            err = InvalidRequest(f"{where}: {exc.detail}")
        else:
            err = InternalError(f"{where}: {exc.detail}")
        return JSONResponse(err.to_body(), status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(InternalError(f"internal error: {type(exc).__name__}"))

    app.add_exception_handler(RLVRError, on_rlvr)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


def install_request_metrics(app: FastAPI, metrics: Metrics) -> None:
    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "other")
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response


def install_health(
    app: FastAPI,
    metrics: Metrics,
    checks: Callable[[], Awaitable[dict[str, str]]],
    mode: Callable[[], str],
    refresh_metrics: Callable[[], Awaitable[None]],
    states: Callable[[], Awaitable[dict[str, QueueState]]] | None = None,
) -> None:
    @app.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness: the process answers.")
    async def healthz() -> Health:
        return Health(status="ok", mode=mode())

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["ops"],
        summary="Readiness: 200 when the verifiers (and Redis in queue mode) answer, else 503 (also while shutting "
        "down). In queue mode it lists each verifier's live workers and backlog.",
        responses={503: {"model": Health}},
    )
    async def readyz() -> Response:
        results = await checks()
        ok = bool(results) and all(v == "ok" or v.startswith("ok") for v in results.values())
        queues = await states() if states is not None else {}
        body = Health(status="ok" if ok else "not_ready", mode=mode(), checks=results, verifiers=queues)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics.", response_class=Response)
    async def prometheus() -> Response:
        await refresh_metrics()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
