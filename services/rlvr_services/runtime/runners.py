"""Builds the right runner for a verifier from its declared execution kind."""

from __future__ import annotations

from ..settings import CommonSettings, SandboxSettings
from .inline import InlineRunner
from .jobs import Runner
from .pool import ProcessRunner
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
