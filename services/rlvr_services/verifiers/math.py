"""The ``math`` verifier: the completion's final answer against a gold answer, with Math-Verify.

Where the answer is taken from, in order: the text after the last ``</think>`` (a think section
mentions many other numbers), inside it the last ``<answer>…</answer>``, then the last balanced
``\\boxed{…}``, then (``fallback``) Math-Verify's own search of the final few thousand characters.

Math-Verify bounds its work with ``signal.alarm``, which fails in threads and turns a timeout into
a silent ``False`` (a 0.0 that is really an infrastructure failure). So its timeouts are switched
off here: this verifier runs in worker processes that the runtime kills at the item's deadline,
and the item then gets a ``timeout`` verdict instead of a score.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from pydantic import BaseModel, ConfigDict, Field

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from . import extract

MAX_ANSWER_CHARS = 1_000  # a \boxed{}/<answer> formula longer than this is not handed to sympy
MAX_TEXT_CHARS = 3_000  # free text: only this many final characters are searched for the answer
DETAIL_CHARS = 200

_BOXED_TARGETS = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
_TEXT_TARGETS = (LatexExtractionConfig(), ExprExtractionConfig())
# two plain words in a row ("the answer is 42"): text to search, not a formula
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}\s+[A-Za-z]{2,}")
_INLINE_MATH = re.compile(r"(?<!\\)\$|\\\(|\\\[")
_SPACE_RUNS = re.compile(r"\s+")
_LONE_SPACE = re.compile(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])")


def _not_timeout_disabled(record: logging.LogRecord) -> bool:
    """Drop Math-Verify's "Timeout is disabled" warning: the process kill is our timeout."""
    return not record.getMessage().startswith("Timeout is disabled")


for _logger in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_logger).addFilter(_not_timeout_disabled)


class MathParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gold: str = Field(
        min_length=1,
        description=(
            "Gold answer: a value ('42', '0.5', '\\frac{1}{2}', 'x = 3'), a GSM8K solution ending in "
            "'#### 1,234', or a full solution whose last \\boxed{} holds the answer."
        ),
    )
    fallback: bool = Field(
        default=True,
        description=(
            "When the text after </think> has neither \\boxed{} nor <answer>…</answer>, search its last "
            f"{MAX_TEXT_CHARS} characters for a final answer (default true); false scores such a completion 0."
        ),
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="Deadline for this item in seconds (default: the verifier's 10 s); past it the item is a timeout.",
    )


@dataclass(frozen=True)
class ParsedGold:
    values: tuple[Any, ...] = ()  # Math-Verify's parse: sympy values, then the matched string
    key: str = ""  # normalized text for the string fast path
    shown: str = ""
    problem: str = ""  # set when the gold cannot be used


@dataclass(frozen=True)
class Answer:
    text: str
    kind: Literal["boxed", "tag", "text"]


@register
class MathVerifier:
    """1.0 when the completion's final answer equals the gold answer mathematically, else 0.0."""

    name: ClassVar[str] = "math"
    description: ClassVar[str] = (
        "Math answer check with Math-Verify: the last <answer> or \\boxed{} after </think> (else the final "
        "text) against a gold value, GSM8K '#### n' or boxed solution; 1.0 if equivalent, else 0.0."
    )
    params_model: ClassVar[type[BaseModel]] = MathParams
    execution: ClassVar[Execution] = Execution.PROCESS
    default_timeout_s: ClassVar[float] = 10.0

    def verify_batch(self, tasks: Sequence[Task]) -> list[Verdict]:
        return [self._check(task) for task in tasks]

    def _check(self, task: Task) -> Verdict:
        params = task.params
        if not isinstance(params, MathParams):
            raise TypeError(f"math params must be MathParams, not {type(params).__name__}")
        gold = parse_gold(params.gold)
        if gold.problem:
            return Verdict.error(f"gold answer could not be parsed: {gold.problem}", gold=_clip(params.gold))
        answer, why = locate_answer(task.completion, fallback=params.fallback)
        if answer is None:
            return Verdict.ok(0.0, f"no answer found in completion: {why}", gold_parsed=gold.shown)
        if answer.kind == "boxed" and len(answer.text) > MAX_ANSWER_CHARS:
            return Verdict.ok(0.0, f"the \\boxed{{}} answer is longer than {MAX_ANSWER_CHARS} characters")
        if answer.kind != "text" and _normalize(answer.text) == gold.key:
            return Verdict.ok(1.0, extracted=_clip(answer.text), gold_parsed=gold.shown)
        pred = _parse_answer(answer)
        if not pred:
            if answer.kind == "text":
                return Verdict.ok(0.0, "no answer found in completion: no number or formula in the final text")
            return Verdict.ok(0.0, "the extracted answer could not be parsed", extracted=_clip(answer.text))
        # what the model wrote; for free text, the part Math-Verify picked out of it
        shown = answer.text if answer.kind != "text" else next((p for p in pred if isinstance(p, str)), "")
        matched = verify(list(gold.values), pred, timeout_seconds=None)
        reason = "" if matched else "answer differs from the gold answer"
        return Verdict.ok(1.0 if matched else 0.0, reason, extracted=_clip(shown), gold_parsed=gold.shown)


def locate_answer(completion: str, *, fallback: bool) -> tuple[Answer | None, str]:
    """The final answer of a completion, or None and why there is none."""
    tail = extract.after_think(completion)
    if tail is None:
        return None, "the <think> section is never closed"
    tag = extract.answer_tag(tail)
    scope = tail if tag is None else tag
    boxed = extract.last_boxed(scope)
    if boxed is not None:
        return (Answer(boxed, "boxed"), "") if boxed.strip() else (None, "empty \\boxed{}")
    if extract.BOXED in scope:
        return None, "the last \\boxed has no closed {…} argument"
    if tag is not None:
        return (Answer(tag, "tag"), "") if tag.strip() else (None, "empty <answer></answer>")
    if not tail.strip():
        return None, "nothing after </think>"
    if not fallback:
        return None, "no \\boxed{} or <answer> after the think section (fallback is off)"
    return Answer(tail[-MAX_TEXT_CHARS:], "text"), ""


@functools.lru_cache(maxsize=4096)
def parse_gold(gold: str) -> ParsedGold:
    """Parse a gold answer once; a gold that yields no mathematical value gets a ``problem``."""
    if extract.GSM8K_MARK in gold:
        value = extract.gsm8k_answer(gold) or ""
    elif extract.BOXED in gold:
        boxed = extract.last_boxed(gold)
        if boxed is None:
            return ParsedGold(problem="the last \\boxed has no closed {…} argument")
        value = boxed
    else:
        value = gold
    if not value.strip():
        return ParsedGold(problem=f"empty answer in {_clip(gold)!r}")
    if len(value) > MAX_ANSWER_CHARS:
        return ParsedGold(problem=f"answer longer than {MAX_ANSWER_CHARS} characters")
    try:
        parsed = _parse_value(value)
    except Exception as exc:  # noqa: BLE001 - cached as a problem: the item becomes an error, never a score
        return ParsedGold(problem=f"{type(exc).__name__}: {_clip(str(exc))}")
    values = [v for v in parsed if not isinstance(v, str)]
    if not values:
        return ParsedGold(problem=f"no mathematical value in {_clip(value)!r}")
    return ParsedGold(values=tuple(parsed), key=_normalize(value), shown=_clip(str(values[0])))


def _parse_answer(answer: Answer) -> list[Any]:
    if answer.kind == "boxed":
        return _parse_boxed(answer.text)
    if answer.kind == "tag" and len(answer.text) <= MAX_ANSWER_CHARS:
        return _parse_value(answer.text)
    return _parse_text(answer.text[-MAX_TEXT_CHARS:])


def _parse_value(value: str) -> list[Any]:
    """A bare answer: a formula ('\\frac{1}{2}', 'x = 3') or a sentence ('The answer is $42$')."""
    text = extract.strip_math_delimiters(value)
    looks_like_text = _INLINE_MATH.search(text) is not None or _PROSE.search(text) is not None
    attempts = (_parse_text, _parse_boxed) if looks_like_text else (_parse_boxed, _parse_text)
    first: list[Any] = []
    for attempt in attempts:
        parsed = attempt(text)
        if any(not isinstance(p, str) for p in parsed):
            return parsed
        first = first or parsed
    return first


def _parse_boxed(formula: str) -> list[Any]:
    result: list[Any] = parse("\\boxed{" + formula + "}", _BOXED_TARGETS, parsing_timeout=None)
    return result


def _parse_text(text: str) -> list[Any]:
    result: list[Any] = parse(text, _TEXT_TARGETS, parsing_timeout=None)
    return result


def _normalize(text: str) -> str:
    """A conservative canonical form: equal forms are certainly equal answers."""
    s = extract.strip_math_delimiters(text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\!", "").replace("\\,", "").rstrip(".")
    s = _SPACE_RUNS.sub(" ", s).strip()
    return _LONE_SPACE.sub("", s)


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
