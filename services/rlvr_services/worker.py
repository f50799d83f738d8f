"""A verifier worker: one or more verifiers (`rlvr worker --verifier math,ifeval,language`), each served
over HTTP (`POST /v1/verify`) and, with a Redis URL, consumed from its task stream by a consumer of its own.
Both paths share the verifier's runner. SIGTERM drains it (see `drain` and `queue.consumer`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI
from redis.exceptions import RedisError

from rlvr_client.errors import NotReady, UnknownVerifier
from rlvr_client.models import QueueState, VerifyRequest, VerifyResponse
from rlvr_client.models import Verdict as WireVerdict

from . import __version__
from .auth import KeyRing, install_auth, load_api_keys
from .backends import pool as backends
from .drain import Drain, DrainGate
from .gateway.dispatch import LocalRunners, run_on
from .http import ERROR_RESPONSES, install_error_handlers, install_health, install_request_metrics
from .intake import install_intake
from .limits import check_count, check_item
from .metrics import Metrics
from .runtime.jobs import Job, item_timeout
from .runtime.registry import load_plugins, validate_params
from .settings import WorkerSettings

if TYPE_CHECKING:
    from .queue.consumer import StreamConsumer


@dataclass
class _WorkerState:
    local: LocalRunners | None = None
    consumers: list[StreamConsumer] = field(default_factory=list)


def create_worker_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    names = settings.verifiers
    registry = load_plugins(settings.plugins)
    classes = {name: registry.get_class(name) for name in names}  # unknown name: fail at start, listing the known
    ring = KeyRing(load_api_keys(settings.api_keys, settings.api_keys_file))
    metrics = Metrics()
    backends.configure(settings.backend_configs(), metrics.backend_event, metrics.model_failure)
    state = _WorkerState()
    drain = Drain(settings.drain_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.local = await asyncio.to_thread(LocalRunners, settings, names)
        # take no task from the queue before the verifier processes can run it
        for name in names:
            await asyncio.to_thread(state.local.get(name).wait_ready, 120.0)
        if settings.redis_url:
            from .queue.consumer import StreamConsumer, consumer_name

            process = consumer_name()  # one name in every verifier's group: the process is the worker
            for name in names:
                consumer = StreamConsumer(state.local.get(name), settings, metrics, verifier=name, name=process)
                await consumer.start()
                state.consumers.append(consumer)
        try:
            yield
        finally:
            for consumer in state.consumers:
                await consumer.close()  # hands back what it did not finish
            await asyncio.to_thread(state.local.close)

    async def drain_consumers() -> None:
        await asyncio.gather(*(c.drain() for c in state.consumers))

    drain.add_step(drain_consumers)

    title = ", ".join(names)
    app = FastAPI(
        title=f"rlvr-stack worker ({title})",
        version=__version__,
        description="Serves the verifiers " + "; ".join(f"`{n}`: {c.description}" for n, c in classes.items()),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.drain = drain

    async def checks() -> dict[str, str]:
        out = state.local.checks() if state.local else {f"verifier:{n}": "starting" for n in names}
        if state.consumers:
            out.update(await state.consumers[0].checks())
        if drain.draining:
            out["shutdown"] = "draining: taking no new work"
        return out

    async def states() -> dict[str, QueueState]:
        if not state.consumers:
            return {}
        from .queue.states import read_states

        consumer = state.consumers[0]
        try:
            return await read_states(consumer.redis, settings.redis_prefix, names, settings.live_worker_s)
        except RedisError:  # `checks` reports Redis's state
            return {}

    async def refresh() -> None:
        if state.local is not None:
            state.local.update_metrics(metrics)
        for consumer in state.consumers:
            await consumer.update_metrics()

    install_error_handlers(app)
    install_request_metrics(app, metrics)
    install_health(app, metrics, checks, lambda: "queue" if settings.redis_url else "http", refresh, states)

    @app.post(
        "/v1/verify",
        response_model=VerifyResponse,
        responses=ERROR_RESPONSES,
        tags=["verify"],
        summary=f"Run one of this worker's verifiers ({title}) on items.",
    )
    async def verify(request: VerifyRequest) -> VerifyResponse:
        name = request.verifier or names[0]
        if name not in classes or (request.verifier is None and len(names) > 1):
            given = "no verifier" if request.verifier is None else f"verifier {name!r}"
            raise UnknownVerifier(
                f"verifier: {given}; this worker serves {', '.join(names)} (name one in `verifier`)",
                details={"field": "verifier", "known": names},
            )
        cls = classes[name]
        check_count("items", len(request.items), settings.max_items_per_request, "RLVR_MAX_ITEMS_PER_REQUEST")
        jobs = []
        for i, item in enumerate(request.items):
            check_item(i, item.completion, item.prompt, settings)
            params = validate_params(cls, item.params, f"items[{i}]")
            timeout = item_timeout(cls, params, settings.max_item_timeout_s)
            jobs.append(Job(item.id, item.completion, params.model_dump(mode="json"), timeout, item.prompt))
        if state.local is None:
            raise NotReady("the worker is still starting")
        verdicts = await run_on(state.local.get(name), jobs, metrics)
        metrics.items.inc(len(jobs))
        for v in verdicts:
            metrics.verdicts.labels(name, v.status.value).inc()
        return VerifyResponse(
            verifier=name,
            verdicts=[
                WireVerdict(id=j.id, score=v.score, status=v.status, reason=v.reason, details=dict(v.details))
                for j, v in zip(jobs, verdicts, strict=True)
            ],
        )

    if "code" in names:
        from .runs import install_run

        install_run(app)

    install_intake(app, settings)  # content type, size, read timeout, UTF-8, depth, surrogates
    app.add_middleware(DrainGate, drain=drain)
    install_auth(app, ring, metrics, settings.host)  # outermost: no body is read for a refused request
    return app
