"""A verifier worker: one verifier, served over HTTP (`POST /v1/verify`) and, with a Redis URL,
consumed from that verifier's task stream. Both paths share the same runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from rlvr_client.errors import NotReady, PayloadTooLarge
from rlvr_client.models import Verdict as WireVerdict
from rlvr_client.models import VerifyRequest, VerifyResponse

from . import __version__
from .gateway.dispatch import run_on
from .http import ERROR_RESPONSES, BodyLimit, install_error_handlers, install_health, install_request_metrics
from .metrics import Metrics
from .runtime.jobs import Job, Runner, item_timeout
from .runtime.registry import load_plugins, validate_params
from .runtime.runners import make_runner
from .settings import WorkerSettings

if TYPE_CHECKING:
    from .queue.consumer import StreamConsumer

MAX_VERIFY_ITEMS = 16_384
MAX_TEXT_CHARS = 1_000_000


@dataclass
class _WorkerState:
    runner: Runner | None = None
    consumer: StreamConsumer | None = None


def create_worker_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    registry = load_plugins(settings.plugins)
    cls = registry.get_class(settings.verifier)  # unknown name: fail at start, listing the known ones
    metrics = Metrics()
    state = _WorkerState()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runner = state.runner = await asyncio.to_thread(make_runner, settings.verifier, settings)
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
            await asyncio.to_thread(runner.close)

    app = FastAPI(
        title=f"rlvr-stack worker ({settings.verifier})",
        version=__version__,
        description=f"Serves the `{settings.verifier}` verifier: {cls.description}",
        lifespan=lifespan,
    )
    app.state.settings = settings

    async def checks() -> dict[str, str]:
        runner_ok = state.runner is not None and state.runner.ready()
        out = {f"verifier:{settings.verifier}": "ok" if runner_ok else "starting"}
        if state.consumer is not None:
            out.update(await state.consumer.checks())
        return out

    async def refresh() -> None:
        if state.runner is not None:
            metrics.restarts.labels(settings.verifier).set(getattr(state.runner, "restarts", 0))
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
        if len(request.items) > MAX_VERIFY_ITEMS:
            raise PayloadTooLarge(f"items has {len(request.items):,} entries; the limit is {MAX_VERIFY_ITEMS:,}")
        jobs = []
        for i, item in enumerate(request.items):
            for field in ("completion", "prompt"):
                size = len(getattr(item, field))
                if size > MAX_TEXT_CHARS:
                    raise PayloadTooLarge(
                        f"items[{i}].{field} is {size:,} characters; the limit is {MAX_TEXT_CHARS:,}",
                        details={"field": f"items[{i}].{field}"},
                    )
            params = validate_params(cls, item.params, f"items[{i}]")
            timeout = item_timeout(cls, params, settings.max_item_timeout_s)
            jobs.append(Job(item.id, item.completion, params.model_dump(mode="json"), timeout, item.prompt))
        if state.runner is None:
            raise NotReady("the worker is still starting")
        verdicts = await run_on(state.runner, jobs, metrics)
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

    app.add_middleware(BodyLimit, limit=64 * 1024 * 1024)
    return app
