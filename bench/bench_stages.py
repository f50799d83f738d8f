"""Benchmark: what each R1 stage adds. The miniature recipe run whole, cumulatively, and with each stage left out.

    .venv/bin/python bench/bench_stages.py [--recipe recipes/r1-mini.yaml --seeds 0 1 2 --ablate-seeds 0 1
                                            --out runs/bench-stages --table-only]

For each seed the whole recipe runs once (``SEED/full``); its held-out evaluation after every stage gives
the cumulative rows: the base model, stage 0, stages 0-1, 0-2, ... Then (every seed's full run first, so that
an interrupted benchmark has the cumulative rows of all its seeds), for every stage but the last, the recipe
runs without that stage (``SEED/without-NAME``). The stages before the one left out are the full
run's own (the same recipe and seed make the same models): their folders are linked in, so only the
stages after it are trained again. Leaving out the last stage is the cumulative row before it.

Printed: one table, rows the configurations, columns every stage's held-out metric (``evaluation.py``:
accuracy for stage 0, readability for stage 1, the target-language share for stage 2, the share of clean
reasoning for stage 3, the reward model's score for stage 4, and the held-out general task that stage 3's
general samples are to keep), each the mean over the seeds with every seed's value; then, per stage, how its
own metric moved where it ran (after it minus before it, per seed, and in how many seeds it went up) and what
leaving it out cost in that metric; then the wall times. Run directories are resumed, so an interrupted
benchmark goes on where it stopped; ``--table-only`` trains nothing and prints the table from what the run
directories hold (a configuration not yet run is a dash). The table is also written to ``OUT/stages.md``, the
figures to ``OUT/stages.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from rlvr_trainer.config import Recipe, load_recipe
from rlvr_trainer.pipeline import run_pipeline

METRICS = ("accuracy", "readability", "language", "clean", "reward_model", "general")
OWN_METRIC = {0: "accuracy", 1: "readability", 2: "language", 3: "clean", 4: "reward_model"}  # R1's stages


def without(recipe: Recipe, index: int) -> Recipe:
    stages = [s for i, s in enumerate(recipe.stages) if i != index]
    return recipe.model_copy(update={"stages": stages, "name": f"{recipe.name}-without-{recipe.stages[index].name}"})


def link_prefix(full: Path, run: Path, recipe: Recipe, upto: int) -> None:
    """Link the full run's base model and its stages before ``upto`` (and their evaluations) into ``run``."""
    names = ["base", *(f"stage{i}-{s.name}" for i, s in enumerate(recipe.stages[:upto]))]
    evals = ["base.json", *(f"stage{i}.json" for i in range(upto))]
    (run / "eval").mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (run / name).exists():
            shutil.copytree(full / name, run / name, copy_function=os.link)
    for name in evals:
        if not (run / "eval" / name).exists():
            os.link(full / "eval" / name, run / "eval" / name)


def metrics(run: Path, index: int | None) -> dict[str, float | None]:
    """The held-out metrics after stage ``index`` (None: the base model); all None when it was not evaluated."""
    path = run / "eval" / ("base.json" if index is None else f"stage{index}.json")
    if not path.exists():
        return dict.fromkeys(METRICS)
    summary = json.loads(path.read_text())
    return {name: summary.get("metrics", {}).get(name) for name in METRICS}


def cell(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "–"
    each = " / ".join("–" if v is None else f"{v:.3f}" for v in values)
    return f"{statistics.mean(known):.3f} ({each})" if len(values) > 1 else f"{known[0]:.3f}"


def differences(
    after: list[dict[str, float | None]], before: list[dict[str, float | None]], name: str
) -> tuple[list[float | None], str]:
    """Per seed ``after - before`` in metric ``name`` (None where either is missing), and as text: the mean (each)."""
    deltas = [
        None if (a := x[name]) is None or (b := y[name]) is None else a - b for x, y in zip(after, before, strict=True)
    ]
    known = [d for d in deltas if d is not None]
    each = " / ".join("–" if d is None else f"{d:+.3f}" for d in deltas)
    return deltas, f"{statistics.mean(known):+.3f} ({each})" if known else f"– ({each})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/r1-mini.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", default="runs/bench-stages", help="run directories go under this folder")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="train nothing: the table from the evaluations the run directories hold (a missing one is a dash)",
    )
    parser.add_argument(
        "--ablate-seeds",
        type=int,
        nargs="+",
        help="run the leave-one-out configurations for these seeds only (default: every seed); the others' cells "
        "are dashes unless their run directories already hold them",
    )
    args = parser.parse_args()
    base_recipe = load_recipe(args.recipe)
    stages = base_recipe.stages
    out = Path(args.out)
    rows: dict[str, list[dict[str, float | None]]] = {}
    minutes: dict[str, list[float]] = {}
    started = time.monotonic()
    for seed in args.seeds:
        recipe = base_recipe.model_copy(update={"seed": seed})
        full = out / f"seed{seed}" / "full"
        clock = time.monotonic()
        if not args.table_only:
            run_pipeline(recipe, full, resume=True)
        minutes.setdefault("full recipe", []).append((time.monotonic() - clock) / 60)
        rows.setdefault("base model", []).append(metrics(full, None))
        for index in range(len(stages)):
            label = "stage 0" if index == 0 else f"stages 0–{index}"
            rows.setdefault(f"{label}{' (the full recipe)' if index == len(stages) - 1 else ''}", []).append(
                metrics(full, index)
            )
    for seed in args.seeds:
        recipe = base_recipe.model_copy(update={"seed": seed})
        full = out / f"seed{seed}" / "full"
        for index, stage in enumerate(stages):
            label = f"without stage {index} ({stage.name})"
            if index == len(stages) - 1:
                rows.setdefault(label, []).append(metrics(full, index - 1))
                continue
            ablated = without(recipe, index)
            run = out / f"seed{seed}" / f"without-{stage.name}"
            clock = time.monotonic()
            if not args.table_only and (args.ablate_seeds is None or seed in args.ablate_seeds):
                link_prefix(full, run, recipe, index)
                run_pipeline(ablated, run, resume=True)
            minutes.setdefault(label, []).append((time.monotonic() - clock) / 60)
            rows.setdefault(label, []).append(metrics(run, len(ablated.stages) - 1))
    total = (time.monotonic() - started) / 60

    seeds = ", ".join(str(s) for s in args.seeds)
    lines = [
        f"| configuration (seeds {seeds}) | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for label, per_seed in rows.items():
        lines.append(f"| {label} | " + " | ".join(cell([m[name] for m in per_seed]) for name in METRICS) + " |")
    cumulative = [rows[label] for label in list(rows)[: len(stages) + 1]]  # base model, stage 0, stages 0-1, ...
    moved, costs = [], []
    final = cumulative[-1]
    for index, stage in enumerate(stages):
        name = OWN_METRIC.get(index, "accuracy")
        deltas, text = differences(cumulative[index + 1], cumulative[index], name)
        up = sum(1 for d in deltas if d is not None and d > 0)
        moved.append(f"- stage {index} ({stage.name}): {name} after it minus before it: {text}; up in {up} of "
                     f"{len(deltas)} seeds")  # fmt: skip
        _, text = differences(final, rows[f"without stage {index} ({stage.name})"], name)
        costs.append(f"- stage {index} ({stage.name}): {name} with it minus without it: {text}")
    table = "\n".join(lines)
    print(f"\n{table}\n\nWhat each stage did where it ran, in its own metric (the cumulative rows):")
    print("\n".join(moved))
    print("\nWhat each stage adds, in its own metric (full recipe minus the recipe without it):")
    print("\n".join(costs))
    print("\nWall time of this invocation (minutes, per seed; 0 for what was already done):")
    for label, values in minutes.items():
        print(f"  {label:40s} " + " / ".join(f"{v:.1f}" for v in values))
    print(f"  total: {total:.1f} min on this machine ({os.cpu_count()} cores)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "stages.md").write_text(table + "\n\n" + "\n".join(moved) + "\n\n" + "\n".join(costs) + "\n")
    record: dict[str, Any] = {"seeds": args.seeds, "rows": rows, "minutes": minutes, "total_minutes": total}
    (out / "stages.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
