"""Markdown report of a run directory: held-out evaluations, what each stage did, per-stage curves and filters,
samples, what is missing.

`write_report(run_dir)` reads what a run left on disk (run.json, base/*/grader.json, eval/*.json, stage*/state.json,
train_log.jsonl, filters.json), tolerates any of it being absent or half-written, and writes run_dir/report.md with
PNGs in plots/. Model graders show up where they act: the judge as a filter (its pass rate, and who decided: the
math rule or the model), the reward model as GRPO reward components (curves and means) and, when the recipe's
eval rewards name it, as a held-out column; the teacher's general samples and failures under their stage.

Each R1 stage has its own held-out metric (``evaluation.py``: accuracy, readability, language, clean reasoning,
reward model); the report gives one line per stage with that metric before and after it and the direction
intended (``STAGE_GOALS``, by the stage's place in the recipe), with the metrics it should hold beside it
(accuracy; for stage 3 the general task too). Training curves are drawn as a moving average
with the logged points faint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

log = logging.getLogger(__name__)

SAMPLES_PER_EVAL = 2
SAMPLE_CHARS = 600
DASH = "—"
# held-out columns for model graders the recipe's eval rewards name (verifier -> column)
MODEL_COLUMNS = {"reward_model": "reward model", "judge": "judge"}
# held-out columns of the readability metric: its four verifiers' means, then the combined score
READABILITY_COLUMNS = ("tag_count", "repetition", "reasoning_steps", "format")
METRIC_NAMES = {"accuracy": "accuracy", "readability": "readability", "language": "language",
                "clean": "clean reasoning", "reward_model": "reward model", "general": "general task"}  # fmt: skip
GRADERS = ("judge", "reward", "teacher")  # folders under base/
SMOOTHING = 10  # the moving average of a training curve spans this many logged steps at most (a fifth of them)


@dataclass(frozen=True)
class StageGoal:
    """What an R1 stage is for: the held-out metric it should move (``up``), and those it should hold beside it."""

    role: str
    metric: str  # a key of Evaluation.metrics
    held: tuple[str, ...] = ()


# by the stage's place in the recipe: DeepSeek-R1's five stages
STAGE_GOALS = (
    StageGoal("R1-Zero", "accuracy"),
    StageGoal("cold start", "readability"),
    StageGoal("reasoning RL", "language", held=("accuracy",)),
    StageGoal("rejection sampling", "clean", held=("accuracy", "general")),
    StageGoal("alignment", "reward_model", held=("accuracy",)),
)


@dataclass(frozen=True)
class Stage:
    index: int
    name: str
    kind: str

    @property
    def dirname(self) -> str:
        return f"stage{self.index}-{self.name}"


@dataclass(frozen=True)
class Run:
    recipe: str
    started: str
    seed: str
    stages: tuple[Stage, ...]


@dataclass(frozen=True)
class StageState:
    status: str
    kind: str | None
    wall_s: float | None


@dataclass(frozen=True)
class Step:
    step: int
    values: dict[str, float]


@dataclass(frozen=True)
class FilterCount:
    name: str
    passed: int
    failed: int
    unscored: int
    decided_by: tuple[tuple[str, int, int], ...] = ()  # (who, passed, failed)

    @property
    def pass_rate(self) -> float | None:
        total = self.passed + self.failed + self.unscored
        return self.passed / total if total else None


@dataclass(frozen=True)
class Teacher:
    model: str
    asked: int | None
    samples: int | None
    failures: dict[str, int]
    first_failure: str | None


@dataclass(frozen=True)
class Filters:
    candidates: int | None
    kept: int | None
    counts: tuple[FilterCount, ...]
    general: int | None = None
    teacher: Teacher | None = None


@dataclass(frozen=True)
class Sample:
    kind: str
    prompt: str
    completion: str
    reward: float | None
    correct: bool | None


@dataclass(frozen=True)
class Evaluation:
    source: str  # file stem: "base", "stage0", ...
    short: str  # x-axis label: "base", "0: r1_zero", ...
    label: str
    n: int | None
    decoding: str | None
    mean_reward: float | None
    accuracy: float | None
    kind_accuracy: dict[str, float | None]
    samples: tuple[Sample, ...]
    components: dict[str, float | None] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float | None] = dataclasses.field(default_factory=dict)

    def metric(self, name: str) -> float | None:
        """A stage metric; accuracy and the reward model from their older places in files that predate ``metrics``."""
        if (value := self.metrics.get(name)) is not None:
            return value
        return {"accuracy": self.accuracy, "reward_model": self.components.get("reward_model")}.get(name)


def write_report(run_dir: Path) -> Path:
    """Write run_dir/report.md (and run_dir/plots/*.png) from whatever the run has produced so far."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    run = read_run(run_dir)
    evals = read_evaluations(run_dir, run.stages)
    lines = [f"# Run report: {run.recipe}", "", f"Started {run.started}, seed {run.seed}.", ""]
    lines += render_base_and_time(run_dir, run.stages)
    lines += render_evaluations(evals, plots)
    lines += render_stage_effects(run_dir, run.stages, evals)
    for stage in run.stages:
        lines += render_stage(run_dir / stage.dirname, stage, plots)
    lines += render_samples(evals)
    lines += render_missing(run_dir, run.stages, {ev.source for ev in evals})
    report = run_dir / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    log.info("wrote %s", report)
    return report


def read_text(path: Path) -> str | None:
    """The file's text, or None when absent or unreadable (the latter logged)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


def read_json(path: Path) -> dict[str, Any] | None:
    if (text := read_text(path)) is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        log.warning("cannot parse %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def to_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def to_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_run(run_dir: Path) -> Run:
    meta = read_json(run_dir / "run.json") or {}
    specs = meta.get("stages")
    if isinstance(specs, list):
        stages = [
            Stage(index, str(spec["name"]), str(spec.get("kind", "unknown")))
            for spec in specs
            if isinstance(spec, dict) and (index := to_int(spec.get("index"))) is not None and "name" in spec
        ]
    else:  # no usable run.json: the stage folders themselves
        found = (re.fullmatch(r"stage(\d+)-(.+)", p.name) for p in run_dir.iterdir() if p.is_dir())
        stages = [Stage(int(m[1]), m[2], "unknown") for m in found if m]
    return Run(
        recipe=str(meta.get("recipe", "unknown recipe")),
        started=str(meta.get("started", "unknown time")),
        seed=str(meta.get("seed", "unknown")),
        stages=tuple(sorted(stages, key=lambda s: s.index)),
    )


def read_state(stage_dir: Path) -> StageState | None:
    if (data := read_json(stage_dir / "state.json")) is None:
        return None
    kind = data.get("kind")
    return StageState(str(data.get("status", "unknown")), str(kind) if kind else None, to_float(data.get("wall_s")))


def read_train_log(path: Path) -> list[Step]:
    """Logged training steps; summary lines (no "step", or "train_runtime") and unparsable lines are skipped."""
    steps = []
    for number, line in enumerate((read_text(path) or "").splitlines(), 1):
        try:
            entry = json.loads(line) if line.strip() else None
        except ValueError:
            log.warning("skipping unparsable line %d of %s", number, path)
            continue
        if not isinstance(entry, dict) or "train_runtime" in entry or (step := to_int(entry.get("step"))) is None:
            continue
        steps.append(Step(step, {k: f for k, v in entry.items() if k != "step" and (f := to_float(v)) is not None}))
    return steps


def read_decided_by(raw: object) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (str(who), to_int(c.get("passed")) or 0, to_int(c.get("failed")) or 0)
        for who, c in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(c, dict)
    )


def read_teacher(raw: object) -> Teacher | None:
    if not isinstance(raw, dict):
        return None
    failures = raw.get("failures")
    return Teacher(
        model=str(raw.get("model") or raw.get("backend") or "unknown"),
        asked=to_int(raw.get("asked")),
        samples=to_int(raw.get("samples")),
        failures={str(k): n for k, v in failures.items() if (n := to_int(v))} if isinstance(failures, dict) else {},
        first_failure=str(raw["first_failure"]) if raw.get("first_failure") else None,
    )


def read_filters(stage_dir: Path) -> Filters | None:
    if (data := read_json(stage_dir / "filters.json")) is None:
        return None
    raw = data.get("filters")
    counts = tuple(
        FilterCount(
            str(name),
            to_int(c.get("passed")) or 0,
            to_int(c.get("failed")) or 0,
            to_int(c.get("unscored")) or 0,
            read_decided_by(c.get("decided_by")),
        )
        for name, c in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(c, dict)
    )
    return Filters(
        to_int(data.get("candidates")), to_int(data.get("kept")), counts, to_int(data.get("general")),
        read_teacher(data.get("teacher")),
    )  # fmt: skip


def read_samples(raw: object) -> tuple[Sample, ...]:
    return tuple(
        Sample(
            kind=str(s.get("kind", "?")),
            prompt=str(s.get("prompt", "")),
            completion=str(s.get("completion", "")),
            reward=to_float(s.get("reward")),
            correct=s["correct"] if isinstance(s.get("correct"), bool) else None,
        )
        for s in (raw if isinstance(raw, list) else ())
        if isinstance(s, dict)
    )


def read_evaluation(path: Path, short: str) -> Evaluation | None:
    if (data := read_json(path)) is None:
        return None
    by_kind, components, metrics = data.get("by_kind"), data.get("components"), data.get("metrics")
    kinds = by_kind.items() if isinstance(by_kind, dict) else ()
    return Evaluation(
        source=path.stem,
        short=short,
        label=str(data.get("label") or short),
        n=to_int(data.get("n")),
        decoding=str(data["decoding"]) if data.get("decoding") else None,
        mean_reward=to_float(data.get("mean_reward")),
        accuracy=to_float(data.get("accuracy")),
        kind_accuracy={str(k): to_float(v.get("accuracy")) for k, v in kinds if isinstance(v, dict)},
        samples=read_samples(data.get("samples")),
        components={str(k): to_float(v) for k, v in components.items()} if isinstance(components, dict) else {},
        metrics={str(k): to_float(v) for k, v in metrics.items()} if isinstance(metrics, dict) else {},
    )


def read_evaluations(run_dir: Path, stages: Sequence[Stage]) -> list[Evaluation]:
    """base.json, then stageN.json in stage order; absent ones are left out."""
    paths = [(run_dir / "eval" / "base.json", "base")]
    paths += [(run_dir / "eval" / f"stage{s.index}.json", f"{s.index}: {s.name}") for s in stages]
    return [ev for path, short in paths if (ev := read_evaluation(path, short)) is not None]


def format_number(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def format_delta(value: float | None, previous: float | None) -> str:
    return DASH if value is None or previous is None else f"{value - previous:+.3f}"


def format_duration(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds:.1f} s ({seconds / 60:.1f} min)"


def render_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    def render_row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [render_row(header), render_row(["---"] * len(header)), *(render_row(r) for r in rows), ""]


def render_fenced(text: str) -> list[str]:
    """text, truncated, in a fenced block whose fence no backtick run inside it can close."""
    if len(text) > SAMPLE_CHARS:
        text = text[:SAMPLE_CHARS] + f"\n… [truncated, {len(text)} chars in all]"
    ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [f"{ticks}text", text, ticks, ""]


def smoothing_window(n: int) -> int:
    """The moving average's span for a curve of ``n`` logged steps: a fifth of them, 1 to ``SMOOTHING``."""
    return max(1, min(SMOOTHING, n // 5))


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The trailing mean of the last ``window`` values at each point (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_curves(png: Path, title: str, ylabel: str, series: dict[str, list[tuple[int, float]]]) -> None:
    """Each curve as its moving average, the logged points drawn faint behind it in the same colour."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")  # no pyplot: no global figure registry to close
    ax = fig.subplots()
    windows = set()
    for label, points in series.items():
        steps, values = zip(*points, strict=True)
        window = smoothing_window(len(values))
        windows.add(window)
        marker = "o" if len(points) <= 30 else None
        (raw,) = ax.plot(steps, values, alpha=0.25, linewidth=1, marker=marker, markersize=2)
        ax.plot(steps, moving_average(values, window), color=raw.get_color(), linewidth=2, label=label)
    span = "/".join(str(w) for w in sorted(windows))
    ax.set(title=f"{title}\nmoving average of {span} logged steps; faint: every logged step", xlabel="step",
           ylabel=ylabel)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(png, dpi=100)


def plot_evaluations(png: Path, evals: Sequence[Evaluation], kinds: Sequence[str]) -> None:
    fig = Figure(figsize=(11 if kinds else 6, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if kinds else 1, squeeze=False)[0]
    overall = {"mean reward": [ev.mean_reward for ev in evals], "accuracy": [ev.accuracy for ev in evals]}
    for name in ("readability", "language", "clean", "reward_model", "general"):
        values = [ev.metric(name) for ev in evals]
        if any(v is not None for v in values):
            overall[METRIC_NAMES[name]] = values
    by_kind = {f"accuracy {k}": [ev.kind_accuracy.get(k) for ev in evals] for k in kinds}
    titles = ["overall, and each stage's metric", "accuracy by kind"]
    for ax, title, group in zip(axes, titles, [overall, by_kind], strict=False):
        for label, values in group.items():
            ax.plot(range(len(evals)), [float("nan") if v is None else v for v in values], label=label, marker="o")
        ax.set_xticks(range(len(evals)), [ev.short for ev in evals], rotation=20, ha="right")
        ax.set(title=title, xlabel="evaluation")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(png, dpi=100)


def render_base_and_time(run_dir: Path, stages: Sequence[Stage]) -> list[str]:
    """The base model (built and pre-trained in the run, when its state says so) and the wall time of it all."""
    base = read_json(run_dir / "base" / "state.json") or {}
    lines = []
    if base:
        facts = [
            f"{k.replace('_', ' ')} {base[k]:,}" for k in ("parameters", "examples") if isinstance(base.get(k), int)
        ]
        if isinstance(base.get("final_loss"), int | float):
            facts.append(f"final pre-training loss {base['final_loss']:.3f}")
        lines += [f"Base model: {', '.join(facts) or 'given by the recipe'}.", ""]
    graders = {name: read_json(run_dir / "base" / name / "grader.json") for name in GRADERS}
    built = {name: g for name, g in graders.items() if g is not None}
    if built:
        facts = [
            f"{name} ({g.get('build', '?')}, {g['steps'] if to_int(g.get('steps')) else 'default'} steps, "
            f"{format_duration(to_float(g.get('wall_s')))})"
            for name, g in built.items()
        ]
        lines += [f"Graders trained in the run: {'; '.join(facts)}.", ""]
    walls = [to_float(base.get("wall_s"))] + [to_float(g.get("wall_s")) for g in built.values()]
    walls += [(state.wall_s if (state := read_state(run_dir / s.dirname)) else None) for s in stages]
    known = [w for w in walls if w is not None]
    if known:
        what = "the base model, the graders" if built else "the base model"
        lines += [f"Wall time of {what} and the stages: {format_duration(sum(known))}.", ""]
    return lines


def render_evaluations(evals: Sequence[Evaluation], plots: Path) -> list[str]:
    lines = ["## Held-out evaluation", ""]
    if not evals:
        return [*lines, "_No evaluation files under `eval/`._", ""]
    decodings = list(dict.fromkeys(ev.decoding or "not recorded" for ev in evals))
    if len(decodings) == 1:
        lines += [f"Decoding: {decodings[0]}. Each Δ is against the row above.", ""]
    else:
        lines += ["Decoding differs: " + "; ".join(f"{ev.label}: {ev.decoding or 'not recorded'}" for ev in evals), ""]
    kinds = list(dict.fromkeys(k for ev in evals for k in ev.kind_accuracy))
    graded = [name for name in MODEL_COLUMNS if any(ev.components.get(name) is not None for ev in evals)]
    readable = any(ev.metric("readability") is not None for ev in evals)
    shaping = [*READABILITY_COLUMNS, "readability"] if readable else []
    shares = [name for name in ("language", "clean", "general") if any(ev.metric(name) is not None for ev in evals)]
    metrics = [name for name in ("readability", "language", "clean", "general") if name in shaping or name in shares]
    rows = [
        [
            ev.label,
            DASH if ev.n is None else str(ev.n),
            format_number(ev.mean_reward),
            format_delta(ev.mean_reward, prev.mean_reward if prev else None),
            format_number(ev.accuracy),
            format_delta(ev.accuracy, prev.accuracy if prev else None),
            *(format_number(ev.kind_accuracy.get(k)) for k in kinds),
            *(format_number(ev.components.get(name)) for name in READABILITY_COLUMNS if readable),
            *(format_number(ev.metric(name)) for name in metrics),
            *(format_number(ev.components.get(name)) for name in graded),
        ]
        for prev, ev in zip([None, *evals], evals, strict=False)
    ]
    header = ["evaluation", "n", "mean reward", "Δ reward", "accuracy", "Δ accuracy", *(f"acc {k}" for k in kinds)]
    header += [*shaping, *shares, *(MODEL_COLUMNS[name] for name in graded)]
    plot_evaluations(plots / "evaluations.png", evals, kinds)
    notes = []
    if shaping:
        notes.append("readability: per sample the mean of `tag_count`, `reasoning_steps`, `format` and "
                     "`1 - repetition/max_penalty` (the `repetition` column is the verifier's own score, 0 to its "
                     "penalty)")  # fmt: skip
    if "language" in shares:
        notes.append("language: the share of the reasoning in the prompt's target language")
    if "clean" in shares:
        notes.append("clean: the share of samples whose reasoning passes stage 3's filters (`mixed_language`, "
                     "`long_paragraphs`, `code_in_reasoning`)")  # fmt: skip
    if "general" in shares:
        notes.append("general: the share of replies to held-out general prompts that name their topic and reason "
                     "about nothing (`ifeval`)")  # fmt: skip
    if graded:
        notes.append("model columns: the grader's mean score")
    extra = [f"Stage metrics (weight-0 eval rewards, one mean over the samples each could be measured on): "
             f"{'; '.join(notes)}.", ""] if notes else []  # fmt: skip
    return [*lines, *render_table(header, rows), *extra, "![evaluations across stages](plots/evaluations.png)", ""]


def render_stage_effects(run_dir: Path, stages: Sequence[Stage], evals: Sequence[Evaluation]) -> list[str]:
    """One line per stage: its own metric on the held-out prompts before and after it, the direction intended."""
    if not stages:
        return []
    by_source = {ev.source: ev for ev in evals}
    # a metric held beside a stage's own is shown where the run measures it at all (accuracy always)
    measured = {"accuracy", *(name for name in METRIC_NAMES if any(ev.metric(name) is not None for ev in evals))}
    lines = ["## What each stage did", ""]
    for stage in stages:
        goal = STAGE_GOALS[stage.index] if stage.index < len(STAGE_GOALS) else StageGoal(stage.name, "accuracy")
        before = by_source.get("base" if stage.index == 0 else f"stage{stage.index - 1}")
        after = by_source.get(f"stage{stage.index}")
        parts = [change(goal.metric, before, after, "up")]
        parts += [change(name, before, after, "held") for name in goal.held if name in measured]
        filters = read_filters(run_dir / stage.dirname)
        if filters is not None and filters.counts:
            rates = ", ".join(f"{c.name} {DASH if c.pass_rate is None else f'{c.pass_rate:.1%}'}"
                              for c in filters.counts)  # fmt: skip
            parts.append(f"kept {filters.kept} of {filters.candidates} samples (filter pass rates: {rates})")
        lines.append(f"- stage {stage.index} {goal.role} (`{stage.name}`): {'; '.join(parts)}")
    return [*lines, ""]


def change(metric: str, before: Evaluation | None, after: Evaluation | None, intended: str) -> str:
    """``readability 0.410 → 0.630 (+0.220, intended: up)``; a dash for an evaluation or a value that is missing."""
    name = METRIC_NAMES.get(metric, metric)
    old, new = (ev.metric(metric) if ev else None for ev in (before, after))
    if old is None and new is None and before is not None and after is not None:
        return (f"{name} not measured (intended: {intended}; its verifiers are not among the eval rewards, or no "
                "sample had enough to measure)")  # fmt: skip
    delta = "" if old is None or new is None else f"{new - old:+.3f}, "
    return f"{name} {format_number(old)} → {format_number(new)} ({delta}intended: {intended})"


def render_stage(stage_dir: Path, stage: Stage, plots: Path) -> list[str]:
    state = read_state(stage_dir)
    kind = state.kind if state and state.kind else stage.kind
    lines = [f"## Stage {stage.index}: {stage.name}", "", f"- kind: {kind}"]
    lines += [f"- status: {state.status if state else 'not started (no state.json)'}"]
    lines += [f"- wall time: {format_duration(state.wall_s if state else None)}", ""]
    if not stage_dir.is_dir():
        return [*lines, f"_No folder `{stage.dirname}/`._", ""]
    lines += render_curves(read_train_log(stage_dir / "train_log.jsonl"), stage, kind, plots)
    if kind == "sft":
        lines += render_filters(read_filters(stage_dir))
    return lines


def render_curves(steps: Sequence[Step], stage: Stage, kind: str, plots: Path) -> list[str]:
    """SFT: the loss; otherwise (GRPO) the total reward and every rewards/*/mean component."""
    logged = {k for s in steps for k in s.values}
    keys = ["loss"] if kind == "sft" else ["reward", *sorted(k for k in logged if re.fullmatch(r"rewards/.+/mean", k))]
    series = {k: [(s.step, s.values[k]) for s in steps if k in s.values] for k in keys}
    series = {k.removeprefix("rewards/").removesuffix("/mean"): points for k, points in series.items() if points}
    if not series:
        return [f"_No training steps with {' or '.join(keys)} in `train_log.jsonl`._", ""]
    png = plots / (re.sub(r"[^\w.-]", "_", stage.dirname) + ".png")
    plot_curves(png, f"stage {stage.index}: {stage.name} ({kind})", keys[0], series)
    lines = []
    if keys[0] in series:
        (step0, first), (step1, last) = series[keys[0]][0], series[keys[0]][-1]
        name = "loss" if kind == "sft" else "mean reward"
        lines += [f"Logged {name}: first {first:.3f} (step {step0}), last {last:.3f} (step {step1}).", ""]
    rows = (
        [label, f"{p[0][1]:.3f} (step {p[0][0]})", f"{p[-1][1]:.3f} (step {p[-1][0]})", f"{p[-1][1] - p[0][1]:+.3f}"]
        for label, p in series.items()
    )
    lines += render_table(["curve", "first", "last", "change"], rows)
    if kind != "sft":
        means = ", ".join(f"{label} {sum(v for _, v in p) / len(p):.3f}" for label, p in series.items())
        lines += [f"Mean over the logged steps: {means}.", ""]
    return [*lines, f"![{stage.dirname}](plots/{png.name})", ""]


def render_filters(filters: Filters | None) -> list[str]:
    if filters is None:
        return ["_No `filters.json`._", ""]
    kept = f" ({filters.kept / filters.candidates:.1%})" if filters.candidates and filters.kept is not None else ""
    lines = [f"Samples → kept by the filters: {filters.candidates} → {filters.kept}{kept}.", ""]
    rows = [
        [c.name, str(c.passed), str(c.failed), str(c.unscored), DASH if c.pass_rate is None else f"{c.pass_rate:.1%}"]
        for c in filters.counts
    ]
    header = ["filter", "passed", "failed", "unscored", "pass rate (of all three)"]
    lines = [*lines, *render_table(header, rows)] if rows else lines
    for c in filters.counts:
        if c.decided_by:
            who = "; ".join(f"{name} {p + f} ({p} passed)" for name, p, f in c.decided_by)
            lines += [f"`{c.name}` decided by: {who}.", ""]
    return lines + render_general(filters)


def render_general(filters: Filters) -> list[str]:
    teacher = filters.teacher
    if teacher is None:
        return [f"General samples added: {filters.general}.", ""] if filters.general else []
    failed = sum(teacher.failures.values())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(teacher.failures.items()))
    line = (
        f"General samples from the teacher `{teacher.model}`: {teacher.samples} of {teacher.asked} prompts; "
        f"{failed} failed{f' ({kinds})' if kinds else ''}, no sample for them."
    )
    return [line, "", *([f"First failure: {teacher.first_failure}", ""] if teacher.first_failure else [])]


def render_samples(evals: Sequence[Evaluation]) -> list[str]:
    lines = ["## Sample completions", ""]
    for ev in evals:
        lines += [f"### {ev.label}", ""] + ([] if ev.samples else ["_No samples recorded._", ""])
        for sample in ev.samples[:SAMPLES_PER_EVAL]:
            correct = {True: "yes", False: "no", None: "unknown"}[sample.correct]
            lines += [f"**{sample.kind}**: reward {format_number(sample.reward)}, correct: {correct}", ""]
            lines += ["Prompt:", "", *render_fenced(sample.prompt)]
            lines += ["Completion:", "", *render_fenced(sample.completion)]
    return lines


def render_missing(run_dir: Path, stages: Sequence[Stage], evaluated: set[str]) -> list[str]:
    missing = [] if (run_dir / "run.json").is_file() else ["`run.json` (stages taken from the stage folders)"]
    if "base" not in evaluated:
        missing.append("base evaluation (`eval/base.json`)")
    for stage in stages:
        state = read_state(run_dir / stage.dirname)
        if state is None:
            missing.append(f"stage {stage.index} ({stage.name}): no `{stage.dirname}/state.json`, not started")
        elif state.status != "done":
            missing.append(f"stage {stage.index} ({stage.name}): not done (status {state.status})")
        if f"stage{stage.index}" not in evaluated:
            missing.append(f"stage {stage.index} ({stage.name}): no evaluation (`eval/stage{stage.index}.json`)")
    return ["## Missing", "", *(f"- {m}" for m in missing or ["nothing: every stage is done and evaluated"]), ""]
