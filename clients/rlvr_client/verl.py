"""verl adapter: reward functions to name in ``reward.custom_reward_function`` (or the legacy top-level key).

    reward:
      custom_reward_function:
        path: pkg://rlvr_client.verl          # or the file path of this module
        name: compute_score                   # async: verl's reward loop (naive, dapo, limited managers)
        reward_kwargs:
          url: http://127.0.0.1:8000
          specs:                              # data_source -> reward specs; the ground truth fills `from_label`
            openai/gsm8k: [{name: math, from_label: gold}, {name: format, weight: 0.2}]
          fallback: 0.0

verl calls ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs)`` once
per sample (``await``-ed when it is a coroutine function). The other forms here are for other managers:

- :func:`compute_score_sync`: the same, blocking: legacy ``naive``/``dapo`` managers and the reward loop's
  ``remote`` manager (which refuses coroutine functions);
- :func:`compute_score_batch`: the legacy ``batch`` manager's ``(data_sources, solution_strs, ground_truths,
  extra_infos, **reward_kwargs)``: one ``/v1/score`` request for the whole batch;
- :func:`compute_score_prime`: the legacy ``prime`` manager calls positionally in a process pool and keeps
  only a number: it returns the score alone (failures are logged, the flag cannot reach verl's metrics).

Each sample's specs come from its ``ground_truth`` when that is JSON carrying reward specs (``{"rewards":
[...]}``), else from ``specs[data_source]`` (``default`` for other data sources: the ground truth as the
``math`` gold), with the ground truth filling each spec's ``from_label`` param and ``columns`` taking params
from ``extra_info`` (numpy values are made plain).

The result is a dict with the same keys for every sample, as verl requires: ``score``, ``rlvr_error`` (1.0
when ``score`` is the fallback because a verifier failed or the service could not be reached, else 0.0) and
one key per component (its score, or ``None`` when it did not score). verl cannot skip a sample, so a failure
gives the configured ``fallback``; verl keeps the extra keys in the rollout dumps and logs them as validation
metrics (``val-aux/<data_source>/rlvr_error/mean@N``). A request verl's own config got wrong (an unknown
verifier, bad params, a ground truth that gives no specs) raises instead: that is not an outage.

Imports are absolute so that older verl, which loads the file by path under another module name, works too.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rlvr_client.client import DEFAULT_URL, AsyncRewardClient, RetryPolicy, RewardClient
from rlvr_client.errors import InvalidRequest, PayloadTooLarge, RLVRError
from rlvr_client.labels import DEFAULT_TEMPLATES, LabelError, SpecTemplate, plain, specs_for_label, template_keys
from rlvr_client.models import ItemResult, ScoreItem
from rlvr_client.outcome import Outcome, failed_outcome, outcome

__all__ = [
    "ERROR_KEY",
    "SCORE_KEY",
    "VerlRewardConfig",
    "compute_score",
    "compute_score_batch",
    "compute_score_prime",
    "compute_score_sync",
]

logger = logging.getLogger(__name__)

SCORE_KEY = "score"
ERROR_KEY = "rlvr_error"
URL_ENV = "RLVR_URL"
# keyword arguments verl itself adds to the call; not ours, not a typo
_VERL_KWARGS = frozenset(
    {"reward_router_address", "reward_model_tokenizer", "concurrent_semaphore", "sandbox_fusion_url", "memory_limit_mb"}
)


class VerlRewardConfig(BaseModel):
    """The adapter's settings, from ``reward_kwargs`` (OmegaConf values are made plain first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default_factory=lambda: os.environ.get(URL_ENV, DEFAULT_URL), description="The gateway.")
    api_key: str | None = Field(default=None, description="Bearer token; default: RLVR_API_KEY from the environment.")
    specs: dict[str, list[SpecTemplate]] = Field(default_factory=dict, description="data_source -> reward specs.")
    default: list[SpecTemplate] = Field(
        default_factory=lambda: list(DEFAULT_TEMPLATES), description="Specs of the data sources not in `specs`."
    )
    components: list[str] | None = Field(
        default=None, description="The component keys of every result (default: the keys of `specs` and `default`)."
    )
    fallback: float = Field(default=0.0, allow_inf_nan=False, description="The score of a sample that failed.")
    prompt_key: str | None = Field(default=None, description="The extra_info key holding the prompt text, if any.")
    timeout_s: float = Field(default=600.0, gt=0, description="HTTP timeout of one request.")
    attempts: int = Field(default=6, ge=1, description="Tries of a request that met 503 or a connection error.")

    @model_validator(mode="after")
    def _keys(self) -> VerlRewardConfig:
        for source, templates in {**self.specs, "default": self.default}.items():
            try:
                template_keys(templates)
            except LabelError as exc:
                raise ValueError(f"specs[{source!r}]: {exc}") from None
        reserved = {SCORE_KEY, ERROR_KEY} & set(self.component_keys)
        if reserved:
            raise ValueError(f"component keys {sorted(reserved)} are reserved for the adapter's own outputs")
        return self

    @property
    def component_keys(self) -> list[str]:
        if self.components is not None:
            return list(self.components)
        keys: list[str] = []
        for templates in [*self.specs.values(), self.default]:
            keys.extend(k for k in template_keys(templates) if k not in keys)
        return keys

    def templates(self, data_source: Any) -> list[SpecTemplate]:
        return self.specs.get(str(plain(data_source)), self.default)


_warned_unknown: set[str] = set()


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> VerlRewardConfig:
    return VerlRewardConfig.model_validate(json.loads(text))


def config_from(kwargs: Mapping[str, Any]) -> VerlRewardConfig:
    """The settings in ``kwargs`` (verl's reward_kwargs merged into the call); verl's own keys are skipped."""
    fields = set(VerlRewardConfig.model_fields)
    unknown = sorted(k for k in kwargs if k not in fields and k not in _VERL_KWARGS and k not in _warned_unknown)
    for key in unknown:
        _warned_unknown.add(key)
        logger.warning("rlvr_client.verl: ignoring unknown keyword %r (known: %s)", key, ", ".join(sorted(fields)))
    ours = {k: plain(v) for k, v in kwargs.items() if k in fields}
    return _parse(json.dumps(ours, sort_keys=True))


class _FailureLog:
    """At most one warning every 10 s about fallbacks, with the count since the last one."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.lock = threading.Lock()
        self.last = -every_s
        self.count = 0

    def __call__(self, failed: Sequence[Outcome], fallback: float) -> None:
        if not failed:
            return
        with self.lock:
            self.count += len(failed)
            now = time.monotonic()
            if now - self.last < self.every_s:
                return
            count, self.count, self.last = self.count, 0, now
        logger.warning(
            "rlvr_client.verl: %d sample(s) got the fallback %g (rlvr_error=1), e.g. %s", count, fallback,
            failed[0].reason,
        )


_log_failures = _FailureLog()


def _item(
    config: VerlRewardConfig, i: int, data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any
) -> tuple[ScoreItem, list[str]]:
    extra: Mapping[str, Any] = extra_info if isinstance(extra_info, Mapping) else {}
    templates = config.templates(data_source)
    where = f"ground_truth of sample {i} (data_source {plain(data_source)!r})"
    try:
        specs, carried = specs_for_label(ground_truth, templates, where=where, extra=extra)
    except LabelError as exc:
        raise ValueError(str(exc)) from None
    keys = [s.name for s in specs] if carried else template_keys(templates)
    prompt = plain(extra.get(config.prompt_key)) if config.prompt_key else None
    item = ScoreItem(
        id=str(i), prompt=prompt if isinstance(prompt, str) else "", completion=solution_str, rewards=specs
    )
    return item, keys


def _result_dict(config: VerlRewardConfig, out: Outcome) -> dict[str, Any]:
    result: dict[str, Any] = {SCORE_KEY: float(out.score), ERROR_KEY: 1.0 if out.failed else 0.0}
    for key in config.component_keys:
        result[key] = out.components.get(key)
    return result


def _outcomes(
    config: VerlRewardConfig, keys: Sequence[list[str]], results: Sequence[ItemResult] | RLVRError
) -> list[dict[str, Any]]:
    if isinstance(results, InvalidRequest) and not isinstance(results, PayloadTooLarge):
        raise results  # the config or the data is wrong: not an outage
    if isinstance(results, RLVRError):
        reason = f"{results.code}: {results.message}"
        outs = [failed_outcome(reason, config.fallback, k) for k in keys]
    else:
        if len(results) != len(keys):
            raise RuntimeError(f"rlvr_client.verl: sent {len(keys)} items, got {len(results)} results")
        outs = [outcome(r, config.fallback, k) for r, k in zip(results, keys, strict=True)]
    _log_failures([o for o in outs if o.failed], config.fallback)
    return [_result_dict(config, o) for o in outs]


def _client_options(config: VerlRewardConfig) -> dict[str, Any]:
    return {"timeout_s": config.timeout_s, "retry": RetryPolicy(attempts=config.attempts), "api_key": config.api_key}


async def _score_async(config: VerlRewardConfig, items: list[ScoreItem]) -> list[ItemResult] | RLVRError:
    try:
        async with AsyncRewardClient(config.url, **_client_options(config)) as client:
            return await client.score(items)
    except RLVRError as exc:
        return exc


def _score_sync(config: VerlRewardConfig, items: list[ScoreItem]) -> list[ItemResult] | RLVRError:
    try:
        with RewardClient(config.url, **_client_options(config)) as client:
            return client.score(items)
    except RLVRError as exc:
        return exc


async def compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """One sample, scored through ``/v1/score``: ``{"score", "rlvr_error", <component>: …}``."""
    config = config_from(kwargs)
    item, keys = _item(config, 0, data_source, solution_str, ground_truth, extra_info)
    return _outcomes(config, [keys], await _score_async(config, [item]))[0]


def compute_score_sync(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """:func:`compute_score`, blocking (legacy naive/dapo managers, the reward loop's remote manager)."""
    config = config_from(kwargs)
    item, keys = _item(config, 0, data_source, solution_str, ground_truth, extra_info)
    return _outcomes(config, [keys], _score_sync(config, [item]))[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The legacy batch manager's form: one dict per sample, from one ``/v1/score`` request."""
    config = config_from(kwargs)
    n = len(solution_strs)
    infos: Sequence[Any] = [None] * n if extra_infos is None else extra_infos
    if not len(data_sources) == len(ground_truths) == len(infos) == n:
        raise ValueError(
            f"got {len(data_sources)} data_sources, {n} solution_strs, {len(ground_truths)} ground_truths and "
            f"{len(infos)} extra_infos: one each per sample"
        )
    rows = zip(data_sources, solution_strs, ground_truths, infos, strict=True)
    built = [_item(config, i, *row) for i, row in enumerate(rows)]
    if not built:
        return []
    return _outcomes(config, [k for _, k in built], _score_sync(config, [item for item, _ in built]))


def compute_score_prime(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> float:
    """The legacy prime manager's form: the score alone (it keeps only a number; failures are logged)."""
    return float(compute_score_sync(data_source, solution_str, ground_truth, extra_info, **kwargs)[SCORE_KEY])
