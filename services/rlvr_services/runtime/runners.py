"""Builds the right runner for a verifier from its declared execution kind."""

from __future__ import annotations

from ..settings import CommonSettings, SandboxSettings
from .inline import InlineRunner
from .jobs import Runner
from .pool import ProcessRunner, warm_in_forkserver
from .registry import REGISTRY
from .verifier import Execution


def make_runner(name: str, settings: CommonSettings, *, inline_threads: int = 2) -> Runner:
    cls = REGISTRY.get_class(name)
    if cls.execution is Execution.PROCESS:
        return ProcessRunner(
            name, size=settings.processes, plugins=settings.plugins, memory_mb=settings.worker_memory_mb
        )
    if cls.execution is Execution.SANDBOX:
        # the jails do the work; a thread only waits on one, so keep every jail busy with a queue behind it
        return InlineRunner(name, threads=max(inline_threads, 4 * SandboxSettings().slots))
    return InlineRunner(name, threads=inline_threads)


def make_runners(names: list[str], settings: CommonSettings, *, inline_threads: int = 2) -> dict[str, Runner]:
    """The runners of a service; the process verifiers' models are loaded once, in their forkserver."""
    warm_in_forkserver([n for n in names if REGISTRY.get_class(n).execution is Execution.PROCESS])
    return {name: make_runner(name, settings, inline_threads=inline_threads) for name in names}
