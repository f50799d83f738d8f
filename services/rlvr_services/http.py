"""HTTP pieces shared by the gateway and the worker: the one exception handler, the body cap,
request metrics and the health endpoints."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rlvr_client.errors import InternalError, InvalidRequest, PayloadTooLarge, RLVRError, Unauthorized, Unavailable
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

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(InternalError(f"internal error: {type(exc).__name__}"))

    app.add_exception_handler(RLVRError, on_rlvr)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with a 413, before they are buffered whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(
            f"request body is over the limit of {self.limit:,} bytes (set RLVR_MAX_REQUEST_BYTES to change it)",
            details={"limit": self.limit},
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(too_large)(scope, receive, send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:  # buffer the body (the app would anyway), giving up as soon as it is too large
            message = await receive()
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.limit:
                await error_response(too_large)(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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
