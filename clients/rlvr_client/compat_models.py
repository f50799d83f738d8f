"""Wire models of the peer protocols the gateway speaks besides its own (``/compat/...``).

Each mirrors the peer's own shapes (read from its source; see the README's "Use it from your trainer"):

- OpenRLHF's remote reward client posts ``{"query", "prompts", "labels"}`` and reads ``{"rewards", "scores",
  "extra_logs"}`` (``openrlhf/utils/agent.py``; ``remote_rm_utils.py`` in older releases);
- slime's ``remote_rm`` posts ``{"prompt", "response", "label"}`` and stores whatever JSON comes back as the
  sample's reward: a number, or a dict it reads with ``--reward-key``;
- a NeMo-Gym resources server gets ``/verify`` bodies that carry the Responses-API ``response`` plus the
  task's own fields, and answers the same body with ``reward`` and its fields added.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

__all__ = [
    "NeMoGymAggregateMetrics",
    "NeMoGymAggregateRequest",
    "NeMoGymCodeRequest",
    "NeMoGymIFRequest",
    "NeMoGymMathRequest",
    "NeMoGymResponse",
    "NeMoGymVerifyRequest",
    "OpenRLHFRequest",
    "OpenRLHFResponse",
    "SandboxFusionCommandResult",
    "SandboxFusionRequest",
    "SandboxFusionResponse",
    "SlimeRequest",
    "SlimeReward",
]


class OpenRLHFRequest(BaseModel):
    """One batch from OpenRLHF: each ``query`` is prompt + response as decoded text (special tokens kept)."""

    model_config = ConfigDict(extra="ignore")

    query: list[str] = Field(description="Prompt and response, decoded with special tokens.")
    prompts: list[str] | None = Field(default=None, description="Each query's prompt text (its prefix).")
    labels: list[JsonValue] | None = Field(
        default=None, description="Each query's label: a plain answer (math gold), or JSON carrying reward specs."
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> OpenRLHFRequest:
        n = len(self.query)
        for name in ("prompts", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name}: {len(values)} values for {n} queries (one per query)")
        return self


class OpenRLHFResponse(BaseModel):
    rewards: list[float] = Field(description="The reward of each query: the fallback where verification failed.")
    scores: list[float] = Field(description="Same as rewards (OpenRLHF filters and logs on `scores`).")
    extra_logs: dict[str, list[float]] = Field(
        description="Logged by OpenRLHF per sample: `rlvr_error` is 1.0 where the reward is the fallback."
    )


class SlimeRequest(BaseModel):
    """slime's ``remote_rm`` body: one sample."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | list[dict[str, Any]] = Field(default="", description="The prompt: text or chat messages.")
    response: str = Field(description="The model's response.")
    label: JsonValue = Field(default=None, description="A plain answer (math gold), or JSON carrying reward specs.")


class SlimeReward(BaseModel):
    """The reward as a dict (``?reward=dict``): use ``--reward-key score --log-reward-category rlvr_status``."""

    score: float = Field(description="The reward; the fallback where rlvr_status is error or timeout.")
    rlvr_status: str = Field(description="ok, unscored (no verifier applied), error or timeout.")
    rlvr_error: int = Field(description="1 where `score` is the fallback because verification failed.")
    rlvr_reason: str = Field(default="", description="Why, when not ok.")
    components: dict[str, float | None] = Field(default_factory=dict, description="Each verifier's score, or null.")


class NeMoGymResponse(BaseModel):
    """The part of an OpenAI Responses object the verifiers read: ``output`` items and their content parts."""

    model_config = ConfigDict(extra="allow")

    output: list[dict[str, Any]] = Field(description="Output items; text is read from `output_text` parts.")


class NeMoGymVerifyRequest(BaseModel):
    """Every NeMo-Gym ``/verify`` body: the rollout's request and response, plus the task's fields (echoed back)."""

    model_config = ConfigDict(extra="allow")

    responses_create_params: dict[str, Any] = Field(description="The Responses-API request of the rollout.")
    response: NeMoGymResponse


class NeMoGymMathRequest(NeMoGymVerifyRequest):
    question: str = ""
    expected_answer: str = Field(description="The gold answer.")


class NeMoGymIFRequest(NeMoGymVerifyRequest):
    id: int | str | None = None
    verifier_metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        """Older rows keep instruction_id_list / prompt / kwargs / grading_mode at the top level."""
        if not isinstance(data, dict):
            return data
        given = data.get("verifier_metadata") or {}
        if not isinstance(given, dict):
            return data  # not an object: field validation answers 422 naming verifier_metadata
        metadata = dict(given)
        for name in ("instruction_id_list", "prompt", "kwargs", "grading_mode"):
            if name not in metadata and name in data:
                metadata[name] = data[name]
        return {**data, "verifier_metadata": metadata}

    @model_validator(mode="after")
    def _has_instructions(self) -> NeMoGymIFRequest:
        missing = [f for f in ("instruction_id_list", "kwargs") if f not in self.verifier_metadata]
        if missing:
            raise ValueError(f"verifier_metadata: missing {missing}")
        grading = self.verifier_metadata.get("grading_mode", "binary")
        if grading not in ("binary", "fraction"):
            raise ValueError(f"verifier_metadata.grading_mode: {grading!r} is not binary or fraction")
        return self


class NeMoGymCodeRequest(NeMoGymVerifyRequest):
    verifier_metadata: dict[str, Any] = Field(description="`unit_tests` ({inputs, outputs, fn_name} or packed).")

    @model_validator(mode="after")
    def _has_tests(self) -> NeMoGymCodeRequest:
        if "unit_tests" not in self.verifier_metadata:
            raise ValueError("verifier_metadata.unit_tests: Field required")
        return self


class NeMoGymAggregateRequest(BaseModel):
    verify_responses: list[dict[str, Any]] = Field(description="Verify responses, with their task/rollout index.")


class NeMoGymAggregateMetrics(BaseModel):
    """Flat keys NeMo-Gym logs as they are (W&B, MLflow)."""

    group_level_metrics: list[dict[str, Any]] = Field(default_factory=list, description="Per task.")
    agent_metrics: dict[str, Any] = Field(default_factory=dict, description="Over all measured samples.")
    key_metrics: dict[str, Any] = Field(default_factory=dict, description="The headline (mean/) metrics.")
    repeat_level_metrics: list[dict[str, Any]] = Field(default_factory=list, description="Not computed: empty.")


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


def _plain_names(names: list[str], where: str) -> None:
    for name in names:
        if not _PLAIN_NAME.fullmatch(name):
            raise ValueError(f"{where}: {name!r} is not a plain file name (letters, digits, _ . + -; no paths)")


class SandboxFusionRequest(BaseModel):
    """SandboxFusion's ``RunCodeRequest`` (``sandbox/server/sandbox_api.py``; the SDK's ``models.py``)."""

    model_config = ConfigDict(extra="ignore")

    compile_timeout: float = Field(default=10, gt=0, le=120, description="Compile limit (see the deviations).")
    run_timeout: float = Field(default=10, gt=0, le=120, description="Wall-clock limit of the run, seconds.")
    memory_limit_MB: int = Field(default=-1, ge=-1, le=8192, description="-1 or 0: the default (512 MB).")
    code: str = Field(max_length=1_000_000, description="The program's source.")
    stdin: str | None = Field(default=None, max_length=64_000_000, description="Its standard input.")
    language: str = Field(min_length=1, max_length=32, description="A SandboxFusion language name (or ours).")
    files: dict[str, str | None] = Field(
        default_factory=dict, max_length=64, description="File name -> base64 content, put beside the program."
    )
    fetch_files: list[str] = Field(default_factory=list, max_length=64, description="Files to read back after.")

    @field_validator("memory_limit_MB")
    @classmethod
    def _memory(cls, value: int) -> int:
        if 0 < value < 16:
            raise ValueError("memory_limit_MB: at least 16 (or -1 for the default)")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        _plain_names(list(value), "files")
        for name, data in value.items():
            if data is not None:
                try:
                    base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    raise ValueError(f"files: the content of {name!r} is not base64") from None
        return value

    @field_validator("fetch_files")
    @classmethod
    def _fetch(cls, value: list[str]) -> list[str]:
        _plain_names(value, "fetch_files")
        return value


class SandboxFusionCommandResult(BaseModel):
    """SandboxFusion's ``CommandRunResult``: one phase (compile or run)."""

    status: Literal["Finished", "Error", "TimeLimitExceeded"]
    execution_time: float | None = None
    cpu_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class SandboxFusionResponse(BaseModel):
    """SandboxFusion's ``RunCodeResponse``; ``SandboxError`` only for our infrastructure faults."""

    status: Literal["Success", "Failed", "SandboxError"]
    message: str
    compile_result: SandboxFusionCommandResult | None = None
    run_result: SandboxFusionCommandResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict, description="Fetched file name -> base64 content.")
