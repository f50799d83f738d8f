"""Size limits on what a request may carry, checked the same way by the gateway and the workers."""

from __future__ import annotations

from rlvr_client.errors import PayloadTooLarge

from .settings import CommonSettings


def check_count(field: str, size: int, limit: int, setting: str) -> None:
    if size > limit:
        raise PayloadTooLarge(
            f"{field} has {size:,} entries; the limit is {limit:,} (set {setting} to change it)",
            details={"field": field, "size": size, "limit": limit},
        )


def check_text(field: str, text: str, limit: int, setting: str) -> None:
    if len(text) > limit:
        raise PayloadTooLarge(
            f"{field} is {len(text):,} characters; the limit is {limit:,} (set {setting} to change it)",
            details={"field": field, "size": len(text), "limit": limit},
        )


def check_item(index: int, completion: str, prompt: str, settings: CommonSettings) -> None:
    check_text(f"items[{index}].completion", completion, settings.max_completion_chars, "RLVR_MAX_COMPLETION_CHARS")
    check_text(f"items[{index}].prompt", prompt, settings.max_prompt_chars, "RLVR_MAX_PROMPT_CHARS")
