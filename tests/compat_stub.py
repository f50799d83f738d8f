"""A live server with the peer endpoints in front of a scorer that fails on request.

The status mapping of the /compat endpoints (which errors become 503, 422, 413, or a flagged fallback) is
tested against this: a real uvicorn, the real routers, error handlers and API-key middleware, and a scorer
that answers every component ``ok`` with 1.0 (or with the status a test sets), or raises the error a test
sets, recording each request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from fastapi import FastAPI
from pydantic import SecretStr

from rlvr_client.models import Component, ItemResult, ScoreRequest, ScoreResponse, Status
from rlvr_services.auth import KeyRing, install_auth, load_api_keys
from rlvr_services.gateway.compat import install_compat
from rlvr_services.gateway.scoring import Scorer
from rlvr_services.http import install_error_handlers
from rlvr_services.metrics import Metrics
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import GatewaySettings

KEY = "trainer-key-0123456789abcdef"
RUN_ONLY_KEY = "runner-key-0123456789abcdef"
KEYS = {
    "keys": [
        {"name": "trainer", "key": KEY, "scopes": ["score"]},
        {"name": "runner", "key": RUN_ONLY_KEY, "scopes": ["run"]},
    ]
}


class StubScorer:
    def __init__(self) -> None:
        self.requests: list[ScoreRequest] = []
        self.error: Exception | None = None
        self.status = Status.OK  # every component's status; error/timeout ones carry no score

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        results = []
        for item in request.items:
            specs = item.rewards or request.rewards or []
            ok = self.status is Status.OK
            components = [Component(name=s.name, score=1.0 if ok else None, status=self.status) for s in specs]
            reward = sum(s.weight for s in specs) if ok else None
            results.append(ItemResult(id=item.id, reward=reward, components=components))
        return ScoreResponse(results=results)


@contextmanager
def stub_gateway(keys: bool = False, **settings: Any) -> Iterator[tuple[str, StubScorer]]:
    config = GatewaySettings(port=0, processes=1, **settings)
    scorer = StubScorer()
    app = FastAPI()
    install_error_handlers(app)
    install_compat(app, cast(Scorer, scorer), config)

    @app.post("/v1/score")
    async def score(request: ScoreRequest) -> ScoreResponse:  # what the verl adapter calls
        return await scorer.score(request)

    inline = SecretStr(json.dumps(KEYS)) if keys else None
    install_auth(app, KeyRing(load_api_keys(inline, None)), Metrics(), "127.0.0.1")
    with serve_in_thread(app) as url:
        yield url, scorer
