"""Schemathesis against the live gateway's own OpenAPI schema, in embedded and in queue mode: bounded examples,
a fixed seed. Every check it has (no 5xx, responses conform to the schema, every status is documented, …), and
ours (`schemathesis_hooks.py`): every error answer has the one error shape.

Left out: `positive_data_acceptance` (a schema-valid request is accepted): the schema cannot say which names
the registry knows (verifiers, languages, profiles), and an unknown one is a 422 by design.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_queue import queue_gateway, thread_worker

from conftest import REDIS_URL, TESTS, scratch_prefix

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
SEED = 20261
MAX_EXAMPLES = 25  # per operation and phase: about 2,500 requests a mode, ~30 s on 2 cores


@pytest.fixture(scope="module")
def queue_url() -> Iterator[str]:
    with scratch_prefix() as prefix, thread_worker("sleep", REDIS_URL, prefix), queue_gateway(REDIS_URL, prefix) as url:
        yield url


def fuzz(url: str, workdir: Path) -> None:
    cmd = [
        SCHEMATHESIS, "run", f"{url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
        "--workers", "2", "--request-timeout", "60", "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(TESTS)}
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=280)
    summary = done.stdout[done.stdout.rfind("SUMMARY"):] if "SUMMARY" in done.stdout else done.stdout[-3000:]
    print(f"\nschemathesis {url} (seed {SEED}, {MAX_EXAMPLES} examples an operation):\n{summary}")
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]


@pytest.mark.redis
@pytest.mark.parametrize("mode", ["embedded", "queue"])
def test_schemathesis_finds_nothing(mode: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = request.getfixturevalue("gateway_url" if mode == "embedded" else "queue_url")
    fuzz(str(url), tmp_path)
