"""Benchmark: the ``ifeval`` verifier against Google's IFEval checkers (lm-eval's copy), one core, one run.

    .venv/bin/python bench/bench_ifeval.py [--per-type 120 --reps 3]

The responses are the conformance test's generated set (``tests/ifeval_gen.py``: every one of the 25
instruction types, on both sides of its threshold, most items with one or two more instructions;
3,000 responses at ``--per-type 120``). Measured in the same process, one core, strict and loose:

  * reference: ``test_instruction_following_strict`` / ``_loose`` from lm-eval's
    ``tasks/ifeval/utils.py``, loaded as ``tests/ifeval_reference.py`` loads it (langdetect seeded,
    our sentence splitter in place of NLTK's Punkt model, which cannot be downloaded here);
  * ours: ``IFEvalVerifier.verify_batch`` with ``mode`` strict / loose and ``think: keep``.

Both are warmed on the first 50 responses before timing. lingua loads a language's high-accuracy
model on first use (about 0.25 s each), so the first round of ours is slower: hence the medians. Each round times
every response once per path; the medians over ``--reps`` rounds are reported as responses/s, with
the ratio ours/reference and how many instruction verdicts agree.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ifeval_gen import Case, generate
from ifeval_reference import reference_checkers, reference_follows

from rlvr_client import Status
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers.ifeval import IFEvalParams, IFEvalVerifier


def ours(cases: list[Case], mode: str) -> list[list[bool]]:
    tasks = [
        Task(
            str(c.key),
            c.response,
            IFEvalParams(instruction_id_list=c.instruction_id_list, kwargs=c.kwargs, mode=mode, think="keep"),
            c.prompt,
        )
        for c in cases
    ]
    verdicts = IFEvalVerifier().verify_batch(tasks)
    assert all(v.status is Status.OK for v in verdicts)
    return [list(v.details["follow_instruction_list"]) for v in verdicts]


def theirs(ref: types.SimpleNamespace, cases: list[Case], mode: str) -> list[list[bool]]:
    return [reference_follows(ref, c, mode) for c in cases]


def timed(run: Callable[[], list[list[bool]]]) -> tuple[float, list[list[bool]]]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-type", type=int, default=120, help="responses per instruction type (25 types)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the reference logs an error for every text without letters
    cases = generate(per_type=args.per_type)
    checks = sum(len(c.instruction_id_list) for c in cases)
    print(f"responses: {len(cases)} ({checks} instruction checks), one core, {args.reps} rounds")
    with reference_checkers() as ref:
        for mode in ("strict", "loose"):  # warm-up: detector models, caches of compiled patterns
            ours(cases[:50], mode)
            theirs(ref, cases[:50], mode)
        for mode in ("strict", "loose"):
            ref_s, our_s, agree = [], [], 0
            for _ in range(args.reps):
                seconds, reference = timed(lambda m=mode: theirs(ref, cases, m))  # type: ignore[misc]
                ref_s.append(seconds)
                seconds, mine = timed(lambda m=mode: ours(cases, m))  # type: ignore[misc]
                our_s.append(seconds)
                agree = sum(a == b for x, y in zip(mine, reference, strict=True) for a, b in zip(x, y, strict=True))
            ref_rate = len(cases) / statistics.median(ref_s)
            our_rate = len(cases) / statistics.median(our_s)
            rounds = ", ".join(f"{r / o:.1f}x" for r, o in zip(ref_s, our_s, strict=True))
            print(f"{mode:6s} reference (lm-eval, langdetect): {ref_rate:8.0f} responses/s")
            print(f"{mode:6s} ifeval verifier (ours, lingua):    {our_rate:8.0f} responses/s")
            print(
                f"{mode:6s} ratio ours/reference: {our_rate / ref_rate:.1f}x (rounds: {rounds}); "
                f"instruction verdicts agreeing: {agree}/{checks} "
                "(the differences are listed in tests/test_ifeval_conformance.py)"
            )


if __name__ == "__main__":
    main()
