"""Sample-filter-SFT stages: R1's cold start (stage 1) and rejection sampling (stage 3).

1. **Sample** ``samples_per_prompt`` completions per training prompt from the input model; with
   ``few_shot`` the prompt starts with solved examples of the same kind (cold start), but the SFT
   data keeps the plain prompt, so the model learns to answer that way unprompted.
2. **Filter** every sample through the stack: each filter that applies to the row (its columns are
   set) must score at least ``min_score``; an ``error``/``timeout`` drops the sample, a
   ``not_applicable`` passes. Up to ``max_kept_per_prompt`` samples per prompt are kept.
3. **SFT** (``trl.SFTTrainer``, loss on the completion only) on the kept samples plus
   ``general_samples`` non-reasoning ones: written by the stage's ``teacher`` (``teacher.py``), or,
   with no teacher, taken as they are from ``data.general_files`` (or the synthetic general rows).

Samples and verdicts go to ``samples.jsonl`` as they are made, so a resumed stage samples only the
prompts it had not reached; pass rates go to ``filters.json``, with, for a filter whose verifier says who
decided (the judge with ``rule_first``: ``math``, ``judge`` or ``rule``), the outcomes of each, and the
teacher's samples and failures.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import Filter, Recipe, SFTStage, resolve_backend
from .generation import Sampler
from .rundir import StageDir, Stopwatch, append_jsonl, read_jsonl, write_json, write_jsonl
from .scoring import Scored, pick_shots, render_prompt, score_samples
from .tasks import general_set
from .teacher import teacher_samples
from .training import common_args, fit_sft, model_init

log = logging.getLogger(__name__)
CHUNK_PROMPTS = 64  # prompts sampled and scored between two writes of samples.jsonl


def outcome(spec: Filter, components: Mapping[str, Sequence[Any]]) -> str:
    """``passed``, ``failed``, ``unscored`` (error/timeout) or ``skipped`` (not applicable to the row)."""
    status, score, _ = components.get(spec.reward.verifier, ("skipped", None, ""))
    if status in ("skipped", "not_applicable"):
        return "skipped"
    if status != "ok" or score is None:
        return "unscored"
    return "passed" if score >= spec.min_score else "failed"


def judge(stage: SFTStage, result: Scored | None) -> tuple[bool, list[str]]:
    """Whether a sample passes every filter that applies, and the filters it did not pass."""
    if result is None:
        return False, ["no filter applies"]
    failed = [spec.reward.label for spec in stage.filters if outcome(spec, result.components) in ("failed", "unscored")]
    return not failed, failed


def _sample_and_filter(
    stage: SFTStage, recipe: Recipe, folder: StageDir, model_dir: Path, rows: Sequence[Mapping[str, Any]], *, url: str,
    device: str,
) -> list[dict[str, Any]]:  # fmt: skip
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    samples_file = folder.file("samples.jsonl")
    written = read_jsonl(samples_file)  # without a torn last line
    per_prompt = Counter(s["prompt_id"] for s in written)
    done = [s for s in written if per_prompt[s["prompt_id"]] == stage.sampling.samples_per_prompt]
    write_jsonl(samples_file, done)  # a prompt cut short by an interruption is sampled again
    reached = {s["prompt_id"] for s in done}
    todo = [row for row in rows[: stage.sampling.prompts or len(rows)] if row["id"] not in reached]
    rng = random.Random(recipe.seed)
    specs = [f.reward for f in stage.filters]
    sampler = Sampler(model_dir, recipe.generation, device=device, seed=recipe.seed) if todo else None
    for start in range(0, len(todo), CHUNK_PROMPTS):
        chunk = todo[start : start + CHUNK_PROMPTS]
        plain = [render_prompt(recipe.prompt, row["question"], tokenizer) for row in chunk]
        shown = [
            render_prompt(
                recipe.prompt, row["question"], tokenizer, pick_shots(rows, row, stage.sampling.few_shot, rng)
            )
            for row in chunk
        ]
        assert sampler is not None
        groups = sampler.sample(
            shown,
            n=stage.sampling.samples_per_prompt,
            temperature=stage.sampling.temperature,
            max_new_tokens=stage.sampling.max_new_tokens,
            seed=recipe.seed + len(done),
            desc=f"{stage.name}: sampling",
        )
        flat = [(row, prompt, c) for row, prompt, group in zip(chunk, plain, groups, strict=True) for c in group]
        scored = score_samples(
            url, recipe.stack, [r for r, _, _ in flat], [c for _, _, c in flat], [p for _, p, _ in flat], specs,
            desc=f"{stage.name}: filtering",
        )  # fmt: skip
        new = []
        for (row, prompt, completion), result in zip(flat, scored, strict=True):
            passed, failed = judge(stage, result)
            new.append(
                {
                    "prompt_id": row["id"],
                    "kind": row["kind"],
                    "prompt": prompt,
                    "completion": completion,
                    "passed": passed,
                    "failed_filters": failed,
                    "components": {} if result is None else {k: list(v) for k, v in result.components.items()},
                    "decided_by": {} if result is None else {
                        k: str(d["decided_by"]) for k, d in result.details.items() if "decided_by" in d
                    },
                }
            )
        append_jsonl(samples_file, new)
        done += new
    return done


def pass_rates(stage: SFTStage, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each filter's outcomes over the samples it applies to, and (``decided_by``) per decider."""
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: {"passed": 0, "failed": 0, "unscored": 0})
    for s in samples:
        for spec in stage.filters:
            if (result := outcome(spec, s["components"])) != "skipped":
                counts[spec.reward.label][result] += 1
                decider = s.get("decided_by", {}).get(spec.reward.verifier)
                if decider is not None and result != "unscored":
                    by = counts[spec.reward.label].setdefault("decided_by", {})
                    by.setdefault(decider, {"passed": 0, "failed": 0})[result] += 1
    return dict(counts)


def general_data(
    stage: SFTStage, recipe: Recipe, folder: StageDir, teacher: Mapping[str, Any] | None
) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """The stage's general (question, completion) pairs, and the teacher's summary when one wrote them.

    ``teacher``: the teacher backend's settings (``teacher_settings``), needed when its backend has a build.
    """
    n, seed = stage.general_samples, recipe.seed + 7
    if n == 0:
        return [], None
    if stage.teacher is None:
        return general_set(n, recipe.data.general_files, seed=seed, completions=True), None
    files = stage.teacher.prompt_files or recipe.data.general_files
    questions = [g["question"] for g in general_set(n, files, seed=seed, completions=False)]
    build = stage.teacher.backend.get("build")
    if teacher is None and build is not None:
        raise ValueError(f"stage {stage.name}: the teacher's build {build!r} needs its settings (teacher_settings)")
    settings = dict(teacher) if teacher is not None else resolve_backend(stage.teacher.backend, None)
    system = stage.teacher.system or (recipe.prompt.system if build == "base" else None)
    answers, summary = teacher_samples(
        stage.teacher, settings, questions, folder.file("general.jsonl"), seed=recipe.seed, system=system
    )
    pairs = [{"question": a.question, "completion": a.completion} for a in answers if a.completion is not None]
    return pairs, summary


def keep(stage: SFTStage, samples: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The passing samples, at most ``max_kept_per_prompt`` per prompt, distinct completions only."""
    kept: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for s in samples:
        group = kept[s["prompt_id"]]
        if s["passed"] and len(group) < stage.sampling.max_kept_per_prompt:
            if all(other["completion"] != s["completion"] for other in group):
                group.append(s)
    return [s for group in kept.values() for s in group]


def run_sft(
    stage: SFTStage,
    recipe: Recipe,
    folder: StageDir,
    model_dir: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    url: str,
    device: str,
    teacher: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    from transformers import AutoTokenizer
    from trl import SFTConfig

    clock = Stopwatch(folder.state().get("wall_s", 0.0))
    folder.mark("running", kind="sft")
    samples = _sample_and_filter(stage, recipe, folder, model_dir, rows, url=url, device=device)
    kept = keep(stage, samples)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pairs, from_teacher = general_data(stage, recipe, folder, teacher)
    general = [
        {"prompt": render_prompt(recipe.prompt, g["question"], tokenizer), "completion": g["completion"]}
        for g in pairs
    ]
    data = [{"prompt": s["prompt"], "completion": s["completion"]} for s in kept] + general
    filters: dict[str, Any] = {
        "candidates": len(samples),
        "kept": len(kept),
        "general": len(general),
        "filters": pass_rates(stage, samples),
    }
    if from_teacher is not None:
        filters["teacher"] = from_teacher
    write_json(folder.file("filters.json"), filters)
    write_jsonl(folder.file("sft_data.jsonl"), data)
    if not kept:
        raise RuntimeError(
            f"stage {stage.name}: none of the {len(samples)} samples passed the filters "
            f"({filters['filters']}); the model is not ready for this stage, or the filters are too strict"
        )
    log.info("%s: kept %d of %d samples, plus %d general", stage.name, len(kept), len(samples), len(general))
    sft = stage.sft
    args = SFTConfig(
        **common_args(device, recipe.seed, folder.path / "checkpoints"),
        **model_init(recipe.model.dtype),
        num_train_epochs=sft.epochs,
        max_steps=sft.max_steps or -1,
        per_device_train_batch_size=sft.batch_size,
        learning_rate=sft.learning_rate,
        lr_scheduler_type="constant",
        completion_only_loss=True,
        save_strategy="no",
        activation_checkpointing=False,
    )
    fit_sft(model_dir, data, args, tokenizer, folder)
    summary = {"candidates": len(samples), "kept": len(kept), "sft_examples": len(data)}
    folder.mark("done", kind="sft", wall_s=clock.elapsed(), **summary)
    return summary
