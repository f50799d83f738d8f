"""The scoring core: validate a `ScoreRequest`, split it into verifier jobs, reassemble the results.

Used by the HTTP gateway and by `rlvr score` in embedded mode, so both score identically.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rlvr_client.errors import PayloadTooLarge
from rlvr_client.models import Component, ItemResult, RewardSpec, ScoreRequest, ScoreResponse, Status

from ..metrics import Metrics
from ..runtime.jobs import Job, item_timeout
from ..runtime.registry import Registry, validate_params
from ..runtime.verifier import Verdict
from ..settings import GatewaySettings
from .dispatch import Dispatcher


@dataclass(frozen=True)
class _Slot:
    """Where one verdict goes: item index, component index, weight."""

    item: int
    component: int
    name: str
    weight: float


def _too_large(field: str, size: int, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{field} is {size:,} characters; the limit is {limit:,} (set {setting} to change it)",
        details={"field": field, "size": size, "limit": limit},
    )


class Scorer:
    def __init__(self, registry: Registry, dispatcher: Dispatcher, settings: GatewaySettings, metrics: Metrics) -> None:
        self.registry = registry
        self.dispatcher = dispatcher
        self.settings = settings
        self.metrics = metrics

    def _check_limits(self, request: ScoreRequest) -> None:
        s = self.settings
        if len(request.items) > s.max_items_per_request:
            raise PayloadTooLarge(
                f"items has {len(request.items):,} entries; the limit is {s.max_items_per_request:,} per request "
                "(send several requests, or set RLVR_MAX_ITEMS_PER_REQUEST)",
                details={"field": "items", "size": len(request.items), "limit": s.max_items_per_request},
            )
        for i, item in enumerate(request.items):
            if len(item.completion) > s.max_completion_chars:
                raise _too_large(
                    f"items[{i}].completion", len(item.completion), s.max_completion_chars, "RLVR_MAX_COMPLETION_CHARS"
                )
            if len(item.prompt) > s.max_prompt_chars:
                raise _too_large(f"items[{i}].prompt", len(item.prompt), s.max_prompt_chars, "RLVR_MAX_PROMPT_CHARS")
            if item.rewards is not None and len(item.rewards) > s.max_rewards_per_item:
                raise PayloadTooLarge(
                    f"items[{i}].rewards has {len(item.rewards)} specs; the limit is {s.max_rewards_per_item}",
                    details={"field": f"items[{i}].rewards"},
                )

    def plan(self, request: ScoreRequest) -> tuple[dict[str, list[Job]], dict[str, list[_Slot]]]:
        """Validate everything up front (a bad request is refused whole) and build the jobs."""
        self._check_limits(request)
        batch = uuid.uuid4().hex[:12]
        jobs: dict[str, list[Job]] = defaultdict(list)
        slots: dict[str, list[_Slot]] = defaultdict(list)
        for i, item in enumerate(request.items):
            specs: Sequence[RewardSpec]
            if item.rewards:
                specs, where = item.rewards, f"items[{i}].rewards"
            else:
                specs, where = request.rewards or [], "rewards"
            for j, spec in enumerate(specs):
                cls = self.registry.get_class(spec.name)
                params = validate_params(cls, spec.params, f"{where}[{j}]")
                timeout = item_timeout(cls, params, self.settings.max_item_timeout_s)
                jobs[spec.name].append(
                    Job(
                        id=f"{batch}:{i}:{j}",
                        completion=item.completion,
                        params=params.model_dump(mode="json"),
                        timeout_s=timeout,
                        prompt=item.prompt,
                    )
                )
                slots[spec.name].append(_Slot(i, j, spec.name, spec.weight))
        return jobs, slots

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        jobs, slots = self.plan(request)
        await self.dispatcher.admit({name: len(js) for name, js in jobs.items()})
        names = list(jobs)
        verdict_lists = await asyncio.gather(*(self.dispatcher.dispatch(n, jobs[n]) for n in names))
        components: list[dict[int, Component]] = [{} for _ in request.items]
        weights: list[dict[int, float]] = [{} for _ in request.items]
        tally: Counter[tuple[str, str]] = Counter()
        for name, verdicts in zip(names, verdict_lists, strict=True):
            for slot, verdict in zip(slots[name], verdicts, strict=True):
                components[slot.item][slot.component] = _component(name, verdict)
                weights[slot.item][slot.component] = slot.weight
                tally[(name, verdict.status.value)] += 1
        for (name, status), n in tally.items():
            self.metrics.verdicts.labels(name, status).inc(n)
        self.metrics.items.inc(len(request.items))
        results = []
        for i, item in enumerate(request.items):
            comps = [components[i][k] for k in sorted(components[i])]
            scored = [(weights[i][k], components[i][k].score) for k in sorted(components[i])]
            values = [w * s for w, s in scored if s is not None]
            reward = float(sum(values)) if values else None
            results.append(ItemResult(id=item.id, reward=reward, components=comps))
        return ScoreResponse(results=results)


def _component(name: str, verdict: Verdict) -> Component:
    score = verdict.score if verdict.status is Status.OK else None
    return Component(
        name=name, score=score, status=verdict.status, reason=verdict.reason, details=dict(verdict.details)
    )
