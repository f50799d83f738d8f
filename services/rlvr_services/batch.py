"""`rlvr score`: score a JSONL file of items, resumably, through a gateway URL or embedded."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from rlvr_client.client import AsyncRewardClient
from rlvr_client.errors import InvalidRequest
from rlvr_client.models import ItemResult, RewardSpec, ScoreItem, ScoreRequest

from .gateway.dispatch import EmbeddedDispatcher
from .gateway.scoring import Scorer
from .metrics import Metrics
from .runtime.registry import load_plugins
from .settings import GatewaySettings

ScoreFn = Callable[[list[ScoreItem], list[RewardSpec] | None], Awaitable[list[ItemResult]]]


def read_items(path: Path) -> Iterator[ScoreItem]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield ScoreItem.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                raise InvalidRequest(f"{path}:{lineno}: {where}: {first['msg']}") from None


def done_ids(out: Path) -> set[str]:
    """Ids already written to ``out``. A last line without its newline (an interrupted run) is cut
    off, even when it happens to parse: the next append would otherwise join it."""
    if not out.exists():
        return set()
    ids: set[str] = set()
    good = 0
    with out.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                ids.add(str(json.loads(raw)["id"]))
            except (ValueError, KeyError, TypeError):
                break
            good += len(raw)
    if good < out.stat().st_size:
        with out.open("rb+") as fh:
            fh.truncate(good)
    return ids


@asynccontextmanager
async def embedded_scorer(settings: GatewaySettings) -> AsyncIterator[ScoreFn]:
    """The gateway's scoring core in this process, without HTTP."""
    registry = load_plugins(settings.plugins)
    metrics = Metrics()
    dispatcher = EmbeddedDispatcher(registry, settings, metrics)
    await dispatcher.start()
    scorer = Scorer(registry, dispatcher, settings, metrics)

    async def score(items: list[ScoreItem], rewards: list[RewardSpec] | None) -> list[ItemResult]:
        return (await scorer.score(ScoreRequest(items=items, rewards=rewards))).results

    try:
        yield score
    finally:
        await dispatcher.close()


@asynccontextmanager
async def remote_scorer(url: str) -> AsyncIterator[ScoreFn]:
    async with AsyncRewardClient(url) as client:

        async def score(items: list[ScoreItem], rewards: list[RewardSpec] | None) -> list[ItemResult]:
            return await client.score(items, rewards)

        yield score


async def score_file(
    src: Path,
    out: Path,
    *,
    rewards: list[RewardSpec] | None,
    url: str | None,
    batch_size: int,
    settings: GatewaySettings | None = None,
    progress: bool = True,
) -> tuple[int, int]:
    """Score every item of ``src`` not yet in ``out``; returns (newly scored, skipped as done)."""
    items = list(read_items(src))
    if rewards is None:
        ScoreRequest(items=items, rewards=None)  # every item must then bring its own specs
    seen = done_ids(out)
    todo = [it for it in items if it.id not in seen]
    context = remote_scorer(url) if url else embedded_scorer(settings or GatewaySettings())
    written = 0
    async with context as score:
        with (
            out.open("a", encoding="utf-8") as fh,
            tqdm(total=len(items), initial=len(items) - len(todo), unit="item", disable=not progress) as bar,
        ):
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                results = await score(chunk, rewards)
                for result in results:
                    fh.write(result.model_dump_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                written += len(results)
                bar.update(len(results))
    return written, len(items) - len(todo)
