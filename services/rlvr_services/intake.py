"""What a request must be before a route sees it, checked by one ASGI middleware in front of every route.

A request that carries a body must say it is JSON (``Content-Type: application/json``, or ``…+json``; a charset,
if given, is UTF-8) and not be compressed (no ``Content-Encoding``): else 415. The body is read within
``RLVR_BODY_TIMEOUT_S`` of the headers (else 408 and the connection closes: a client sending a byte a second
cannot hold a connection) and up to ``RLVR_MAX_REQUEST_BYTES`` (else 413). Then it must be UTF-8, be JSON,
be nested at most ``RLVR_MAX_JSON_DEPTH`` deep and have no lone surrogate (``"\\ud800"``: not Unicode text)
in any string, key or value, anywhere: else 422 naming the field. All answers have the one error shape.

The limits are documented in the OpenAPI schema: every operation with a body lists 408, 413, 415 and 422,
and every operation the drain gate can refuse lists 503.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rlvr_client.errors import InvalidRequest, PayloadTooLarge, RequestTimeout, RLVRError, UnsupportedMediaType
from rlvr_client.models import ErrorResponse

from .drain import PASS_PATHS
from .http import error_response
from .settings import CommonSettings

# an escaped high surrogate not followed by a low one, or a low one not preceded by a high one: only then is the
# parsed body searched for the field (an escaped backslash before "ud800" can match too; the search settles it)
_LONE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SCHEMA_ONLY = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def media_type_problem(headers: dict[bytes, bytes]) -> str | None:
    """Why a body with these headers is not UTF-8 JSON we can read, or None."""
    encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
    if encoding not in ("", "identity"):
        return f"Content-Encoding {encoding!r} is not accepted: send the JSON body uncompressed"
    raw = headers.get(b"content-type")
    if raw is None:
        return "the request has a body but no Content-Type: send Content-Type: application/json"
    media, *params = (part.strip() for part in raw.decode("latin-1").split(";"))
    media = media.lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return f"Content-Type {media!r} is not accepted: the body must be JSON (application/json)"
    for param in params:
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return f"charset {charset!r} is not accepted: JSON is UTF-8"
    return None


def _field(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "body"


def _deeper_than(root: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (the body itself is level 1); level by level."""
    level = [root] if type(root) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        add = below.append
        for node in level:
            for value in node.values() if type(node) is dict else node:
                if type(value) is dict or type(value) is list:
                    add(value)
        level = below
    return False


def _first_path(root: Any, found: Callable[[Any, int], bool]) -> list[str | int]:
    """The path of the first node (depth first) for which ``found(node, depth)`` holds."""
    stack: list[tuple[Any, list[str | int]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if found(node, len(path)):
            return path
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((value, [*path, key]) for key, value in reversed(list(children)))
    return []


def _lone_surrogate(node: Any) -> bool:
    if isinstance(node, str):
        return _SURROGATE.search(node) is not None
    return isinstance(node, dict) and any(_SURROGATE.search(key) for key in node)


def check_json_body(body: bytes, max_depth: int) -> None:
    """Raise `InvalidRequest` (422) naming the field when ``body`` is not UTF-8 JSON we can take."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"body: not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); JSON text must be UTF-8",
            details={"field": "body", "offset": exc.start},
        ) from None
    try:
        root = json.loads(text)
    except RecursionError:
        root = None
        deep = True
    except ValueError as exc:
        raise InvalidRequest(
            f"body: invalid JSON: {exc}", details={"field": "body", "offset": getattr(exc, "pos", None)}
        ) from None
    else:
        deep = _deeper_than(root, max_depth)
    if deep:
        path = _first_path(root, lambda node, depth: type(node) in (dict, list) and depth >= max_depth)
        shown = _field(path[:12]) + ("…" if len(path) > 12 else "")
        raise InvalidRequest(
            f"{shown}: JSON nested deeper than {max_depth} levels (arrays and objects; set RLVR_MAX_JSON_DEPTH to "
            "change it)",
            details={"field": shown, "limit": max_depth},
        )
    if _LONE_ESCAPE.search(body) is None:
        return
    path = _first_path(root, lambda node, _depth: _lone_surrogate(node))
    if path or _lone_surrogate(root):
        node = root
        for part in path:
            node = node[part]
        where = "a key of this object" if isinstance(node, dict) else "the string"
        raise InvalidRequest(
            f"{_field(path)}: {where} has a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which is "
            "not Unicode text; send valid UTF-8 or a surrogate pair",
            details={"field": _field(path)},
        )


class BodyGuard:
    """ASGI middleware: the checks of this module, before the body is handed to the app (buffered whole)."""

    def __init__(self, app: ASGIApp, limit: int, max_depth: int, body_timeout_s: float) -> None:
        self.app = app
        self.limit = limit
        self.max_depth = max_depth
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        has_body = (length.isdigit() and int(length) > 0) or b"transfer-encoding" in headers
        if has_body and scope.get("method") in _BODY_METHODS:
            problem = media_type_problem(headers)
            if problem is not None:
                await self._refuse(UnsupportedMediaType(problem, details={"field": "headers"}), scope, receive, send)
                return
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(self._too_large(), scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        try:
            async with asyncio.timeout(self.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away: nobody to answer
                    chunk = message.get("body", b"")
                    seen += len(chunk)
                    if seen > self.limit:
                        await self._refuse(self._too_large(), scope, receive, send)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            late = RequestTimeout(
                f"the request body did not arrive within {self.body_timeout_s:g}s of its headers ({seen:,} bytes "
                "came); the connection is closed (RLVR_BODY_TIMEOUT_S)",
                details={"timeout_s": self.body_timeout_s, "received_bytes": seen},
            )
            await self._refuse(late, scope, receive, send, close=True)
            return
        body = b"".join(chunks)
        if body and scope.get("method") in _BODY_METHODS:
            try:
                check_json_body(body, self.max_depth)
            except InvalidRequest as exc:
                await self._refuse(exc, scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body is over the limit of {self.limit:,} bytes (set RLVR_MAX_REQUEST_BYTES to change it)",
            details={"limit": self.limit},
        )

    @staticmethod
    async def _refuse(exc: RLVRError, scope: Scope, receive: Receive, send: Send, close: bool = False) -> None:
        response = error_response(exc)
        if close:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


BODY_ANSWERS: dict[str, str] = {
    "408": "The body did not arrive within RLVR_BODY_TIMEOUT_S of the headers; the connection is closed.",
    "413": "A field or the body is over a configured limit.",
    "415": "The body is not JSON (Content-Type application/json, UTF-8) or is compressed (Content-Encoding).",
    "422": "Invalid request: not UTF-8, not JSON, nested deeper than RLVR_MAX_JSON_DEPTH, a lone surrogate in a "
    "string, or a field the schema refuses; the message names the field.",
}


def document_intake(app: FastAPI) -> None:
    """Add the answers of this module and of the drain gate to every operation of the OpenAPI schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorResponse" not in schemas:
            model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(model.pop("$defs", {}))
            schemas["ErrorResponse"] = model
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    for status, description in BODY_ANSWERS.items():
                        responses.setdefault(status, {"description": description, "content": _error_content()})
                if path not in PASS_PATHS and path not in _SCHEMA_ONLY:
                    responses.setdefault(
                        "503",
                        {"description": "Not ready or shutting down; retry after Retry-After seconds.",
                         "content": _error_content()},
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_intake(app: FastAPI, settings: CommonSettings) -> None:
    """The body checks (added after the routes' own middleware, before the drain gate and the key check)."""
    app.add_middleware(
        BodyGuard,
        limit=settings.max_request_bytes,
        max_depth=settings.max_json_depth,
        body_timeout_s=settings.body_timeout_s,
    )
    document_intake(app)
