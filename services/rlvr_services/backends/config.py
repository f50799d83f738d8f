"""Settings of one model backend. A request names a backend; only these settings say where it is.

The server reads them from ``RLVR_BACKENDS`` (a JSON object: name → settings) or from the JSON/YAML
file named by ``RLVR_BACKENDS_FILE``. An API key is never a setting: ``api_key_env`` names the
environment variable that holds it, read when the backend is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(default=64, ge=1, description="Requests in flight to this backend at most.")
    requests_per_minute: float | None = Field(default=None, gt=0, description="Request rate cap (token bucket).")
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Token rate cap: prompt estimate (chars/4) plus max_tokens, per request."
    )
    timeout_s: float = Field(default=60.0, gt=0, description="One HTTP attempt's timeout (the deadline caps it).")
    retries: int = Field(default=4, ge=0, description="Retries of connection errors, timeouts, 408, 429 and 5xx.")
    backoff_s: float = Field(default=0.5, ge=0, description="First retry's backoff; doubles each retry, jittered.")
    max_backoff_s: float = Field(default=20.0, ge=0, description="Cap of one backoff (and of an honoured Retry-After).")
    breaker_failures: int = Field(
        default=20, ge=1, description="Consecutive failed calls that open the circuit breaker."
    )
    breaker_reset_s: float = Field(
        default=30.0, gt=0, description="Open this long, then one trial call decides whether it closes."
    )


class OpenAIBackend(_Limits):
    """Any OpenAI-compatible ``/v1/chat/completions``: vLLM, SGLang, ``transformers serve``, hosted APIs."""

    kind: Literal["openai"] = "openai"
    base_url: str = Field(description="The server's URL up to and including /v1, e.g. http://vllm:8000/v1.")
    model: str = Field(description="The `model` field sent with every request.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the bearer key.")
    choice_style: Literal["structured_outputs", "guided_choice", "none"] = Field(
        default="none",
        description="How constrained choice is asked for: vLLM's structured_outputs, its older guided_choice, "
        "or none (choice mode then generates freely and parses).",
    )
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Fields merged into every request body.")


class RewardServerBackend(_Limits):
    """A served sequence-classification reward model, in one of the peers' wire shapes."""

    kind: Literal["vllm_classify", "vllm_pooling", "sglang", "openrlhf"]
    base_url: str = Field(description="The server's root URL (the path is the protocol's own).")
    model: str = Field(default="", description="The `model` field, where the protocol has one.")
    api_key_env: str | None = None
    tokenizer: str | None = Field(
        default=None,
        description="Local tokenizer folder whose chat template renders (prompt, completion); without one the "
        "text is sent as prompt + completion.",
    )
    raw_scores_field: Literal["use_activation", "activation"] = Field(
        default="use_activation",
        description="vLLM: the request field that turns the sigmoid of a one-label classifier off, so the score is "
        "the raw logit (use_activation since vLLM 0.12; activation for 0.10-0.11; 0.12-0.13 honour only "
        "use_activation).",
    )
    batch_size: int = Field(default=64, ge=1, description="Texts per request.")
    linger_ms: float = Field(default=2.0, ge=0, description="How long a batch waits for more texts.")


class TransformersBackend(BaseModel):
    """A model run in this process with transformers: a reward model or a causal-LM judge."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["transformers"] = "transformers"
    path: str = Field(description="Local model folder (save_pretrained layout).")
    task: Literal["judge", "reward"] = Field(description="judge: a causal LM; reward: sequence classification.")
    device: str = Field(default="cpu", description="cpu, cuda, cuda:1, ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    max_batch_tokens: int = Field(default=8192, ge=1, description="Padded tokens per forward pass at most.")
    max_batch_size: int = Field(default=64, ge=1)
    max_length: int | None = Field(default=None, ge=1, description="Input tokens at most (default: the model's).")
    linger_ms: float = Field(default=2.0, ge=0, description="How long a batch waits for more requests.")
    concurrency: int = Field(default=1024, ge=1, description="Requests waiting or running at most.")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: torch's).")
    breaker_failures: int = Field(default=20, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)


BackendConfig = Annotated[OpenAIBackend | RewardServerBackend | TransformersBackend, Field(discriminator="kind")]
BACKENDS_ADAPTER: TypeAdapter[dict[str, BackendConfig]] = TypeAdapter(dict[str, BackendConfig])


def load_backends(inline: dict[str, Any] | None, file: str | None) -> dict[str, BackendConfig]:
    """The backends of a service: the file's, then ``inline`` (the same names win)."""
    raw: dict[str, Any] = {}
    if file:
        text = Path(file).read_text(encoding="utf-8")
        if file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{file}: expected a mapping of backend name to settings")
        raw.update(data.get("backends", data))
    raw.update(inline or {})
    return BACKENDS_ADAPTER.validate_python(raw)
