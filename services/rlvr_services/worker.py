"""A verifier worker: one verifier, served over HTTP (`POST /v1/verify`) and, with a Redis URL,
consumed from that verifier's task stream. Both paths share the same runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from rlvr_client.errors import NotReady
from rlvr_client.models import Verdict as WireVerdict
from rlvr_client.models import VerifyRequest, VerifyResponse

from . import __version__
from .backends import pool as backends
from .gateway.dispatch import LocalRunners, run_on
from .http import ERROR_RESPONSES, BodyLimit, install_error_handlers, install_health, install_request_metrics
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
    consumer: StreamConsumer | None = None


def create_worker_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    registry = load_plugins(settings.plugins)
    cls = registry.get_class(settings.verifier)  # unknown name: fail at start, listing the known ones
    metrics = Metrics()
    backends.configure(settings.backend_configs(), metrics.backend_event, metrics.model_failure)
    state = _WorkerState()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.local = await asyncio.to_thread(LocalRunners, settings, [settings.verifier])
        runner = state.local.get(settings.verifier)
        # take no task from the queue before the verifier processes can run it
        await asyncio.to_thread(runner.wait_ready, 120.0)
        if settings.redis_url:
            from .queue.consumer import StreamConsumer

            state.consumer = StreamConsumer(runner, settings, metrics)
            await state.consumer.start()
        try:
            yield
        finally:
            if state.consumer is not None:
                await state.consumer.close()
            await asyncio.to_thread(state.local.close)

    app = FastAPI(
        title=f"rlvr-stack worker ({settings.verifier})",
        version=__version__,
        description=f"Serves the `{settings.verifier}` verifier: {cls.description}",
        lifespan=lifespan,
    )
    app.state.settings = settings

    async def checks() -> dict[str, str]:
        out = state.local.checks() if state.local else {f"verifier:{settings.verifier}": "starting"}
        if state.consumer is not None:
            out.update(await state.consumer.checks())
        return out

    async def refresh() -> None:
        if state.local is not None:
            state.local.update_metrics(metrics)
        if state.consumer is not None:
            await state.consumer.update_metrics()

    install_error_handlers(app)
    install_request_metrics(app, metrics)
    install_health(app, metrics, checks, lambda: "queue" if settings.redis_url else "http", refresh)

    @app.post(
        "/v1/verify",
        response_model=VerifyResponse,
        responses=ERROR_RESPONSES,
        tags=["verify"],
        summary=f"Run the {settings.verifier} verifier on items.",
    )
    async def verify(request: VerifyRequest) -> VerifyResponse:
        check_count("items", len(request.items), settings.max_items_per_request, "RLVR_MAX_ITEMS_PER_REQUEST")
        jobs = []
        for i, item in enumerate(request.items):
            check_item(i, item.completion, item.prompt, settings)
            params = validate_params(cls, item.params, f"items[{i}]")
            timeout = item_timeout(cls, params, settings.max_item_timeout_s)
            jobs.append(Job(item.id, item.completion, params.model_dump(mode="json"), timeout, item.prompt))
        if state.local is None:
            raise NotReady("the worker is still starting")
        verdicts = await run_on(state.local.get(settings.verifier), jobs, metrics)
        metrics.items.inc(len(jobs))
        for v in verdicts:
            metrics.verdicts.labels(settings.verifier, v.status.value).inc()
        return VerifyResponse(
            verifier=settings.verifier,
            verdicts=[
                WireVerdict(id=j.id, score=v.score, status=v.status, reason=v.reason, details=dict(v.details))
                for j, v in zip(jobs, verdicts, strict=True)
            ],
        )

    if settings.verifier == "code":
        from .runs import install_run

        install_run(app)

    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app
