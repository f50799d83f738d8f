"""The gateway: `POST /v1/score` and the ops endpoints. `create_app(settings)` builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rlvr_client.models import QueueState, ScoreRequest, ScoreResponse, VerifierInfo, VerifiersResponse

from .. import __version__
from ..auth import KeyRing, install_auth, load_api_keys
from ..backends import pool as backends
from ..drain import Drain, DrainGate
from ..http import ERROR_RESPONSES, install_error_handlers, install_health, install_request_metrics
from ..intake import install_intake
from ..metrics import Metrics
from ..runs import install_run
from ..runtime.registry import Registry, load_plugins
from ..settings import GatewaySettings
from .compat import install_compat
from .dispatch import Dispatcher, EmbeddedDispatcher
from .scoring import Scorer

DESCRIPTION = """Reward service for RL with verifiable rewards (DeepSeek-R1 style).

`POST /v1/score` takes completions and reward specs and returns per-item rewards with one component per
verifier. A component's `status` is `ok` (it carries `score`), `not_applicable`, `timeout` or `error`;
an infrastructure failure is never scored 0.0: it has `score: null`, and `reward` is the weighted sum of
the scored components only (null when none scored).
"""


def make_dispatcher(registry: Registry, settings: GatewaySettings, metrics: Metrics) -> Dispatcher:
    if settings.redis_url:
        from ..queue.producer import QueueDispatcher

        return QueueDispatcher(registry, settings, metrics)
    return EmbeddedDispatcher(registry, settings, metrics)


def verifier_infos(registry: Registry, states: dict[str, QueueState] | None = None) -> VerifiersResponse:
    """The registry's verifiers; in queue mode with each queued one's live workers and backlog."""
    states = states or {}
    return VerifiersResponse(
        verifiers=[
            VerifierInfo(
                name=cls.name,
                description=cls.description,
                params_schema=cls.params_model.model_json_schema(),
                default_timeout_s=cls.default_timeout_s,
                queue=states.get(cls.name),
            )
            for cls in registry.classes()
        ]
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    registry = load_plugins(settings.plugins)
    ring = KeyRing(load_api_keys(settings.api_keys, settings.api_keys_file))
    metrics = Metrics()
    if not settings.redis_url:  # in queue mode the model-based verifiers run on their workers
        backends.configure(settings.backend_configs(), metrics.backend_event, metrics.model_failure)
    dispatcher = make_dispatcher(registry, settings, metrics)
    scorer = Scorer(registry, dispatcher, settings, metrics)
    drain = Drain(settings.drain_timeout_s)

    async def answer_the_rest() -> None:
        await dispatcher.abort(
            f"the gateway shut down: its drain timeout (RLVR_DRAIN_TIMEOUT_S={settings.drain_timeout_s:g}) passed "
            "before a worker answered"
        )

    drain.add_timeout_hook(answer_the_rest)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.close()

    app = FastAPI(title="rlvr-stack gateway", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.scorer = scorer
    app.state.dispatcher = dispatcher
    app.state.drain = drain

    async def checks() -> dict[str, str]:
        out = await dispatcher.checks()
        if drain.draining:
            out["shutdown"] = "draining: taking no new requests"
        return out

    install_error_handlers(app)
    install_request_metrics(app, metrics)
    install_health(
        app, metrics, checks, lambda: dispatcher.mode, dispatcher.update_metrics, dispatcher.queue_states
    )

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=ERROR_RESPONSES,
        tags=["rewards"],
        summary="Score completions with weighted verifier rewards.",
    )
    async def score(request: ScoreRequest) -> ScoreResponse:
        return await scorer.score(request)

    @app.get(
        "/v1/verifiers",
        response_model=VerifiersResponse,
        tags=["rewards"],
        summary="Known verifiers; in queue mode with their live workers and backlog.",
    )
    async def verifiers() -> VerifiersResponse:
        return verifier_infos(registry, await dispatcher.queue_states())

    if not settings.redis_url:  # in queue mode programs run on the `code` workers, which serve /v1/run
        install_run(app)
    install_compat(app, scorer, settings)  # OpenRLHF, slime and NeMo-Gym protocols (/compat/...)

    install_intake(app, settings)  # content type, size, read timeout, UTF-8, depth, surrogates
    app.add_middleware(DrainGate, drain=drain)
    install_auth(app, ring, metrics, settings.host)  # outermost: no body is read for a refused request
    return app
