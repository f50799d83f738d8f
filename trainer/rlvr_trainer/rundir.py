"""The run directory: where every stage writes its model, its data and its metrics, and how a run resumes.

```
RUN/run.json                     the recipe, the start time, the stages
RUN/base/model                   the model stage 0 starts from (built and pre-trained for a tiny recipe)
RUN/base/judge, base/reward      tiny graders the stack's backends build in the run (stack.backends: build)
RUN/base/teacher                 the base model served as stage 3's teacher (teacher.backend: build: base)
RUN/stage{i}-{name}/state.json   {"status": "running"|"done", "kind", "wall_s", ...}
RUN/stage{i}-{name}/model        the stage's output model: the next stage's input
RUN/stage{i}-{name}/...          train_log.jsonl, checkpoints/, samples.jsonl, general.jsonl, sft_data.jsonl,
                                 filters.json
RUN/eval/base.json, stage{i}.json held-out evaluation before stage 0 and after each stage
RUN/report.md, RUN/plots/        the report
```
A stage whose ``state.json`` says ``done`` is skipped on ``--resume``; a stage that was running
continues from its last checkpoint or from the samples it had already written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import Recipe


class RunDirError(RuntimeError):
    pass


def append_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Append records and fsync, so an interrupted stage keeps every line it wrote."""
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Replace ``path`` with these records (written to a temporary file, then renamed)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a JSONL file (a torn last line, from a crash mid-write, is dropped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class StageDir:
    path: Path

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    def state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return data

    def is_done(self) -> bool:
        return self.state().get("status") == "done" and self.model.exists()

    def mark(self, status: str, **extra: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.state_file, {**self.state(), "status": status, **extra})

    def file(self, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / name


class RunDir:
    def __init__(self, path: Path, recipe: Recipe) -> None:
        self.path = path
        self.recipe = recipe

    @classmethod
    def open(cls, path: Path, recipe: Recipe, *, resume: bool) -> RunDir:
        """A new run directory, or (with ``resume``) the existing one of the same recipe."""
        run_json = path / "run.json"
        if run_json.exists():
            if not resume:
                raise RunDirError(f"{path} already holds a run: pass --resume to continue it, or another --run-dir")
            saved = json.loads(run_json.read_text(encoding="utf-8"))
            if saved.get("recipe_config") != recipe.model_dump(mode="json"):
                raise RunDirError(
                    f"{path} holds a run of a different recipe configuration; resume it with the recipe it was "
                    "started with, or use another --run-dir"
                )
        else:
            path.mkdir(parents=True, exist_ok=True)
            write_json(
                run_json,
                {
                    "recipe": recipe.name,
                    "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "seed": recipe.seed,
                    "stages": [{"index": i, "name": s.name, "kind": s.kind} for i, s in enumerate(recipe.stages)],
                    "recipe_config": recipe.model_dump(mode="json"),
                },
            )
        (path / "eval").mkdir(exist_ok=True)
        return cls(path, recipe)

    @property
    def base(self) -> StageDir:
        return StageDir(self.path / "base")

    def stage(self, index: int) -> StageDir:
        return StageDir(self.path / f"stage{index}-{self.recipe.stages[index].name}")

    def eval_file(self, index: int | None) -> Path:
        return self.path / "eval" / ("base.json" if index is None else f"stage{index}.json")

    def input_model(self, index: int) -> Path:
        """The model stage ``index`` starts from: the previous stage's output, or the base model."""
        source = self.base if index == 0 else self.stage(index - 1)
        if not source.is_done():
            what = "the base model" if index == 0 else f"stage {index - 1} ({self.recipe.stages[index - 1].name})"
            raise RunDirError(f"stage {index} needs {what}, which is not done in {self.path}: run it first")
        return source.model


class Stopwatch:
    """Wall seconds since creation, plus what an earlier, interrupted attempt had already spent."""

    def __init__(self, before_s: float = 0.0) -> None:
        self.before_s = before_s
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return round(self.before_s + time.monotonic() - self.start, 1)
