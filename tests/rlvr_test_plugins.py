"""Verifiers used only by the tests, loaded as a plug-in (`RLVR_PLUGINS=rlvr_test_plugins`).

They misbehave on request: sleep, spin forever, crash their process, or kill their whole worker.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from rlvr_services.runtime.registry import register
from rlvr_services.runtime.verifier import Execution, Task, Verdict


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ms: float = Field(default=0.0, ge=0, description="Sleep this long, then score `value`.")
    value: float = 1.0
    spin: bool = Field(default=False, description="Spin forever in pure CPU.")
    crash: bool = Field(default=False, description="Exit the verifier process abruptly.")
    kill_worker: bool = Field(default=False, description="SIGKILL the whole process group (the worker).")
    raise_error: bool = False
    alloc_mb: int = Field(default=0, ge=0, description="Allocate this many MiB first.")
    timeout_s: float | None = Field(default=None, gt=0)
    record: str | None = Field(
        default=None,
        description="Append a line `value tag time` to this file when the sleep is done (tag: the worker's "
        "RLVR_TEST_WORKER_TAG): tests count who finished which item, and how often.",
    )
    started: str | None = Field(
        default=None, description="Append a line `value tag pid` to this file when the item starts (before the sleep)."
    )


@register
class SleepVerifier:
    name: ClassVar[str] = "sleep"
    description: ClassVar[str] = "Test verifier: sleeps, spins, crashes or kills its worker on request."
    params_model: ClassVar[type[BaseModel]] = SleepParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 5.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        out = []
        for task in tasks:
            p = task.params
            assert isinstance(p, SleepParams)
            if p.kill_worker:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            if p.crash:
                os._exit(3)
            if p.raise_error:
                raise RuntimeError("asked to fail")
            if p.started:
                with open(p.started, "a", encoding="utf-8") as log:
                    log.write(f"{p.value} {os.environ.get('RLVR_TEST_WORKER_TAG', '-')} {os.getpid()}\n")
            hold = bytearray(p.alloc_mb * 1024 * 1024)
            while p.spin:
                pass
            time.sleep(p.ms / 1000)
            if p.record:
                with open(p.record, "a", encoding="utf-8") as log:
                    log.write(f"{p.value} {os.environ.get('RLVR_TEST_WORKER_TAG', '-')} {time.time():.3f}\n")
            out.append(Verdict.ok(p.value, pid=os.getpid(), held=len(hold)))
        return out


class WarmthParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


_warmed_in: list[int] = []  # the pids of the processes that ran warm_up (inherited through fork)


@register
class WarmthVerifier:
    """Test verifier: says where its ``warm_up`` ran, and whether its own process ran it again."""

    name: ClassVar[str] = "warmth"
    description: ClassVar[str] = "Test verifier: reports the processes its warm_up ran in."
    params_model: ClassVar[type[BaseModel]] = WarmthParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 5.0

    def warm_up(self) -> None:
        if not _warmed_in:  # idempotent, like the real ones: once in the forkserver is enough
            _warmed_in.append(os.getpid())

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [Verdict.ok(1.0, pid=os.getpid(), warmed_in=list(_warmed_in)) for _ in tasks]
