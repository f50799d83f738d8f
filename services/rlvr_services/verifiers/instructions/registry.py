"""The instruction registry: id → checker, with the kwargs each instruction reads.

A checker is ``check(response, kwargs, prompt) -> bool``: whether the response follows the
instruction. ``kwargs`` holds only the names the instruction declares (IFEval's data ships every
possible kwarg, most of them null; nulls are dropped before the call). A checker raises
``ValueError`` for kwargs it cannot use (the item becomes ``error``, never a score).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[str, dict[str, Any], str], bool]


@dataclass(frozen=True)
class Instruction:
    id: str  # e.g. "punctuation:no_comma", as IFEval's data spells it
    check: Check
    kwargs: tuple[str, ...]  # the kwarg names it reads
    description: str  # one line, with what each kwarg means
    source: str = "ifeval"  # "ifeval" (Google's 25) or "extended" (IFEvalG / Tülu 3 style)


INSTRUCTIONS: dict[str, Instruction] = {}


def instruction(
    id: str, *, kwargs: tuple[str, ...] = (), description: str, source: str = "ifeval"
) -> Callable[[Check], Check]:
    """Register a checker under ``id``; a second registration of the same id raises."""

    def register(check: Check) -> Check:
        if id in INSTRUCTIONS:
            raise ValueError(f"instruction {id!r} is registered twice")
        INSTRUCTIONS[id] = Instruction(id, check, kwargs, description, source)
        return check

    return register
