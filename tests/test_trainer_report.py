"""rlvr_trainer.report: the markdown report and plots of a full run, a partial run and an empty directory."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rlvr_trainer.report import moving_average, smoothing_window, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DECODING = "sampled, temperature 1.0"
LONG_COMPLETION = "```python\nprint(1)\n```\n" + "y" * 2000
EVAL_HEADER = "| evaluation | n | mean reward | Δ reward | accuracy | Δ accuracy | acc math | acc code | acc format |"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def sample(kind: str, prompt: str, completion: str, reward: float, correct: bool) -> dict[str, Any]:
    return {"kind": kind, "prompt": prompt, "completion": completion, "reward": reward, "correct": correct}


def evaluation(label: str, stage: int | None, mean: float, acc: float, kinds: dict[str, float]) -> dict[str, Any]:
    samples = [
        sample("math", f"{label}: what is 2+2?", "<answer>4</answer>", 1.2, True),
        sample("code", f"{label}: write f", "def f(): ...", 0.1, False),
        sample("math", f"{label}: the third sample", "x", 0.0, False),
    ]
    return {
        "label": label,
        "stage": stage,
        "n": 96,
        "decoding": DECODING,
        "mean_reward": mean,
        "accuracy": acc,
        "by_kind": {k: {"n": 32, "mean_reward": a, "accuracy": a} for k, a in kinds.items()},
        "components": {"math": acc, "format": 0.9},
        "samples": samples,
    }


def grpo_step(s: int) -> str:
    """One GRPOTrainer log_history entry: reward 0.2 + 0.06 per step, math 0.1 per step, format flat."""
    entry = {"step": s, "loss": 0.01, "reward": 0.2 + 0.06 * (s - 1), "reward_std": 0.3}
    entry |= {"rewards/rlvr_math/mean": 0.1 * s, "rewards/rlvr_format/mean": 0.9, "completions/mean_length": 40.0}
    return json.dumps(entry)


def make_grpo_stage(run: Path, index: int, name: str) -> None:
    stage = run / f"stage{index}-{name}"
    write_json(stage / "state.json", {"status": "done", "kind": "grpo", "wall_s": 123.4})
    summary = {"step": 10, "train_runtime": 12.3, "train_loss": 0.1, "reward": 99.0}  # a summary line: ignored
    write_lines(
        stage / "train_log.jsonl",
        [*(grpo_step(s) for s in range(1, 11)), json.dumps({"epoch": 1.0}), json.dumps(summary)],
    )


def make_full_run(run: Path) -> None:
    stages = [{"index": 0, "name": "r1_zero", "kind": "grpo"}, {"index": 1, "name": "cold_start", "kind": "sft"}]
    write_json(run / "run.json", {"recipe": "r1-mini", "started": "2026-12-04T17:00:00Z", "seed": 0, "stages": stages})
    base = evaluation("base model", None, 0.5, 0.4, {"math": 0.45, "code": 0.3})
    base["samples"][0]["completion"] = LONG_COMPLETION
    write_json(run / "eval" / "base.json", base)
    write_json(
        run / "eval" / "stage0.json",
        evaluation("after stage 0 (r1_zero)", 0, 0.62, 0.55, {"math": 0.6, "code": 0.35, "format": 0.9}),
    )
    write_json(
        run / "eval" / "stage1.json",
        evaluation("after stage 1 (cold_start)", 1, 0.58, 0.57, {"math": 0.65, "code": 0.4}),
    )
    make_grpo_stage(run, 0, "r1_zero")
    sft = run / "stage1-cold_start"
    write_json(sft / "state.json", {"status": "done", "kind": "sft", "wall_s": 61.0})
    write_lines(sft / "train_log.jsonl", [json.dumps({"step": s, "loss": 1.5 - 0.1 * s}) for s in range(1, 7)])
    filters = {
        "math": {"passed": 300, "failed": 200, "unscored": 12},
        "format": {"passed": 400, "failed": 112, "unscored": 0},
        "code": {"passed": 0, "failed": 0, "unscored": 0},
    }
    write_json(sft / "filters.json", {"candidates": 512, "kept": 130, "filters": filters})


def image_links(report: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)


def assert_links_resolve(run: Path, report: str) -> None:
    for link in image_links(report):
        assert not Path(link).is_absolute() and link.startswith("plots/"), link
        png = run / link
        assert png.is_file(), link
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC), link
        assert len(data) > 5_000, (link, len(data))


def test_full_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_full_run(run)
    path = write_report(run)
    assert path == run / "report.md"
    report = path.read_text(encoding="utf-8")

    assert report.startswith("# Run report: r1-mini\n")
    assert "Started 2026-12-04T17:00:00Z, seed 0." in report
    assert f"Decoding: {DECODING}." in report
    # one row per evaluation in order, deltas against the row above, per-kind columns the union of kinds
    rows = [
        EVAL_HEADER,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        "| base model | 96 | 0.500 | — | 0.400 | — | 0.450 | 0.300 | — |",
        "| after stage 0 (r1_zero) | 96 | 0.620 | +0.120 | 0.550 | +0.150 | 0.600 | 0.350 | 0.900 |",
        "| after stage 1 (cold_start) | 96 | 0.580 | -0.040 | 0.570 | +0.020 | 0.650 | 0.400 | — |",
    ]
    assert "\n".join(rows) + "\n" in report

    # grpo stage: total reward and each rewards/*/mean component, summary lines ignored
    assert "## Stage 0: r1_zero" in report and "- kind: grpo" in report and "- status: done" in report
    assert "- wall time: 123.4 s (2.1 min)" in report
    assert "Logged mean reward: first 0.200 (step 1), last 0.740 (step 10)." in report
    assert "| reward | 0.200 (step 1) | 0.740 (step 10) | +0.540 |" in report
    assert "| rlvr_math | 0.100 (step 1) | 1.000 (step 10) | +0.900 |" in report
    assert "| rlvr_format | 0.900 (step 1) | 0.900 (step 10) | +0.000 |" in report
    assert "reward_std" not in report and "99.000" not in report

    # sft stage: loss curve, filters with pass rates, candidates -> kept
    assert "Logged loss: first 1.400 (step 1), last 0.900 (step 6)." in report
    assert "Samples → kept by the filters: 512 → 130 (25.4%)" in report
    assert "| math | 300 | 200 | 12 | 58.6% |" in report
    assert "| format | 400 | 112 | 0 | 78.1% |" in report
    assert "| code | 0 | 0 | 0 | — |" in report

    # images: relative links to real PNGs, one per stage plus the comparison
    links = image_links(report)
    assert sorted(links) == ["plots/evaluations.png", "plots/stage0-r1_zero.png", "plots/stage1-cold_start.png"]
    assert_links_resolve(run, report)

    # samples: two per evaluation, long completions truncated, fences not closed by backticks inside
    assert "base model: what is 2+2?" in report and "base model: write f" in report
    assert "the third sample" not in report
    assert f"[truncated, {len(LONG_COMPLETION)} chars in all]" in report and "y" * 700 not in report
    assert "````text\n```python" in report

    # one line per stage: its own held-out metric before and after, the direction intended; an SFT stage's filters
    effects = "## What each stage did\n\n- stage 0 R1-Zero (`r1_zero`): accuracy 0.400 → 0.550 (+0.150, intended: up)\n"
    assert effects in report
    assert (
        "- stage 1 cold start (`cold_start`): readability not measured (intended: up; its verifiers are not among the "
        "eval rewards, or no sample had enough to measure); kept 130 of 512 samples (filter pass rates: math 58.6%, "
        "format 78.1%, code —)\n"
    ) in report

    assert "## Missing\n\n- nothing: every stage is done and evaluated\n" in report


R1_STAGES = [("r1_zero", "grpo"), ("cold_start", "sft"), ("reasoning_rl", "grpo"), ("rejection_sampling", "sft"),
             ("alignment", "grpo")]  # fmt: skip


def staged(label: str, stage: int | None, acc: float, metrics: dict[str, float | None]) -> dict[str, Any]:
    """An evaluation with the stage metrics (``metrics``: readability, language, reward_model) and their components."""
    data = evaluation(label, stage, acc + 0.2, acc, {"math": acc})
    data["components"] |= {"tag_count": 0.5, "repetition": -0.1, "reasoning_steps": 0.2, "format": 0.8}
    data["components"]["reward_model"] = metrics["reward_model"]
    data["metrics"] = {"accuracy": acc, **metrics}
    data["metric_samples"] = {name: 96 for name in data["metrics"]}
    return data


def test_each_stage_metric_before_and_after(tmp_path: Path) -> None:
    """Readability, language and the reward model are held-out columns; one line per stage says what it moved."""
    run = tmp_path / "run"
    stages = [{"index": i, "name": name, "kind": kind} for i, (name, kind) in enumerate(R1_STAGES)]
    write_json(run / "run.json", {"recipe": "r1-mini", "started": "2026-12-04T17:00:00Z", "seed": 0, "stages": stages})
    rows = [  # accuracy, readability, language, clean reasoning, reward model after each evaluation
        (None, 0.40, 0.41, 0.95, 0.30, 0.30),
        (0, 0.60, 0.45, 0.97, 0.35, 0.25),
        (1, 0.61, 0.63, 0.96, 0.50, 0.26),
        (2, 0.62, 0.62, 1.00, 0.55, 0.27),
        (3, 0.70, 0.64, None, 0.80, 0.27),
        (4, 0.69, 0.64, 1.00, 0.78, 0.35),
    ]
    for index, acc, readable, language, clean, rm in rows:
        metrics = {"readability": readable, "language": language, "clean": clean, "reward_model": rm}
        label = "base model" if index is None else f"after stage {index} ({R1_STAGES[index][0]})"
        name = "base" if index is None else f"stage{index}"
        write_json(run / "eval" / f"{name}.json", staged(label, index, acc, metrics))
    for index, (name, kind) in enumerate(R1_STAGES):
        if kind == "grpo":
            make_grpo_stage(run, index, name)
    filters = {
        "judge": {"passed": 40, "failed": 60, "unscored": 0, "decided_by": {"math": {"passed": 30, "failed": 50}}},
        "mixed_language": {"passed": 90, "failed": 10, "unscored": 0},
    }
    write_json(run / "stage3-rejection_sampling" / "filters.json", {"candidates": 100, "kept": 36, "filters": filters})

    report = write_report(run).read_text(encoding="utf-8")

    header = next(line for line in report.splitlines() if line.startswith("| evaluation |"))
    assert header.endswith(
        "| acc math | tag_count | repetition | reasoning_steps | format | readability | language | clean "
        "| reward model |"
    )
    assert "| after stage 1 (cold_start) | 96 | 0.810 | +0.010 | 0.610 | +0.010 | 0.610 | 0.500 | -0.100 | 0.200 | " \
           "0.800 | 0.630 | 0.960 | 0.500 | 0.260 |" in report  # fmt: skip
    assert "readability: per sample the mean of `tag_count`, `reasoning_steps`, `format` and" in report
    effects = report.split("## What each stage did\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert effects == [
        "- stage 0 R1-Zero (`r1_zero`): accuracy 0.400 → 0.600 (+0.200, intended: up)",
        "- stage 1 cold start (`cold_start`): readability 0.450 → 0.630 (+0.180, intended: up)",
        "- stage 2 reasoning RL (`reasoning_rl`): language 0.960 → 1.000 (+0.040, intended: up); "
        "accuracy 0.610 → 0.620 (+0.010, intended: held)",
        "- stage 3 rejection sampling (`rejection_sampling`): clean reasoning 0.550 → 0.800 (+0.250, intended: up); "
        "accuracy 0.620 → 0.700 (+0.080, intended: held); "
        "kept 36 of 100 samples (filter pass rates: judge 40.0%, mixed_language 90.0%)",
        "- stage 4 alignment (`alignment`): reward model 0.270 → 0.350 (+0.080, intended: up); "
        "accuracy 0.700 → 0.690 (-0.010, intended: held)",
    ]
    assert_links_resolve(run, report)


def test_older_evaluations_without_metrics_keep_accuracy_and_the_reward_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    stages = [{"index": i, "name": name, "kind": kind} for i, (name, kind) in enumerate(R1_STAGES) if i >= 3]
    write_json(run / "run.json", {"recipe": "r1-mini", "started": "2026-12-04T17:00:00Z", "seed": 0, "stages": stages})
    for name, rm in (("stage3", 0.2), ("stage4", None)):
        data = evaluation(name, None, 0.5, 0.4, {"math": 0.4})
        data["components"]["reward_model"] = rm
        write_json(run / "eval" / f"{name}.json", data)
    report = write_report(run).read_text(encoding="utf-8")
    assert "- stage 4 alignment (`alignment`): reward model 0.200 → — (intended: up); accuracy 0.400 → 0.400 " \
           "(+0.000, intended: held)" in report  # fmt: skip


@pytest.mark.parametrize(
    ("values", "window", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 1, [1.0, 2.0, 3.0, 4.0]),
        ([1.0, 2.0, 3.0, 4.0], 2, [1.0, 1.5, 2.5, 3.5]),
        ([0.0, 3.0, 0.0, 3.0, 0.0], 3, [0.0, 1.5, 1.0, 2.0, 1.0]),
        ([], 5, []),
    ],
)
def test_moving_average_is_trailing(values: list[float], window: int, expected: list[float]) -> None:
    assert moving_average(values, window) == pytest.approx(expected)


def test_smoothing_window_is_a_fifth_of_the_curve_at_most_ten() -> None:
    assert [smoothing_window(n) for n in (1, 4, 5, 30, 60, 200)] == [1, 1, 1, 6, 10, 10]


def test_partial_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    stages = [
        {"index": 0, "name": "r1_zero", "kind": "grpo"},
        {"index": 1, "name": "cold_start", "kind": "sft"},
        {"index": 2, "name": "reasoning_rl", "kind": "grpo"},
    ]
    write_json(run / "run.json", {"recipe": "r1-mini", "started": "2026-12-04T17:00:00Z", "seed": 3, "stages": stages})
    write_json(run / "eval" / "base.json", evaluation("base model", None, 0.5, 0.4, {"math": 0.45}))
    write_json(run / "eval" / "stage0.json", evaluation("after stage 0 (r1_zero)", 0, 0.61, 0.5, {"math": 0.55}))
    make_grpo_stage(run, 0, "r1_zero")
    with (run / "stage0-r1_zero" / "train_log.jsonl").open("a", encoding="utf-8") as log:
        log.write('{"step": 11, "rew')  # a line still being written
    running = run / "stage1-cold_start"
    write_json(running / "state.json", {"status": "running", "kind": "sft"})
    (running / "train_log.jsonl").write_text("", encoding="utf-8")

    report = write_report(run).read_text(encoding="utf-8")

    assert "| after stage 0 (r1_zero) | 96 | 0.610 | +0.110 | 0.500 | +0.100 | 0.550 |" in report
    assert "after stage 1" not in report
    assert "last 0.740 (step 10)" in report
    assert "## Stage 1: cold_start" in report and "- status: running" in report and "- wall time: unknown" in report
    assert "_No training steps with loss in `train_log.jsonl`._" in report
    assert "_No `filters.json`._" in report
    assert "## Stage 2: reasoning_rl" in report and "_No folder `stage2-reasoning_rl/`._" in report
    assert not (run / "plots" / "stage1-cold_start.png").exists()
    assert sorted(image_links(report)) == ["plots/evaluations.png", "plots/stage0-r1_zero.png"]
    assert_links_resolve(run, report)

    missing = report.split("## Missing\n\n", 1)[1]
    assert missing.splitlines() == [
        "- stage 1 (cold_start): not done (status running)",
        "- stage 1 (cold_start): no evaluation (`eval/stage1.json`)",
        "- stage 2 (reasoning_rl): no `stage2-reasoning_rl/state.json`, not started",
        "- stage 2 (reasoning_rl): no evaluation (`eval/stage2.json`)",
    ]


def test_empty_and_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = write_report(empty).read_text(encoding="utf-8")
    assert "# Run report: unknown recipe" in report
    assert "_No evaluation files under `eval/`._" in report
    assert "- `run.json` (stages taken from the stage folders)" in report
    assert "- base evaluation (`eval/base.json`)" in report
    assert image_links(report) == []

    # no run.json: stages come from the folders; a corrupt eval file counts as missing
    run = tmp_path / "norunjson"
    make_grpo_stage(run, 0, "r1_zero")
    write_lines(run / "eval" / "stage0.json", ['{"label": "after stage 0", "mean_rew'])
    report = write_report(run).read_text(encoding="utf-8")
    assert "## Stage 0: r1_zero" in report and "- kind: grpo" in report
    assert "- stage 0 (r1_zero): no evaluation (`eval/stage0.json`)" in report
    assert image_links(report) == ["plots/stage0-r1_zero.png"]
    assert_links_resolve(run, report)
