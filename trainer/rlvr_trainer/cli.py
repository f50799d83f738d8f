"""``rlvr train`` (also ``rlvr-train``): run an R1 recipe, or one stage of it, and write its report."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from rlvr_client.errors import RLVRError

from .config import GRPOStage, Recipe, RecipeError, load_recipe
from .rundir import RunDirError
from .stack import StackUnavailable

EPILOG = """\
Every stage writes its model, its generated data (JSONL) and its step log under the run directory
(default runs/RECIPE), which --resume continues where it stopped. The reward stack is the recipe's
stack.url, or a gateway started in this process when none is given, with the recipe's model backends
(stack.backends: the judge and reward model; `build: tiny_judge|tiny_reward` trains them in the run,
once). The report (report.md and plots/) is written at the end, and also when a stage fails.

examples:
  rlvr train --config recipes/r1-mini.yaml                 all stages (about 10 minutes on 2 cores)
  rlvr train --config recipes/r1-mini.yaml --resume        continue an interrupted run
  rlvr train --config recipes/r1-mini.yaml --stage 2       run stage 2 again from stage 1's model
  rlvr train --config recipes/r1-qwen-math-1.5b.yaml --check   validate a recipe and list its stages
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr train",
        description="Run the DeepSeek-R1 stages of a recipe on TRL, rewarded by the rlvr stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="the recipe, a YAML file (see recipes/)")
    parser.add_argument("--stage", default=None, help="run only this stage (index or name); earlier ones must be done")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir: done stages are kept")
    parser.add_argument("--run-dir", default=None, help="where the run's files go (default runs/RECIPE-NAME)")
    parser.add_argument("--check", action="store_true", help="only validate the recipe and print its stages")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


def check_recipe(recipe: Recipe) -> None:
    """What the schema cannot see: TRL's own config fields in each GRPO stage's ``extra``."""
    from .grpo import check_extra

    for stage in recipe.stages:
        if isinstance(stage, GRPOStage):
            check_extra(stage)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # TRL 1.16 itself reads this deprecated attribute at every generation: nothing a recipe can change
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    try:
        recipe = load_recipe(args.config)
        check_recipe(recipe)
        if args.check:
            print(f"recipe {recipe.name}: valid")
            print(f"  stack: {recipe.stack.url or 'in-process'}", end="")
            backends = [f"{n} ({c.get('build') or c.get('kind')})" for n, c in recipe.stack.backends.items()]
            print(f", model backends {', '.join(backends)}" if backends else "")
            for index, stage in enumerate(recipe.stages):
                teacher = getattr(stage, "teacher", None)
                source = teacher.backend.get("build") or teacher.backend.get("model") if teacher else None
                print(f"  stage {index}: {stage.name} ({stage.kind}){f', teacher {source}' if source else ''}")
            return 0
        from .pipeline import run_pipeline

        only = recipe.stage_index(args.stage) if args.stage is not None else None
        run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name
        report = run_pipeline(recipe, run_dir, only=only, resume=args.resume)
        print(f"report: {report}")
        return 0
    except (RecipeError, RunDirError, StackUnavailable) as exc:
        print(f"rlvr train: {exc}", file=sys.stderr)
        return 2
    except RLVRError as exc:
        print(f"rlvr train: the reward stack answered {exc.code}: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
