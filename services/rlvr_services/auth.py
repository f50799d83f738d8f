"""Optional API keys: bearer tokens with scopes, checked by one ASGI middleware in front of every route.

Keys come from ``RLVR_API_KEYS`` (JSON) and the mounted file ``RLVR_API_KEYS_FILE`` (JSON or YAML), both
in one shape: ``{"keys": [{"name": "trainer", "key": "<token>", "scopes": ["score", "run", "admin"]}]}``.
With no key configured every endpoint is open (and a service listening beyond loopback says so loudly).

- ``score``: ``POST /v1/score``, ``GET /v1/verifiers``, a worker's ``POST /v1/verify``, and the peer protocols
  that score (``/compat/openrlhf/…``, ``/compat/slime…``, ``/compat/nemo-gym/…``);
- ``run``: ``POST /v1/run`` (it executes programs), and SandboxFusion's ``POST /run_code`` (also under
  ``/compat/sandboxfusion/``; the SDK sends no headers: put the key in the URL as Basic credentials);
- ``admin``: ``GET /metrics``;
- open: ``/healthz`` and ``/readyz`` (probes), SandboxFusion's ``GET /v1/ping`` (its probe: it answers
  "pong" and runs nothing), ``/docs`` and ``/openapi.json`` (the schema, no data).
  Any other path needs a valid key of any scope.

A key may also come as the password of HTTP Basic credentials (any user name), for peer clients that send no
headers of their own but take credentials in the URL.

Only a SHA-256 digest of each key is kept; a presented token is hashed and compared with every key's digest
with ``hmac.compare_digest`` (same length, no early exit). A key never reaches a log line or a metric: denials
are logged and counted by the key's *name* only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from rlvr_client.errors import Forbidden, RLVRError, Unauthorized

from .http import error_response
from .metrics import Metrics

log = logging.getLogger(__name__)

REALM = "rlvr-stack"


class KeyScope(str, Enum):
    SCORE = "score"
    RUN = "run"
    ADMIN = "admin"


OPEN_PATHS = frozenset({
    "/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
    "/v1/ping", "/compat/sandboxfusion/v1/ping",  # SandboxFusion's liveness probe
})
PATH_SCOPES: dict[str, KeyScope] = {
    "/v1/score": KeyScope.SCORE,
    "/v1/verifiers": KeyScope.SCORE,
    "/v1/verify": KeyScope.SCORE,
    "/v1/run": KeyScope.RUN,
    "/run_code": KeyScope.RUN,
    "/metrics": KeyScope.ADMIN,
}
# the peer protocols that score (OpenRLHF, slime, NeMo-Gym), under their prefix
PREFIX_SCOPES: tuple[tuple[str, KeyScope], ...] = (
    ("/compat/openrlhf/", KeyScope.SCORE),
    ("/compat/slime", KeyScope.SCORE),
    ("/compat/nemo-gym/", KeyScope.SCORE),
    ("/compat/sandboxfusion/", KeyScope.RUN),  # SandboxFusion's /run_code runs programs
)


class KeyEntry(BaseModel):
    # a key must never be echoed back, not even in a validation error
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$", description="Logged; never secret.")
    key: SecretStr = Field(min_length=16, max_length=4096, description="The bearer token (16 characters at least).")
    scopes: list[KeyScope] = Field(min_length=1, description="score, run, admin.")


class KeysConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    keys: list[KeyEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> KeysConfig:
        names = [k.name for k in self.keys]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"API key names must be unique: {', '.join(twice)} given more than once")
        if len({k.key.get_secret_value() for k in self.keys}) != len(self.keys):
            raise ValueError("two API keys have the same token; give each client its own")
        return self


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes  # SHA-256 of the token: the token itself is not kept
    scopes: frozenset[KeyScope]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _parse(text: str, source: str, yaml_ok: bool) -> dict[str, Any]:
    """JSON (or YAML) text to a mapping; errors say where, never what (the text holds keys)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if not yaml_ok:
            raise ValueError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as yexc:
            mark = getattr(yexc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ValueError(f"{source}: not valid JSON or YAML{where}") from None
    if not isinstance(data, dict):
        raise ValueError(f'{source}: expected a mapping {{"keys": [{{"name", "key", "scopes"}}]}}')
    return data


def load_api_keys(inline: SecretStr | None, file: str | None) -> list[ApiKey]:
    """The keys of ``RLVR_API_KEYS_FILE`` and ``RLVR_API_KEYS`` together; a bad entry fails the start, by field."""
    entries: list[dict[str, Any]] = []
    sources = []
    if file:
        sources.append(("RLVR_API_KEYS_FILE " + file, Path(file).read_text(encoding="utf-8"), True))
    if inline is not None and inline.get_secret_value().strip():
        sources.append(("RLVR_API_KEYS", inline.get_secret_value(), False))
    for source, text, yaml_ok in sources:
        keys = _parse(text, source, yaml_ok).get("keys", [])
        if not isinstance(keys, list):
            raise ValueError(f"{source}: `keys` must be a list")
        entries.extend(keys)
    try:
        config = KeysConfig.model_validate({"keys": entries})
    except ValidationError as exc:
        problems = "; ".join(f"keys.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid API keys: {problems}") from None
    return [
        ApiKey(k.name, _digest(k.key.get_secret_value()), frozenset(k.scopes))
        for k in config.keys
    ]


class KeyRing:
    """The configured keys; ``identify`` compares a token with every one of them in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    def __bool__(self) -> bool:
        return bool(self.keys)

    def identify(self, token: str) -> ApiKey | None:
        presented = _digest(token)
        found = None
        for key in self.keys:  # no early exit: the time does not depend on which key matched
            if hmac.compare_digest(key.digest, presented) and found is None:
                found = key
        return found


def required_scope(path: str) -> KeyScope | None:
    """The scope a path needs; None for a path any valid key may call (check ``OPEN_PATHS`` first)."""
    path = path.rstrip("/") or "/"
    if path in PATH_SCOPES:
        return PATH_SCOPES[path]
    return next((scope for prefix, scope in PREFIX_SCOPES if path.startswith(prefix)), None)


def _bearer(scope: Scope) -> str | None:
    """The bearer token; or the password of HTTP Basic credentials, for clients that can only put a key in the
    URL (``http://rlvr:KEY@host/…``: OpenRLHF's and slime's reward clients send no headers of their own)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            token = token.strip()
            if kind.lower() == "basic" and token:
                try:
                    token = base64.b64decode(token, validate=True).decode("utf-8").partition(":")[2]
                except (ValueError, UnicodeDecodeError):
                    return None
                return token or None
            return token if kind.lower() == "bearer" and token else None
    return None


class _Throttle:
    """One log line per (status, key name) every ``every_s`` at most; the rest are counted in the next one."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last: dict[tuple[int, str], tuple[float, int]] = {}

    def __call__(self, status: int, name: str, emit: Callable[[int], None]) -> None:
        now = time.monotonic()
        at, skipped = self.last.get((status, name), (-self.every_s, 0))
        if now - at >= self.every_s:
            emit(skipped)
            self.last[(status, name)] = (now, 0)
        else:
            self.last[(status, name)] = (at, skipped + 1)


class ApiKeyAuth:
    """ASGI middleware: 401 without a known bearer token, 403 when its key lacks the path's scope."""

    def __init__(self, app: ASGIApp, ring: KeyRing, metrics: Metrics) -> None:
        self.app = app
        self.ring = ring
        self.metrics = metrics
        self.throttle = _Throttle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        key = self.ring.identify(token) if token else None
        error: RLVRError | None = None
        if key is None:
            reason = "invalid" if token else "missing"
            message = (
                "the API key is not valid" if token else "this endpoint needs an API key: Authorization: Bearer <key>"
            )
            error = Unauthorized(message, details={"reason": reason})
        else:
            need = required_scope(path)
            if need is not None and need not in key.scopes:
                message = f"the API key {key.name!r} lacks the {need.value!r} scope that {path} needs"
                error = Forbidden(message, details={"required_scope": need.value, "key": key.name})
        if error is None:
            assert key is not None
            scope.setdefault("state", {})["api_key"] = key.name
            await self.app(scope, receive, send)
            return
        name = key.name if key is not None else ("(none)" if token is None else "(unknown)")
        self.metrics.auth_denied.labels(str(error.http_status), name).inc()
        client = scope.get("client") or ("?", 0)

        def emit(skipped: int) -> None:
            more = f" (and {skipped} more since the last such line)" if skipped else ""
            log.warning(
                "%d for %s %s from %s, key %s: %s%s",
                error.http_status, scope.get("method", "?"), path, client[0], name, error.code, more,
            )

        self.throttle(error.http_status, name, emit)
        await error_response(error)(scope, receive, send)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost, or "" (every interface)
        return False


def install_auth(app: FastAPI, ring: KeyRing, metrics: Metrics, host: str) -> None:
    """Put the key check in front of ``app`` (add it last: it must run before the body is read) and say
    at start-up whether keys are on; document the scheme in the OpenAPI schema when they are."""
    if not ring:
        if not _is_loopback(host):
            log.warning(
                "\n%s\nSECURITY WARNING: listening on %r with NO API KEYS: anyone who can reach this port can score, "
                "run programs (POST /v1/run on code workers) and read /metrics. Set RLVR_API_KEYS_FILE (a mounted "
                "JSON/YAML file) or RLVR_API_KEYS, or bind to 127.0.0.1.\n%s",
                "!" * 100, host, "!" * 100,
            )
        return
    log.info("API keys on: %d key(s): %s", len(ring.keys), ", ".join(k.name for k in ring.keys))
    app.add_middleware(ApiKeyAuth, ring=ring, metrics=metrics)
    _document(app)


def _document(app: FastAPI) -> None:
    """Add the bearer scheme, each operation's security requirement and its 401/403 answers to the schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the service (RLVR_API_KEYS / RLVR_API_KEYS_FILE).",
        }
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        for path, operations in schema.get("paths", {}).items():
            if path in OPEN_PATHS:
                continue
            need = required_scope(path)
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
                responses = operation.setdefault("responses", {})
                responses["401"] = {"description": "No API key, or an unknown one.", "content": error}
                if need is not None:
                    responses["403"] = {"description": f"The key lacks the {need.value!r} scope.", "content": error}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
