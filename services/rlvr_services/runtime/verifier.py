"""The plug-in seam: the `Verifier` protocol and the value types it works on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from rlvr_client.models import Status


class Execution(str, Enum):
    """Where a verifier runs inside a service."""

    INLINE = "inline"  # cheap, pure-Python, bounded work: runs in a thread of the serving process
    PROCESS = "process"  # CPU-bound or may hang in C code: runs in worker processes that are hard-killed
    SANDBOX = "sandbox"  # waits on the code sandbox's jails: many threads; always a worker's job in queue mode
    ASYNC = "async"  # waits on a model backend: coroutines on the process's model loop (runtime/aio.py)


@dataclass(frozen=True)
class Task:
    """One item for one verifier, params already validated by the verifier's params model."""

    id: str
    completion: str
    params: BaseModel
    prompt: str = ""


@dataclass(frozen=True)
class Verdict:
    """A verifier's answer for one task. ``score`` is set exactly when ``status`` is ok."""

    status: Status
    score: float | None = None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.status is Status.OK) != (self.score is not None):
            raise ValueError(
                f"a {self.status.value} verdict must {'' if self.status is Status.OK else 'not '}carry a score"
            )

    @classmethod
    def ok(cls, score: float, reason: str = "", **details: Any) -> Verdict:
        return cls(Status.OK, float(score), reason, details)

    @classmethod
    def error(cls, reason: str, **details: Any) -> Verdict:
        return cls(Status.ERROR, None, reason, details)

    @classmethod
    def timeout(cls, reason: str, **details: Any) -> Verdict:
        return cls(Status.TIMEOUT, None, reason, details)

    @classmethod
    def not_applicable(cls, reason: str, **details: Any) -> Verdict:
        return cls(Status.NOT_APPLICABLE, None, reason, details)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "score": self.score, "reason": self.reason, "details": dict(self.details)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            Status(data["status"]), data.get("score"), str(data.get("reason", "")), dict(data.get("details") or {})
        )


@runtime_checkable
class Verifier(Protocol):
    """A verifier: a name on the wire, a params model, and a batch verify.

    ``verify_batch`` returns one verdict per task in order. It may raise; the runtime turns an
    exception into an ``error`` verdict for the items concerned, never into a score.

    A ``PROCESS`` verifier may also define ``warm_up(self) -> None`` (idempotent): it loads models once
    in the forkserver the verifier processes are forked from (they share that copy), and a process
    calls it again before it reports ready, so that no item pays for a load inside its deadline.
    A ``SANDBOX`` verifier's ``warm_up`` (the ``code`` verifier starts its jails) runs once in a background
    thread when its runner is built; the runner reports ready when it has finished.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[BaseModel]]
    execution: ClassVar[Execution]
    default_timeout_s: ClassVar[float]

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]: ...


@runtime_checkable
class AsyncVerifier(Verifier, Protocol):
    """An ``ASYNC`` verifier: one coroutine per item, awaited with the item's deadline (a
    ``time.monotonic()`` value) on the model loop. It raises `BackendError` for a backend failure;
    the runner turns that into ``error``/``timeout``. Its ``verify_batch`` is for callers outside
    the runner (it runs ``averify`` on the model loop and waits)."""

    async def averify(self, task: Task, deadline: float) -> Verdict: ...
