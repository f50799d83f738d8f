"""The embedded stack's model backends: the recipe's ``stack.backends``, with the tiny graders it builds.

A backend that says ``build: tiny_judge`` or ``build: tiny_reward`` gets a model the run trains itself
(``tiny_graders.build_judge_model`` / ``build_reward_model``) into ``RUN/base/judge`` or ``RUN/base/reward``:
built once, before the stack starts, and reused on ``--resume``. Each folder's ``grader.json`` records what
was built and how long it took; a folder without it (an interrupted build) is built again.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from .config import StackSpec, resolve_backend
from .rundir import Stopwatch, read_json, write_json

log = logging.getLogger(__name__)
FOLDERS = {"tiny_judge": "judge", "tiny_reward": "reward"}


def build_grader(build: str, folder: Path, *, seed: int, steps: int | None) -> dict[str, Any]:
    """Train the tiny grader ``build`` into ``folder`` unless it is there; returns its ``grader.json``."""
    done = folder / "grader.json"
    if done.exists():
        return read_json(done)
    from .tiny_graders import build_judge_model, build_reward_model

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    clock = Stopwatch()
    log.info("building the %s into %s", build.replace("_", " "), folder)
    kwargs = {"steps": steps} if steps is not None else {}
    (build_judge_model if build == "tiny_judge" else build_reward_model)(tmp, seed=seed, **kwargs)
    summary = {"build": build, "seed": seed, "steps": steps, "wall_s": clock.elapsed()}
    write_json(tmp / "grader.json", summary)
    tmp.rename(folder)
    return summary


def stack_backends(spec: StackSpec, base_dir: Path, *, seed: int) -> dict[str, dict[str, Any]]:
    """The backends to give the embedded gateway, every ``build`` made and replaced by its folder."""
    out: dict[str, dict[str, Any]] = {}
    for name, config in spec.backends.items():
        build = config.get("build")
        if build is None:
            out[name] = dict(config)
            continue
        folder = base_dir / FOLDERS[build]
        build_grader(build, folder, seed=seed, steps=config.get("build_steps"))
        out[name] = resolve_backend(config, str(folder))
    return out
