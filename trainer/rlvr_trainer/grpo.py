"""GRPO stages (R1 stages 0, 2 and 4): ``trl.GRPOTrainer`` with the rewards of the stack.

All the stack's rewards of a stage go through one async reward function (``rlvr``): a completion
whose verification failed gets ``None`` and no advantage, never a made-up 0.0, and each component's
mean is logged beside the total, under the reward's ``name`` (else its verifier's), so that two
``reward_model`` components (R1's helpfulness on the answer, harmlessness on it all) get a curve each.

Stage 4's preference reward is best the stack's ``reward_model`` verifier, one more reward of the
stage, served by the stack's backend. A recipe may instead give ``preference_model``: a
sequence-classification model (a folder, or one trained in the run) that TRL scores completions with
inside the trainer, weighted by the recipe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr_client.errors import RLVRError
from rlvr_client.trl import RewardFunction

from .config import GRPOStage, Recipe, RecipeError
from .rundir import StageDir, Stopwatch
from .scoring import render_prompt, with_target_language
from .stack import retry_policy, unavailable
from .training import REWARD_FUNCTION, StepLog, common_args, last_checkpoint, model_init

log = logging.getLogger(__name__)


def check_extra(stage: GRPOStage) -> None:
    """Refuse ``extra`` keys that are not ``GRPOConfig`` fields before any model is loaded."""
    import dataclasses

    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    unknown = sorted(set(stage.extra) - known)
    if unknown:
        raise RecipeError(f"stage {stage.name!r}: extra has {unknown}, which are not GRPOConfig fields (TRL)")


def run_grpo(
    stage: GRPOStage,
    recipe: Recipe,
    folder: StageDir,
    model_dir: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    url: str,
    device: str,
    preference_model: Path | None = None,
) -> dict[str, Any]:
    """Train ``model_dir`` with GRPO for ``stage.steps`` steps; the result is saved to ``folder.model``."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    clock = Stopwatch(folder.state().get("wall_s", 0.0))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = Dataset.from_list(
        [
            {**row, "prompt": render_prompt(recipe.prompt, row["question"], tokenizer)}
            for row in with_target_language(rows, recipe.data.language)  # a `language` reward's column
        ]
    )
    reward = RewardFunction(
        stage.rewards,
        url=url,
        name=REWARD_FUNCTION,
        client_kwargs={"retry": retry_policy(recipe.stack), "timeout_s": recipe.stack.request_timeout_s},
    )
    reward_funcs: list[Any] = [reward]
    weights = [1.0]
    if preference_model is not None:
        assert stage.preference_model is not None
        reward_funcs.append(str(preference_model))
        weights.append(stage.preference_model.weight)
    generation = recipe.generation
    settings: dict[str, Any] = dict(
        **common_args(device, recipe.seed, folder.path / "checkpoints"),
        **model_init(recipe.model.dtype),
        max_steps=stage.steps,
        per_device_train_batch_size=stage.prompts_per_step * stage.num_generations,
        gradient_accumulation_steps=1,
        num_generations=stage.num_generations,
        max_completion_length=stage.max_new_tokens or generation.max_new_tokens,
        temperature=stage.temperature if stage.temperature is not None else generation.temperature,
        top_p=generation.top_p,
        learning_rate=stage.learning_rate,
        beta=stage.beta,
        loss_type=stage.loss_type,
        scale_rewards=stage.scale_rewards,
        reward_weights=weights,
        save_strategy="steps",
        save_steps=stage.save_steps,
        save_total_limit=1,
        activation_checkpointing=False,
        use_vllm=generation.backend == "vllm",
        vllm_mode=generation.vllm_mode,
        **({"vllm_server_base_url": generation.vllm_server_url} if generation.vllm_server_url else {}),
    )
    settings.update(stage.extra)  # the recipe's own GRPOConfig fields win
    args = GRPOConfig(**settings)
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[StepLog(folder.file("train_log.jsonl"))],
    )
    checkpoint = last_checkpoint(folder.path / "checkpoints")
    folder.mark("running", kind="grpo")
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except RLVRError as exc:
        folder.mark("running", kind="grpo", wall_s=clock.elapsed())
        raise unavailable(url, recipe.stack, exc) from exc
    finally:
        asyncio.run_coroutine_threadsafe(reward.aclose(), trainer.async_loop).result(timeout=30)
    trainer.save_model(str(folder.model))
    tokenizer.save_pretrained(folder.model)
    summary = {"steps": trainer.state.global_step, "resumed_from": checkpoint.name if checkpoint else None}
    folder.mark("done", kind="grpo", wall_s=clock.elapsed(), **summary)
    return summary
