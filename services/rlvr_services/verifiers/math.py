"""The ``math`` verifier: the completion's final answer against a gold answer.

Where the answer is taken from, in order: the text after the last ``</think>`` (a think section
mentions many other numbers); inside it the last ``<answer>…</answer>`` (``answer_tags``); then
the last balanced ``\\boxed{…}`` together with boxes just before it on the same line
(:func:`.extract.final_boxes`); then the ``fallback``: the final answer statement, in any language
of ``answer_phrases.toml`` (:mod:`.statement`; an option letter stated in prose: :mod:`.choice`), or
the last number.

How it is compared, cheapest first: a normalized string match; exact arithmetic on numbers and
simple closed forms (:mod:`.numeric`, no sympy); letters of multiple-choice answers and plain-text
answers as normalized text; and only then Math-Verify's sympy comparison. Gold parses and
Math-Verify verdicts are cached per process, so a group of completions that share a gold and an
answer costs one sympy comparison.

Math-Verify bounds its work with ``signal.alarm``, which fails in threads and turns a timeout into
a silent ``False`` (a 0.0 that is really an infrastructure failure). So its timeouts are switched
off here: this verifier runs in worker processes that the runtime kills at the item's deadline,
and the item then gets a ``timeout`` verdict. Before sympy sees an answer, caps on its size,
nesting, exponents and factorials turn the inputs that would hang it into a 0.0 with the reason.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Literal

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sympy import I, Interval, N, Tuple

from ..runtime.registry import register
from ..runtime.verifier import Execution, Task, Verdict
from . import caps, choice, extract, numerals, numeric, statement

MAX_ANSWER_CHARS = caps.MAX_ANSWER_CHARS
MAX_TEXT_CHARS = 3_000  # free text: only this many final characters are searched for the answer
DETAIL_CHARS = 200

Fallback = Literal["answer_line", "last_number", "none"]
Kind = Literal["boxed", "tag", "line", "number"]

_BOXED_TARGETS = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
_TEXT_TARGETS = (LatexExtractionConfig(), ExprExtractionConfig())
_STRAY_DOLLAR = re.compile(r"(?<!\\)\$")
_INLINE_MATH = re.compile(r"(?<!\\)\$|\\\(|\\\[")
_SPACE_RUNS = re.compile(r"\s+")
_LONE_SPACE = re.compile(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])")
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)(?:\\,|\{,\})(?=\d{3}(?!\d))")  # 1\,000 and 1{,}000
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|emph)\s*\{([^{}]*)\}")
_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_YES_NO = frozenset({"yes", "no", "true", "false"})
_MATH_NAMES = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "infty", "inf"})
_MATHY_TEXT = re.compile(r"[0-9\\∞π]")
_SYSTEM_SEPARATOR = re.compile(r"\s*(?:,|;|\\text\{\s*and\s*\}|\band\b|\\quad)\s*(?:\\text\{\s*and\s*\}\s*|and\s+)?")


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
            "Gold answer: a value ('42', '0.5', '\\frac{1}{2}', 'x = 3', '\\{1, 2\\}', 'C', 'Tuesday'), a GSM8K "
            "solution ending in '#### 1,234', or a full solution whose last \\boxed{} holds the answer."
        ),
    )
    answer_tags: bool = Field(
        default=True,
        description="Take the answer from the last <answer>…</answer> after the think section when there is one.",
    )
    fallback: Fallback = Field(
        default="answer_line",
        description=(
            "Where the answer is when the text after </think> has neither \\boxed{} nor <answer>: "
            "'answer_line' (default) the final answer statement ('the answer is …', 'Answer: …', else the last "
            "line with a number or formula); 'last_number' the last number; 'none' scores such a completion 0. "
            f"Only the last {MAX_TEXT_CHARS} characters are searched. true/false mean 'answer_line'/'none'."
        ),
    )
    strict: bool = Field(
        default=True,
        description=(
            "Math-Verify's strict comparison (default): variables must match ('x = 3' is not 'y = 3') and sets "
            "are not tuples. false matches variables by position, compares sets with tuples and inequalities "
            "with intervals."
        ),
    )
    rel_tol: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "Accept numbers within this relative difference (e.g. 0.01 takes 3.14 for \\pi). Default: exact "
            "values must be equal, and a value written as a decimal matches when both round to the same "
            "6 decimal places (Math-Verify's rule) and agree within 1e-5 relative."
        ),
    )
    choices: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=10,
        description=(
            "Multiple-choice options in order (A, B, C, …). With them a letter gold also matches an answer "
            "that states the option's value or text instead of its letter."
        ),
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="Deadline for this item in seconds (default: the verifier's 10 s); past it the item is a timeout.",
    )

    @field_validator("fallback", mode="before")
    @classmethod
    def _fallback_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # the v1 form of the param
            return "answer_line" if value else "none"
        return value


@dataclass(frozen=True)
class ParsedGold:
    value: str = ""  # the answer part of the gold as shipped
    kind: Literal["math", "choice", "text"] = "math"
    key: str = ""  # normalized form: the string fast path, or the text / letter to match
    number: numeric.Number | None = None  # the fast path's value, when the gold is a plain number
    group: numeric.Group | None = None  # ... or a flat list, set, tuple or interval of numbers
    shown: str = ""
    problem: str = ""  # set when the gold cannot be used


@dataclass(frozen=True)
class Answer:
    text: str
    kind: Kind


@dataclass(frozen=True)
class Outcome:
    score: float
    reason: str = ""
    method: str = ""  # which comparison decided: string, numeric, choice, text, math_verify, cap
    shown: str = ""  # the value Math-Verify picked out of free text


@register
class MathVerifier:
    """1.0 when the completion's final answer equals the gold answer mathematically, else 0.0."""

    name: ClassVar[str] = "math"
    description: ClassVar[str] = (
        "Math answer check: the last <answer> or \\boxed{} after </think> (else the final answer line) against "
        "a gold value, GSM8K '#### n' or boxed solution; fast exact arithmetic for numbers, Math-Verify for the "
        "rest; 1.0 if equivalent, else 0.0."
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
        answer, why = locate_answer(task.completion, params, choice_gold=gold.kind == "choice" or bool(params.choices))
        if answer is None:
            return Verdict.ok(0.0, f"no answer found in completion: {why}", gold_parsed=gold.shown)
        choices = tuple(params.choices) if params.choices else None
        outcome = compare(gold, answer.text, strict=params.strict, rel_tol=params.rel_tol, choices=choices)
        return Verdict.ok(
            outcome.score,
            outcome.reason,
            extracted=_clip(outcome.shown or answer.text),
            gold_parsed=gold.shown,
            method=outcome.method,
        )


def locate_answer(completion: str, params: MathParams, *, choice_gold: bool = False) -> tuple[Answer | None, str]:
    """The final answer of a completion, or None and why there is none.

    ``choice_gold``: the gold is an option letter (or options are given), so a letter stated in prose
    is looked for first.
    """
    tail = extract.after_think(completion)
    if tail is None:
        return None, "the <think> section is never closed"
    if params.answer_tags and tail.rfind(extract.ANSWER_OPEN) > tail.rfind(extract.ANSWER_CLOSE):
        return None, "the last <answer> tag is never closed (cut off?)"
    tag = extract.answer_tag(tail) if params.answer_tags else None
    scope = tail if tag is None else tag
    boxes = extract.final_boxes(scope)
    if boxes is not None:
        if not all(box.strip() for _, box in boxes):
            return None, "empty \\boxed{}"
        return Answer(_joined_boxes(boxes), "boxed"), ""
    if extract.has_box(scope):
        return None, "the last \\boxed has no closed {…} argument (cut off?)"
    if tag is not None:
        if not tag.strip():
            return None, "empty <answer></answer>"
        text = tag[-MAX_TEXT_CHARS:]
        if statement.is_prose(tag):  # "<answer>The answer is $54\\pi$.</answer>"
            stated = (choice.stated_choice(text) if choice_gold else "") or statement.answer_line(text)
            return Answer(numerals.fold(stated or tag.strip()), "tag"), ""
        return Answer(numerals.fold(tag.strip()), "tag"), ""
    if not tail.strip():
        return None, "nothing after </think>"
    text = tail[-MAX_TEXT_CHARS:]
    if params.fallback == "answer_line":
        line = (choice.stated_choice(text) if choice_gold else "") or statement.answer_line(text)
        return (Answer(line, "line"), "") if line else (None, "no answer statement or formula in the final text")
    if params.fallback == "last_number":
        number = extract.last_number(text)
        return (Answer(number, "number"), "") if number else (None, "no number in the final text")
    return None, "no \\boxed{} or <answer> after the think section (fallback is 'none')"


def _joined_boxes(boxes: list[tuple[str, str]]) -> str:
    """One answer from the final boxes: "y_1 = 3, y_2 = 5" when each is assigned to a variable, else "3, 5".

    A stray ``$`` inside a box (``\\boxed{12$}``) is dropped; ``\\$`` (a dollar sign) stays.
    """
    contents = [numerals.fold(_STRAY_DOLLAR.sub("", box)).strip() for _, box in boxes]
    labels = [label for label, _ in boxes]
    if len(boxes) > 1 and all(labels) and not any("=" in c for c in contents):
        return ", ".join(f"{label} = {c}" for label, c in zip(labels, contents, strict=True))
    return ", ".join(contents)


# --- gold ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_gold(gold: str) -> ParsedGold:
    """Read a gold answer once; a gold that yields no usable answer gets a ``problem``."""
    if extract.GSM8K_MARK in gold:
        value = extract.gsm8k_answer(gold) or ""
    elif extract.has_box(gold):  # the last box, with the boxes of the same statement before it
        boxes = extract.final_boxes(gold, gold=True)
        if boxes is None:
            return ParsedGold(problem="the last \\boxed has no closed {…} argument")
        value = "" if not all(box.strip() for _, box in boxes) else _joined_boxes([("", box) for _, box in boxes])
    else:
        value = numerals.fold(gold)
    value = extract.strip_math_delimiters(value)
    if not value:
        return ParsedGold(problem=f"empty answer in {_clip(gold)!r}")
    if len(value) > MAX_ANSWER_CHARS:
        return ParsedGold(problem=f"answer longer than {MAX_ANSWER_CHARS} characters")
    letter = _choice_letter(value, bare_only=True)
    if letter:
        return ParsedGold(value, "choice", letter, shown=letter)
    text = _text_answer(value)
    if text:
        return ParsedGold(value, "text", text, shown=text)
    problem = caps.too_complex(value)
    if problem:
        return ParsedGold(problem=problem)
    try:
        number = numeric.parse_number(value)
    except numeric.TooLarge as exc:
        return ParsedGold(problem=str(exc))
    ambiguous = numerals.has_decimal_comma(value)  # "0,1": 0.1, or the list 0, 1
    group = numeric.parse_group(value, decimal_comma=False) if number is None or ambiguous else None
    if number is None and (group is not None or _assignments(value) or numeric.is_expression(value)):
        shown = value  # numbers in a list, set, tuple, interval or system, or a polynomial: the fast path reads it
    elif number is None:
        values, problem = _gold_values(value)
        if problem:
            return ParsedGold(problem=problem)
        shown = str(values[0])
    else:
        shown = str(number.value) if isinstance(number.value, Fraction) else value
        shown += "%" if number.percent else ""
    return ParsedGold(value, "math", _normalize(value), number, group, _clip(shown))


@functools.lru_cache(maxsize=4096)
def _gold_values(value: str) -> tuple[tuple[Any, ...], str]:
    """Math-Verify's parse of a gold: its values, or a problem."""
    try:
        parsed = _parse_value(_for_sympy(value))
    except Exception as exc:  # noqa: BLE001 - cached as a problem: the item becomes an error, never a score
        return (), f"{type(exc).__name__}: {_clip(str(exc))}"
    if not any(not isinstance(v, str) for v in parsed):
        return (), f"no mathematical value in {_clip(value)!r}"
    return tuple(parsed), ""


# --- comparison ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def compare(
    gold: ParsedGold,
    answer: str,
    *,
    strict: bool = True,
    rel_tol: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Outcome:
    """Whether ``answer`` (an extracted final answer) is the gold answer; cached per process."""
    if gold.kind == "choice" or (choices and _choice_letter(answer)):
        return _compare_choice(gold, answer, strict, rel_tol, choices)
    if gold.kind == "text":
        same = _text_answer(answer, any_words=True) == gold.key
        return Outcome(1.0 if same else 0.0, "" if same else "answer differs from the gold answer", "text")
    return _compare_math(gold, answer, strict, rel_tol)


def _compare_math(gold: ParsedGold, answer: str, strict: bool, rel_tol: float | None) -> Outcome:
    if _normalize(answer) == gold.key:
        return Outcome(1.0, method="string")
    if len(answer) > MAX_ANSWER_CHARS:
        return Outcome(0.0, f"the answer is longer than {MAX_ANSWER_CHARS} characters", "cap")
    try:
        number = numeric.parse_number(answer)
    except numeric.TooLarge as exc:
        return Outcome(0.0, f"answer exceeds evaluation limits: {exc}", "cap")
    if gold.number is not None and number is not None:
        renamed = gold.number.variable and number.variable and gold.number.variable != number.variable
        if not (strict and renamed):  # strict: Math-Verify decides whether "y = 3" answers "x = 3"
            same = numeric.equal(gold.number, number, rel_tol)
            return Outcome(1.0 if same else 0.0, "" if same else "answer differs from the gold answer", "numeric")
    if gold.number is not None and not _MATHY_TEXT.search(answer):
        return Outcome(0.0, "no number or formula in the answer", "numeric")
    system = _compare_systems(gold.value, answer, strict, rel_tol)
    if system is not None:
        return system
    if gold.group is not None:  # a list gold reads "1,2" as the list 1, 2, not the decimal 1.2
        pred_group = numeric.parse_group(answer, decimal_comma=len(gold.group.items) < 2) or _parts(answer, gold.group)
        equal = None if pred_group is None else numeric.groups_equal(gold.group, pred_group, rel_tol)
        if equal is not None:
            return Outcome(1.0 if equal else 0.0, "" if equal else "answer differs from the gold answer", "numeric")
    problem = caps.too_complex(answer)
    if problem:
        return Outcome(0.0, f"answer exceeds evaluation limits: {problem}", "cap")
    identical = numeric.expressions_equal(gold.value, answer, strict=strict)
    if identical is not None:
        return Outcome(1.0 if identical else 0.0, "" if identical else "answer differs from the gold answer", "numeric")
    gold_values, gold_problem = _gold_values(gold.value)
    if gold_problem:  # a plain number to the fast path that Math-Verify cannot read: rare, not the model's fault
        return Outcome(0.0, f"the gold answer has no Math-Verify form: {gold_problem}", "math_verify")
    pred = _parse_value(_for_sympy(answer))
    if not any(not isinstance(p, str) for p in pred):
        return Outcome(0.0, "the extracted answer could not be parsed", "math_verify")
    shown = next((p for p in pred if isinstance(p, str)), "")
    matched = _verify(list(gold_values), pred, strict)
    if not matched and _has_i(gold_values, pred):  # "2i" against "(1+i)^2": i is the imaginary unit
        matched = _verify(_imaginary(gold_values), _imaginary(pred), strict)
    if not matched and rel_tol is not None:
        matched = _within(gold_values, pred, rel_tol)
    if matched and strict and "\\{" in gold.value and any(isinstance(p, (Tuple, Interval)) for p in pred):
        return Outcome(0.0, "a tuple or interval is not the gold set (strict)", "math_verify", shown)
    reason = "" if matched else "answer differs from the gold answer"
    return Outcome(1.0 if matched else 0.0, reason, "math_verify", shown)


def _compare_systems(gold: str, answer: str, strict: bool, rel_tol: float | None) -> Outcome | None:
    """Systems: "x = 1, y = 2" against "y = 2, x = 1" (strict: by name) or "a = 1, b = 2" (by position).

    None unless both sides are lists of at least two numeric assignments.
    """
    gold_system, pred_system = _assignments(gold), _assignments(answer)
    if not gold_system or not pred_system:
        return None
    if len(gold_system) != len(pred_system):
        return Outcome(0.0, "a different number of variables than the gold answer", "numeric")
    if strict:  # by name; a variable may take several values ("p = -1, p = 2"): compared as a set
        names = {n.variable for n in gold_system}
        if names != {n.variable for n in pred_system}:
            return Outcome(0.0, "the variables differ from the gold answer's", "numeric")
        same = all(numeric.groups_equal(_values_of(gold_system, n), _values_of(pred_system, n), rel_tol) for n in names)
    else:
        same = all(numeric.equal(g, p, rel_tol) for g, p in zip(gold_system, pred_system, strict=True))
    return Outcome(1.0 if same else 0.0, "" if same else "answer differs from the gold answer", "numeric")


def _values_of(system: list[numeric.Number], name: str) -> numeric.Group:
    return numeric.Group("unordered", "", tuple(n for n in system if n.variable == name))


def _parts(answer: str, gold: numeric.Group) -> numeric.Group | None:
    """Labelled parts ("y_1 = 3, y_2 = 5") as the values of a gold that lists them ("3, 5", "(3, 5)")."""
    parts = _assignments(answer) if not gold.variable and gold.brackets in ("", "()") else []
    values = tuple(numeric.Number(p.value, p.approximate, p.percent) for p in parts)
    return numeric.Group(gold.kind, gold.brackets, values) if len(values) > 1 else None


def _assignments(text: str) -> list[numeric.Number]:
    """``x = 1, y = 2`` (or ``x=1 \\text{ and } y=2``) as numbers with variables; [] if it is not that."""
    parts = _SYSTEM_SEPARATOR.split(extract.strip_math_delimiters(text))
    if len(parts) < 2 or len(parts) > 10:
        return []
    out: list[numeric.Number] = []
    for part in parts:
        try:
            number = numeric.parse_number(part)
        except numeric.TooLarge:
            return []
        if number is None or not number.variable:
            return []
        out.append(number)
    return out


def _verify(gold: list[Any], pred: list[Any], strict: bool) -> bool:
    return bool(verify(gold, pred, strict=strict, allow_set_relation_comp=not strict, timeout_seconds=None))


def _symbols_named_i(value: Any) -> list[Any]:
    return [s for s in getattr(value, "free_symbols", ()) if getattr(s, "name", "") == "i"]


def _has_i(*sides: Sequence[Any]) -> bool:
    return any(_symbols_named_i(v) for side in sides for v in side if not isinstance(v, str))


def _imaginary(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        symbols = [] if isinstance(v, str) else _symbols_named_i(v)
        out.append(v.subs({s: I for s in symbols}) if symbols else v)
    return out


def _within(gold: Sequence[Any], pred: Sequence[Any], rel_tol: float) -> bool:
    """Numeric values of the two sides within ``rel_tol`` of each other."""
    for g in gold:
        for p in pred:
            if isinstance(g, str) or isinstance(p, str) or not getattr(g, "is_number", False):
                continue
            if not getattr(p, "is_number", False):
                continue
            try:
                gv, pv = complex(N(g, 20)), complex(N(p, 20))
            except (TypeError, ValueError):
                continue
            if abs(gv - pv) <= rel_tol * max(abs(gv), abs(pv)):
                return True
    return False


def _compare_choice(
    gold: ParsedGold, answer: str, strict: bool, rel_tol: float | None, choices: tuple[str, ...] | None
) -> Outcome:
    gold_letter = gold.key if gold.kind == "choice" else _option_of(gold.value, choices, strict, rel_tol)
    letter = _choice_letter(answer) or _option_of(answer, choices, strict, rel_tol)
    if not letter:
        return Outcome(0.0, "no option letter (or option value) in the answer", "choice")
    same = letter == gold_letter
    return Outcome(1.0 if same else 0.0, "" if same else f"answered option {letter}", "choice", letter)


def _option_of(answer: str, choices: tuple[str, ...] | None, strict: bool, rel_tol: float | None) -> str:
    """The letter of the option that ``answer`` states, or ""."""
    for i, option in enumerate(choices or ()):
        option_gold = parse_gold(option)
        if option_gold.problem:
            continue
        if compare(option_gold, answer, strict=strict, rel_tol=rel_tol).score == 1.0:
            return chr(ord("A") + i)
    return ""


def _choice_letter(text: str, *, bare_only: bool = False) -> str:
    """The option letter that "C", "(C)", "\\text{(C)}", "Option C: 12" or "for sure D, not A" names; "" if none."""
    if not bare_only:
        return choice.letter_of(text)
    m = re.fullmatch(r"\(?([A-J])\)?", _unwrap(text).strip().rstrip("."))
    return m.group(1) if m else ""


def _text_answer(text: str, *, any_words: bool = False) -> str:
    """The normalized text of a plain-text answer ("\\text{Tuesday}" → "tuesday"), or "" if it is math.

    For a gold, words must look like words (a 3-letter word that is not a function name, yes/no, or
    \\text{} around it); ``any_words`` accepts any letters (the prediction side).
    """
    wrapped = _TEXT_WRAPPER.search(text) is not None
    plain = _unwrap(text).strip().strip(".!,;:").strip()
    if not _WORDS.fullmatch(plain):
        return ""
    words = [w.lower() for w in re.split(r"[\s-]+", plain) if w]
    if not (any_words or wrapped):
        if not any((len(w) >= 3 and w not in _MATH_NAMES) or w in _YES_NO for w in words):
            return ""
    return " ".join(words)


def _unwrap(text: str) -> str:
    s = extract.strip_math_delimiters(text).replace("**", "")
    for _ in range(3):
        unwrapped = _TEXT_WRAPPER.sub(r"\1", s)
        if unwrapped == s:
            break
        s = unwrapped
    return s.replace("$", "")


# --- parsing -------------------------------------------------------------------------------------


def _for_sympy(text: str) -> str:
    """Spellings Math-Verify misreads: 1\\,000 and 1{,}000 (digit groups), \\varnothing."""
    return _DIGIT_GROUP_SPACE.sub("", text).replace("\\varnothing", "\\emptyset")


def _parse_value(value: str) -> list[Any]:
    """An answer: a formula ('\\frac{1}{2}', 'x = 3') or a sentence ('The answer is $42$')."""
    text = extract.strip_math_delimiters(value)
    looks_like_text = _INLINE_MATH.search(text) is not None or statement.is_prose(text)
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
    s = s.replace("\\!", "").replace("\\,", "").replace("\\left", "").replace("\\right", "").rstrip(".")
    s = _SPACE_RUNS.sub(" ", s).strip()
    return _LONE_SPACE.sub("", s)


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
