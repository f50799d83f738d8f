"""The scoring core: validate a `ScoreRequest`, split it into verifier jobs, reassemble the results.

In queue mode a verifier with no live worker is not waited for: when the request needs only such
verifiers it gets 503 `no_live_worker`, otherwise their components are `error` and the rest are scored.

Used by the HTTP gateway and by `rlvr score` in embedded mode, so both score identically.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rlvr_client.models import Component, ItemResult, RewardSpec, ScoreRequest, ScoreResponse, Status

from ..limits import check_count, check_item
from ..metrics import Metrics
from ..runtime.jobs import Job, item_timeout
from ..runtime.registry import Registry, validate_params
from ..runtime.verifier import Verdict
from ..settings import GatewaySettings
from .dispatch import Dispatcher


@dataclass(frozen=True)
class _Prepared:
    """A reward spec with its params validated: what every item that uses it needs."""

    name: str
    weight: float
    params: dict[str, Any]
    timeout_s: float


@dataclass(frozen=True)
class _Plan:
    jobs: dict[str, list[Job]]  # per verifier, in dispatch order
    slots: dict[str, list[tuple[int, int, float]]]  # per verifier: (item, component, weight) of each job
    sizes: list[int]  # components per item


class Scorer:
    def __init__(self, registry: Registry, dispatcher: Dispatcher, settings: GatewaySettings, metrics: Metrics) -> None:
        self.registry = registry
        self.dispatcher = dispatcher
        self.settings = settings
        self.metrics = metrics

    def _prepare(self, spec: RewardSpec, where: str) -> _Prepared:
        cls = self.registry.get_class(spec.name)
        params = validate_params(cls, spec.params, where)
        timeout = item_timeout(cls, params, self.settings.max_item_timeout_s)
        return _Prepared(spec.name, spec.weight, params.model_dump(mode="json"), timeout)

    def plan(self, request: ScoreRequest) -> _Plan:
        """Validate everything up front (a bad request is refused whole) and build the jobs.

        The request's default specs are validated once, not once per item that uses them."""
        s = self.settings
        check_count("items", len(request.items), s.max_items_per_request, "RLVR_MAX_ITEMS_PER_REQUEST")
        defaults = [self._prepare(spec, f"rewards[{j}]") for j, spec in enumerate(request.rewards or [])]
        batch = uuid.uuid4().hex[:12]
        plan = _Plan({}, {}, [])
        for i, item in enumerate(request.items):
            check_item(i, item.completion, item.prompt, s)
            prepared = defaults
            if item.rewards:
                where = f"items[{i}].rewards"
                check_count(where, len(item.rewards), s.max_rewards_per_item, "RLVR_MAX_REWARDS_PER_ITEM")
                prepared = [self._prepare(spec, f"{where}[{j}]") for j, spec in enumerate(item.rewards)]
            plan.sizes.append(len(prepared))
            for j, p in enumerate(prepared):
                job = Job(f"{batch}:{i}:{j}", item.completion, p.params, p.timeout_s, item.prompt)
                plan.jobs.setdefault(p.name, []).append(job)
                plan.slots.setdefault(p.name, []).append((i, j, p.weight))
        return plan

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        plan = self.plan(request)
        names = list(plan.jobs)
        # queue mode: a verifier with no live worker is answered now (503 when it is all the request needs)
        unserved = await self.dispatcher.unserved(names)
        await self.dispatcher.admit({name: len(js) for name, js in plan.jobs.items() if name not in unserved})
        verdict_lists = await asyncio.gather(
            *(
                _refuse(unserved[n], len(plan.jobs[n])) if n in unserved else self.dispatcher.dispatch(n, plan.jobs[n])
                for n in names
            )
        )
        components: list[list[Component | None]] = [[None] * n for n in plan.sizes]
        rewards: list[float | None] = [None] * len(request.items)
        for name, verdicts in zip(names, verdict_lists, strict=True):
            tally = Counter(v.status.value for v in verdicts)
            for status, n in tally.items():
                self.metrics.verdicts.labels(name, status).inc(n)
            for (i, j, weight), verdict in zip(plan.slots[name], verdicts, strict=True):
                components[i][j] = _component(name, verdict)
                if verdict.score is not None:  # only ok verdicts carry a score
                    rewards[i] = (rewards[i] or 0.0) + weight * verdict.score
        self.metrics.items.inc(len(request.items))
        return ScoreResponse(
            results=[
                ItemResult(id=item.id, reward=reward, components=[c for c in comps if c is not None])
                for item, reward, comps in zip(request.items, rewards, components, strict=True)
            ]
        )


async def _refuse(reason: str, n: int) -> list[Verdict]:
    return [Verdict.error(reason)] * n


def _component(name: str, verdict: Verdict) -> Component:
    score = verdict.score if verdict.status is Status.OK else None
    return Component(
        name=name, score=score, status=verdict.status, reason=verdict.reason, details=dict(verdict.details)
    )
