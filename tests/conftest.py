"""Shared fixtures: a real Redis, a real uvicorn gateway, the test plug-in verifiers on the path."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from rlvr_client import RewardClient

TESTS = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("RLVR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PLUGINS = ["rlvr_test_plugins"]

# Verifier processes (forkserver) and worker subprocesses must import the test plug-ins too.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


# Skips a CI run may have (RLVR_CI_SKIPS=strict fails the run on any other): the container backend needs an
# engine and a sandbox image that CI does not build.
EXPECTED_CI_SKIPS = ("podman-setup.sh", "the docker SDK is not installed")


# The tests that need a model trained in the session: the first of them pays for the training in its set-up
# (about 2 min on 2 idle cores; over 15 min with another test run on the machine), so they get at least this.
MODEL_FIXTURES = frozenset({"tiny_judge_dir", "tiny_reward_dir"})
MODEL_TEST_TIMEOUT_S = 1800


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            continue
        marker = item.get_closest_marker("timeout")
        if marker is None or (marker.args and float(marker.args[0]) < MODEL_TEST_TIMEOUT_S):
            item.add_marker(pytest.mark.timeout(MODEL_TEST_TIMEOUT_S))


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """Never skip silently: one line per distinct skip reason, with how many tests it skipped."""
    skipped: list[pytest.TestReport] = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reasons[_skip_reason(report)] = reasons.get(_skip_reason(report), 0) + 1
    if not reasons:
        return
    terminalreporter.section("skipped groups")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")
    unexpected = [r for r in reasons if not any(e in r for e in EXPECTED_CI_SKIPS)]
    if unexpected and os.environ.get("RLVR_CI_SKIPS") == "strict":
        terminalreporter.write_line(f"RLVR_CI_SKIPS=strict: {len(unexpected)} skip reason(s) not expected on CI")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("RLVR_CI_SKIPS") != "strict":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if any(not any(e in _skip_reason(r) for e in EXPECTED_CI_SKIPS) for r in skipped) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"these tests need a real Redis at {REDIS_URL} (set RLVR_TEST_REDIS_URL): {exc}")
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def scratch_prefix(redis_url: str = REDIS_URL) -> Iterator[str]:
    """A fresh key namespace; every key under it is deleted on the way out."""
    prefix = f"rlvr-test-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key namespace of this test's own; its keys are deleted afterwards."""
    with scratch_prefix(redis_url) as prefix:
        yield prefix


@pytest.fixture(scope="session")
def gateway_url() -> Iterator[str]:
    """A real embedded gateway (math, format and the test verifiers) on a real uvicorn server."""
    from rlvr_services.gateway.app import create_app
    from rlvr_services.server import serve_in_thread
    from rlvr_services.settings import GatewaySettings

    settings = GatewaySettings(port=0, processes=2, plugins=PLUGINS, max_completion_chars=1_000_000)
    with serve_in_thread(create_app(settings)) as url:
        wait_ready(url)
        yield url


def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    with RewardClient(url) as client:
        client.wait_ready(timeout_s)


@pytest.fixture(scope="session")
def tiny_judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny equivalence judge (tiny_graders.build_judge_model, default steps), trained once per session.

    ``RLVR_TEST_JUDGE_STEPS`` trains it shorter (a judge that answers in format, not an accurate one) for
    quick local runs; the accuracy test then fails."""
    from rlvr_trainer.tiny_graders import build_judge_model

    steps = os.environ.get("RLVR_TEST_JUDGE_STEPS")
    kwargs = {"steps": int(steps)} if steps else {}
    return build_judge_model(tmp_path_factory.mktemp("tiny-judge") / "model", **kwargs)


@pytest.fixture(scope="session")
def tiny_reward_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sequence-classification reward model trained here with trl.RewardTrainer (once per session)."""
    from rlvr_trainer.tiny_graders import build_reward_model

    return build_reward_model(tmp_path_factory.mktemp("tiny-reward") / "model")
