"""The TRL adapter against a real gateway (the ``gateway_url`` fixture), and one real GRPO step."""

from __future__ import annotations

import asyncio
import math
import pickle
from typing import Any

import pytest

from rlvr_client import AsyncRewardClient, RetryPolicy, Status, TransportError
from rlvr_client.trl import (
    TRLReward,
    completion_text,
    prompt_text,
    reward_function,
    reward_functions,
    reward_weights,
)

GOOD = "<think>2 + 2 = 4</think> The answer is \\boxed{4}."
WRONG = "<think>2 + 2 = 5</think> The answer is \\boxed{5}."
UNFORMATTED = "The answer is \\boxed{4}."
BAD_GOLD = "\\frac{"

MATH_AND_FORMAT = [TRLReward("math", columns={"gold": "answer"}), TRLReward("format", weight=0.2)]


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_spec_validation() -> None:
    spec = TRLReward("math", columns={"gold": "solution"}, name="accuracy")
    assert spec.label == "accuracy"
    assert spec.spec_for({"solution": "1/2"}) is not None
    with pytest.raises(ValueError, match="gold"):
        TRLReward("math", params={"gold": "1"}, columns={"gold": "answer"})
    with pytest.raises(ValueError, match="weight"):
        TRLReward("format", weight=float("nan"))


def test_names_and_trl_detection() -> None:
    from trl.trainer.utils import get_callable_name, is_async_callable

    combined = reward_function(MATH_AND_FORMAT, url="http://127.0.0.1:9")
    assert is_async_callable(combined)
    assert get_callable_name(combined) == "rlvr_math+format"
    assert get_callable_name(reward_function(TRLReward("format"), name="fmt")) == "fmt"
    separate = reward_functions([*MATH_AND_FORMAT, TRLReward("math", columns={"gold": "alt"}, name="math_alt")])
    assert [get_callable_name(f) for f in separate] == ["rlvr_math", "rlvr_format", "rlvr_math_alt"]
    assert all(is_async_callable(f) for f in separate)
    assert reward_weights(MATH_AND_FORMAT) == [1.0, 0.2]
    with pytest.raises(ValueError, match="repeat"):
        reward_functions([TRLReward("format"), TRLReward("format")])


def test_text_rendering() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text(chat("x")) == "x"
    assert (
        completion_text(
            [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
        )
        == "ab"
    )
    turns = [
        {"role": "assistant", "content": "first"},
        {"role": "tool", "content": "42"},
        {"role": "assistant", "content": "last"},
    ]
    assert completion_text(turns) == "last"
    assert completion_text([{"role": "assistant", "content": "4", "reasoning_content": "2+2"}]) == (
        "<think>\n2+2\n</think>\n4"
    )
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert prompt_text(messages) == "system: Be brief.\n\nuser: 2+2?"
    assert prompt_text("2+2?") == "2+2?"
    with pytest.raises(TypeError):
        completion_text(42)


async def test_columns_map_to_params_per_row(gateway_url: str) -> None:
    reward = reward_function(MATH_AND_FORMAT, url=gateway_url)
    try:
        out = await reward(
            prompts=["What is 2 + 2?"] * 4,
            completions=[GOOD, WRONG, UNFORMATTED, GOOD],
            answer=["4", "4", "4", "5"],
            completion_ids=[[1], [2], [3], [4]],
        )
    finally:
        await reward.aclose()
    assert out == pytest.approx([1.2, 0.2, 1.0, 0.2])


async def test_conversational_batch(gateway_url: str) -> None:
    reward = reward_function(MATH_AND_FORMAT, url=gateway_url)
    prompt = [{"role": "system", "content": "Think first."}, {"role": "user", "content": "What is 2 + 2?"}]
    try:
        out = await reward(
            prompts=[prompt, prompt, prompt],
            completions=[
                chat(GOOD),
                chat(WRONG),
                [{"role": "assistant", "content": "The answer is \\boxed{4}.", "reasoning_content": "2 + 2 = 4"}],
            ],
            answer=["4", "4", "4"],
        )
    finally:
        await reward.aclose()
    assert out == pytest.approx([1.2, 0.2, 1.2])


async def test_error_component_gives_none(gateway_url: str) -> None:
    async with AsyncRewardClient(gateway_url) as client:
        [result] = await client.score(
            [{"id": "x", "completion": GOOD, "rewards": [{"name": "math", "params": {"gold": BAD_GOLD}}]}]
        )
    assert result.components[0].status is Status.ERROR
    assert result.components[0].score is None

    metrics: dict[str, float] = {}
    reward = reward_function(MATH_AND_FORMAT, url=gateway_url)
    try:
        out = await reward(
            prompts=["q", "q"],
            completions=[GOOD, GOOD],
            answer=[BAD_GOLD, "4"],
            log_metric=metrics.__setitem__,
        )
    finally:
        await reward.aclose()
    assert out[0] is None  # never 0.0 or the format score alone
    assert out[1] == pytest.approx(1.2)
    # the share left unscored, and each component's mean over the completions it scored
    assert metrics == {"rlvr_math+format/unscored_frac": 0.5, "rlvr_math+format/math": 1.0,
                       "rlvr_math+format/format": 1.0}  # fmt: skip


async def test_params_column_carries_whole_params_per_row(gateway_url: str) -> None:
    """One dataset mixing kinds: each row's params for a verifier come as JSON text (or a dict), or None."""
    specs = [
        TRLReward("math", columns={"gold": "gold"}),
        TRLReward("ifeval", params_column="ifeval_params"),
        TRLReward("format", weight=0.5, params={"prefilled_think": False}),
    ]
    no_comma = '{"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}'
    reward = reward_function(specs, url=gateway_url)
    try:
        out = await reward(
            prompts=["q"] * 4,
            completions=[GOOD, "<think>ok</think>No commas here.", "<think>ok</think>Yes, commas.", GOOD],
            gold=["4", None, None, None],
            ifeval_params=[None, no_comma, {"instruction_id_list": ["punctuation:no_comma"]}, None],
        )
        assert out == pytest.approx([1.5, 1.5, 0.5, 0.5])
        with pytest.raises(ValueError, match="params object"):
            await reward(prompts=["q"], completions=[GOOD], gold=[None], ifeval_params=["[1, 2]"])
        with pytest.raises(ValueError, match="not JSON"):
            await reward(prompts=["q"], completions=[GOOD], gold=[None], ifeval_params=["{oops"])
    finally:
        await reward.aclose()
    assert TRLReward("code", params_column="info").needed_columns == ["info"]


async def test_separate_functions_score_their_own_spec(gateway_url: str) -> None:
    math_fn, format_fn = reward_functions(MATH_AND_FORMAT, url=gateway_url)
    batch: dict[str, Any] = {
        "prompts": ["q"] * 3,
        "completions": [GOOD, UNFORMATTED, GOOD],
        "answer": ["4", "4", BAD_GOLD],
    }
    try:
        assert await math_fn(**batch) == [1.0, 1.0, None]
        assert await format_fn(**batch) == [1.0, 0.0, 1.0]  # unweighted: TRL applies reward_weights
    finally:
        await math_fn.aclose()
        await format_fn.aclose()


async def test_missing_value_skips_the_spec(gateway_url: str) -> None:
    reward = reward_function(TRLReward("math", columns={"gold": "answer"}), url=gateway_url)
    try:
        assert await reward(prompts=["q", "q"], completions=[GOOD, GOOD], answer=[None, "4"]) == [None, 1.0]
        # Nothing applies: no request at all, no reward.
        assert await reward(prompts=["q"], completions=[GOOD], answer=[None]) == [None]
        with pytest.raises(ValueError, match=r"\['answer'\] are missing; the batch has \['solution'\]"):
            await reward(prompts=["q"], completions=[GOOD], solution=["4"], trainer_state=None)
    finally:
        await reward.aclose()


async def test_pickled_function_still_scores(gateway_url: str) -> None:
    reward = reward_function(MATH_AND_FORMAT, url=gateway_url)
    assert await reward(prompts=["q"], completions=[GOOD], answer=["4"]) == pytest.approx([1.2])
    clone = pickle.loads(pickle.dumps(reward))
    await reward.aclose()
    try:
        assert await clone(prompts=["q"], completions=[WRONG], answer=["4"]) == pytest.approx([0.2])
    finally:
        await clone.aclose()


async def test_unreachable_gateway_raises() -> None:
    reward = reward_function(MATH_AND_FORMAT, url="http://127.0.0.1:9", retry=RetryPolicy(attempts=2, initial_s=0.01))
    with pytest.raises(TransportError):
        await reward(prompts=["q"], completions=[GOOD], answer=["4"])
    await reward.aclose()


@pytest.mark.slow
@pytest.mark.timeout(120)
# TRL 1.16 itself reads the deprecated `model.is_gradient_checkpointing` while generating.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_grpo_step_with_gateway_rewards(gateway_url: str, tmp_path: Any) -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "model")
    # Every step sees both prompts (4 = 2 prompts x 2 generations); one has a gold the math verifier
    # cannot parse, so its completions get None and TRL leaves them out of the reward statistics.
    dataset = Dataset.from_dict({"prompt": ["What is 2 + 2?", "What is 3 * 5?"], "answer": ["4", BAD_GOLD]})
    reward = reward_function(MATH_AND_FORMAT, url=gateway_url)
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        activation_checkpointing=False,  # TRL defaults the deprecated gradient_checkpointing to True: FutureWarning
        bf16=False,
        fp16=False,
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=12,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[reward], args=args, train_dataset=dataset)
    try:
        trainer.train()
    finally:
        # TRL runs async reward functions on its own loop thread: close our HTTP client there.
        asyncio.run_coroutine_threadsafe(reward.aclose(), trainer.async_loop).result(timeout=10)

    assert trainer.state.global_step == 2
    logged = [entry for entry in trainer.state.log_history if "rewards/rlvr_math+format/mean" in entry]
    assert len(logged) == 2
    for entry in logged:
        # A finite mean: the gateway scored the good row (an unreachable gateway raises instead).
        assert math.isfinite(entry["rewards/rlvr_math+format/mean"])
        assert math.isfinite(entry["reward"])
        assert entry["rlvr_math+format/unscored_frac"] == 0.5


def test_component_means_are_logged_by_each_specs_label(gateway_url: str) -> None:
    """Two rewards of one verifier (say reward_model with two scopes) get a curve each, by their names."""
    specs = [
        TRLReward("math", columns={"gold": "gold"}),
        TRLReward("reasoning_steps", name="steps_1", params={"target": 1}),
        TRLReward("reasoning_steps", name="steps_10", params={"target": 10}),
    ]
    reward = reward_function(specs, url=gateway_url, name="rlvr")
    logged: dict[str, float] = {}
    completion = "<think>Step 1: add.\nStep 2: check.</think> The answer is 1."
    rewards = asyncio.run(
        reward(["p1", "p2"], [completion, completion], gold=["1", None], log_metric=logged.__setitem__)
    )
    assert rewards == pytest.approx([2.2, 1.2])
    assert logged == pytest.approx(
        {"rlvr/unscored_frac": 0.0, "rlvr/math": 1.0, "rlvr/steps_1": 1.0, "rlvr/steps_10": 0.2}
    )
