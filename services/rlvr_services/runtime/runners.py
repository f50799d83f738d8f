"""Builds the right runner for a verifier from its declared execution kind."""

from __future__ import annotations

from ..settings import CommonSettings
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
    return InlineRunner(name, threads=inline_threads)
