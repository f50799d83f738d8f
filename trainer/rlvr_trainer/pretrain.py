"""The base model of a tiny recipe: a tokenizer and a small Llama built from scratch, then pre-trained.

Pre-training is causal-LM training (``trl.SFTTrainer``, loss on the completions) on a synthetic
corpus of the recipe's task kinds: each prompt with a completion that is usually the worked solution,
but with the recipe's share of wrong answers, of answers without the ``<think>`` format, and of reasoning
with the habits later stages remove (unreadable, in mixed languages, with code in it, rude). The
corpus is written to ``base/corpus.jsonl``. A recipe with ``model.path`` skips all of this and
starts from that model.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

from .config import Recipe
from .reasoning import Habits
from .rundir import StageDir, Stopwatch, append_jsonl
from .scoring import pick_shots, render_prompt
from .tasks import general_rows, noisy_completion, synthetic_tasks
from .tiny import build_tiny, parameter_count
from .training import common_args, fit_sft

log = logging.getLogger(__name__)


FEW_SHOT_SHARE = 0.1  # corpus documents that start with a solved example, as few-shot prompts do


def corpus(recipe: Recipe) -> list[dict[str, str]]:
    """Prompt/completion pairs to pre-train on (rows drawn apart from the training and held-out prompts).

    A tenth of the prompts start with a solved exchange of the same kind, so that the model can be
    prompted one-shot (the cold-start stage does).
    """
    spec = recipe.model.pretrain
    assert spec is not None
    rng = random.Random(recipe.seed + 101)
    data = recipe.data
    tasks = synthetic_tasks(spec.examples, data.kinds, seed=recipe.seed + 100, prefix="pre", languages=data.languages)
    rows = [task.row.as_row() for task in tasks]
    habits = Habits(spec.run_on, spec.mixed_language, spec.code_in_reasoning, spec.skew, spec.rude)
    pairs = []
    for task, row in zip(tasks, rows, strict=True):
        shots = pick_shots(rows, row, 1, rng) if rng.random() < FEW_SHOT_SHARE else []
        completion = noisy_completion(
            task, rng, wrong_answer=spec.wrong_answer, no_format=spec.no_format, habits=habits
        )
        prompt = render_prompt(recipe.prompt, row["question"], shots=shots)
        pairs.append({"prompt": prompt, "completion": completion, "shots": str(len(shots))})
    general = general_rows(max(1, spec.examples // 20), seed=recipe.seed + 102)
    pairs += [
        {"prompt": render_prompt(recipe.prompt, g["question"]), "completion": g["completion"], "shots": "0"}
        for g in general
    ]
    rng.shuffle(pairs)
    return pairs


def batch_order(pairs: list[dict[str, str]], epochs: float, batch_size: int, seed: int) -> list[dict[str, str]]:
    """The training order of all epochs: batches of plain documents and batches of few-shot ones, shuffled.

    A few-shot document is several times longer than a plain one; mixed into random batches it would
    pad nearly every batch to its length. Kept in batches of their own, the kinds still mix.
    """
    rng = random.Random(seed)
    groups = [[p for p in pairs if p["shots"] == "0"], [p for p in pairs if p["shots"] != "0"]]
    order: list[dict[str, str]] = []
    for _ in range(math.ceil(epochs)):
        batches = []
        for group in groups:
            shuffled = rng.sample(group, len(group))
            batches += [shuffled[i : i + batch_size] for i in range(0, len(shuffled), batch_size)]
        rng.shuffle(batches)
        order += [{"prompt": p["prompt"], "completion": p["completion"]} for batch in batches for p in batch]
    return order[: round(epochs * len(pairs))]


def build_base(recipe: Recipe, folder: StageDir, device: str) -> dict[str, Any]:
    """Build and pre-train the tiny base model into ``folder.model``."""
    from transformers import AutoTokenizer
    from trl import SFTConfig

    tiny, spec = recipe.model.tiny, recipe.model.pretrain
    assert tiny is not None
    clock = Stopwatch()
    folder.mark("running", kind="pretrain")
    pairs = corpus(recipe) if spec is not None else []
    texts = [p["prompt"] + p["completion"] for p in pairs] or [render_prompt(recipe.prompt, "What is 1 + 1?")]
    init = build_tiny(folder.path / "init", tiny, texts, seed=recipe.seed)
    summary: dict[str, Any] = {"parameters": parameter_count(init)}
    if spec is None:
        init.rename(folder.model)
    else:
        corpus_file = folder.file("corpus.jsonl")
        corpus_file.unlink(missing_ok=True)
        append_jsonl(corpus_file, pairs)
        tokenizer = AutoTokenizer.from_pretrained(init)
        args = SFTConfig(
            **common_args(device, recipe.seed, folder.path / "checkpoints"),
            num_train_epochs=1,  # the epochs are laid out by batch_order
            per_device_train_batch_size=spec.batch_size,
            learning_rate=spec.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=20,
            completion_only_loss=True,
            train_sampling_strategy="sequential",
            save_strategy="no",
            activation_checkpointing=False,
        )
        order = batch_order(pairs, spec.epochs, spec.batch_size, recipe.seed + 103)
        trainer = fit_sft(init, order, args, tokenizer, folder)
        summary.update(examples=len(pairs), final_loss=_last_loss(trainer.state.log_history))
    folder.mark("done", kind="pretrain", wall_s=clock.elapsed(), **summary)
    log.info("base model: %s parameters, %s", summary["parameters"], folder.model)
    return summary


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return round(float(losses[-1]), 4) if losses else None
