"""The `math` verifier on completions written the way models write them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from math_verify import LatexExtractionConfig, parse, verify

from rlvr_client.models import Status
from rlvr_services.runtime.jobs import item_timeout
from rlvr_services.runtime.registry import REGISTRY
from rlvr_services.runtime.verifier import Execution, Task, Verdict
from rlvr_services.verifiers import extract
from rlvr_services.verifiers.math import MathParams, MathVerifier, parse_gold

OK, ERROR = Status.OK, Status.ERROR

THINK = (
    "<think>\nOkay, let me see. The store sells 12 apples on Monday and 15 on Tuesday, so that is 27.\n"
    "Wait, maybe I misread: 3 boxes of 4 is 12, hmm, and 2 + 2 = 4. Let me recheck with 100 and 7.\n"
    "Alright, I'm fairly confident now.\n</think>\n\n"
)
MATH_SOLUTION = (
    "Since $\\sin 60^\\circ = \\frac{\\sqrt{3}}{2}$ and the triangle is equilateral with side $1$, "
    "the height is $\\boxed{\\frac{\\sqrt{3}}{2}}$."
)
GSM8K_SOLUTION = (
    "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
    "Over the year she makes 9 * 137 = <<9*137=1233>>1233 plus 1 = 1,234 dollars.\n#### 1,234"
)

# fmt: off
CASES: list[Any] = [
    # R1 style: long reasoning full of other numbers, then a boxed \dfrac; gold is a decimal
    pytest.param(THINK + "The answer is $\\boxed{\\dfrac{1}{2}}$.", "0.5", {}, OK, 1.0, id="think-dfrac-vs-decimal"),
    # the think section's numbers (27, 12, 100) are ignored; the boxed answer after </think> counts
    pytest.param(THINK + "So the total is $\\boxed{27}$ apples.", "27", {}, OK, 1.0, id="think-boxed-int"),
    # a boxed guess inside <think> is discarded; the answer after </think> is the final one
    pytest.param("<think>Maybe \\boxed{5}? No, recount.</think>The answer is \\boxed{6}.", "6", {}, OK, 1.0,
                 id="boxed-in-think-ignored"),
    # ... so the same completion is wrong against the discarded guess
    pytest.param("<think>Maybe \\boxed{5}? No, recount.</think>The answer is \\boxed{6}.", "5", {}, OK, 0.0,
                 id="boxed-in-think-not-the-answer"),
    # \frac prediction against a decimal gold
    pytest.param("Thus the probability is $\\boxed{\\frac{3}{4}}$.", "0.75", {}, OK, 1.0, id="frac-vs-decimal"),
    # decimal prediction against a LaTeX fraction gold
    pytest.param("Therefore, the answer is \\boxed{0.5}.", "\\frac{1}{2}", {}, OK, 1.0, id="decimal-vs-frac"),
    # an unboxed plain-text fraction found by the fallback
    pytest.param("Out of 8 outcomes 4 are heads, so the probability is 1/2.", "\\frac{1}{2}", {}, OK, 1.0,
                 id="fallback-slash-fraction"),
    # thousands separator in the boxed answer
    pytest.param("Adding everything up gives \\boxed{1,000}.", "1000", {}, OK, 1.0, id="thousands-in-boxed"),
    # GSM8K gold "#### 1,234" against a plain sentence
    pytest.param("She makes 1,234 dollars a year.\nThe answer is 1,234.", GSM8K_SOLUTION, {}, OK, 1.0,
                 id="gsm8k-gold-sentence"),
    # GSM8K gold against a boxed dollar amount
    pytest.param(THINK + "Janet makes $\\boxed{\\$1,234}$ per year.", GSM8K_SOLUTION, {}, OK, 1.0,
                 id="gsm8k-gold-boxed-dollars"),
    # GSM8K gold against a wrong (transposed) number
    pytest.param("The answer is 1,243.", GSM8K_SOLUTION, {}, OK, 0.0, id="gsm8k-wrong"),
    # bare GSM8K gold line
    pytest.param("#### 72", "#### 72", {}, OK, 1.0, id="gsm8k-style-completion"),
    # "x = 3" predicted, gold is the value
    pytest.param("Solving the linear equation, we get $\\boxed{x = 3}$.", "3", {}, OK, 1.0, id="equation-vs-value"),
    # gold is an assignment, prediction is the value
    pytest.param("The solution is \\boxed{3}.", "x = 3", {}, OK, 1.0, id="value-vs-equation-gold"),
    # an assignment to a different value is wrong
    pytest.param("The solution is \\boxed{x = 4}.", "x = 3", {}, OK, 0.0, id="wrong-equation"),
    # a set in any order
    pytest.param("The solutions are $\\boxed{\\{2, 1\\}}$.", "\\{1, 2\\}", {}, OK, 1.0, id="set-order"),
    # roots listed with commas, in another order
    pytest.param("The roots are $\\boxed{2, -3}$.", "-3, 2", {}, OK, 1.0, id="roots-list-order"),
    # an ordered pair in the wrong order is wrong
    pytest.param("The point is $\\boxed{(3, 4)}$.", "(4, 3)", {}, OK, 0.0, id="tuple-order-matters"),
    # an interval written exactly as the gold (string fast path)
    pytest.param("Hence $x \\in \\boxed{(-\\infty, 3]}$.", "(-\\infty, 3]", {}, OK, 1.0, id="interval-same"),
    # a percentage against the plain number
    pytest.param("The discount is \\boxed{25\\%}.", "25", {}, OK, 1.0, id="percent-vs-number"),
    # a percentage against its decimal value
    pytest.param("The discount is \\boxed{25\\%}.", "0.25", {}, OK, 1.0, id="percent-vs-decimal"),
    # equivalent radicals
    pytest.param("The diagonal is $\\boxed{2\\sqrt{2}}$.", "\\sqrt{8}", {}, OK, 1.0, id="radicals"),
    # R1-Zero template: the answer in <answer> tags
    pytest.param(THINK + "<answer>42</answer>", "42", {}, OK, 1.0, id="answer-tag-int"),
    # a LaTeX formula in <answer> tags without $ delimiters
    pytest.param(THINK + "<answer>\\frac{1}{2}</answer>", "0.5", {}, OK, 1.0, id="answer-tag-latex"),
    # a radical in <answer> tags (a plain-text search would only see the "2")
    pytest.param(THINK + "<answer>\\sqrt{2}</answer>", "\\sqrt{2}", {}, OK, 1.0, id="answer-tag-sqrt"),
    # a sentence in <answer> tags
    pytest.param(THINK + "<answer>The answer is $12$.</answer>", "12", {}, OK, 1.0, id="answer-tag-sentence"),
    # <answer> wins over a boxed value outside it
    pytest.param(THINK + "I first got \\boxed{5}.\n<answer>6</answer>", "6", {}, OK, 1.0,
                 id="answer-tag-over-boxed"),
    # a boxed value inside <answer> tags
    pytest.param(THINK + "<answer>So it is \\boxed{7}.</answer>", "7", {}, OK, 1.0, id="boxed-in-answer-tag"),
    # empty <answer> tags are no answer
    pytest.param(THINK + "<answer> </answer>", "7", {}, OK, 0.0, id="empty-answer-tag"),
    # MATH gold: the last \boxed of a full solution; prediction is an equal form
    pytest.param(THINK + "The height is $\\boxed{\\frac{1}{2}\\sqrt{3}}$.", MATH_SOLUTION, {}, OK, 1.0,
                 id="math-solution-gold"),
    # MATH gold against a wrong value
    pytest.param(THINK + "The height is $\\boxed{\\frac{\\sqrt{2}}{2}}$.", MATH_SOLUTION, {}, OK, 0.0,
                 id="math-solution-gold-wrong"),
    # a plainly wrong integer
    pytest.param(THINK + "Therefore the answer is $\\boxed{18}$.", "16", {}, OK, 0.0, id="wrong-int"),
    # the model gives up: no number after </think>
    pytest.param(THINK + "I am not able to determine the answer.", "5", {}, OK, 0.0, id="no-answer"),
    # cut off while thinking: the numbers in the reasoning are not an answer
    pytest.param("<think>\nLet me compute 3 * 4 = 12 and then", "12", {}, OK, 0.0, id="cut-off-in-think"),
    # cut off inside the \boxed: no answer, not a lenient parse of "\frac{1}{"
    pytest.param(THINK + "So the answer is \\boxed{\\frac{1}{", "\\frac{1}{2}", {}, OK, 0.0,
                 id="cut-off-in-boxed"),
    # template prefilled <think>: the completion has only the closing tag
    pytest.param("We need 9 + 1 which is 10.\n</think>\n\nThe answer is $\\boxed{10}$.", "10", {}, OK, 1.0,
                 id="prefilled-think"),
    # fallback off: a plain sentence is no answer
    pytest.param("The answer is 10.", "10", {"fallback": False}, OK, 0.0, id="fallback-off"),
    # fallback off still reads \boxed
    pytest.param("The answer is \\boxed{10}.", "10", {"fallback": False}, OK, 1.0, id="fallback-off-boxed"),
    # Minerva-style final line
    pytest.param("Final Answer: The final answer is $10$. I hope it is correct.", "10", {}, OK, 1.0,
                 id="minerva-final-answer"),
    # negative numbers
    pytest.param("The minimum value is $\\boxed{-7}$.", "-7", {}, OK, 1.0, id="negative"),
    # a lost minus sign is wrong
    pytest.param("The minimum value is $\\boxed{7}$.", "-7", {}, OK, 0.0, id="lost-minus"),
    # text answers compare case-insensitively
    pytest.param("The meeting is on $\\boxed{\\text{monday}}$.", "\\text{Monday}", {}, OK, 1.0, id="text-answer"),
    # multiple-choice letter against "(C)"
    pytest.param("The correct option is \\boxed{C}.", "\\text{(C)}", {}, OK, 1.0, id="choice-letter"),
    # expanded polynomial equals the factored gold
    pytest.param("Expanding, we get $\\boxed{x^2 + 2x + 1}$.", "(x+1)^2", {}, OK, 1.0, id="polynomial"),
    # an equation of a line
    pytest.param("The line is $\\boxed{y = 2x + 1}$.", "y=2x+1", {}, OK, 1.0, id="line-equation"),
    # degrees symbol
    pytest.param("Each angle measures $\\boxed{30^\\circ}$.", "30", {}, OK, 1.0, id="degrees"),
    # units in \text
    pytest.param("The side is $\\boxed{5 \\text{ cm}}$.", "5", {}, OK, 1.0, id="units"),
    # trailing zeros in a dollar amount
    pytest.param("She pays \\boxed{\\$18.00}.", "18", {}, OK, 1.0, id="dollars-decimals"),
    # a 4-digit rounding of sqrt(2) is not accepted (Math-Verify rounds to 6 places)
    pytest.param("The length is about \\boxed{1.414}.", "\\sqrt{2}", {}, OK, 0.0, id="rounded-radical"),
    # last \boxed wins after a self-correction
    pytest.param("First guess: \\boxed{3}. Correcting the sign error: \\boxed{4}.", "4", {}, OK, 1.0,
                 id="last-boxed-wins"),
    # the plain fallback takes the final number, not the intermediate ones
    pytest.param("So 3 + 4 = 7 apples are left, and she eats 2.\nThe answer is 5", "5", {}, OK, 1.0,
                 id="fallback-final-number"),
    # the fallback never looks into the think section
    pytest.param("<think>the total is 99</think>The total is 100.", "99", {}, OK, 0.0, id="fallback-skips-think"),
    # an empty \boxed{} is no answer
    pytest.param("The answer is \\boxed{}.", "3", {}, OK, 0.0, id="empty-boxed"),
    # nothing after </think>
    pytest.param("<think>I think it is 42.</think>", "42", {}, OK, 0.0, id="nothing-after-think"),
    # power of ten against the expanded number
    pytest.param("The count is $\\boxed{10^{5}}$.", "100000", {}, OK, 1.0, id="power-of-ten"),
    # \left( \right) around a pair
    pytest.param("The vertex is $\\boxed{\\left(\\frac{1}{2}, 3\\right)}$.", "(\\frac12, 3)", {}, OK, 1.0,
                 id="left-right-pair"),
    # complex number written the same way
    pytest.param("Hence $z = \\boxed{3 + 4i}$.", "3+4i", {}, OK, 1.0, id="complex"),
    # a space between \boxed and its brace
    pytest.param("The answer is \\boxed {12}.", "12", {}, OK, 1.0, id="boxed-space"),
    # gold given with $ delimiters
    pytest.param("The answer is \\boxed{\\frac{2}{3}}.", "$\\frac{2}{3}$", {}, OK, 1.0, id="gold-with-dollars"),
    # a bare unit word after the number is dropped (Math-Verify alone reads "dollars" as a product of symbols)
    pytest.param("The answer is \\boxed{18 dollars}.", "18", {}, OK, 1.0, id="bare-word-unit"),
    # surprising Math-Verify leniency: "(1,2)" may be an interval or a pair; a set {1,2} matches it
    pytest.param("The answer is \\boxed{\\{1, 2\\}}.", "(1,2)", {}, OK, 1.0, id="pair-gold-vs-set"),
]
# fmt: on


def _task(completion: str, gold: str, **params: Any) -> Task:
    return Task(id="t", completion=completion, params=MathParams.model_validate({"gold": gold, **params}))


def _verdict(completion: str, gold: str, **params: Any) -> Verdict:
    [verdict] = MathVerifier().verify_batch([_task(completion, gold, **params)])
    return verdict


@pytest.mark.parametrize(("completion", "gold", "params", "status", "score"), CASES)
def test_math_cases(completion: str, gold: str, params: dict[str, Any], status: Status, score: float) -> None:
    verdict = _verdict(completion, gold, **params)
    assert (verdict.status, verdict.score) == (status, score), verdict


def test_no_answer_reason_and_details() -> None:
    verdict = _verdict(THINK + "I give up.", "5")
    assert verdict.reason.startswith("no answer found in completion")
    verdict = _verdict("<think>\nLet me compute 3 * 4 = 12", "12")
    assert verdict.reason == "no answer found in completion: the <think> section is never closed"
    verdict = _verdict(THINK + "The answer is $\\boxed{\\dfrac{1}{2}}$.", "0.5")
    assert verdict.details == {"extracted": "\\dfrac{1}{2}", "gold_parsed": "1/2", "method": "numeric"}
    verdict = _verdict(THINK + "So she has 1,234 dollars left.", "#### 1,234")
    assert verdict.details == {"extracted": "1,234", "gold_parsed": "1234", "method": "numeric"}


@pytest.mark.parametrize(
    "gold",
    [
        "???",  # no mathematical value at all
        "The proof is left to the reader: \\boxed{",  # a solution whose last \boxed is not closed
        "so the answer is $\\boxed{}$",  # an empty \boxed
        "Total = 5 + 7\n#### ",  # a GSM8K gold line with nothing after ####
    ],
)
def test_unparseable_gold_is_an_error_never_a_score(gold: str) -> None:
    for completion in ("The answer is \\boxed{12}.", "I don't know.", gold):
        verdict = _verdict(completion, gold)
        assert verdict.status is ERROR and verdict.score is None, verdict
        assert verdict.reason.startswith("gold answer could not be parsed: ")


def test_gold_is_parsed_once() -> None:
    gold = "\\frac{7}{13}"
    parse_gold.cache_clear()
    for _ in range(3):
        assert _verdict("\\boxed{\\frac{14}{26}}", gold).score == 1.0
    info = parse_gold.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    parse_gold("???")
    parse_gold("???")
    assert parse_gold.cache_info().hits == 3  # a failed gold is cached too


def test_verify_order_matters() -> None:
    # Math-Verify: an inequality gold accepts an interval prediction, not the other way round
    inequality, interval = "2 \\le x \\le 5", "[2,5]"
    assert _verdict(f"\\boxed{{{interval}}}", inequality).score == 1.0
    assert _verdict(f"\\boxed{{{inequality}}}", interval).score == 0.0
    config = [LatexExtractionConfig()]
    gold = parse(f"${inequality}$", config, parsing_timeout=None)
    pred = parse(f"${interval}$", config, parsing_timeout=None)
    assert verify(gold, pred, timeout_seconds=None) != verify(pred, gold, timeout_seconds=None)


def test_batch_keeps_order() -> None:
    tasks = [_task("\\boxed{1}", "1"), _task("\\boxed{2}", "3"), _task("\\boxed{1}", "???"), _task("nope", "4")]
    verdicts = MathVerifier().verify_batch(tasks)
    assert [(v.status, v.score) for v in verdicts] == [(OK, 1.0), (OK, 0.0), (ERROR, None), (OK, 0.0)]


def test_runs_outside_the_main_thread() -> None:
    # Math-Verify's signal.alarm timeouts would raise in a thread; ours are off (the process kill bounds time)
    results: list[Verdict] = []
    thread = threading.Thread(target=lambda: results.extend(MathVerifier().verify_batch([_task("\\boxed{8}", "8")])))
    thread.start()
    thread.join(60)
    assert [(v.status, v.score) for v in results] == [(OK, 1.0)]


def test_huge_completion_is_cheap() -> None:
    think = "<think>" + "Let me try 12 and 15 and \\boxed{3} again. " * 120_000 + "</think>"  # about 5 MB
    start = time.perf_counter()
    assert _verdict(think + "So the answer is \\boxed{42}.", "42").score == 1.0
    assert _verdict(think + "The answer is " + "1 + " * 50_000 + "1", "50001").status is OK
    assert time.perf_counter() - start < 20


def test_overlong_boxed_answer_scores_zero() -> None:
    verdict = _verdict("\\boxed{" + "x+" * 1000 + "1}", "1")
    assert (verdict.status, verdict.score) == (OK, 0.0)
    assert "longer than" in verdict.reason


def test_params_schema() -> None:
    assert MathParams.model_validate({"gold": "1"}).fallback == "answer_line"
    assert MathParams.model_validate({"gold": "1", "fallback": False}).fallback == "none"  # the v1 boolean form
    assert MathParams.model_validate({"gold": "1", "fallback": True}).fallback == "answer_line"
    for bad in (
        {},
        {"gold": ""},
        {"gold": "1", "timeout_s": 0},
        {"gold": "1", "timeout_s": 121},
        {"gold": "1", "x": 1},
        {"gold": "1", "fallback": "first_number"},
        {"gold": "1", "rel_tol": -0.1},
        {"gold": "1", "choices": ["only one"]},
    ):
        with pytest.raises(ValueError):
            MathParams.model_validate(bad)
    schema = MathParams.model_json_schema()
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_registration_and_timeout() -> None:
    assert REGISTRY.get_class("math") is MathVerifier
    assert MathVerifier.execution is Execution.PROCESS
    assert item_timeout(MathVerifier, MathParams.model_validate({"gold": "1"}), 60.0) == 10.0
    assert item_timeout(MathVerifier, MathParams.model_validate({"gold": "1", "timeout_s": 2.5}), 60.0) == 2.5


@pytest.mark.parametrize(
    ("text", "boxed"),
    [
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # nested braces
        ("a \\boxed{1} b \\boxed{2} c", "2"),  # the last one
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not count
        ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),  # \\ rows
        ("\\boxed{\\frac{1}{", None),  # not closed
        ("\\boxed 5", None),  # no braced argument
        ("no box here", None),
    ],
)
def test_last_boxed(text: str, boxed: str | None) -> None:
    assert extract.last_boxed(text) == boxed


def test_gsm8k_and_think_helpers() -> None:
    assert extract.gsm8k_answer(GSM8K_SOLUTION) == "1234"
    assert extract.gsm8k_answer("no mark") is None
    assert extract.after_think("<think>a</think> b </think> c") == " c"
    assert extract.after_think("<think>a") is None
    assert extract.after_think("plain") == "plain"
    assert extract.answer_tag("<answer>1</answer> <answer>2</answer>") == "2"
    assert extract.answer_tag("<answer>2") is None
    assert extract.strip_math_delimiters(" $x$ ") == "x"
    assert extract.strip_math_delimiters("$a$ and $b$") == "$a$ and $b$"
