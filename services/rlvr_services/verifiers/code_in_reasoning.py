"""The ``code_in_reasoning`` filter (R1 stage 3): the chain of thought should be prose, not code.

Code is a fenced block, or a run of ``min_lines`` consecutive lines that each look like code: a line
that starts with a statement keyword (``def``, ``class``, ``import``, ``from … import``, ``#include``,
``for (``, ``while (``, ``function``, ``return``, ``public``, ``int main``…), ends with ``;``, ``{``
or ``}``, is an assignment (``x = a + b``, ``s = 0``), a call statement (``print(x)``) or a block
header (``for i in range(n):``). Math written inline in prose (``so x = 3 + 4``) does not start a
line with an identifier and ``=``; LaTeX lines (``\\[ … \\]``, ``$$``) are never code. Linear time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from .extract import code_blocks, think_section

_KEYWORD = re.compile(
    r"^(def |class |import |from \S+ import |#include|for\s*\(|while\s*\(|if\s*\(|function\b|return\b|"
    r"public |private |static |int main|fn |let |const |var |elif |else:|try:|except\b|print\()"
)
_ENDING = re.compile(r"[;{}]$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][\w.\[\]]*\s*(=|\+=|-=|\*=|/=)\s*(\S.*[-+*/%()\[\]]|\S+$)")
_BLOCK = re.compile(r"^(for|while|if|elif|with|async def)\b.*:$")
_CALL = re.compile(r"^[A-Za-z_][\w.]*\([^()]*\)$")
_LATEX = re.compile(r"^(\\\[|\\\]|\$\$|\\begin|\\end)")


class CodeInReasoningParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_lines: int = Field(default=3, ge=1, description="Consecutive code-like lines that count as code (3).")
    scope: Literal["think", "all"] = Field(
        default="think", description="think (default): the <think> section only; all: the whole completion."
    )


def code_like(line: str) -> bool:
    stripped = line.strip()
    if not stripped or _LATEX.match(stripped):
        return False
    return bool(
        _KEYWORD.match(stripped)
        or _ENDING.search(stripped)
        or _ASSIGNMENT.match(stripped)
        or _CALL.match(stripped)
        or _BLOCK.match(stripped)
    )


def code_runs(text: str, min_lines: int) -> list[tuple[int, int]]:
    """(first line, line count) of every run of at least ``min_lines`` consecutive code-like lines."""
    runs: list[tuple[int, int]] = []
    start, count = 0, 0
    for number, line in enumerate(text.splitlines(), 1):
        if code_like(line):
            if count == 0:
                start = number
            count += 1
        else:
            if count >= min_lines:
                runs.append((start, count))
            count = 0
    if count >= min_lines:
        runs.append((start, count))
    return runs


@register
class CodeInReasoningVerifier:
    """1.0 when the reasoning holds no code, else 0.0 saying what was found."""

    name: ClassVar[str] = "code_in_reasoning"
    description: ClassVar[str] = (
        "Stage-3 filter: 1.0 when the <think> section (or the whole completion) has no fenced code block and no "
        "run of min_lines code-like lines, else 0.0 with what was found in details."
    )
    params_model: ClassVar[type[BaseModel]] = CodeInReasoningParams
    execution: ClassVar[Execution] = Execution.INLINE
    default_timeout_s: ClassVar[float] = 1.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self.verify(task) for task in tasks]

    def verify(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, CodeInReasoningParams):
            raise TypeError(f"code_in_reasoning params must be CodeInReasoningParams, not {type(params).__name__}")
        text = task.completion if params.scope == "all" else think_section(task.completion)
        if text is None:
            return Verdict.not_applicable("no closed <think> section to check")
        fenced = [tag or "untagged" for tag, _ in code_blocks(text)]
        runs = code_runs(text, params.min_lines)
        if fenced:
            return Verdict.ok(0.0, f"{len(fenced)} fenced code block(s) in the reasoning", fenced=fenced)
        if runs:
            where = ", ".join(f"lines {s}-{s + n - 1}" for s, n in runs)
            return Verdict.ok(0.0, f"code-like lines in the reasoning: {where}", runs=[list(r) for r in runs])
        return Verdict.ok(1.0)
