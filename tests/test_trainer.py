"""The trainer: recipes, the synthetic tasks against the real verifiers, and every R1 stage end to end.

The end-to-end test runs the five stages of a shrunken r1-mini (a tiny model pre-trained for a few
seconds, a few steps per stage, tiny graders trained for a few steps) against a real reward stack started
in-process with the judge and reward-model backends, and checks what each stage hands to the next. The
full miniature recipe is a benchmark (``bench/bench_train.py``).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from math import isfinite
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlvr_client.trl import TRLReward
from rlvr_services.runtime.registry import load_plugins
from rlvr_trainer.config import Recipe, RecipeError, SFTStage, load_recipe
from rlvr_trainer.evaluation import (
    CLEAN,
    GENERAL,
    READABILITY,
    STAGE_METRICS,
    eval_rewards,
    summarize,
    with_target_language,
)
from rlvr_trainer.pipeline import load_rows, run_pipeline
from rlvr_trainer.pretrain import corpus
from rlvr_trainer.reasoning import ASK, Habits
from rlvr_trainer.rundir import RunDirError, read_jsonl
from rlvr_trainer.scoring import CORRECTNESS, Scored, render_prompt, score_samples
from rlvr_trainer.tasks import (
    SENTENCES,
    general_eval_rows,
    general_rows,
    noisy_completion,
    synthetic_rows,
    synthetic_tasks,
)

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
JAIL = os.geteuid() == 0 and os.path.exists("/usr/bin/bwrap")
TRL_WARNINGS = [
    # TRL 1.16 itself reads the deprecated `model.is_gradient_checkpointing` while generating.
    "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning",
    # tiny_graders' RewardConfig leaves TRL's default gradient_checkpointing on (transformers 5 renamed it).
    "ignore:`gradient_checkpointing` is deprecated:FutureWarning",
]
MODEL_VERIFIERS = {"judge": "judge", "reward_model": "reward"}  # verifier -> its params' default backend


def mini() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "recipes" / "r1-mini.yaml").read_text())
    return raw


# --- recipes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_bundled_recipe_validates(path: Path) -> None:
    recipe = load_recipe(path)
    assert [s.kind for s in recipe.stages] == ["grpo", "sft", "grpo", "sft", "grpo"], "the five R1 stages"
    verifiers = {r.verifier for s in recipe.stages for r in getattr(s, "rewards", [])}
    verifiers |= {f.reward.verifier for s in recipe.stages for f in getattr(s, "filters", [])}
    unknown = verifiers - set(load_plugins().names())
    assert not unknown, f"{path.name} names verifiers the stack does not have: {unknown}"
    result = subprocess.run(
        [sys.executable, "-m", "rlvr_trainer.cli", "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"recipe {recipe.name}: valid" in result.stdout
    assert "stage 4: " in result.stdout


def model_rewards(recipe: Recipe) -> list[TRLReward]:
    rewards = [r for s in recipe.stages for r in getattr(s, "rewards", [])]
    rewards += [f.reward for s in recipe.stages for f in getattr(s, "filters", [])] + list(recipe.eval.rewards)
    return [r for r in rewards if r.verifier in MODEL_VERIFIERS]


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_judges_stage_3_and_rewards_stage_4_with_the_stack(path: Path) -> None:
    """Stage 3's judge filter (the math rule first, not for rows without a gold), stage 4's reward_model, a
    teacher for the general samples, and, on an embedded stack, a backend of the right task for each name."""
    recipe = load_recipe(path)
    sft, alignment = recipe.stages[3], recipe.stages[4]
    assert isinstance(sft, SFTStage) and not isinstance(alignment, SFTStage)
    judge = next(f.reward for f in sft.filters if f.reward.verifier == "judge")
    assert judge.params.get("rule_first") == "math" and judge.columns.get("reference") == "gold"
    assert "math" not in {f.reward.verifier for f in sft.filters}, "the judge filter decides math answers"
    assert any(r.verifier == "reward_model" for r in alignment.rewards) and alignment.preference_model is None
    assert sft.teacher is not None and sft.general_samples > 0
    if recipe.stack.url is not None:
        assert not recipe.stack.backends, "a stack at a URL has its own backends"
        return
    backends = recipe.stack.backends
    for reward in model_rewards(recipe):
        name = reward.params.get("backend", MODEL_VERIFIERS[reward.verifier])
        assert name in backends, f"{reward.label} names backend {name!r}, not in stack.backends {sorted(backends)}"
        config = backends[name]
        if reward.verifier == "judge":
            assert config.get("kind", "transformers") == "openai" or config.get("build") == "tiny_judge"
        else:
            assert config.get("kind") in ("vllm_classify", "vllm_pooling", "sglang", "openrlhf") or config.get(
                "build") == "tiny_reward"  # fmt: skip


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_measures_each_stage_metric_on_held_out_prompts(path: Path) -> None:
    """Readability's four verifiers, the language of the reasoning, stage 3's filters and the reward model are eval
    rewards: columns at weight 0 (``format`` also counts in the mean reward), with params the verifiers accept."""
    recipe = load_recipe(path)
    specs = {s.verifier: s for s in eval_rewards(recipe)}
    assert {*READABILITY, "language", *CLEAN, "reward_model"} <= set(specs), sorted(specs)
    assert all(specs[name].weight == 0.0 for name in ("tag_count", "repetition", "reasoning_steps", "language",
                                                        *CLEAN, "reward_model"))  # fmt: skip
    filters = {f.reward.verifier: f.reward for stage in recipe.stages for f in getattr(stage, "filters", [])}
    for name in CLEAN:  # clean reasoning is measured as stage 3 filters, with the filters' own params
        assert name not in filters or specs[name].params == filters[name].params, (name, specs[name], filters[name])
    assert specs["language"].columns == {"language": "language"}, "the row's target language, else data.language"
    registry = load_plugins()
    for spec in specs.values():
        if spec.params_column is None:  # a param from a row's column: any text will do
            params = {**spec.params, **dict.fromkeys(spec.columns, "en")}
            registry.get_class(spec.verifier).params_model.model_validate(params)


def test_stage_metrics_from_the_eval_components() -> None:
    """Readability averages its four verifiers (repetition on its penalty's scale); language and the reward model
    are means over the samples they scored; clean is 1 when every stage-3 filter that judged a sample passed it;
    the general prompts' metric is the share ifeval passed; an unscored sample counts in none."""

    def ok(score: float) -> tuple[str, float | None, str]:
        return ("ok", score, "")

    shaping = {"tag_count": ok(0.5), "repetition": ok(-0.2), "reasoning_steps": ok(1 / 3), "format": ok(1.0)}
    unmeasured = {"language": ("not_applicable", None, "2 words")}
    passed = dict.fromkeys(CLEAN, ok(1.0))
    scored: list[Scored | None] = [
        Scored(1.2, {"math": ok(1.0), **shaping, "language": ok(0.9), "reward_model": ok(0.4), **passed}),
        Scored(0.0, {"math": ok(0.0), **dict.fromkeys(READABILITY, ok(0.0)), "reward_model": ok(0.2), **unmeasured,
                     **passed, "code_in_reasoning": ok(0.0)}),
        Scored(0.5, {"math": ok(1.0), "mixed_language": ("not_applicable", None, "no reasoning")}),
        Scored(None, {"math": ("error", None, "worker died"), **shaping}),
        None,
    ]
    specs = [TRLReward("repetition", weight=0.0, params={"max_penalty": -0.5})]
    general = [Scored(1.0, {"ifeval": ok(1.0)}), Scored(0.0, {"ifeval": ok(0.0)}), Scored(1.0, {"ifeval": ok(1.0)}),
               Scored(None, {"ifeval": ("timeout", None, "")}), None]  # fmt: skip
    summary = summarize([{"kind": "math"}] * 5, scored, specs, general)
    readable = ((0.5 + (1 - 0.2 / 0.5) + 1 / 3 + 1.0) / 4 + (0.0 + 1.0 + 0.0 + 0.0) / 4) / 2
    assert summary["metrics"] == pytest.approx(
        {"accuracy": 2 / 3, "readability": readable, "language": 0.9, "clean": 0.5, "reward_model": 0.3,
         "general": 2 / 3}, abs=1e-4
    )  # fmt: skip
    assert summary["metric_samples"] == {"accuracy": 3, "readability": 2, "language": 1, "clean": 2, "reward_model": 2,
                                         "general": 3}  # fmt: skip
    assert summarize([], [])["metrics"] == dict.fromkeys(STAGE_METRICS)


def test_target_language_from_the_row_else_the_recipe() -> None:
    rows = [{"id": "a", "language": "fr"}, {"id": "b", "language": None}, {"id": "c"}]
    assert [r["language"] for r in with_target_language(rows, "en")] == ["fr", "en", "en"]
    assert "language" not in rows[2], "the rows themselves are not changed"
    assert load_recipe(ROOT / "recipes" / "r1-mini.yaml").data.language == "en"


def test_gpu_recipes_use_vllm_and_real_models() -> None:
    gpu = [load_recipe(p) for p in RECIPES if p.stem != "r1-mini"]
    assert gpu, "at least one GPU recipe"
    for recipe in gpu:
        assert recipe.model.path is not None and recipe.generation.backend == "vllm"
        assert recipe.device in ("cuda", "auto")
        sft = recipe.stages[3]
        assert isinstance(sft, SFTStage) and sft.teacher is not None
        assert sft.teacher.backend["kind"] == "openai", "the teacher is a served model"
        assert sft.teacher.prompt_files or recipe.data.general_files, "its prompts are the recipe's"
        for config in recipe.stack.backends.values():
            assert "build" not in config and config["kind"] != "transformers", "served by vLLM, not in the trainer"
        judges = [c for c in recipe.stack.backends.values() if c["kind"] == "openai"]
        assert all(c.get("choice_style") == "structured_outputs" for c in judges)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["stages"][0].update(stepz=3), "stages.0.grpo.stepz: Extra inputs are not permitted"),
        (
            lambda r: r["stages"][4].update(preference_model={"pairs_from": "r1_zero", "train_steps": 2}),
            "is not an earlier sft stage",
        ),
        (lambda r: r["stack"].update(url="http://127.0.0.1:8000"), "give stack.url or stack.backends"),
        (lambda r: r["stack"]["backends"]["judge"].update(build="judge"), "build 'judge' is not one of"),
        (lambda r: r.update(device="cpu", generation={"backend": "vllm"}), "vllm needs a GPU"),
        (lambda r: r["model"].update(path="x"), "exactly one of model.path and model.tiny"),
        (lambda r: r["stages"].append(dict(r["stages"][0])), "stage names ['r1_zero'] repeat"),
        (lambda r: r["prompt"].update(template="no placeholder"), "must contain {question}"),
        (lambda r: r["data"].update(kinds={"poetry": 1.0}), "unknown kinds ['poetry']"),
        (lambda r: r["data"].update(languages={"en": 0.5, "fr": 0.5}), "unknown languages ['fr']; the synthetic tasks"),
        (lambda r: r["model"]["pretrain"].update(rude=1.5), "model.pretrain.rude: Input should be less than or equal"),
        (
            lambda r: r["data"].update(source="jsonl", train_files=["t"], eval_files=["e"], general_files=["g"]),
            "eval.general_prompts are the synthetic world's topics",
        ),
        (lambda r: r["eval"].update(general_prompts=-1), "eval.general_prompts: Input should be greater than or equal"),
    ],
)
def test_bad_recipes_name_the_problem(tmp_path: Path, change: Any, message: str) -> None:
    raw = mini()
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert message in str(info.value)


# --- the synthetic tasks, checked by the real verifiers -----------------------------------------------------


@pytest.mark.skipif(not JAIL, reason="the code verifier's jail needs root and bwrap")
def test_synthetic_solutions_are_right_and_corruptions_are_wrong(gateway_url: str) -> None:
    """Every generated solution scores 1.0 with its kind's verifier; every wrong-answer corruption less."""
    recipe = Recipe.model_validate(mini())
    tasks = synthetic_tasks(60, {"math": 1, "code": 1, "format": 1}, seed=3, prefix="t", languages=BILINGUAL)
    rows = [task.row.as_row() for task in tasks]
    assert rows == synthetic_rows(60, {"math": 1, "code": 1, "format": 1}, seed=3, prefix="t", languages=BILINGUAL)
    rng = random.Random(0)
    wrong = [noisy_completion(task, rng, wrong_answer=1.0, no_format=0.0) for task in tasks]
    unformatted = [noisy_completion(task, rng, wrong_answer=0.0, no_format=1.0) for task in tasks]
    prompts = [render_prompt(recipe.prompt, row["question"]) for row in rows]
    specs = [*CORRECTNESS.values()]
    right = score_samples(gateway_url, recipe.stack, rows, [r["solution"] for r in rows], prompts, specs)
    bad = score_samples(gateway_url, recipe.stack, rows, wrong, prompts, specs)
    plain = score_samples(gateway_url, recipe.stack, rows, unformatted, prompts, [*specs, *DEFAULT_FORMAT])
    for row, ok, ko, raw in zip(rows, right, bad, plain, strict=True):
        verifier = CORRECTNESS[row["kind"]].verifier
        assert ok is not None and ok.score_of(verifier) == 1.0, (row, ok)
        assert ko is not None and ko.score_of(verifier) is not None, (row, ko)
        assert ko.score_of(verifier) < 1.0, (row, ko)  # another operation may still pass a test by chance
        assert raw is not None and raw.score_of(verifier) == 1.0 and raw.score_of("format") == 0.0, (row, raw)
    assert {row["kind"] for row in rows} == {"math", "code", "format"}


DEFAULT_FORMAT = [TRLReward("format")]
BILINGUAL = {"en": 1.0, "de": 1.0}
# the verifiers that see each habit of the corpus (reasoning.py), as the recipe configures them
HABIT_CHECKS = [
    TRLReward("tag_count"),
    TRLReward("reasoning_steps"),
    TRLReward("repetition"),
    TRLReward("long_paragraphs", params={"max_words": 12}),
    TRLReward("format"),
    TRLReward("language", columns={"language": "language"}, params={"min_words": 3}),
    TRLReward("mixed_language", params={"threshold": 0.9, "min_words": 3}),
    TRLReward("code_in_reasoning"),
]


def test_each_reasoning_habit_is_seen_by_its_verifier(gateway_url: str) -> None:
    """Readable solutions pass every check of readability, language and filters; each habit of the corpus
    breaks the checks of the stage that is there to remove it, and (nearly) only those."""
    recipe = Recipe.model_validate(mini())
    tasks = synthetic_tasks(48, {"math": 1, "code": 1, "format": 1}, seed=5, prefix="h", languages=BILINGUAL)
    rows = [task.row.as_row() for task in tasks]
    assert {row["language"] for row in rows} == {"en", "de"}
    assert all(row["question"].endswith(ASK[row["language"]]) for row in rows)

    def scores(habits: Habits) -> dict[str, list[float]]:
        rng = random.Random(1)
        completions = [noisy_completion(t, rng, wrong_answer=0.0, no_format=0.0, habits=habits) for t in tasks]
        prompts = [render_prompt(recipe.prompt, row["question"]) for row in rows]
        scored = score_samples(gateway_url, recipe.stack, rows, completions, prompts, HABIT_CHECKS)
        out: dict[str, list[float]] = {spec.label: [] for spec in HABIT_CHECKS}
        for result in scored:
            assert result is not None
            for spec in HABIT_CHECKS:
                if (value := result.score_of(spec.label)) is not None:
                    out[spec.label].append(value)
        return out

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    clean = scores(Habits())
    assert set(clean["tag_count"]) == {0.5}  # <think> and </think> on lines of their own (no <answer> tags)
    checks = [name for name in clean if name not in ("repetition", "tag_count")]
    assert all(v == 1.0 for name in checks for v in clean[name]), clean
    assert mean(clean["repetition"]) > -0.02
    run_on = scores(Habits(run_on=1.0))
    assert mean(run_on["reasoning_steps"]) == 0.0 and mean(run_on["long_paragraphs"]) == 0.0
    assert mean(run_on["repetition"]) < -0.2 and mean(run_on["tag_count"]) == 0.0
    assert mean(run_on["format"]) == 1.0  # the tags kept, their lines not: only tag_count sees it
    assert mean(run_on["language"]) == 1.0 and mean(run_on["code_in_reasoning"]) == 1.0
    mixed = scores(Habits(mixed_language=1.0))
    assert mean(mixed["language"]) < 0.7 and mean(mixed["mixed_language"]) < 0.4
    assert mean(mixed["reasoning_steps"]) == 1.0 and mean(mixed["format"]) == 1.0
    code = scores(Habits(code_in_reasoning=1.0))
    code_rows = [i for i, row in enumerate(rows) if row["kind"] == "code"]
    assert code_rows and code["code_in_reasoning"].count(0.0) == len(code_rows)  # every code row, no other
    assert len(code["code_in_reasoning"]) == len(rows)
    assert mean(code["language"]) == 1.0 and mean(code["long_paragraphs"]) == 1.0


def test_the_general_task_passes_a_direct_reply_on_topic_and_nothing_else(gateway_url: str) -> None:
    """A held-out general prompt is passed by a corpus-style reply (one sentence naming the topic), not by a reply
    off topic, nor by one that reasons first; its wording is no training or corpus prompt's."""
    recipe = Recipe.model_validate(mini())
    rows = general_eval_rows(12, seed=3)
    assert all(row["question"].startswith("Tell me about ") for row in rows)
    trained = {g["question"] for g in general_rows(200, seed=0)} | {pair["prompt"] for pair in corpus(recipe)}
    assert not any(row["question"] in text for row in rows for text in trained)
    topics = [row["question"].removeprefix("Tell me about ").removesuffix(".") for row in rows]
    direct = [SENTENCES[topic][i % 2] for i, topic in enumerate(topics)]
    off_topic = [SENTENCES[next(t for t in SENTENCES if t != topic)][0] for topic in topics]
    reasoned = [f"<think>\n1. The sentence is about {t}.\n</think>\n{s}" for t, s in zip(topics, direct, strict=True)]
    prompts = [render_prompt(recipe.prompt, row["question"]) for row in rows]
    for completions, expected in ((direct, 1.0), (off_topic, 0.0), (reasoned, 0.0)):
        scored = score_samples(gateway_url, recipe.stack, rows, completions, prompts, [GENERAL])
        assert [r.score_of("ifeval") if r else None for r in scored] == [expected] * len(rows), completions


def test_held_out_math_questions_are_not_trained_on() -> None:
    recipe = Recipe.model_validate(mini())
    rows = load_rows(recipe)
    train = {r["question"] for r in rows.train}
    held_out_math = [r for r in rows.eval if r["kind"] == "math"]
    assert held_out_math and not any(r["question"] in train for r in held_out_math)
    assert len(rows.eval) == recipe.data.eval_prompts


# --- the stages, end to end -----------------------------------------------------------------------------


def tiny_recipe(**stack: Any) -> dict[str, Any]:
    """r1-mini shrunk to seconds per stage, with filters an under-trained model passes some of the time.

    Stage 3 keeps the judge filter beside the format one (an under-trained judge: what is checked is that it
    runs, not what it says); stage 4 also trains a preference model in the run (the option other recipes have).
    With a ``url`` the stack's backends are that server's business: the recipe gives none.
    """
    raw = mini()
    raw["name"] = "r1-test"
    raw["model"]["tiny"].update(hidden_size=64, layers=2)
    raw["model"]["pretrain"].update(examples=1500, epochs=4, batch_size=32, learning_rate=3e-3)
    raw["data"].update(train_prompts=24, eval_prompts=6)
    raw["eval"].update(samples_per_prompt=1, general_prompts=3)
    raw["generation"].update(max_new_tokens=64)
    raw["stack"].update(stack)
    if raw["stack"].get("url"):
        del raw["stack"]["backends"]
    else:
        raw["stack"]["backends"]["judge"]["build_steps"] = 20
        raw["stack"]["backends"]["reward"]["build_steps"] = 10
    for stage in raw["stages"]:
        judge = [f for f in stage.get("filters", []) if f["reward"]["verifier"] == "judge"]
        if stage["kind"] == "grpo":
            stage.update(steps=2, prompts_per_step=2, num_generations=4, save_steps=1)
        else:
            stage["sampling"].update(prompts=8, samples_per_prompt=4)
            stage["sft"]["max_steps"] = 2
            stage["filters"] = [{"reward": {"verifier": "format"}}, *judge]
    raw["stages"][3]["general_samples"] = 4
    raw["stages"][4]["preference_model"] = {"pairs_from": "rejection_sampling", "train_steps": 2, "weight": 0.2}
    return raw


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not JAIL, reason="the code verifier's jail needs root and bwrap")
@pytest.mark.filterwarnings(*TRL_WARNINGS)
def test_five_stages_hand_their_outputs_on(tmp_path: Path) -> None:
    recipe = Recipe.model_validate(tiny_recipe(url=None, processes=1))
    run = tmp_path / "run"
    report = run_pipeline(recipe, run)

    assert (run / "base" / "model" / "config.json").exists()
    assert (run / "base" / "corpus.jsonl").exists()
    for grader, build in (("judge", "tiny_judge"), ("reward", "tiny_reward")):  # trained in the run, once
        assert json.loads((run / "base" / grader / "grader.json").read_text())["build"] == build
    assert (run / "base" / "teacher" / "teacher.json").exists()
    stages = sorted(p.name for p in run.glob("stage*"))
    assert stages == ["stage0-r1_zero", "stage1-cold_start", "stage2-reasoning_rl", "stage3-rejection_sampling",
                      "stage4-alignment"]  # fmt: skip
    for name in stages:
        folder = run / name
        state = json.loads((folder / "state.json").read_text())
        assert state["status"] == "done" and state["wall_s"] > 0, state
        assert (folder / "model" / "model.safetensors").exists() and (folder / "model" / "tokenizer.json").exists()
        log = read_jsonl(folder / "train_log.jsonl")
        assert [e["step"] for e in log if "loss" in e][:2] == [1, 2], log
    for name in ("stage0-r1_zero", "stage2-reasoning_rl", "stage4-alignment"):
        log = read_jsonl(run / name / "train_log.jsonl")
        assert all("reward" in e and "rewards/rlvr/mean" in e for e in log if "loss" in e)
        assert any(key.startswith("rewards/") and key != "rewards/rlvr/mean" for e in log for key in e)
    assert any("rewards/language/mean" in e for e in read_jsonl(run / "stage2-reasoning_rl" / "train_log.jsonl"))
    for name in ("stage1-cold_start", "stage3-rejection_sampling"):
        folder = run / name
        samples = read_jsonl(folder / "samples.jsonl")
        assert len(samples) == 8 * 4
        filters = json.loads((folder / "filters.json").read_text())
        kept = read_jsonl(folder / "sft_data.jsonl")
        assert filters["candidates"] == 32 and filters["kept"] == sum(1 for _ in kept) - filters["general"]
        assert 0 < filters["kept"] <= 8 * (1 if name.startswith("stage1") else 2)
        passed = {s["completion"] for s in samples if s["passed"]}
        assert all(k["completion"] in passed for k in kept[: filters["kept"]])
        # the SFT data has the plain prompt, not the few-shot one it was sampled with
        assert all(k["prompt"].startswith("User: ") and k["prompt"].count("User: ") == 1 for k in kept)

    # stage 3: the judge filter ran on the math samples (the math rule first, the judge model after it), and
    # not on the others; the general samples came from the teacher backend, one per answered prompt
    stage3 = run / "stage3-rejection_sampling"
    filters = json.loads((stage3 / "filters.json").read_text())
    samples = read_jsonl(stage3 / "samples.jsonl")
    judged = filters["filters"]["judge"]
    math = [s for s in samples if s["kind"] == "math"]
    assert sum(judged[k] for k in ("passed", "failed", "unscored")) == len(math) > 0, (judged, len(math))
    assert all("judge" in s["components"] for s in math) and not any("judge" in s["components"] for s in samples
                                                                       if s["kind"] != "math")  # fmt: skip
    deciders = judged.get("decided_by", {})
    assert set(deciders) <= {"math", "judge", "rule"} and sum(p + f for p, f in
                                                              (d.values() for d in deciders.values())) > 0  # fmt: skip
    teacher = filters["teacher"]
    assert teacher["asked"] == 4 and teacher["samples"] + sum(teacher["failures"].values()) == 4, teacher
    general = read_jsonl(stage3 / "general.jsonl")
    answered = [g["completion"] for g in general if g["completion"] is not None]
    assert len(answered) == teacher["samples"] == filters["general"] and all(c.strip() for c in answered)
    sft_data = read_jsonl(stage3 / "sft_data.jsonl")
    assert [d["completion"] for d in sft_data[filters["kept"] :]] == answered

    # stage 4: the served reward model's two components in the step log, beside the rule rewards
    log4 = read_jsonl(run / "stage4-alignment" / "train_log.jsonl")
    for label in ("helpfulness", "harmlessness"):
        values = [e[f"rewards/{label}/mean"] for e in log4 if f"rewards/{label}/mean" in e]
        assert values and all(0 <= v <= 1 for v in values), (label, log4)
    preference = run / "stage4-alignment" / "preference_model"
    summary = json.loads((preference / "preference_summary.json").read_text())
    assert summary["pairs"] > 0 and 0 <= summary["pair_accuracy"] <= 1
    assert any("rewards/" in key and "preference_model" in key for e in read_jsonl(
        run / "stage4-alignment" / "train_log.jsonl") for key in e)  # fmt: skip
    for index in (None, 0, 1, 2, 3, 4):
        evaluation = json.loads((run / "eval" / ("base.json" if index is None else f"stage{index}.json")).read_text())
        assert evaluation["n"] == 6 and evaluation["stage"] == index
        assert evaluation["mean_reward"] is not None and 0 <= evaluation["accuracy"] <= 1
        assert 0 <= evaluation["components"]["reward_model"] <= 1  # the held-out reward-model score
        # each stage's own metric: accuracy (0), readability (1), language (2), clean reasoning (3), reward model (4)
        metrics, measured = evaluation["metrics"], evaluation["metric_samples"]
        assert set(metrics) == set(measured) == set(STAGE_METRICS), metrics
        for name in ("accuracy", "readability", "reward_model"):
            assert measured[name] == 6 and isfinite(metrics[name]) and 0 <= metrics[name] <= 1, (name, evaluation)
        assert metrics["accuracy"] == evaluation["accuracy"]
        assert metrics["reward_model"] == evaluation["components"]["reward_model"]
        # language: over the samples with 3 words of reasoning or more (math's "4 + 5 = 9" has none)
        assert 0 <= measured["language"] <= 6 and (metrics["language"] is None) == (measured["language"] == 0)
        assert metrics["language"] is None or 0 <= metrics["language"] <= 1
        # clean: over the samples with a closed <think> for stage 3's filters to judge; a share of them
        assert 0 <= measured["clean"] <= 6 and (metrics["clean"] is None) == (measured["clean"] == 0)
        assert measured["general"] == 3 and 0 <= metrics["general"] <= 1, evaluation  # the general prompts'
        assert metrics["clean"] is None or min(abs(metrics["clean"] - k / measured["clean"]) for k in range(7)) < 1e-3
        parts = {name: evaluation["components"][name] for name in READABILITY}
        assert all(0 <= parts[n] <= 1 for n in ("tag_count", "reasoning_steps", "format")) and -1 <= parts[
            "repetition"] <= 0, parts  # fmt: skip
    text = report.read_text()
    assert "after stage 4 (alignment)" in text and (run / "plots" / "evaluations.png").exists()
    header = next(line for line in text.splitlines() if line.startswith("| evaluation |"))
    assert header.endswith("| reward model |") and "Graders trained in the run: judge (tiny_judge" in text
    assert "| judge |" in text and "`judge` decided by:" in text and "General samples from the teacher" in text
    assert "| helpfulness |" in text and "| harmlessness |" in text
    assert "| tag_count | repetition | reasoning_steps | format | readability |" in header
    effects = text.split("## What each stage did\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    metric_names = [line.split(": ", 1)[1].split(" ", 1)[0] for line in effects]
    assert metric_names == ["accuracy", "readability", "language", "clean", "reward"], effects
    assert "accuracy" in effects[3] and "intended: held" in effects[3], effects
    assert "rejection sampling (`rejection_sampling`)" in effects[3] and "judge" in effects[3], effects

    # --resume on a finished run redoes nothing, the graders included
    models = [*run.glob("stage*/model/model.safetensors"), *run.glob("base/*/model.safetensors")]
    before = {p: p.stat().st_mtime_ns for p in models}
    assert {p.parent.name for p in before} >= {"judge", "reward", "teacher"}
    run_pipeline(recipe, run, resume=True)
    assert before == {p: p.stat().st_mtime_ns for p in models}
    with pytest.raises(RunDirError, match="--resume"):
        run_pipeline(recipe, run)

    # an interrupted GRPO stage resumes from its last checkpoint; an interrupted sampling stage keeps the
    # samples it wrote (a torn last line is dropped) and samples only the prompts it had not reached
    stage0, stage1 = run / "stage0-r1_zero", run / "stage1-cold_start"
    for folder in (stage0, stage1):
        state = json.loads((folder / "state.json").read_text())
        (folder / "state.json").write_text(json.dumps({**state, "status": "running"}))
    samples = (stage1 / "samples.jsonl").read_text().splitlines(keepends=True)
    (stage1 / "samples.jsonl").write_text("".join(samples[:14]) + samples[14][:40])  # 3 prompts and a half
    run_pipeline(recipe, run, only=0, resume=True)
    assert json.loads((stage0 / "state.json").read_text())["resumed_from"] == "checkpoint-2"
    run_pipeline(recipe, run, only=1, resume=True)
    resumed = (stage1 / "samples.jsonl").read_text().splitlines(keepends=True)
    assert len(resumed) == 32 and resumed[:12] == samples[:12]
    assert len({json.loads(line)["prompt_id"] for line in resumed}) == 8


def test_unreachable_stack_stops_with_a_message(tmp_path: Path) -> None:
    raw = tiny_recipe(url="http://127.0.0.1:9", retries=2, ready_timeout_s=1)
    config = tmp_path / "r.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = subprocess.run(
        [sys.executable, "-m", "rlvr_trainer.cli", "--config", str(config), "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert "the reward stack at http://127.0.0.1:9 did not answer" in result.stderr
    assert "Nothing was trained on missing rewards" in result.stderr
    assert not list((tmp_path / "run").glob("stage*"))


def test_stage_needs_the_one_before(tmp_path: Path, gateway_url: str) -> None:
    recipe = Recipe.model_validate(tiny_recipe(url=gateway_url))
    with pytest.raises(RunDirError, match=r"stage 2 needs stage 1 \(cold_start\)"):
        run_pipeline(recipe, tmp_path / "run", only=2)
    assert not (tmp_path / "run" / "base").exists(), "refused before building anything"
