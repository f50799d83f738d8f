"""The process runner: deadlines kill and replace processes, crashes become errors, nothing hangs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rlvr_client.models import Status
from rlvr_services.runtime.inline import InlineRunner
from rlvr_services.runtime.jobs import Job
from rlvr_services.runtime.pool import ProcessRunner
from rlvr_services.runtime.registry import REGISTRY, load_plugins
from rlvr_services.runtime.verifier import Verdict

from conftest import PLUGINS


@pytest.fixture(scope="module")
def runner() -> Iterator[ProcessRunner]:
    load_plugins(PLUGINS)
    r = ProcessRunner("sleep", size=2, plugins=PLUGINS, memory_mb=2048)
    assert r.wait_ready(60)
    yield r
    r.close()


def job(i: int, timeout_s: float = 5.0, **params: object) -> Job:
    return Job(id=f"j{i}", completion="", params=dict(params), timeout_s=timeout_s)


def results(r: ProcessRunner, jobs: list[Job], wait_s: float = 30.0) -> list[Verdict]:
    return [f.result(timeout=wait_s) for f in r.submit(jobs)]


def test_batch_scores_in_order(runner: ProcessRunner) -> None:
    out = results(runner, [job(i, value=i / 10) for i in range(20)])
    assert [v.score for v in out] == [i / 10 for i in range(20)]
    assert all(v.status is Status.OK for v in out)


def test_hung_item_times_out_and_rest_of_batch_is_scored(runner: ProcessRunner) -> None:
    restarts = runner.restarts
    jobs = [job(0, value=0.5), job(1, timeout_s=0.5, spin=True), job(2, value=0.25), job(3, value=1.0)]
    start = time.monotonic()
    out = results(runner, jobs)
    elapsed = time.monotonic() - start
    assert [v.status for v in out] == [Status.OK, Status.TIMEOUT, Status.OK, Status.OK]
    assert out[1].score is None and "killed and replaced" in out[1].reason
    assert [out[0].score, out[2].score, out[3].score] == [0.5, 0.25, 1.0]
    assert elapsed < 0.5 + 5.0, f"deadline 0.5s, took {elapsed:.2f}s"
    assert runner.restarts == restarts + 1


def test_crashing_process_is_error_never_zero(runner: ProcessRunner) -> None:
    out = results(runner, [job(0, crash=True), job(1, value=0.75)])
    assert out[0].status is Status.ERROR and out[0].score is None
    assert "died" in out[0].reason and "exit code 3" in out[0].reason
    assert out[1].status is Status.OK and out[1].score == 0.75


def test_exception_in_verifier_is_error(runner: ProcessRunner) -> None:
    out = results(runner, [job(0, raise_error=True)])
    assert out[0].status is Status.ERROR and "RuntimeError: asked to fail" in out[0].reason


def test_memory_cap_makes_memory_bomb_an_error() -> None:
    load_plugins(PLUGINS)
    r = ProcessRunner("sleep", size=1, plugins=PLUGINS, memory_mb=256)
    try:
        assert r.wait_ready(60)
        out = results(r, [job(0, alloc_mb=1024), job(1, alloc_mb=1, value=0.5)])
        assert out[0].status is Status.ERROR and "out of memory" in out[0].reason
        assert out[1].status is Status.OK and out[1].score == 0.5
    finally:
        r.close()


def test_many_concurrent_batches_all_answered(runner: ProcessRunner) -> None:
    futures = [f for b in range(10) for f in runner.submit([job(b * 10 + i, ms=1, value=1.0) for i in range(10)])]
    out = [f.result(timeout=60) for f in futures]
    assert len(out) == 100 and all(v.score == 1.0 for v in out)


def test_registry_miss_lists_known_names() -> None:
    load_plugins(PLUGINS)
    from rlvr_client.errors import UnknownVerifier

    with pytest.raises(UnknownVerifier) as info:
        REGISTRY.get_class("maths")
    assert "known verifiers:" in str(info.value) and "math" in info.value.details["known"]


def test_registry_refuses_duplicates() -> None:
    load_plugins(PLUGINS)
    cls = REGISTRY.get_class("sleep")
    clone = type("Clone", (), {"name": "sleep"})
    with pytest.raises(ValueError, match="already registered"):
        REGISTRY.register(clone)  # type: ignore[arg-type]
    assert REGISTRY.get_class("sleep") is cls


WARM_SCRIPT = """
import json, sys
from rlvr_services.runtime.inline import InlineRunner
from rlvr_services.runtime.jobs import Job
from rlvr_services.runtime.registry import load_plugins
from rlvr_services.runtime.runners import make_runners
from rlvr_services.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings(processes=2, plugins=["rlvr_test_plugins"])
    load_plugins(settings.plugins)
    runners = make_runners(["warmth", "sleep"], settings)
    runner = runners["warmth"]
    assert runner.wait_ready(60)
    jobs = [Job(str(i), "", {}, 5.0) for i in range(8)]
    print(json.dumps([f.result(30).details for f in runner.submit(jobs)]))
    for r in runners.values():
        r.close()
"""


def test_models_are_loaded_once_in_the_forkserver(tmp_path: Any) -> None:
    """warm_up runs in the forkserver before any verifier process is forked: every process starts warm."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "warm.py"
    script.write_text(WARM_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    details = json.loads(out.stdout.strip().splitlines()[-1])
    pids = {d["pid"] for d in details}
    warmed = {tuple(d["warmed_in"]) for d in details}
    assert len(pids) == 2 and len(warmed) == 1, details
    [(where,)] = warmed
    assert where not in pids and where != os.getpid()  # neither a verifier process nor the test


def test_inline_runner_is_ready_after_its_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm inline runner (the `code` verifier's) runs warm_up once on one of its own threads, and is ready
    after it; a warm-up that fails is logged and the runner is ready anyway."""
    load_plugins(PLUGINS)
    gate = threading.Event()
    ran_on: list[str] = []

    def warm_up() -> None:
        ran_on.append(threading.current_thread().name)
        gate.wait(30)

    monkeypatch.setattr(REGISTRY.instance("warmth"), "warm_up", warm_up)
    runner = InlineRunner("warmth", threads=2, warm=True)
    try:
        assert not runner.wait_ready(0.2) and not runner.ready()
        gate.set()
        assert runner.wait_ready(30) and runner.ready()
        assert ran_on == ["warmth-inline_0"]  # a thread that stays: a jail dies with the thread that started it
        (verdict,) = [f.result(timeout=30) for f in runner.submit([job(0)])]
        assert verdict.status is Status.OK
    finally:
        runner.close()

    def broken() -> None:
        raise RuntimeError("no jail today")

    monkeypatch.setattr(REGISTRY.instance("warmth"), "warm_up", broken)
    failed = InlineRunner("warmth", threads=1, warm=True)
    try:
        assert failed.wait_ready(30)
        (verdict,) = [f.result(timeout=30) for f in failed.submit([job(0)])]
        assert verdict.status is Status.OK
    finally:
        failed.close()
    cold = InlineRunner("warmth", threads=1)
    assert cold.ready()  # not warm: nothing to wait for
    cold.close()
