"""The JSON documents on the streams, encoded and decoded in one place (never pickle).

A task-stream entry carries one or more jobs for the same gateway:
    {"reply_to": <result stream>, "deadline": <unix time>, "tasks": [{"task_id": str, "job": {...}}]}
A result-stream entry carries the verdicts of one or more tasks:
    {"worker": <consumer>, "results": [{"task_id": str, "verdict": {...}}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import constants as keys
from ..runtime.jobs import Job
from ..runtime.verifier import Verdict

MAX_TASKS_PER_ENTRY = 16


@dataclass(frozen=True)
class TaskEntry:
    reply_to: str
    deadline: float
    tasks: list[tuple[str, Job]]

    def encode(self) -> dict[Any, Any]:
        body = {
            "reply_to": self.reply_to,
            "deadline": self.deadline,
            "tasks": [{"task_id": task_id, "job": job.to_json()} for task_id, job in self.tasks],
        }
        return {keys.FIELD: json.dumps(body, separators=(",", ":"))}

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> TaskEntry:
        """Raises KeyError, ValueError or TypeError on a malformed entry."""
        body = json.loads(fields[keys.FIELD])
        reply_to = body["reply_to"]
        if not isinstance(reply_to, str) or not isinstance(body["tasks"], list) or not body["tasks"]:
            raise ValueError("an entry needs a reply_to string and a non-empty tasks list")
        tasks = [(str(t["task_id"]), Job.from_json(t["job"])) for t in body["tasks"]]
        return cls(reply_to, float(body.get("deadline", float("inf"))), tasks)

    def split(self) -> list[TaskEntry]:
        return [TaskEntry(self.reply_to, self.deadline, [task]) for task in self.tasks]


def chunk_size(n_jobs: int, live_workers: int) -> int:
    """Jobs per entry: several entries per live worker, so work spreads; at most MAX_TASKS_PER_ENTRY."""
    return max(1, min(MAX_TASKS_PER_ENTRY, n_jobs // (max(1, live_workers) * 8)))


def encode_results(worker: str, results: Sequence[tuple[str, Verdict]]) -> dict[Any, Any]:
    body = {"worker": worker, "results": [{"task_id": t, "verdict": v.to_json()} for t, v in results]}
    return {keys.FIELD: json.dumps(body, separators=(",", ":"))}


def decode_results(fields: Mapping[str, str]) -> list[tuple[str, Verdict]]:
    body: Any = json.loads(fields[keys.FIELD])
    return [(str(r["task_id"]), Verdict.from_json(r["verdict"])) for r in body["results"]]
