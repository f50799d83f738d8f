"""TRL adapter: turn reward specs into async reward functions for ``trl.GRPOTrainer``.

TRL calls a reward function as ``func(prompts=..., completions=..., completion_ids=..., **kwargs)`` where
``kwargs`` holds every dataset column as a list (one value per completion, already repeated for the
generations of a prompt) plus ``trainer_state``, ``log_metric`` and ``log_extra``. An ``async`` function is
run on TRL's own event loop thread, concurrently with the other async reward functions. A ``None`` in the
returned list becomes NaN: TRL leaves it out of the means, and a row with no reward from any function gets
no advantage. This module therefore returns ``None`` for a completion whose verification failed
(``error``/``timeout``), never 0.0, and raises when the server cannot be reached at all.

This module imports neither trl nor torch: the client package depends on httpx and pydantic only.

    from rlvr_client.trl import TRLReward, reward_function

    reward = reward_function(
        [TRLReward("math", columns={"gold": "answer"}), TRLReward("format", weight=0.2)],
        url="http://127.0.0.1:8000",
    )
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=dataset, args=config)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from .client import DEFAULT_URL, AsyncRewardClient
from .models import ItemResult, RewardSpec, ScoreItem, Status

__all__ = ["RewardFunction", "TRLReward", "reward_function", "reward_functions", "reward_weights"]

logger = logging.getLogger(__name__)

_FAILED = frozenset({Status.ERROR, Status.TIMEOUT})
# Keys TRL adds to the reward kwargs that are not dataset columns; listed in error messages only.
_TRL_KWARGS = frozenset({"trainer_state", "log_metric", "log_extra", "completion_ids", "environments"})


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class TRLReward:
    """One reward to ask the gateway for, with the dataset columns that feed its params.

    ``columns`` maps a verifier param to a dataset column: ``{"gold": "answer"}`` sends each row's
    ``answer`` as the ``gold`` param of the ``math`` verifier. ``params_column`` names a column
    holding a whole params object (a mapping, or its JSON text, as open-r1's ``verification_info``),
    merged over ``params``. A row whose mapped column is ``None`` does not get this reward (as if the
    verifier were not applicable), which lets one dataset mix kinds of problems. ``name`` is the
    label used in TRL's logs (the verifier name by default).
    """

    verifier: str = Field(min_length=1, max_length=128)
    weight: float = Field(default=1.0, allow_inf_nan=False)
    params: dict[str, Any] = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)
    params_column: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _params_and_columns_are_disjoint(self) -> TRLReward:
        both = sorted(set(self.params) & set(self.columns))
        if both:
            raise ValueError(
                f"params {both} of verifier {self.verifier!r} are given both as static params and as columns"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or self.verifier

    @property
    def needed_columns(self) -> list[str]:
        extra = [self.params_column] if self.params_column else []
        return [*self.columns.values(), *extra]

    def spec_for(self, row: Mapping[str, Any], *, weight: float | None = None) -> RewardSpec | None:
        """The wire spec for one row of the batch, or None when a mapped column is None in that row."""
        params = dict(self.params)
        if self.params_column is not None:
            value = row[self.params_column]
            if value is None:
                return None
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"column {self.params_column!r} holds text that is not JSON: {exc}") from exc
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"column {self.params_column!r} must hold a params object or its JSON text, "
                    f"not {type(value).__name__}"
                )
            params.update(value)
        for param, column in self.columns.items():
            value = row[column]
            if value is None:
                return None
            params[param] = value
        return RewardSpec(name=self.verifier, weight=self.weight if weight is None else weight, params=params)


def _text_of(content: Any) -> str:
    """Text of a chat message's content: a string, or a list of content blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type", "text") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    raise TypeError(f"unsupported message content of type {type(content).__name__}")


def _messages(value: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(m, Mapping) for m in value):
        return list(value)
    return None


def completion_text(completion: Any) -> str:
    """The text a verifier sees: a plain string, or the last assistant message of a conversation.

    A message whose chat-template parser split the reasoning off (``reasoning_content`` or
    ``thinking``) is put back together as ``<think>\\n…\\n</think>\\n`` + content, so that the
    format verifier sees what the model wrote.
    """
    if isinstance(completion, str):
        return completion
    messages = _messages(completion)
    if messages is None:
        raise TypeError(f"a completion must be a string or a list of messages, not {type(completion).__name__}")
    assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
    if not assistant:
        return ""
    last = assistant[-1]
    text = _text_of(last.get("content"))
    reasoning = last.get("reasoning_content") or last.get("thinking")
    if isinstance(reasoning, str) and reasoning:
        text = f"<think>\n{reasoning}\n</think>\n{text}"
    return text


def prompt_text(prompt: Any) -> str:
    """A prompt as text: a plain string as is, a conversation as ``role: content`` blocks."""
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    messages = _messages(prompt)
    if messages is None:
        raise TypeError(f"a prompt must be a string or a list of messages, not {type(prompt).__name__}")
    return "\n\n".join(f"{m.get('role', 'user')}: {_text_of(m.get('content'))}" for m in messages)


def _item_reward(result: ItemResult) -> float | None:
    if any(c.status in _FAILED for c in result.components):
        return None
    if result.reward is None or not math.isfinite(result.reward):
        return None
    return result.reward


class RewardFunction:
    """An async TRL reward function backed by the gateway: one ``/v1/score`` request per call.

    A callable class rather than a closure, so that it pickles (TRL's async GRPO hands reward
    functions to a spawned process); the HTTP client is made lazily and is not pickled.
    """

    def __init__(
        self,
        specs: Sequence[TRLReward],
        *,
        url: str = DEFAULT_URL,
        client: AsyncRewardClient | None = None,
        weighted: bool = True,
        name: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if not specs:
            raise ValueError("reward_function needs at least one TRLReward")
        if client is not None and client_kwargs:
            raise ValueError(f"pass either client or client options {sorted(client_kwargs)}, not both")
        self.specs: tuple[TRLReward, ...] = tuple(specs)
        self.url = client.url if client is not None else url
        self.weighted = weighted
        self.__name__ = name or "rlvr_" + "+".join(s.label for s in self.specs)
        self._client_kwargs = dict(client_kwargs or {})
        self._owns_client = client is None
        self._client = client
        self._labels: dict[str, list[str]] = {}  # item id → the labels of the specs its components answer

    def __repr__(self) -> str:
        return f"RewardFunction({self.__name__!r}, url={self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._owns_client:
            state["_client"] = None
        return state

    @property
    def client(self) -> AsyncRewardClient:
        if self._client is None:
            self._client = AsyncRewardClient(self.url, **self._client_kwargs)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client this function made (a client passed in is left to its owner)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    def items(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> list[ScoreItem | None]:
        """The items to score, one per completion; None where none of the specs applies to the row."""
        n = len(completions)
        if len(prompts) != n:
            raise ValueError(f"got {len(prompts)} prompts for {n} completions")
        needed = sorted({c for s in self.specs for c in s.needed_columns})
        missing = [c for c in needed if c not in columns]
        if missing:
            available = sorted(k for k in columns if k not in _TRL_KWARGS)
            raise ValueError(f"{self.__name__}: dataset columns {missing} are missing; the batch has {available}")
        for column in needed:
            if len(columns[column]) != n:
                raise ValueError(f"column {column!r} has {len(columns[column])} values for {n} completions")
        step = getattr(columns.get("trainer_state"), "global_step", None)
        prefix = f"s{step}-" if step is not None else ""
        out: list[ScoreItem | None] = []
        self._labels = {}
        for i in range(n):
            row = {c: columns[c][i] for c in needed}
            weight = None if self.weighted else 1.0
            applied = [(s.label, r) for s in self.specs if (r := s.spec_for(row, weight=weight))]
            rewards = [r for _, r in applied]
            if not rewards:
                out.append(None)
                continue
            self._labels[f"{prefix}{i}"] = [label for label, _ in applied]
            out.append(
                ScoreItem(
                    id=f"{prefix}{i}",
                    prompt=prompt_text(prompts[i]),
                    completion=completion_text(completions[i]),
                    rewards=rewards,
                )
            )
        return out

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        items = self.items(prompts, completions, kwargs)
        to_send = [item for item in items if item is not None]
        results: dict[str, ItemResult] = {}
        if to_send:
            got = await self.client.score(to_send)
            if len(got) != len(to_send):
                raise RuntimeError(f"{self.__name__}: sent {len(to_send)} items, got {len(got)} results")
            for item, result in zip(to_send, got, strict=True):
                if result.id != item.id:
                    raise RuntimeError(f"{self.__name__}: result {result.id!r} came back for item {item.id!r}")
                results[item.id] = result
        rewards = [None if item is None else _item_reward(results[item.id]) for item in items]
        self._report(list(results.values()), rewards, kwargs.get("log_metric"))
        return rewards

    def _report(
        self,
        results: Sequence[ItemResult],
        rewards: list[float | None],
        log_metric: Callable[[str, float], None] | None,
    ) -> None:
        failed = [c for r in results for c in r.components if c.status in _FAILED]
        if failed:
            sample = "; ".join(f"{c.name}: {c.status.value} {c.reason}".strip() for c in failed[:3])
            logger.warning(
                "%s: %d verifier results failed (no reward given), e.g. %s", self.__name__, len(failed), sample
            )
        if log_metric is not None and rewards:
            log_metric(f"{self.__name__}/unscored_frac", sum(r is None for r in rewards) / len(rewards))
            if len(self.specs) > 1:  # each component's mean over the completions it scored, by the spec's label
                for name, mean in component_means(results, self._labels).items():
                    log_metric(f"{self.__name__}/{name}", mean)


def component_means(
    results: Iterable[ItemResult], labels: Mapping[str, Sequence[str]] | None = None
) -> dict[str, float]:
    """The mean score of each component over the results where it scored (status ``ok``).

    A component is named by ``labels[item id][j]`` for the item's ``j``-th component when given (the
    label of the spec it answers: two specs of one verifier, say ``reward_model`` with two scopes, get
    a mean each), else by its verifier's name."""
    sums: dict[str, list[float]] = {}
    for result in results:
        names = list((labels or {}).get(result.id, []))
        if len(names) != len(result.components):
            names = [c.name for c in result.components]
        for name, component in zip(names, result.components, strict=True):
            if component.status is Status.OK and component.score is not None:
                sums.setdefault(name, []).append(component.score)
    return {name: sum(scores) / len(scores) for name, scores in sums.items()}


def _as_specs(specs: TRLReward | Sequence[TRLReward]) -> list[TRLReward]:
    return [specs] if isinstance(specs, TRLReward) else list(specs)


def reward_function(
    specs: TRLReward | Sequence[TRLReward],
    *,
    url: str = DEFAULT_URL,
    client: AsyncRewardClient | None = None,
    name: str | None = None,
    **client_kwargs: Any,
) -> RewardFunction:
    """One async reward function for all ``specs``: the weighted sum the gateway computes per completion.

    A completion gets ``None`` when any of its verifiers answered ``error`` or ``timeout``, so TRL
    skips it instead of learning from a failure; a ``not_applicable`` verifier just adds nothing.
    If the gateway cannot be reached (after the client's retries) the call raises. ``client_kwargs``
    go to :class:`AsyncRewardClient` (``timeout_s``, ``max_batch_items``, ``retry``, …).
    """
    return RewardFunction(_as_specs(specs), url=url, client=client, name=name, client_kwargs=client_kwargs)


def reward_functions(
    specs: TRLReward | Sequence[TRLReward],
    *,
    url: str = DEFAULT_URL,
    client: AsyncRewardClient | None = None,
    **client_kwargs: Any,
) -> list[RewardFunction]:
    """One async reward function per spec, each logged by TRL under its own name (``rlvr_<label>``).

    Each function returns its verifier's unweighted score; the weights belong in TRL's
    ``GRPOConfig(reward_weights=reward_weights(specs))``, which is where TRL applies them (also
    under ``multi_objective_aggregation="normalize_then_sum"``). Note that TRL adds the functions up
    with ``nansum``: a ``None`` from one of them counts as nothing for that completion while the
    others still score it. Use :func:`reward_function` to drop the whole completion instead.
    """
    all_specs = _as_specs(specs)
    labels = [s.label for s in all_specs]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ValueError(f"reward labels {duplicates} repeat; give the specs distinct names")
    return [RewardFunction([s], url=url, client=client, weighted=False, client_kwargs=client_kwargs) for s in all_specs]


def reward_weights(specs: TRLReward | Sequence[TRLReward]) -> list[float]:
    """The specs' weights, for ``GRPOConfig(reward_weights=...)`` next to :func:`reward_functions`."""
    return [s.weight for s in _as_specs(specs)]
