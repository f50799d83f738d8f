"""The unit of work a runner executes, and the runner protocol shared by both kinds of runner."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from .verifier import Task, Verdict, Verifier


@dataclass(frozen=True)
class Job:
    """One item for one verifier, in plain data (it crosses process boundaries and Redis)."""

    id: str
    completion: str
    params: dict[str, Any]
    timeout_s: float
    prompt: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "completion": self.completion,
            "params": self.params,
            "timeout_s": self.timeout_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        return cls(
            id=str(data["id"]),
            completion=str(data["completion"]),
            params=dict(data.get("params") or {}),
            timeout_s=float(data["timeout_s"]),
            prompt=str(data.get("prompt", "")),
        )

    def task_for(self, verifier: type[Verifier]) -> Task:
        params: BaseModel = verifier.params_model.model_validate(self.params)
        return Task(id=self.id, completion=self.completion, params=params, prompt=self.prompt)


def item_timeout(verifier: type[Verifier], params: BaseModel, cap_s: float) -> float:
    """The deadline of one item: the params' ``timeout_s`` if it has one, else the verifier's default."""
    wanted = getattr(params, "timeout_s", None)
    value = float(wanted) if wanted else float(verifier.default_timeout_s)
    return max(0.01, min(value, cap_s))


def describe_exception(exc: BaseException) -> str:
    text = str(exc)
    if len(text) > 500:
        text = text[:500] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def verify_one(verifier: Verifier, job: Job) -> Verdict:
    """Run one job through a verifier; an exception becomes an `error` verdict."""
    try:
        task = job.task_for(type(verifier))
        verdicts = verifier.verify_batch([task])
        if len(verdicts) != 1:
            return Verdict.error(f"verifier {verifier.name} returned {len(verdicts)} verdicts for 1 task")
        return verdicts[0]
    except MemoryError:
        return Verdict.error("verifier ran out of memory on this item")
    except RecursionError:
        return Verdict.error("verifier hit the recursion limit on this item")
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error verdict, never a score
        return Verdict.error(describe_exception(exc))


class Runner(Protocol):
    """Executes jobs for one verifier; every future it returns resolves (never hangs)."""

    name: str
    restarts: int  # processes killed and replaced so far

    def submit(self, jobs: list[Job]) -> list[Future[Verdict]]: ...

    def ready(self) -> bool: ...

    def wait_ready(self, timeout_s: float) -> bool: ...

    def close(self) -> None: ...
