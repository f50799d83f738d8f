"""The R1 loop: base model, then each stage of the recipe in turn, each starting from the one before.

Before stage 0 and after every stage the model is evaluated on the held-out prompts; at the end (and
when a stage fails) the report is written from whatever the run directory holds. The tiny graders the
stack's backends ask for are built before the stack starts (once per run directory).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import GRPOStage, Recipe, SFTStage
from .evaluation import evaluate
from .generation import resolve_device
from .graders import stack_backends
from .grpo import run_grpo
from .preference import train_preference_model
from .pretrain import build_base, corpus
from .report import write_report
from .rundir import RunDir
from .sft import run_sft
from .stack import reward_stack
from .tasks import general_eval_rows, read_rows, synthetic_rows
from .teacher import teacher_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rows:
    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    general: list[dict[str, Any]]  # held-out general prompts (eval.general_prompts)


def load_rows(recipe: Recipe) -> Rows:
    """Training and held-out task rows, and the held-out general prompts. Synthetic math questions that occur
    in the training prompts or the pre-training corpus are left out of the held-out set."""
    data = recipe.data
    if data.source == "jsonl":
        return Rows(read_rows(data.train_files), read_rows(data.eval_files), [])
    train = synthetic_rows(data.train_prompts, data.kinds, seed=recipe.seed, prefix="train", languages=data.languages)
    candidates = synthetic_rows(
        4 * data.eval_prompts, data.kinds, seed=recipe.seed + 1, prefix="eval", languages=data.languages
    )
    seen = [row["question"] for row in train]  # and every prompt of the corpus, few-shot examples included
    if recipe.model.pretrain is not None:
        seen += [pair["prompt"] for pair in corpus(recipe)]
    held_out = [row for row in candidates if row["kind"] != "math" or not any(row["question"] in s for s in seen)]
    general = general_eval_rows(recipe.eval.general_prompts, seed=recipe.seed + 11)
    return Rows(train, held_out[: data.eval_prompts], general)


def _label(recipe: Recipe, index: int | None) -> str:
    return "base model" if index is None else f"after stage {index} ({recipe.stages[index].name})"


def run_pipeline(recipe: Recipe, run_dir: Path, *, only: int | None = None, resume: bool = False) -> Path:
    """Run every stage (or only stage ``only``); returns the report's path."""
    device = resolve_device(recipe.device)
    run = RunDir.open(run_dir, recipe, resume=resume or only is not None)
    if only is not None and only > 0:
        run.input_model(only)  # refuses now, before anything is built, if the stage before is not done
    rows = load_rows(recipe)
    log.info("%d training prompts, %d held-out; device %s", len(rows.train), len(rows.eval), device)
    try:
        backends = stack_backends(recipe.stack, run.base.path, seed=recipe.seed)
        with reward_stack(recipe.stack, backends) as url:
            base_model = _base(recipe, run, device)
            _evaluate_once(recipe, run, None, base_model, rows, url, device)
            for index in [only] if only is not None else range(len(recipe.stages)):
                folder = run.stage(index)
                if folder.is_done() and (resume or only is None):
                    log.info("stage %d (%s) is done: skipped", index, recipe.stages[index].name)
                elif folder.path.exists() and not resume:
                    shutil.rmtree(folder.path)  # --stage N without --resume: run it again from its input
                    later = [
                        s.name for s in recipe.stages[index + 1 :] if run.stage(recipe.stage_index(s.name)).is_done()
                    ]
                    if later:
                        log.warning(
                            "stages %s were made from the previous stage-%d model: run them again", later, index
                        )
                if not folder.is_done():
                    model_in = base_model if index == 0 else run.input_model(index)
                    _run_stage(recipe, run, index, model_in, base_model, rows.train, url, device)
                _evaluate_once(recipe, run, index, folder.model, rows, url, device, fresh=not resume)
    finally:
        report = write_report(run.path)
    return report


def _base(recipe: Recipe, run: RunDir, device: str) -> Path:
    if recipe.model.path is not None:
        return Path(recipe.model.path)
    if not run.base.is_done():
        build_base(recipe, run.base, device)
    return run.base.model


def _evaluate_once(
    recipe: Recipe,
    run: RunDir,
    index: int | None,
    model: Path,
    rows: Rows,
    url: str,
    device: str,
    *,
    fresh: bool = False,
) -> None:
    out = run.eval_file(index)
    if out.exists() and not fresh:
        return
    label = _label(recipe, index)
    evaluate(model, recipe, rows.eval, url=url, device=device, out=out, label=label, stage=index, general=rows.general)


def _run_stage(
    recipe: Recipe,
    run: RunDir,
    index: int,
    model_in: Path,
    base_model: Path,
    train: Sequence[Mapping[str, Any]],
    url: str,
    device: str,
) -> None:
    stage = recipe.stages[index]
    folder = run.stage(index)
    log.info("stage %d (%s, %s) from %s", index, stage.name, stage.kind, model_in)
    if isinstance(stage, SFTStage):
        teacher = teacher_settings(stage.teacher, recipe, base_model, run.base.path) if stage.teacher else None
        run_sft(stage, recipe, folder, model_in, train, url=url, device=device, teacher=teacher)
        return
    assert isinstance(stage, GRPOStage)
    preference = None
    pm = stage.preference_model
    if pm is not None and pm.path is not None:
        preference = Path(pm.path)
    elif pm is not None and pm.pairs_from is not None:
        preference = folder.path / "preference_model"
        if not (preference / "preference_summary.json").exists():
            source = run.stage(recipe.stage_index(pm.pairs_from))
            summary = train_preference_model(pm, source, model_in, preference, device=device, seed=recipe.seed)
            folder.mark("running", kind="grpo", preference_model=summary)
    run_grpo(stage, recipe, folder, model_in, train, url=url, device=device, preference_model=preference)
