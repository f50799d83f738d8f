"""Builds the right runner for a verifier from its declared execution kind."""

from __future__ import annotations

import threading

from ..settings import CommonSettings, SandboxSettings
from .aio import AsyncRunner
from .inline import InlineRunner
from .jobs import Runner
from .pool import ProcessRunner, warm_in_forkserver
from .registry import REGISTRY
from .verifier import Execution


def make_runner(name: str, settings: CommonSettings, *, inline_threads: int = 2) -> Runner:
    cls = REGISTRY.get_class(name)
    if cls.execution is Execution.ASYNC:
        return AsyncRunner(name)
    if cls.execution is Execution.PROCESS:
        return ProcessRunner(
            name, size=settings.processes, plugins=settings.plugins, memory_mb=settings.worker_memory_mb
        )
    if cls.execution is Execution.SANDBOX:
        # the jails do the work; a thread only waits on one, so keep every jail busy with a queue behind it;
        # the jails start with the runner (warm), not inside the first batch
        return InlineRunner(name, threads=max(inline_threads, 4 * SandboxSettings().slots), warm=True)
    return InlineRunner(name, threads=inline_threads)


def make_runners(names: list[str], settings: CommonSettings, *, inline_threads: int = 2) -> dict[str, Runner]:
    """The runners of a service; the process verifiers' models are loaded once, in their forkserver.

    They are also this process's shared runners: a verifier that asks another for a first opinion
    (the judge's ``rule_first``) uses the same one (`shared_runner`)."""
    warm_in_forkserver([n for n in names if REGISTRY.get_class(n).execution is Execution.PROCESS])
    runners = {name: make_runner(name, settings, inline_threads=inline_threads) for name in names}
    with _shared_lock:
        _shared.update(runners)
    return runners


_shared_lock = threading.Lock()
_shared: dict[str, Runner] = {}


def shared_runner(name: str) -> Runner:
    """This process's runner of a verifier: the service's own, or one started now (with default settings)."""
    with _shared_lock:
        runner = _shared.get(name)
        if runner is None:
            runner = _shared[name] = make_runner(name, CommonSettings(processes=1))
        return runner


def forget_runners(runners: dict[str, Runner]) -> None:
    """Called when a service closes its runners: they are no longer shared."""
    with _shared_lock:
        for name, runner in runners.items():
            if _shared.get(name) is runner:
                del _shared[name]
