"""Held-out evaluation: the mean reward, the accuracy and each R1 stage's own metric on prompts never trained on.

Each held-out prompt is sampled ``eval.samples_per_prompt`` times at ``eval.temperature`` (the
sampling the RL stages optimise; temperature 0 gives greedy decoding) and scored by the stack with
the recipe's ``eval.rewards``. Accuracy is the share of samples that the verifier of their kind
(``CORRECTNESS``: math, code, ifeval) scored 1.0; an unscored sample (error/timeout) counts in
neither mean and is reported as such.

The stage metrics (``metrics`` in the summary, with ``metric_samples``: how many samples each was
measured on) come from eval rewards of weight 0, which add a component without moving the reward:

- ``accuracy`` (stage 0, R1-Zero; and stage 3, rejection sampling): as above;
- ``readability`` (stage 1, cold start): per sample the mean of the four shaping verifiers ``tag_count``,
  ``reasoning_steps``, ``format`` (each in [0, 1]) and ``repetition`` mapped onto [0, 1] as
  ``1 - score / max_penalty`` (1: no repeated n-gram); a sample needs all four scored;
- ``language`` (stage 2, reasoning RL): the ``language`` verifier's share of the reasoning in the target
  language, over the samples with enough words to say (``min_words``). The target is the row's
  ``language`` column, else ``data.language``: the reward names it with ``columns: {language: language}``;
- ``clean`` (stage 3, rejection sampling): the share of samples whose reasoning passes stage 3's three filters,
  ``mixed_language``, ``long_paragraphs`` and ``code_in_reasoning`` (each 1.0 where it applies); a sample
  none of them could judge is not counted;
- ``reward_model`` (stage 4, alignment): the served reward model's score;
- ``general`` (stage 3 too: its general samples are to keep it from degrading): with ``eval.general_prompts``,
  the share of replies to held-out general prompts (``tasks.general_eval_rows``) that ``ifeval`` passes: on
  topic, with no reasoning. They are sampled as the task prompts are, and count in no other figure.

A metric whose verifiers the recipe's eval rewards leave out, or that no sample could be measured on, is None.
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
from .scoring import CORRECTNESS, Scored, render_prompt, score_samples, with_target_language

log = logging.getLogger(__name__)
DEFAULT_EVAL_REWARDS = [*CORRECTNESS.values(), TRLReward("format", weight=0.2)]
SAMPLES_KEPT = 6
READABILITY = ("tag_count", "repetition", "reasoning_steps", "format")  # the verifiers readability averages
CLEAN = ("mixed_language", "long_paragraphs", "code_in_reasoning")  # stage 3's filters, which clean averages
STAGE_METRICS = ("accuracy", "readability", "language", "clean", "reward_model", "general")
GENERAL = TRLReward("ifeval", params_column="ifeval_params")  # how the general prompts are scored


def eval_rewards(recipe: Recipe) -> list[TRLReward]:
    """The recipe's eval rewards, plus (at weight 0) any correctness verifier they leave out."""
    specs = list(recipe.eval.rewards or DEFAULT_EVAL_REWARDS)
    present = {s.verifier for s in specs}
    specs += [dataclasses.replace(s, weight=0.0) for s in CORRECTNESS.values() if s.verifier not in present]
    return specs


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def readability(result: Scored, max_penalty: float) -> float | None:
    """The mean of the four readability verifiers' scores on [0, 1]; None unless all four scored the sample."""
    tags, repetition, steps, layout = (result.score_of(name) for name in READABILITY)
    if tags is None or repetition is None or steps is None or layout is None:
        return None
    no_repeats = 1.0 - repetition / max_penalty if max_penalty < 0 else 1.0
    return (tags + no_repeats + steps + layout) / len(READABILITY)


def clean(result: Scored) -> float | None:
    """1.0 when every stage-3 filter that judged the sample passed it, 0.0 when one failed it; None if none judged."""
    verdicts = [v for v in (result.score_of(name) for name in CLEAN) if v is not None]
    return (1.0 if all(v >= 1.0 for v in verdicts) else 0.0) if verdicts else None


def stage_metrics(
    scored: Sequence[Scored | None], specs: Sequence[TRLReward]
) -> tuple[dict[str, float | None], dict[str, int]]:
    """Each stage's metric but accuracy (see the module's docstring), and how many samples it was measured on."""
    max_penalty = next((float(s.params.get("max_penalty", -1.0)) for s in specs if s.verifier == "repetition"), -1.0)
    values: dict[str, list[float]] = {name: [] for name in STAGE_METRICS if name not in ("accuracy", "general")}
    for result in scored:
        if result is None or result.reward is None:
            continue
        for name, value in (
            ("readability", readability(result, max_penalty)),
            ("language", result.score_of("language")),
            ("clean", clean(result)),
            ("reward_model", result.score_of("reward_model")),
        ):
            if value is not None:
                values[name].append(value)
    return {name: _mean(v) for name, v in values.items()}, {name: len(v) for name, v in values.items()}


def summarize(
    rows: Sequence[Mapping[str, Any]],
    scored: Sequence[Scored | None],
    specs: Sequence[TRLReward] = (),
    general: Sequence[Scored | None] = (),
) -> dict[str, Any]:
    """Mean reward and accuracy overall and per kind; each component's mean over the samples it scored; the
    stage metrics (``specs``: the eval rewards, for the ``repetition`` penalty's scale; ``general``: the
    general prompts' results, scored with ``GENERAL``)."""
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
    metrics, measured = stage_metrics(scored, specs)
    verdicts = [r.score_of(GENERAL.verifier) for r in general if r is not None]
    passed = [1.0 if v == 1.0 else 0.0 for v in verdicts if v is not None]
    metrics["general"], measured["general"] = _mean(passed), len(passed)
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
        "metrics": {"accuracy": _mean(every_correct), **metrics},
        "metric_samples": {"accuracy": len(every_correct), **measured},
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
    general: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    from transformers import AutoTokenizer

    spec = recipe.eval
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = [render_prompt(recipe.prompt, row["question"], tokenizer) for row in [*rows, *general]]
    every_group = Sampler(model_dir, recipe.generation, device=device, seed=recipe.seed).sample(
        prompts,
        n=spec.samples_per_prompt,
        temperature=spec.temperature,
        max_new_tokens=spec.max_new_tokens,
        desc=f"eval {label}",
    )
    groups, general_groups = every_group[: len(rows)], every_group[len(rows) :]
    targeted = with_target_language(rows, recipe.data.language)
    flat_rows = [row for row, group in zip(targeted, groups, strict=True) for _ in group]
    flat_prompts = [p for p, group in zip(prompts[: len(rows)], groups, strict=True) for _ in group]
    completions = [c for group in groups for c in group]
    specs = eval_rewards(recipe)
    scored = score_samples(url, recipe.stack, flat_rows, completions, flat_prompts, specs, desc="eval")
    general_rows = [row for row, group in zip(general, general_groups, strict=True) for _ in group]
    general_prompts = [p for p, group in zip(prompts[len(rows) :], general_groups, strict=True) for _ in group]
    general_completions = [c for group in general_groups for c in group]
    general_scored = score_samples(
        url, recipe.stack, general_rows, general_completions, general_prompts, [GENERAL], desc="eval general"
    ) if general else []  # fmt: skip
    decoding = "greedy" if spec.temperature == 0 else f"sampled, temperature {spec.temperature:g}"
    summary = {
        "label": label,
        "stage": stage,
        "decoding": f"{decoding}, {spec.samples_per_prompt} per prompt",
        **summarize(flat_rows, scored, specs, general_scored),
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
    summary["general_samples"] = [
        {"prompt": row["question"], "completion": completion, "passed": None if r is None else r.score_of("ifeval")}
        for row, completion, r in list(zip(general_rows, general_completions, general_scored, strict=True))[:2]
    ]
    write_json(out, summary)
    log.info("eval %s: mean reward %s, metrics %s", label, summary["mean_reward"], summary["metrics"])
    return summary
