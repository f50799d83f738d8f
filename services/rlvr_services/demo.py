"""`rlvr demo`: start the embedded stack, score the bundled sample batch over HTTP, print a table."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from importlib import resources

from rlvr_client.client import RewardClient
from rlvr_client.models import ItemResult, ScoreItem

from .gateway.app import create_app
from .server import serve_in_thread
from .settings import GatewaySettings


def sample_items() -> list[ScoreItem]:
    text = resources.files("rlvr_services").joinpath("data/sample_batch.jsonl").read_text(encoding="utf-8")
    return [ScoreItem.model_validate(json.loads(line)) for line in text.splitlines() if line.strip()]


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(items: list[ScoreItem], results: list[ItemResult]) -> str:
    width = max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    reason_w = max(20, width - 52)
    lines = [f"{'item':<16} {'reward':>6}  {'verifier':<8} {'status':<8} {'score':>5}  reason / details", "-" * width]
    for item, result in zip(items, results, strict=True):
        reward = "null" if result.reward is None else f"{result.reward:.2f}"
        for k, comp in enumerate(result.components):
            score = "null" if comp.score is None else f"{comp.score:.2f}"
            why = comp.reason or ", ".join(f"{key}={val}" for key, val in comp.details.items())
            head = f"{_cell(item.id, 16):<16} {reward:>6}" if k == 0 else " " * 23
            lines.append(f"{head}  {comp.name:<8} {comp.status.value:<8} {score:>5}  {_cell(why, reason_w)}")
        lines.append(textwrap.indent(_cell("completion: " + item.completion, width - 4), "    "))
    return "\n".join(lines)


def run_demo(settings: GatewaySettings | None = None) -> str:
    settings = settings or GatewaySettings(port=0)
    items = sample_items()
    app = create_app(settings)
    started = time.monotonic()
    with serve_in_thread(app) as url, RewardClient(url) as client:
        client.wait_ready()
        ready_s = time.monotonic() - started
        t0 = time.monotonic()
        results = client.score(items)
        took = time.monotonic() - t0
    table = render_table(items, results)
    summary = (
        f"\nembedded stack at {url}: ready in {ready_s:.1f}s, scored {len(items)} items in {took * 1000:.0f} ms"
        f" ({settings.processes} verifier processes)"
    )
    return table + summary
