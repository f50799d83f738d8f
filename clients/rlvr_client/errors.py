"""The one error tree of rlvr-stack, shared by the servers and the clients.

The server raises these; one exception handler turns them into ``{"error": {"code", "message",
"details"}}`` with ``http_status``; the client rebuilds the same class from ``code``. An error is
never turned into a score.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RLVRError(Exception):
    """Base of every rlvr-stack error."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InternalError(RLVRError):
    """The server failed in a way it did not expect."""


class InvalidRequest(RLVRError):
    """The request is malformed; the message names the field."""

    code = "invalid_request"
    http_status = 422


class UnknownVerifier(InvalidRequest):
    """A reward spec names a verifier that is not registered; details list the known ones."""

    code = "unknown_verifier"


class PayloadTooLarge(InvalidRequest):
    """The request, or one of its fields, is over a configured limit."""

    code = "payload_too_large"
    http_status = 413


class NotFound(InvalidRequest):
    """No route at this path (404)."""

    code = "not_found"
    http_status = 404


class MethodNotAllowed(InvalidRequest):
    """The path exists, but not with this method (405, with Allow)."""

    code = "method_not_allowed"
    http_status = 405


class UnsupportedMediaType(InvalidRequest):
    """The body is not declared as UTF-8 JSON (Content-Type), or is compressed (Content-Encoding): 415."""

    code = "unsupported_media_type"
    http_status = 415


class RequestTimeout(InvalidRequest):
    """The request's headers or body did not arrive within the server's read timeouts (408; the connection closes)."""

    code = "request_timeout"
    http_status = 408


class Unavailable(RLVRError):
    """The service cannot take the request now; retrying later may succeed."""

    code = "unavailable"
    http_status = 503

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after_s")
        return float(value) if value is not None else None


class Overloaded(Unavailable):
    """The queue backlog is full; the response carries Retry-After."""

    code = "overloaded"


class NotReady(Unavailable):
    """The service has not finished starting, is shutting down, or its verifiers/queue do not answer."""

    code = "not_ready"


class NoLiveWorker(Unavailable):
    """Queue mode: no live worker serves the verifier(s) the request needs; details name them and how to start one.

    The server answers it at once instead of queueing work nobody would take."""

    code = "no_live_worker"


class Unauthorized(RLVRError):
    """The request carries no API key, or one the server does not know (401, with WWW-Authenticate)."""

    code = "unauthorized"
    http_status = 401


class Forbidden(RLVRError):
    """The API key is valid but lacks the scope the endpoint needs (403); details name the scope."""

    code = "forbidden"
    http_status = 403


class BackendError(RLVRError):
    """A model backend (judge or reward model) failed; ``details["kind"]`` says how.

    Raised inside the service and turned into an ``error`` verdict for the items concerned, never a score.
    """

    code = "backend_error"
    http_status = 502

    @property
    def kind(self) -> str:
        return str(self.details.get("kind", "error"))


class BackendTimeout(BackendError):
    """A model backend did not answer within the item's deadline: a ``timeout`` verdict."""

    code = "backend_timeout"
    http_status = 504


class TransportError(RLVRError):
    """Client side: the server could not be reached or did not answer (after retries)."""

    code = "transport_error"
    http_status = 0


def _all_subclasses(cls: type[RLVRError]) -> list[type[RLVRError]]:
    out: list[type[RLVRError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


ERRORS_BY_CODE: dict[str, type[RLVRError]] = {c.code: c for c in _all_subclasses(RLVRError)}


def error_from_body(http_status: int, body: Any) -> RLVRError:
    """Rebuild the server's exception from a response body (any shape; falls back by status)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        cls = ERRORS_BY_CODE.get(str(err.get("code")), None)
        message = str(err.get("message", ""))
        details = err.get("details") if isinstance(err.get("details"), dict) else {}
        if cls is not None:
            return cls(message, details=details)
    else:
        message = str(body)[:2000]
        details = {}
    fallback: type[RLVRError] = InternalError
    if http_status in (413,):
        fallback = PayloadTooLarge
    elif http_status == 415:
        fallback = UnsupportedMediaType
    elif http_status == 408:
        fallback = RequestTimeout
    elif http_status == 401:
        fallback = Unauthorized
    elif http_status == 403:
        fallback = Forbidden
    elif http_status in (400, 404, 405, 422):
        fallback = InvalidRequest
    elif http_status in (502, 503, 504):
        fallback = Unavailable
    return fallback(f"HTTP {http_status}: {message}", details=details)
