"""The trainer's model graders and teacher, without training: recipe keys, the teacher's failure rules,
the per-label reward log, and the stack's backends. The end-to-end run is in ``test_trainer.py``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlvr_services.backends.types import ChatReply, Sampling
from rlvr_trainer.config import PromptSpec, Recipe, SFTStage, StackSpec, Teacher, resolve_backend
from rlvr_trainer.rundir import StageDir, read_jsonl
from rlvr_trainer.scoring import render_prompt
from rlvr_trainer.sft import general_data
from rlvr_trainer.stack import StackUnavailable, reward_stack
from rlvr_trainer.teacher import ask_all, teacher_samples, text_chat_template
from rlvr_trainer.tiny import train_tokenizer

ROOT = Path(__file__).resolve().parents[1]
CLOSED = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "teacher", "retries": 0}


def mini() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "recipes" / "r1-mini.yaml").read_text())
    return raw


def stage3(raw: dict[str, Any]) -> dict[str, Any]:
    stage: dict[str, Any] = next(s for s in raw["stages"] if s["name"] == "rejection_sampling")
    return stage


# --- the recipe keys ------------------------------------------------------------------------------------


def test_r1_mini_uses_the_stack_judge_reward_model_and_a_teacher() -> None:
    recipe = Recipe.model_validate(mini())
    assert {n: c.get("build") for n, c in recipe.stack.backends.items()} == {
        "judge": "tiny_judge",
        "reward": "tiny_reward",
    }
    sft = recipe.stages[3]
    assert isinstance(sft, SFTStage) and sft.teacher is not None and sft.teacher.backend["build"] == "base"
    judge = next(f.reward for f in sft.filters if f.reward.verifier == "judge")
    assert judge.columns["reference"] == "gold" and judge.params["rule_first"] == "math"
    assert "math" not in {f.reward.verifier for f in sft.filters}, "the judge decides math, the math rule first"
    assert judge.spec_for({"gold": None, "question": "Write a program"}) is None, "no gold: the judge does not apply"
    alignment = recipe.stages[4]
    assert not isinstance(alignment, SFTStage) and alignment.preference_model is None
    scopes = {r.label: r.params["scope"] for r in alignment.rewards if r.verifier == "reward_model"}
    assert scopes == {"helpfulness": "answer", "harmlessness": "all"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["stack"].update(url="http://127.0.0.1:8000"), "give stack.url or stack.backends"),
        (lambda r: r["stack"]["backends"]["judge"].update(build="tiny_jury"), "build 'tiny_jury' is not one of"),
        (lambda r: r["stack"]["backends"]["judge"].update(path="/m"), "no kind other than transformers and no path"),
        (lambda r: r["stack"]["backends"]["reward"].update(task="judge"), "build tiny_reward serves task reward"),
        (lambda r: r["stack"]["backends"].update(x={"kind": "openai", "base_url": "u"}), "backend 'x': model: Field"),
        (lambda r: r["stack"]["backends"]["judge"].update(colour=1), "colour: Extra inputs are not permitted"),
        (lambda r: stage3(r).update(general_samples=0), "a teacher needs general_samples > 0"),
        (lambda r: stage3(r)["teacher"].update(backend={"build": "tiny_judge"}), "teacher.backend: build 'tiny_judge'"),
        (
            lambda r: stage3(r)["teacher"].update(backend={"kind": "vllm_classify", "base_url": "u"}),
            "teacher.backend must be a chat model",
        ),
        (
            lambda r: r.update(data={"source": "jsonl", "train_files": ["t"], "eval_files": ["e"]}),
            "the teacher has no prompts",
        ),
    ],
)
def test_bad_grader_keys_name_the_problem(change: Any, message: str) -> None:
    raw = mini()
    change(raw)
    with pytest.raises(ValueError, match=None) as info:
        Recipe.model_validate(raw)
    assert message in str(info.value)


def test_a_url_stack_refuses_backends() -> None:
    spec = StackSpec(url="http://127.0.0.1:9")
    with pytest.raises(StackUnavailable, match="has its own"), reward_stack(spec, {"judge": {"kind": "openai"}}):
        pass


def test_resolved_backends_are_the_stacks_settings() -> None:
    from rlvr_services.backends.config import load_backends

    recipe = Recipe.model_validate(mini())
    resolved = {n: resolve_backend(c, f"/run/base/{n}") for n, c in recipe.stack.backends.items()}
    assert resolved["judge"] == {"kind": "transformers", "task": "judge", "path": "/run/base/judge", "device": "cpu"}
    assert set(load_backends(resolved, None)) == {"judge", "reward"}


# --- the teacher ----------------------------------------------------------------------------------------


def test_the_base_teachers_chat_template_is_the_recipes_prompt() -> None:
    tokenizer = train_tokenizer(["User: Say something about the sea.\nAssistant:\n"], 300, 512)
    for spec in (PromptSpec(template="User: {question}\nAssistant:\n"), PromptSpec(template='Q "{{x}}" {question} é\n',
                                                                                   system="Be brief.")):  # fmt: skip
        tokenizer.chat_template = text_chat_template(spec)
        messages = [*([{"role": "system", "content": spec.system}] if spec.system else []),
                    {"role": "user", "content": "Say something about the sea."}]  # fmt: skip
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert rendered == render_prompt(spec, "Say something about the sea.")


def test_a_failing_teacher_gives_no_samples_and_counts_the_failures(tmp_path: Path) -> None:
    """A teacher at a closed port: every prompt fails (error), none becomes a sample, the SFT data gets none."""
    raw = mini()
    stage3(raw).update(general_samples=5, teacher={"backend": CLOSED, "max_tokens": 16, "timeout_s": 20})
    recipe = Recipe.model_validate(raw)
    stage = recipe.stages[3]
    assert isinstance(stage, SFTStage)
    folder = StageDir(tmp_path / "stage3")
    pairs, summary = general_data(stage, recipe, folder, None)
    assert pairs == []
    assert summary is not None and summary["asked"] == 5 and summary["samples"] == 0
    assert summary["failures"] == {"error": 5} and "ConnectError" in summary["first_failure"]
    records = read_jsonl(folder.path / "general.jsonl")
    assert len(records) == 5 and all(r["completion"] is None and r["failure"] == "error" for r in records)


def test_a_resumed_teacher_asks_only_what_has_no_sample(tmp_path: Path) -> None:
    out = tmp_path / "general.jsonl"
    done = {"index": 0, "question": "q0", "completion": "An answer.", "failure": None, "reason": ""}
    failed = {"index": 1, "question": "q1", "completion": None, "failure": "timeout", "reason": "slow"}
    out.write_text(json.dumps(done) + "\n" + json.dumps(failed) + "\n")
    teacher = Teacher(backend=CLOSED, timeout_s=20)
    answers, summary = teacher_samples(teacher, resolve_backend(CLOSED, None), ["q0", "q1", "q2"], out, seed=0)
    assert [(a.index, a.completion, a.failure) for a in answers] == [(0, "An answer.", None), (1, None, "error"),
                                                                     (2, None, "error")]  # fmt: skip
    assert summary["samples"] == 1 and summary["failures"] == {"error": 2}


class Scripted:
    """A chat backend that answers each question from a script: (text, finish_reason) or an exception."""

    model = "scripted"

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.asked: list[tuple[list[dict[str, str]], Sampling]] = []

    async def chat(
        self, messages: Sequence[dict[str, str]], sampling: Sampling, choices: Sequence[str] | None, deadline: float
    ) -> ChatReply:
        self.asked.append((list(messages), sampling))
        answer = self.script[messages[-1]["content"]]
        if isinstance(answer, Exception):
            raise answer
        return ChatReply(*answer)


def test_empty_truncated_and_failed_replies_are_no_samples(tmp_path: Path) -> None:
    from rlvr_client.errors import BackendError, BackendTimeout

    backend = Scripted({
        "ok": ("  The sea is calm.  ", "stop"),
        "empty": (" \n", "stop"),
        "cut": ("The sea is", "length"),
        "down": BackendError("502 from the server"),
        "slow": BackendTimeout("deadline passed"),
    })  # fmt: skip
    teacher = Teacher(backend=CLOSED, system="Be brief.", batch=2, temperature=0.5)
    out = tmp_path / "general.jsonl"
    todo = list(enumerate(["ok", "empty", "cut", "down", "slow"]))
    asyncio.run(ask_all(backend, teacher, todo, out, seed=10, system=teacher.system))
    records = {r["question"]: r for r in read_jsonl(out)}
    assert records["ok"]["completion"] == "The sea is calm." and records["ok"]["failure"] is None
    assert {q: r["failure"] for q, r in records.items() if q != "ok"} == {
        "empty": "empty", "cut": "truncated", "down": "error", "slow": "timeout"
    }  # fmt: skip
    assert all(r["completion"] is None for q, r in records.items() if q != "ok")
    messages, sampling = backend.asked[0]
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ok"}]
    assert sampling.temperature == 0.5 and sampling.seed == 10 and backend.asked[3][1].seed == 13


# --- stage 4: one reward function, a curve per reward label --------------------------------------------------



