"""Held-out evaluation: the mean reward and the accuracy of a model on prompts it never trains on.

Each held-out prompt is sampled ``eval.samples_per_prompt`` times at ``eval.temperature`` (the
sampling the RL stages optimise; temperature 0 gives greedy decoding) and scored by the stack with
the recipe's ``eval.rewards``. Accuracy is the share of samples that the verifier of their kind
(``CORRECTNESS``: math, code, ifeval) scored 1.0; an unscored sample (error/timeout) counts in
neither mean and is reported as such.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr_client.trl import TRLReward

from .config import Recipe
from .generation import Sampler
from .rundir import write_json
from .scoring import CORRECTNESS, Scored, render_prompt, score_samples

log = logging.getLogger(__name__)
DEFAULT_EVAL_REWARDS = [*CORRECTNESS.values(), TRLReward("format", weight=0.2)]
SAMPLES_KEPT = 6


def eval_rewards(recipe: Recipe) -> list[TRLReward]:
    """The recipe's eval rewards, plus (at weight 0) any correctness verifier they leave out."""
    specs = list(recipe.eval.rewards or DEFAULT_EVAL_REWARDS)
    present = {s.verifier for s in specs}
    specs += [dataclasses.replace(s, weight=0.0) for s in CORRECTNESS.values() if s.verifier not in present]
    return specs


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(rows: Sequence[Mapping[str, Any]], scored: Sequence[Scored | None]) -> dict[str, Any]:
    """Mean reward and accuracy overall and per kind; each component's mean over the samples it scored."""
    rewards: dict[str, list[float]] = defaultdict(list)
    correct: dict[str, list[float]] = defaultdict(list)
    components: dict[str, list[float]] = defaultdict(list)
    unscored = 0
    for row, result in zip(rows, scored, strict=True):
        kind = row["kind"]
        if result is None or result.reward is None:
            unscored += 1
            continue
        rewards[kind].append(result.reward)
        verdict = result.score_of(CORRECTNESS[kind].verifier)
        correct[kind].append(1.0 if verdict == 1.0 else 0.0)
        for name in result.components:
            if (value := result.score_of(name)) is not None:
                components[name].append(value)
    every_reward = [r for values in rewards.values() for r in values]
    every_correct = [c for values in correct.values() for c in values]
    return {
        "n": len(rows),
        "unscored": unscored,
        "mean_reward": _mean(every_reward),
        "accuracy": _mean(every_correct),
        "by_kind": {
            kind: {"n": len(rewards[kind]), "mean_reward": _mean(rewards[kind]), "accuracy": _mean(correct[kind])}
            for kind in sorted(rewards)
        },
        "components": {name: _mean(values) for name, values in sorted(components.items())},
    }


def evaluate(
    model_dir: Path,
    recipe: Recipe,
    rows: Sequence[Mapping[str, Any]],
    *,
    url: str,
    device: str,
    out: Path,
    label: str,
    stage: int | None,
) -> dict[str, Any]:
    from transformers import AutoTokenizer

    spec = recipe.eval
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = [render_prompt(recipe.prompt, row["question"], tokenizer) for row in rows]
    groups = Sampler(model_dir, recipe.generation, device=device, seed=recipe.seed).sample(
        prompts,
        n=spec.samples_per_prompt,
        temperature=spec.temperature,
        max_new_tokens=spec.max_new_tokens,
        desc=f"eval {label}",
    )
    flat_rows = [row for row, group in zip(rows, groups, strict=True) for _ in group]
    flat_prompts = [p for p, group in zip(prompts, groups, strict=True) for _ in group]
    completions = [c for group in groups for c in group]
    scored = score_samples(url, recipe.stack, flat_rows, completions, flat_prompts, eval_rewards(recipe), desc="eval")
    decoding = "greedy" if spec.temperature == 0 else f"sampled, temperature {spec.temperature:g}"
    summary = {
        "label": label,
        "stage": stage,
        "decoding": f"{decoding}, {spec.samples_per_prompt} per prompt",
        **summarize(flat_rows, scored),
    }
    first_of_each = list(zip(flat_rows, completions, scored, strict=True))[:: spec.samples_per_prompt]
    summary["samples"] = [
        {
            "kind": row["kind"],
            "prompt": row["question"],
            "completion": completion,
            "reward": None if result is None else result.reward,
            "correct": None if result is None else result.score_of(CORRECTNESS[row["kind"]].verifier) == 1.0,
        }
        for row, completion, result in first_of_each[:SAMPLES_KEPT]
    ]
    write_json(out, summary)
    log.info("eval %s: mean reward %s, accuracy %s", label, summary["mean_reward"], summary["accuracy"])
    return summary
