"""Benchmark: the miniature R1 recipe end to end on the CPU, for one or more seeds.

    .venv/bin/python bench/bench_train.py [--recipe recipes/r1-mini.yaml --seeds 0 1 2 --out /tmp/bench-train]

Each seed is a fresh run (``rlvr train`` with the recipe's seed replaced): the tiny model is built and
pre-trained, then the five stages run against the reward stack started in-process. The baseline is
measured in the same run: the base model's held-out evaluation before stage 0. Printed per seed: the
mean reward and accuracy on the held-out prompts before and after every stage, the stage-0 gain,
each stage's wall time and the total; then the stage-0 gains over all seeds. The exit status is 1
when stage 0 did not raise both the mean reward and the accuracy for some seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from rlvr_trainer.config import Recipe, load_recipe
from rlvr_trainer.pipeline import run_pipeline


def evaluations(run: Path, recipe: Recipe) -> list[tuple[str, dict[str, Any]]]:
    files = [("base", run / "eval" / "base.json")]
    files += [(f"{i}:{s.name}", run / "eval" / f"stage{i}.json") for i, s in enumerate(recipe.stages)]
    return [(label, json.loads(path.read_text())) for label, path in files if path.exists()]


def wall_times(run: Path) -> dict[str, float]:
    out = {}
    for state in sorted(run.glob("*/state.json")):
        out[state.parent.name] = float(json.loads(state.read_text()).get("wall_s", 0.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/r1-mini.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="/tmp/bench-train", help="run directories go under this folder")
    args = parser.parse_args()
    base_recipe = load_recipe(args.recipe)
    gains: list[tuple[float, float]] = []
    for seed in args.seeds:
        recipe = base_recipe.model_copy(update={"seed": seed})
        run = Path(args.out) / f"{recipe.name}-seed{seed}"
        start = time.monotonic()
        run_pipeline(recipe, run, resume=True)
        total = time.monotonic() - start
        evals = evaluations(run, recipe)
        print(f"\nseed {seed}: {run} (wall {total / 60:.1f} min on this machine)")
        kinds = sorted({k for _, e in evals for k in e["by_kind"]})
        print(f"{'evaluation':24s} {'mean reward':>11s} {'accuracy':>9s} " + " ".join(f"{k:>8s}" for k in kinds))
        for label, e in evals:
            per_kind = " ".join(f"{e['by_kind'].get(k, {}).get('accuracy') or 0:8.3f}" for k in kinds)
            print(f"{label:24s} {e['mean_reward']:11.3f} {e['accuracy']:9.3f} {per_kind}")
        for name, seconds in wall_times(run).items():
            print(f"  {name:28s} {seconds:7.1f} s")
        base, after = dict(evals)["base"], evals[1][1] if len(evals) > 1 else None
        if after is not None:
            gain = (after["mean_reward"] - base["mean_reward"], after["accuracy"] - base["accuracy"])
            gains.append(gain)
            print(f"stage 0 vs base: mean reward {gain[0]:+.3f}, accuracy {gain[1]:+.3f}")
    if gains:
        rewards, accuracies = [g[0] for g in gains], [g[1] for g in gains]
        print(
            f"\nstage-0 gain over {len(gains)} seed(s): mean reward median {statistics.median(rewards):+.3f}"
            f" (min {min(rewards):+.3f}), accuracy median {statistics.median(accuracies):+.3f}"
            f" (min {min(accuracies):+.3f})"
        )
    return 0 if gains and all(r > 0 and a > 0 for r, a in gains) else 1


if __name__ == "__main__":
    raise SystemExit(main())
