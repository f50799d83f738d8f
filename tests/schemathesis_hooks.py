"""Schemathesis hooks of the fuzz tests (`SCHEMATHESIS_HOOKS=schemathesis_hooks`): every error answer, 4xx or 5xx,
has the one error shape ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def one_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"a {response.status_code} answer is not JSON: {response.content[:200]!r}") from exc
    error = body.get("error") if isinstance(body, dict) else None
    shaped = (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(error, dict)
        and set(error) == {"code", "message", "details"}
        and isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and isinstance(error["details"], dict)
    )
    if not shaped:
        raise AssertionError(f"a {response.status_code} answer is not the one error shape: {body!r:.300}")
    return True
