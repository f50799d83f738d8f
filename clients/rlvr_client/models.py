"""Wire models of the rlvr-stack v1 contract.

These are the only definitions of the request and response bodies: the gateway, the workers and
the clients all import them from here, and the OpenAPI schema is generated from them.
"""

from __future__ import annotations

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


class VerifierInfo(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any]
    default_timeout_s: float


class VerifiersResponse(BaseModel):
    verifiers: list[VerifierInfo]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code; the client maps it to an exception class.")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str
    mode: str = ""
    checks: dict[str, str] = Field(default_factory=dict)
