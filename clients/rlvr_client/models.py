"""Wire models of the rlvr-stack v1 contract.

These are the only definitions of the request and response bodies: the gateway, the workers and
the clients all import them from here, and the OpenAPI schema is generated from them.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_VERSION = "v1"


class Status(str, Enum):
    """Outcome of one verifier on one item. Only ``ok`` carries a score."""

    OK = "ok"
    NOT_APPLICABLE = "not_applicable"
    TIMEOUT = "timeout"
    ERROR = "error"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RewardSpec(_Strict):
    """One reward to compute for an item: a verifier name, its weight and its params."""

    name: str = Field(min_length=1, max_length=128, description="Verifier name, see GET /v1/verifiers.")
    weight: float = Field(default=1.0, allow_inf_nan=False, description="Multiplier in the item's reward.")
    params: dict[str, Any] = Field(default_factory=dict, description="Verifier params (its JSON schema).")


class ScoreItem(_Strict):
    """One completion to score."""

    id: str = Field(min_length=1, max_length=512, description="Caller's id, echoed in the result.")
    prompt: str = Field(default="", description="The prompt the completion answers (some verifiers use it).")
    completion: str = Field(description="The model's output to verify.")
    rewards: list[RewardSpec] | None = Field(
        default=None, description="Rewards for this item; the request's `rewards` when absent."
    )


class ScoreRequest(_Strict):
    items: list[ScoreItem] = Field(description="Completions to score, answered in the same order.")
    rewards: list[RewardSpec] | None = Field(default=None, description="Default reward specs for items that give none.")

    @model_validator(mode="after")
    def _every_item_has_rewards(self) -> ScoreRequest:
        if self.rewards:
            return self
        for i, item in enumerate(self.items):
            if not item.rewards:
                raise ValueError(
                    f"items[{i}].rewards: item {item.id!r} has no reward specs and the request "
                    "gives no default `rewards`"
                )
        return self


class Component(BaseModel):
    """One verifier's verdict on one item."""

    name: str
    score: float | None = Field(description="The score when status is ok, else null.")
    status: Status
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class ItemResult(BaseModel):
    id: str
    reward: float | None = Field(description="Weighted sum of the scored components; null when none scored.")
    components: list[Component]


class ScoreResponse(BaseModel):
    results: list[ItemResult]


class VerifyItem(_Strict):
    """One item sent straight to a verifier service (`POST /v1/verify` on a worker)."""

    id: str = Field(min_length=1, max_length=512)
    prompt: str = ""
    completion: str
    params: dict[str, Any] = Field(default_factory=dict)


class VerifyRequest(_Strict):
    items: list[VerifyItem]
    verifier: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Which of the worker's verifiers runs the items; may be left out when the worker serves one.",
    )


class Verdict(BaseModel):
    """A verifier's answer for one `VerifyItem`."""

    id: str
    score: float | None
    status: Status
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class VerifyResponse(BaseModel):
    verifier: str
    verdicts: list[Verdict]


class QueueState(BaseModel):
    """Queue mode: one verifier's workers and backlog, as Redis holds them."""

    live_workers: int = Field(description="Workers whose heartbeat is recent (within RLVR_LIVE_WORKER_S).")
    backlog: int = Field(description="Entries in the verifier's task stream (XLEN): waiting or being run.")
    pending: int = Field(description="Of those, entries delivered to a worker and not yet acknowledged.")
    dead_letters: int = Field(default=0, description="Entries in the verifier's dead-letter stream.")


class VerifierInfo(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any]
    default_timeout_s: float
    queue: QueueState | None = Field(
        default=None,
        description="Queue mode: its live workers and backlog; null when it runs in the answering process itself.",
    )


class VerifiersResponse(BaseModel):
    verifiers: list[VerifierInfo]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code; the client maps it to an exception class.")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail


class RunStatus(str, Enum):
    """How one program run ended. Only ``sandbox_error`` is the service's fault."""

    OK = "ok"  # exited with status 0
    RUNTIME_ERROR = "runtime_error"  # non-zero exit or killed by a signal
    TIMEOUT = "timeout"  # wall-clock or CPU limit
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    COMPILE_ERROR = "compile_error"
    SANDBOX_ERROR = "sandbox_error"


FILE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$"


class RunRequest(_Strict):
    """`POST /v1/run`: one program, run once in the sandbox."""

    language: str = Field(min_length=1, max_length=32, description=(
        "python, cpp, c, javascript, bash, ruby, go, rust, java, typescript (or an alias: sandbox languages.toml)."
    ))
    code: str = Field(max_length=1_000_000, description="The program's source.")
    stdin: str = Field(default="", max_length=64_000_000, description="Its standard input.")
    files: dict[str, str] | None = Field(
        default=None, max_length=64,
        description="Extra text files put beside the program in its working directory: name → content.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Wall-clock limit (the CPU limit follows it).")
    memory_mb: int = Field(default=512, ge=16, le=8192, description="Memory limit for all its processes together.")

    @model_validator(mode="after")
    def _file_names(self) -> RunRequest:
        for name in self.files or {}:
            if not re.fullmatch(FILE_NAME_PATTERN, name):
                raise ValueError(f"files: {name!r} is not a plain file name (letters, digits, _ . -; no slashes)")
        return self


class RunResponse(BaseModel):
    status: RunStatus
    exit_code: int | None = Field(description="The exit status, null when killed by a signal or never started.")
    signal: int | None = Field(default=None, description="The signal that ended it, if any.")
    stdout: str = Field(description="Standard output (UTF-8; invalid bytes replaced by U+FFFD).")
    stderr: str = Field(description="Standard error, or the compiler's messages on compile_error.")
    time_s: float = Field(description="Wall-clock time of the run.")
    cpu_s: float | None = Field(default=None, description="CPU time of all its processes, when it ended by itself.")
    memory_mb: float | None = Field(description="Peak resident memory of its largest process.")
    reason: str = Field(default="", description="Why it ended, when not ok.")


class Health(BaseModel):
    status: str
    mode: str = ""
    checks: dict[str, str] = Field(default_factory=dict)
    verifiers: dict[str, QueueState] = Field(
        default_factory=dict,
        description="Queue mode: each queued verifier's live workers and backlog (a verifier without a live worker "
        "does not make the service unready: its requests are refused at once).",
    )
