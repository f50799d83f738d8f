"""Settings of the two deployables (gateway, worker), read from ``RLVR_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rlvr_client.labels import SpecTemplate
from rlvr_sandbox.pool import SandboxConfig
from rlvr_sandbox.uids import BLOCK

from . import constants
from .backends.config import BackendConfig, load_backends

# special-token texts that end (or pad) a decoded sequence: Qwen/ChatML, Llama 2/3, GPT-2, DeepSeek, Phi, Gemma
EOS_TEXTS = (
    "<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|end|>",
    "<end_of_turn>", "<eos>", "<pad>", "<|finetune_right_pad_id|>",
)


def _default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _default_slots() -> int:
    """Two warm jails per core. A run is a chain of hops (host → zygote → program → zygote → host), and one jail
    keeps a core busy only part of the time (about 0.5-0.85 of a core, measured on HumanEval), so one jail per
    core leaves CPU idle while programs wait."""
    return min(2 * _default_processes(), BLOCK // 2)


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RLVR_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address to bind the HTTP server to.")
    port: int = Field(default=8000, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    redis_url: str | None = Field(default=None, description="Redis URL; set it to run in queue mode.")
    redis_prefix: str = Field(default="rlvr", description="Namespace of every Redis key and stream.")
    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra modules to import; each registers verifiers on import."
    )
    processes: int = Field(default_factory=_default_processes, ge=1, description="Worker processes per verifier.")
    worker_memory_mb: int = Field(default=4096, ge=0, description="Address-space cap of a verifier process (0: none).")
    max_item_timeout_s: float = Field(default=120.0, gt=0, description="Upper bound on any item's deadline.")
    log_level: str = Field(default="info")
    max_items_per_request: int = Field(default=16_384, ge=1, description="More items get a 413.")
    max_completion_chars: int = Field(default=1_000_000, ge=1, description="Longer completions get a 413.")
    max_prompt_chars: int = Field(default=1_000_000, ge=1, description="Longer prompts get a 413.")
    max_request_bytes: int = Field(default=256 * 1024 * 1024, ge=1, description="Larger bodies get a 413.")
    max_json_depth: int = Field(default=64, ge=2, le=500, description="Bodies nested deeper (arrays, objects): 422.")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A connection whose request headers have not all arrived by then is closed."
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0, description="A request body not received in full this long after its headers gets a 408."
    )

    backends: dict[str, Any] = Field(
        default_factory=dict,
        description="Model backends of the judge and reward-model verifiers: a JSON object, name → settings "
        "(kind openai | vllm_classify | vllm_pooling | sglang | openrlhf | transformers; see README).",
    )
    backends_file: str | None = Field(
        default=None, description="A JSON or YAML file of backends (same shape); RLVR_BACKENDS entries win."
    )
    api_keys: SecretStr | None = Field(
        default=None,
        description='API keys as JSON: {"keys": [{"name", "key", "scopes": ["score", "run", "admin"]}]}. '
        "With none (and no RLVR_API_KEYS_FILE) every endpoint is open.",
    )
    api_keys_file: str | None = Field(
        default=None, description="A mounted JSON or YAML file of API keys (same shape); combined with RLVR_API_KEYS."
    )
    drain_timeout_s: float = Field(
        default=25.0,
        ge=0,
        description="On SIGTERM: how long to finish (or hand back) the work in hand before exiting; keep it under "
        "the orchestrator's grace period (Kubernetes: 30 s).",
    )
    live_worker_s: float = Field(
        default=constants.LIVE_WORKER_S,
        gt=0,
        description="Queue mode: a worker whose last heartbeat is older than this is not counted as live.",
    )

    def backend_configs(self) -> dict[str, BackendConfig]:
        """The backends, validated (a bad entry fails the service's start, naming it)."""
        return load_backends(self.backends, self.backends_file)

    @field_validator("plugins", mode="before")
    @classmethod
    def _split_plugins(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value


class GatewaySettings(CommonSettings):
    """The gateway: `rlvr serve`."""

    max_rewards_per_item: int = Field(default=32, ge=1)
    request_timeout_s: float = Field(
        default=900.0, gt=0, description="Items not answered by then are `timeout` (queue mode)."
    )
    max_backlog: int = Field(default=200_000, ge=1, description="Queue mode: tasks waiting per verifier stream.")
    retry_after_s: float = Field(default=2.0, ge=0, description="Retry-After sent with a 503.")
    inline_threads: int = Field(default=2, ge=1, description="Threads for inline verifiers (format).")
    queue_inline: bool = Field(
        default=False, description="Queue mode: send inline verifiers (format) to workers too, not only CPU-bound ones."
    )
    timeout_grace_s: float = Field(
        default=2.0,
        ge=0,
        description="Queue mode: while its verifier has no live worker, an item is `timeout` this long after its "
        "own deadline (counted from when it was queued).",
    )
    # the peer protocols (/compat/...): see the README's "Use it from your trainer"
    compat_fallback: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="OpenRLHF, slime and NeMo-Gym endpoints: the reward given where verification failed (their "
        "protocols cannot say 'no score'); always flagged in the peer's own metrics.",
    )
    compat_profiles: dict[str, list[SpecTemplate]] = Field(
        default_factory=dict,
        description='Named reward-spec profiles a peer route can name, as JSON: {"name": [{"name", "weight", '
        '"params", "from_label"}]}; `from_label` is the param the sample\'s label fills ("*": merge a JSON object). '
        "`math` (the label as the math gold) is built in and is the default.",
    )
    compat_eos_texts: list[str] = Field(
        default_factory=lambda: list(EOS_TEXTS),
        description="OpenRLHF: end-of-sequence and padding texts stripped from the end of each query.",
    )
    nemo_gym_profile: str | None = Field(
        default=None,
        description="Also serve this NeMo-Gym resources-server profile (math, instruction_following, code) at the "
        "root (/verify, /seed_session, …): NeMo-Gym addresses a resources server by host and port only.",
    )


class WorkerSettings(CommonSettings):
    """A verifier worker: `rlvr worker --verifier NAME`."""

    port: int = Field(default=8001, ge=0, le=65535)
    verifier: str = Field(
        default="math",
        description="The verifier(s) this worker serves, comma-separated (math,ifeval,language): one stream consumer "
        "and one runner each, in one process.",
    )
    prefetch: int = Field(default=0, ge=0, description="Tasks held at once (0: 8 per process).")
    claim_idle_s: float = Field(
        default=15.0, gt=0, description="A task unacknowledged this long by a silent worker is reclaimed."
    )
    heartbeat_s: float = Field(default=3.0, gt=0, description="How often a worker refreshes its claims.")
    max_attempts: int = Field(
        default=2,
        ge=1,
        description="A reclaimed task is run alone; after killing its worker this many times it is dead-lettered.",
    )

    @field_validator("verifier")
    @classmethod
    def _verifier_list(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            raise ValueError("name at least one verifier (comma-separated: math,ifeval,language)")
        if len(set(names)) != len(names):
            raise ValueError(f"a verifier is named twice in {value!r}")
        return ",".join(names)

    @model_validator(mode="after")
    def _heartbeat_fits_liveness(self) -> WorkerSettings:
        if self.heartbeat_s * 3 > self.live_worker_s:
            raise ValueError(
                f"heartbeat_s ({self.heartbeat_s:g}) must be at most a third of live_worker_s ({self.live_worker_s:g}):"
                " a worker would look dead between two heartbeats"
            )
        return self

    @property
    def verifiers(self) -> list[str]:
        """The verifiers this worker serves, in the order given."""
        return self.verifier.split(",")


class SandboxSettings(BaseSettings):
    """The code sandbox of a gateway or `code` worker, read from ``RLVR_SANDBOX_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="RLVR_SANDBOX_", extra="ignore")

    slots: int = Field(
        default_factory=_default_slots, ge=1, le=BLOCK // 2,
        description="Warm jails (programs run at once); default two per core.",
    )
    python: str = Field(default="/usr/bin/python3", description="The jail's Python (runs the zygote and Python code).")
    recycle_after: int = Field(default=500, ge=1, description="Runs after which a jail is replaced by a fresh one.")
    tmpfs_mb: int = Field(default=256, ge=1, description="Size of a run's /work + /tmp + /dev/shm.")
    max_processes: int = Field(default=64, ge=1, description="Processes and threads a run may have at once.")
    output_limit_mb: int = Field(default=16, ge=1, description="stdout + stderr a run may write.")
    languages_file: str | None = Field(default=None, description="A languages.toml to use instead of the bundled one.")

    def config(self) -> SandboxConfig:
        return SandboxConfig(
            slots=self.slots, python=self.python, recycle_after=self.recycle_after, tmpfs_mb=self.tmpfs_mb,
            max_processes=self.max_processes, output_limit_mb=self.output_limit_mb,
            languages_file=Path(self.languages_file) if self.languages_file else None,
        )
