"""Realistic math completions in GRPO groups, seeded: the answer forms and placements models produce.

    .venv/bin/python bench/mathmix.py [--prompts 250 --group 8 --seed 1 --show 3]

``make_mix(n_prompts, group, seed)`` gives ``n_prompts * group`` samples; the ``group`` completions
of one prompt share its prompt and gold, as a GRPO step sends them. Each sample has a ground-truth
``label`` (True when the completion's final answer is correct) set by construction, never by a
verifier, and a ``kind`` = ``"{form}.{surface}@{placement}"``:

* form: the problem's answer type: int, money, unit, frac, decimal, percent, radical, pi, equation,
  roots, tuple, interval, complex, sci, choice, text (mostly int/frac, as in GSM8K and MATH);
* surface: how this completion writes its answer ("thousands", "dfrac", "unsimplified", "reordered",
  ... for a right answer; "wrong.<how>" for a wrong one; "-" when there is none);
* placement: where the answer is: ``boxed`` (after a long ``<think>`` with distractor numbers),
  ``tag`` (``<answer>…</answer>``), ``multibox`` (a slip boxed, then a corrected box: the last box
  counts), ``nobox`` ("The answer is 25\\pi."), ``noanswer``, ``cut_think`` (cut off while
  reasoning), ``cut_answer`` (cut off inside the final ``\\boxed{`` or ``<answer>``); and the
  round-two placements of bench/answer_forms.py: ``subject`` ("Final Answer: The value of $f(x)$ is
  34."), ``display`` (a display over three lines, a stray ``$`` in a box), ``lang`` (an answer phrase
  in another language), ``prose_choice``, ``final_line`` (``$E$``) and ``labelled`` (one box per
  coordinate or root).

Golds ship as data sets ship them: a bare value, LaTeX (sometimes in ``$…$``), a GSM8K solution
ending in ``#### 1,234``, or a MATH solution ending in ``\\boxed{}``. About 55% of completions are
right, 30% wrong, 15% without an answer or cut off; per prompt the success rate varies (some
groups all right, some all wrong) and a group's completions repeat the same answers in different
surface forms, and the same wrong answers.

Judgement calls in the labels: a cut-off completion is never right (even ``\\boxed{72`` with the
full number: the model did not finish); a decimal approximation of an exact answer (0.33 for 1/3,
78.54 for 25\\pi) is wrong; an answer with a unit, a "x = " prefix, another order of a set of roots,
an unsimplified radical or fraction, a mixed number, or an inequality for an interval is right.
"""

from __future__ import annotations

import argparse
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import answer_forms

R1_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
R1_ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively.\nUser: {problem}\nAssistant: <think>"
)


@dataclass(frozen=True)
class Sample:
    prompt: str
    completion: str
    gold: str  # as a data set ships it
    label: bool  # ground truth: the completion's final answer is correct
    kind: str  # "{form}.{surface}@{placement}"
    form: str
    surface: str
    placement: str
    outcome: str  # right, wrong, none (no answer / cut off)
    gold_style: str  # bare, latex, latex_dollars, gsm8k, math_solution
    gold_value: str  # the gold answer as LaTeX (for diagnostics)
    answer: str | None  # the final answer as written in the completion, None when there is none
    group: int  # index of the prompt: the GRPO group


Written = tuple[str, str, float]  # (surface, text, weight)


@dataclass(frozen=True)
class Problem:
    form: str
    statement: str
    gold_latex: str
    gold_plain: str | None  # a plain-text gold ("3/4", "25", "C") where data sets use one
    right: tuple[Written, ...]  # correct ways to write the answer; the first is the usual one
    wrong: tuple[Written, ...]  # wrong answers models give, most common first
    gsm8k: bool = False  # a number a GSM8K-style gold may ship as "#### n"
    distractors: tuple[str, ...] = ()  # numbers and expressions met on the way


# ---------------------------------------------------------------------------------------------
# value forms


def _frac_latex(f: Fraction, cmd: str = "\\frac") -> str:
    if f.denominator == 1:
        return str(f.numerator)
    sign = "-" if f < 0 else ""
    return f"{sign}{cmd}{{{abs(f.numerator)}}}{{{f.denominator}}}"


def _terminating(f: Fraction) -> str | None:
    """The exact decimal of ``f`` when it has one of at most 4 places (an integer: no decimal point)."""
    if f.denominator == 1:
        return str(f.numerator)
    for places in range(1, 5):
        scaled = f * 10**places
        if scaled.denominator == 1:
            return f"{float(f):.{places}f}"
    return None


def _pick_distinct(rng: random.Random, candidates: Sequence[Written], exclude: set[str], k: int) -> list[Written]:
    out: list[Written] = []
    seen = set(exclude)
    for cand in candidates:
        if cand[1] not in seen:
            out.append(cand)
            seen.add(cand[1])
    rng.shuffle(out)
    out.sort(key=lambda w: -w[2])  # keep the most common mistakes first, ties shuffled
    return out[:k]


def _magnitude(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.35:
        return rng.randint(2, 99)
    if r < 0.65:
        return rng.randint(100, 999)
    if r < 0.9:
        return rng.randint(1000, 99_999)
    return rng.randint(100_000, 5_000_000)


NOUNS = ["apples", "students", "pages", "cookies", "miles", "tickets", "marbles", "hours", "bottles", "eggs"]
PEOPLE = ["Natalia", "Weng", "Betty", "Julie", "James", "Albert", "Ken", "Alexis", "Tina", "Randy"]


def _int(rng: random.Random) -> Problem:
    n = _magnitude(rng)
    negative = rng.random() < 0.08
    if negative:
        n = -min(n, 999)
    noun = rng.choice(NOUNS)
    right: list[Written] = [("plain", str(n), 6.0)]
    if abs(n) >= 1000:
        right += [("thousands", f"{n:,}", 3.0), ("latex_thousands", f"{n:,}".replace(",", "{,}"), 1.0)]
    right += [("decimal_zero", f"{n}.0", 0.3)]
    if not negative:
        right += [("with_noun", f"{n} \\text{{ {noun}}}", 0.7)]
    else:
        right += [("eq", f"x = {n}", 0.7)]
    wrong = _pick_distinct(
        rng,
        [
            ("wrong.off_by_one", str(n + rng.choice([-1, 1])), 3.0),
            ("wrong.double", str(2 * n), 2.0),
            ("wrong.half", str(n // 2), 1.5),
            ("wrong.step_missed", str(n + rng.choice([-12, -10, 5, 8, 20])), 2.0),
            ("wrong.sign", str(-n), 1.0 if negative else 0.2),
        ],
        {str(n)},
        3,
    )
    a, b = rng.randint(2, 60), rng.randint(2, 25)
    who = rng.choice(PEOPLE)
    statement = (
        f"{who} buys {a} boxes of {noun}, each holding {b}. {who} gives away some and keeps track of the "
        f"rest over {rng.randint(2, 9)} weeks. How many {noun} are left at the end?"
        if not negative
        else f"Let $f(x) = x^2 - {a}x + {b}$. Compute $f({a}) - f({b}) - {abs(n) + a * b}$ plus the missing term."
    )
    return Problem("int", statement, str(n), str(n), tuple(right), tuple(wrong), not negative, (str(a), str(b)))


def _money(rng: random.Random) -> Problem:
    cents = rng.random() < 0.3
    if cents:
        value = Fraction(rng.randint(101, 99_999), 100)
        while value.denominator == 1:
            value = Fraction(rng.randint(101, 99_999), 100)
        two = f"{float(value):.2f}"
        plain = _terminating(value) or two
        right: list[Written] = [("dollar", f"\\${two}", 5.0), ("plain", plain, 2.0), ("plain_cents", two, 1.0)]
        right += [("dollars_word", f"{two} dollars", 1.0)]
        if answer_forms.decimal_comma(two) is not None:
            right += [("decimal_comma", answer_forms.decimal_comma(two) or two, 0.5)]
        wrong_values = [value + 1, value * 2, value - Fraction(1, 2), value / 2]
        wrong = [(f"wrong.{i}", f"\\${float(w):.2f}", 3.0 - i * 0.5) for i, w in enumerate(wrong_values)]
    else:
        d = rng.choice([rng.randint(5, 99), rng.randint(100, 999), rng.randint(1000, 25_000)])
        plain = str(d)
        right = [("dollar", f"\\${d:,}" if d >= 1000 else f"\\${d}", 5.0), ("plain", plain, 3.0)]
        right += [("dollar_cents", f"\\${d}.00", 1.0), ("dollars_word", f"{d} dollars", 1.5)]
        right += [("text_dollar", f"\\text{{\\$}}{d}", 0.3)]
        wrong = [("wrong.off", f"\\${d + rng.choice([-5, -2, 3, 10])}", 3.0), ("wrong.double", f"\\${2 * d}", 2.0)]
        wrong += [("wrong.half", f"\\${d // 2}", 1.5)]
        value = Fraction(d)
    gold_latex = plain if rng.random() < 0.7 else f"\\${plain}"
    who = rng.choice(PEOPLE)
    statement = (
        f"{who} earns ${rng.randint(8, 40)} an hour and works {rng.randint(2, 12)} hours, then spends part of it "
        "on groceries and a third of the rest on books. How much money, in dollars, does "
        f"{who} have left?"
    )
    wrong = _pick_distinct(rng, wrong, {r[1] for r in right}, 3)
    return Problem("money", statement, gold_latex, plain, tuple(right), tuple(wrong), True, (str(value),))


UNITS = [  # (latex, plain word)
    ("\\text{ cm}", "cm"),
    ("\\text{ m}", "m"),
    ("\\text{ cm}^2", "square cm"),
    ("\\text{ inches}", "inches"),
    ("\\text{ km}", "km"),
    ("\\text{ minutes}", "minutes"),
    ("^\\circ", "degrees"),
]


def _unit(rng: random.Random) -> Problem:
    latex_unit, word = rng.choice(UNITS)
    n = rng.randint(2, 180) if word == "degrees" else rng.randint(2, 2500)
    if word == "degrees":
        right: list[Written] = [("degrees", f"{n}^\\circ", 5.0), ("degrees_braced", f"{n}^{{\\circ}}", 1.0)]
        right += [("plain", str(n), 3.0), ("degrees_word", f"{n} degrees", 1.0)]
        gold_latex = f"{n}^\\circ" if rng.random() < 0.5 else str(n)
    else:
        right = [("latex_unit", f"{n}{latex_unit}", 4.0), ("latex_unit_space", f"{n} {latex_unit.strip()}", 1.0)]
        right += [("plain", str(n), 3.0), ("text_unit", f"{n} {word}", 1.0)]
        right += [("thin_space", f"{n}\\,{latex_unit.strip()}", 0.5)]
        gold_latex = str(n)
    wrong_n = [n * 2, n + rng.choice([-3, -1, 1, 4]), n // 2 + 1]
    usual = right[0][1]
    wrong = _pick_distinct(
        rng,
        [
            (f"wrong.{how}", usual.replace(str(n), str(w), 1), 3.0 - i)
            for i, (how, w) in enumerate(zip(("double", "off", "half"), wrong_n, strict=True))
        ],
        {r[1] for r in right},
        2,
    )
    statement = (
        f"A rectangle has a perimeter of {2 * n + 8} {word if word != 'degrees' else 'cm'} and one side of 4. "
        "Find the requested measure."
        if word != "degrees"
        else f"In triangle $ABC$, $\\angle A = {rng.randint(10, 80)}^\\circ$. Find the measure of the exterior angle."
    )
    return Problem("unit", statement, gold_latex, str(n), tuple(right), tuple(wrong), True, (str(n + 4),))


def _frac(rng: random.Random) -> Problem:
    f = Fraction(rng.randint(1, 40), rng.randint(2, 16))
    while f.denominator == 1:
        f = Fraction(rng.randint(1, 40), rng.randint(2, 16))
    if rng.random() < 0.1:
        f = -f
    p, q = abs(f.numerator), f.denominator
    sign = "-" if f < 0 else ""
    latex = _frac_latex(f)
    right: list[Written] = [("frac", latex, 6.0), ("dfrac", _frac_latex(f, "\\dfrac"), 2.0)]
    right += [("slash", f"{sign}{p}/{q}", 1.5), ("tfrac", _frac_latex(f, "\\tfrac"), 0.3)]
    right += [("unsimplified", f"{sign}\\frac{{{2 * p}}}{{{2 * q}}}", 0.4)]
    if p < 10 and q < 10:
        right += [("frac_nobraces", f"{sign}\\frac{p}{q}", 0.3)]
    decimal = _terminating(f)
    if decimal is not None:
        right += [("decimal", decimal, 1.5)]
    if f < 0:
        right += [("neg_numerator", f"\\frac{{-{p}}}{{{q}}}", 1.0)]
    if p > q and f > 0:
        whole, rest = divmod(p, q)
        right += [("mixed_number", f"{whole}\\frac{{{rest}}}{{{q}}}", 0.3)]
    wrongs: list[Written] = [("wrong.reciprocal", _frac_latex(1 / f), 2.0)]
    wrongs += [("wrong.numerator", _frac_latex(Fraction(f.numerator + 1, q)), 2.0)]
    wrongs += [("wrong.denominator", _frac_latex(Fraction(f.numerator, q + 1)), 1.5)]
    if decimal is None:
        wrongs += [("wrong.rounded_decimal", f"{float(f):.2f}", 1.0)]
    wrongs += [("wrong.sign", _frac_latex(-f), 0.5)]
    wrong = _pick_distinct(rng, [w for w in wrongs if _eval_frac(w[1]) != f], {latex}, 3)
    statement = rng.choice(
        [
            f"Two cards are drawn from a box of {p + q + 3} cards without replacement. What is the probability "
            "that both are red? Express your answer as a common fraction.",
            f"Solve for $x$: $\\frac{{{q}x - {p}}}{{3}} = {rng.randint(1, 9)}x - 1$. Express your answer as a "
            "common fraction.",
            f"What is $\\frac{{{p}}}{{{q + 1}}} \\div \\frac{{{q}}}{{{q + 1}}}$?",
        ]
    )
    distract = (str(p * 2), f"\\frac{{{q}}}{{{p}}}", str(p + q))
    return Problem("frac", statement, latex, f"{sign}{p}/{q}", tuple(right), tuple(wrong), False, distract)


def _eval_frac(text: str) -> Fraction:
    """The value of what `_frac_latex` or a decimal wrote (for the distinctness check only)."""
    t = text.replace("\\frac", "").replace("\\dfrac", "")
    if t.startswith("-{") or t.startswith("{"):
        sign = -1 if t.startswith("-") else 1
        num, den = t.lstrip("-").strip("{}").split("}{")
        return sign * Fraction(int(num), int(den))
    return Fraction(t)


def _decimal(rng: random.Random) -> Problem:
    f = Fraction(rng.randint(1, 400), rng.choice([2, 4, 5, 8, 10, 20, 25, 100]))
    while f.denominator == 1:
        f = Fraction(rng.randint(1, 400), rng.choice([2, 4, 5, 8, 10, 20]))
    s = _terminating(f)
    assert s is not None
    right: list[Written] = [("decimal", s, 6.0), ("trailing_zero", s + "0", 1.0), ("frac", _frac_latex(f), 2.0)]
    right += [("slash", f"{f.numerator}/{f.denominator}", 1.0)]
    if s.startswith("0."):
        right += [("leading_dot", s[1:], 0.5)]
    comma = answer_forms.decimal_comma(s)
    if comma is not None:
        right += [("decimal_comma", comma, 1.0)]
    wrong_values = [f * 10, f + Fraction(1, 10), f / 10, f + 1]
    wrong = [
        (f"wrong.{name}", _terminating(w) or str(float(w)), 2.0)
        for name, w in zip(("x10", "plus_tenth", "div10", "plus1"), wrong_values, strict=True)
    ]
    wrong = _pick_distinct(rng, wrong, {s}, 3)
    statement = (
        f"A recipe needs {f.numerator} cups of flour for {f.denominator} batches. How many cups of flour does one "
        "batch need? Give your answer as a decimal."
    )
    return Problem("decimal", statement, s, s, tuple(right), tuple(wrong), True, (str(f.numerator), str(f.denominator)))


def _percent(rng: random.Random) -> Problem:
    p = rng.randint(1, 99)
    right: list[Written] = [("latex_percent", f"{p}\\%", 5.0), ("percent_sign", f"{p}%", 1.0)]
    right += [("number", str(p), 2.5), ("percent_word", f"{p} percent", 0.7)]
    wrong = _pick_distinct(
        rng,
        [
            ("wrong.complement", f"{100 - p}\\%", 2.0),
            ("wrong.off", f"{p + 5}\\%", 2.0),
            ("wrong.ratio", f"{p * 2}\\%", 1.0),
        ],
        {f"{p}\\%"},
        2,
    )
    statement = (
        f"A store raises a price from ${rng.randint(20, 80)} and then discounts it. By what percent did the price "
        "change overall?"
    )
    gold = f"{p}\\%" if rng.random() < 0.6 else str(p)
    return Problem("percent", statement, gold, str(p), tuple(right), tuple(wrong), True, (str(100 + p),))


SQUAREFREE = [2, 3, 5, 6, 7, 10, 11, 13]


def _radical(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 9), rng.choice(SQUAREFREE)
    short_b = f"\\sqrt {b}" if b < 10 else f"\\sqrt{{{b}}}"
    if rng.random() < 0.3:
        c = rng.choice([c for c in range(2, 8) if math.gcd(a, c) == 1])
        latex = f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}"
        right: list[Written] = [("frac_sqrt", latex, 5.0), ("coef_frac", f"\\frac{{{a}}}{{{c}}}\\sqrt{{{b}}}", 1.0)]
        right += [("dfrac", f"\\dfrac{{{a}\\sqrt{{{b}}}}}{{{c}}}", 1.0)]
        right += [("unrationalized", f"\\frac{{{a * b}}}{{{c}\\sqrt{{{b}}}}}", 0.5)]
        wrongs: list[Written] = [("wrong.coef", f"\\frac{{{a + 1}\\sqrt{{{b}}}}}{{{c}}}", 2.0)]
        wrongs += [("wrong.dropped_den", f"{a}\\sqrt{{{b}}}", 2.0)]
        wrongs += [("wrong.decimal", f"{a * math.sqrt(b) / c:.2f}", 0.5)]
    else:
        latex = f"{a}\\sqrt{{{b}}}"
        right = [("coef_sqrt", latex, 5.0), ("spaced", f"{a} \\sqrt{{{b}}}", 1.0), ("no_braces", f"{a}{short_b}", 0.7)]
        right += [("unsimplified", f"\\sqrt{{{a * a * b}}}", 1.5), ("sqrt_times", f"\\sqrt{{{b}}} \\cdot {a}", 0.3)]
        wrongs = [("wrong.coef", f"{a + 1}\\sqrt{{{b}}}", 2.0), ("wrong.product", f"\\sqrt{{{a * b}}}", 1.5)]
        if a != b:
            wrongs += [("wrong.swapped", f"{b}\\sqrt{{{a}}}", 1.5)]
        wrongs += [("wrong.decimal", f"{a * math.sqrt(b):.2f}", 0.5)]
    wrong = _pick_distinct(rng, wrongs, {latex}, 2)
    statement = (
        f"A right triangle has legs of length {a} and {a}\\sqrt{{{b - 1}}}. Find the length of the hypotenuse. "
        "Express your answer in simplest radical form."
    )
    return Problem("radical", statement, latex, None, tuple(right), tuple(wrong), False, (str(a * a), str(b)))


def _pi(rng: random.Random) -> Problem:
    k = rng.randint(2, 100)
    if rng.random() < 0.25:
        m = rng.choice([d for d in (2, 3, 4, 5, 6, 7) if math.gcd(k, d) == 1])
        latex = f"\\frac{{{k}\\pi}}{{{m}}}"
        right: list[Written] = [("frac_pi", latex, 5.0), ("coef_frac", f"\\frac{{{k}}}{{{m}}}\\pi", 1.5)]
        right += [("pi_over", f"{k}\\pi/{m}", 0.5)]
        wrongs: list[Written] = [("wrong.double", f"\\frac{{{2 * k}\\pi}}{{{m}}}", 2.0)]
        wrongs += [("wrong.dropped_den", f"{k}\\pi", 2.0), ("wrong.decimal", f"{k * math.pi / m:.2f}", 1.0)]
    else:
        latex = f"{k}\\pi"
        right = [("coef_pi", latex, 5.0), ("spaced", f"{k} \\pi", 1.0), ("cdot", f"{k} \\cdot \\pi", 0.5)]
        right += [("with_unit", f"{k}\\pi \\text{{ cm}}^2", 1.0), ("unicode", f"{k}π", 0.3)]
        wrongs = [("wrong.double", f"{2 * k}\\pi", 2.0), ("wrong.coef", f"{k + 1}\\pi", 1.5)]
        wrongs += [("wrong.squared", f"{k * k}\\pi", 1.0), ("wrong.decimal", f"{k * math.pi:.2f}", 1.0)]
    wrong = _pick_distinct(rng, wrongs, {latex}, 2)
    statement = (
        f"A circle has diameter {2 * round(math.sqrt(k) + 1)} cm. The region is cut as described; find its area. "
        "Express your answer in terms of $\\pi$."
    )
    return Problem("pi", statement, latex, None, tuple(right), tuple(wrong), False, (str(k), f"{k}^2"))


def _line_latex(m: int, c: int, c_first: bool = False, spaced: bool = True) -> str:
    mx = {1: "x", -1: "-x"}.get(m, f"{m}x")
    sp = " " if spaced else ""
    if c_first:
        rhs = f"{c}{sp}{'+' if m > 0 else '-'}{sp}{mx.lstrip('-')}"
    else:
        rhs = f"{mx}{sp}{'+' if c > 0 else '-'}{sp}{abs(c)}"
    return f"y{sp}={sp}{rhs}"


def _equation(rng: random.Random) -> Problem:
    if rng.random() < 0.6:
        v = rng.randint(-30, 60)
        right: list[Written] = [("eq", f"x = {v}", 3.0), ("eq_nospace", f"x={v}", 1.0), ("value", str(v), 3.0)]
        wrongs: list[Written] = [("wrong.value", f"x = {v + rng.choice([-2, -1, 1, 3])}", 2.0)]
        if v != 0:
            wrongs += [("wrong.sign", f"x = {-v}", 2.0)]
        gold = str(v) if rng.random() < 0.7 else f"x = {v}"
        statement = f"Solve for $x$: ${rng.randint(2, 9)}(x - {v}) + {rng.randint(1, 9)} = $ the same constant."
        wrong = _pick_distinct(rng, wrongs, {gold}, 2)
        return Problem("equation", statement, gold, str(v), tuple(right), tuple(wrong), False, (str(v + 1),))
    m = rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])
    c = rng.choice([-9, -7, -5, -3, -2, -1, 1, 2, 3, 4, 6, 8])
    latex = _line_latex(m, c)
    right = [("line", latex, 4.0), ("line_nospace", _line_latex(m, c, spaced=False), 1.0)]
    right += [("line_reordered", _line_latex(m, c, c_first=True), 1.0)]
    wrongs = [("wrong.intercept_sign", _line_latex(m, -c), 2.0), ("wrong.slope_sign", _line_latex(-m, c), 2.0)]
    statement = f"Find the equation of the line through $(0, {c})$ and $(1, {m + c})$. Write it as $y = mx + b$."
    return Problem("equation", statement, latex, None, tuple(right), tuple(wrongs), False, (str(m + c),))


def _root_text(r: Fraction) -> str:
    return _frac_latex(r)


def _roots(rng: random.Random) -> Problem:
    r1, r2 = sorted(rng.sample([i for i in range(-9, 10) if i != 0], 2))
    roots = [Fraction(r1), Fraction(r2)]
    if rng.random() < 0.2:
        roots[1] = Fraction(rng.choice([1, 3, 5, 7]), 2)
        roots.sort()
    a, b = (_root_text(r) for r in roots)
    latex = f"{a}, {b}"
    right: list[Written] = [("list", latex, 3.0), ("reordered", f"{b}, {a}", 2.0), ("set", f"\\{{{a}, {b}\\}}", 1.0)]
    right += [("or_eq", f"x = {a} \\text{{ or }} x = {b}", 1.0), ("and_text", f"{a} \\text{{ and }} {b}", 0.5)]
    right += [("x_list", f"x = {b}, {a}", 0.5), ("eq_pair_prose", f"$x = {a}$ or $x = {b}$", 0.7)]
    flipped = sorted(-r for r in roots)
    wrongs: list[Written] = [("wrong.one_root", b, 2.0)]
    if set(flipped) != set(roots):
        wrongs += [("wrong.signs", ", ".join(_root_text(r) for r in flipped), 2.0)]
    wrongs += [("wrong.off", f"{a}, {_root_text(roots[1] + 1)}", 1.0)]
    wrong = _pick_distinct(rng, wrongs, {latex}, 2)
    s, p = roots[0] + roots[1], roots[0] * roots[1]
    statement = (
        f"Find all solutions to $x^2 - ({_frac_latex(s)})x + ({_frac_latex(p)}) = 0$. Enter all the solutions, "
        "separated by commas."
    )
    return Problem("roots", statement, latex, None, tuple(right), tuple(wrong), False, (_frac_latex(s), _frac_latex(p)))


def _tuple(rng: random.Random) -> Problem:
    x, y = rng.sample(range(-9, 10), 2)
    xs = _frac_latex(Fraction(x, 2)) if rng.random() < 0.2 and x % 2 else str(x)
    latex = f"({xs}, {y})"
    right: list[Written] = [("tuple", latex, 4.0), ("nospace", f"({xs},{y})", 1.0)]
    right += [("left_right", f"\\left({xs}, {y}\\right)", 1.0)]
    wrongs: list[Written] = [("wrong.swapped", f"({y}, {xs})", 2.0), ("wrong.off", f"({xs}, {y + 1})", 1.0)]
    if y != 0:
        wrongs += [("wrong.sign", f"({xs}, {-y})", 1.5)]
    wrong = _pick_distinct(rng, wrongs, {latex}, 2)
    statement = (
        f"The lines $y = {rng.randint(2, 5)}x + b$ and $y = -x + c$ meet at one point. Find the intersection as an "
        "ordered pair."
    )
    return Problem("tuple", statement, latex, None, tuple(right), tuple(wrong), False, (str(x + y),))


def _interval(rng: random.Random) -> Problem:
    a = rng.randint(-9, 9)
    b = a + rng.randint(1, 9)
    shape = rng.choice(["le", "ge", "open", "half"])
    if shape == "le":
        latex, spaced = f"(-\\infty, {a}]", f"\\left(-\\infty, {a}\\right]"
        ineq, wrongs = f"x \\le {a}", [f"(-\\infty, {a})", f"[{a}, \\infty)"]
    elif shape == "ge":
        latex, spaced = f"[{a}, \\infty)", f"\\left[{a}, \\infty\\right)"
        ineq, wrongs = f"x \\geq {a}", [f"({a}, \\infty)", f"(-\\infty, {a}]"]
    elif shape == "open":
        latex, spaced = f"({a}, {b})", f"\\left({a}, {b}\\right)"
        ineq, wrongs = f"{a} < x < {b}", [f"[{a}, {b}]", f"({a}, {b + 1})"]
    else:
        latex, spaced = f"[{a}, {b})", f"\\left[{a}, {b}\\right)"
        ineq, wrongs = f"{a} \\le x < {b}", [f"({a}, {b}]", f"[{a}, {b}]"]
    right: list[Written] = [("interval", latex, 4.0), ("nospace", latex.replace(", ", ","), 1.0)]
    right += [("left_right", spaced, 1.0), ("inequality", ineq, 0.5)]
    wrong = [("wrong.brackets", wrongs[0], 2.0), ("wrong.other", wrongs[1], 1.0)]
    statement = (
        f"Find the domain of $f(x) = \\sqrt{{{a} - x}}$ (or the stated variant). "
        "Express your answer in interval notation."
    )
    return Problem("interval", statement, latex, None, tuple(right), tuple(wrong), False, (str(a), str(b)))


def _complex_latex(re: int, im: int, imag_first: bool = False, spaced: bool = True, spaced_i: bool = False) -> str:
    coef = {1: "", -1: "-"}.get(im, str(im))
    i = " i" if spaced_i and coef not in ("", "-") else "i"
    sp = " " if spaced else ""
    if imag_first:
        return f"{coef}{i}{sp}{'+' if re > 0 else '-'}{sp}{abs(re)}"
    mag = {1: "", -1: ""}.get(im, str(abs(im)))
    return f"{re}{sp}{'+' if im > 0 else '-'}{sp}{mag}{i}"


def _complex(rng: random.Random) -> Problem:
    re_, im = rng.choice([i for i in range(-9, 10) if i]), rng.choice([i for i in range(-9, 10) if i])
    latex = _complex_latex(re_, im)
    right: list[Written] = [("standard", latex, 4.0), ("nospace", _complex_latex(re_, im, spaced=False), 1.0)]
    right += [("imag_first", _complex_latex(re_, im, imag_first=True), 1.0)]
    right += [("spaced_i", _complex_latex(re_, im, spaced_i=True), 0.5)]
    wrongs: list[Written] = [("wrong.conjugate", _complex_latex(re_, -im), 2.0)]
    if re_ != im:
        wrongs += [("wrong.swapped", _complex_latex(im, re_), 1.0)]
    wrongs += [("wrong.real", _complex_latex(re_ + 1 if re_ != -1 else 2, im), 1.0)]
    wrong = _pick_distinct(rng, wrongs, {r[1] for r in right}, 2)
    statement = (
        f"Simplify $({re_} + {rng.randint(1, 5)}i)({rng.randint(1, 4)} - i)$ as given. Write your answer as $a + bi$."
    )
    return Problem("complex", statement, latex, None, tuple(right), tuple(wrong), False, (str(re_ * 2),))


def _sci(rng: random.Random) -> Problem:
    mant = rng.randint(11, 99)  # mantissa mant/10
    k = rng.choice([rng.randint(4, 9), -rng.randint(3, 7)])
    m = f"{mant / 10:.1f}"
    value = Fraction(mant, 10) * Fraction(10) ** k
    expanded = f"{int(value)}" if k > 0 else format(float(value), f".{-k + 1}f")
    latex = f"{m} \\times 10^{{{k}}}"
    right: list[Written] = [("times", latex, 4.0), ("cdot", f"{m} \\cdot 10^{{{k}}}", 1.0), ("expanded", expanded, 1.0)]
    if 0 < k < 10:
        right += [("times_nobrace", f"{m} \\times 10^{k}", 1.0), ("expanded_thousands", f"{int(value):,}", 0.5)]
    right += [("e_notation", f"{m}e{k}", 0.3)]
    wrong = [("wrong.exponent", f"{m} \\times 10^{{{k + rng.choice([-1, 1])}}}", 2.0)]
    wrong += [("wrong.mantissa", f"{(mant + 1) / 10:.1f} \\times 10^{{{k}}}", 1.0)]
    gold = latex if rng.random() < 0.7 else expanded
    statement = (
        f"Light travels about $3 \\times 10^8$ m/s. Compute the requested quantity ({mant} units) "
        "in scientific notation."
    )
    return Problem("sci", statement, gold, expanded, tuple(right), tuple(wrong), False, ("3 \\times 10^8",))


def _choice(rng: random.Random) -> Problem:
    letters = "ABCDE"
    letter = rng.choice(letters)
    right: list[Written] = [
        ("paren", f"({letter})", 3.0),
        ("letter", letter, 2.0),
        ("text_paren", f"\\text{{({letter})}}", 1.0),
    ]
    right += [("textbf", f"\\textbf{{({letter})}}", 1.0), ("text_letter", f"\\text{{{letter}}}", 0.5)]
    others = [c for c in letters if c != letter]
    rng.shuffle(others)
    wrong: list[Written] = [(f"wrong.{o}", f"({o})", 2.0 - i * 0.5) for i, o in enumerate(others[:2])]
    gold = rng.choice([letter, f"({letter})", f"\\text{{({letter})}}"])
    opts = " ".join(f"$\\textbf{{({c})}}\\ {rng.randint(1, 60)}$" for c in letters)
    statement = f"How many positive divisors does ${rng.randint(20, 500)}$ have?\n\n{opts}"
    return Problem("choice", statement, gold, letter, tuple(right), tuple(wrong), False, ())


WORDS = [
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    ["even", "odd"],
    ["yes", "no"],
    ["north", "south", "east", "west"],
]


def _text(rng: random.Random) -> Problem:
    words = rng.choice(WORDS)
    word = rng.choice(words)
    right: list[Written] = [
        ("text", f"\\text{{{word}}}", 3.0),
        ("plain", word, 2.0),
        ("textbf", f"\\textbf{{{word}}}", 0.5),
    ]
    if word[0].isupper():
        right += [("lowercase", word.lower(), 0.5)]
    wrong = [("wrong.other", f"\\text{{{w}}}", 1.0) for w in words if w != word][:2]
    gold = f"\\text{{{word}}}" if rng.random() < 0.6 else word
    statement = (
        f"Is the function $f(x) = x^{rng.randint(2, 7)} + {rng.randint(1, 9)}$ even, odd, or neither? "
        "(or the stated variant: answer with a word)"
    )
    return Problem("text", statement, gold, word, tuple(right), tuple(wrong), False, ())


FORMS: list[tuple[Callable[[random.Random], Problem], float]] = [
    (_int, 30.0),
    (_money, 7.0),
    (_unit, 6.0),
    (_frac, 16.0),
    (_decimal, 5.0),
    (_percent, 3.0),
    (_radical, 5.0),
    (_pi, 4.0),
    (_equation, 4.0),
    (_roots, 3.0),
    (_tuple, 3.0),
    (_interval, 2.0),
    (_complex, 2.0),
    (_sci, 1.5),
    (_choice, 4.0),
    (_text, 1.5),
]

# ---------------------------------------------------------------------------------------------
# golds as data sets ship them


def _gsm8k_solution(rng: random.Random, value: str) -> str:
    """GSM8K's format: steps with <<calculator>> annotations, then ``#### n``."""
    a, b = rng.randint(2, 40), rng.randint(2, 30)
    c = rng.randint(1, 50)
    who = rng.choice(PEOPLE)
    lines = [
        f"{who} buys {a} * {b} = <<{a}*{b}={a * b}>>{a * b} items in the first week.",
        f"Then {who} gets {c} more, for {a * b} + {c} = <<{a * b}+{c}={a * b + c}>>{a * b + c} items.",
    ]
    shown = value
    number = Fraction(value)
    if number.denominator == 1 and abs(number) >= 1000 and rng.random() < 0.3:
        shown = f"{int(number):,}"
    total = _terminating(number + c) or str(float(number + c))
    lines.append(f"After giving {c} away, {who} has {total} - {c} = <<{total}-{c}={value}>>{value} left.")
    return "\n".join(lines[rng.randint(0, 1) :]) + f"\n#### {shown}"


def _math_solution(rng: random.Random, latex: str) -> str:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    steps = rng.choice(
        [
            f"We have $x^2 + {a}x + {b} = 0$, so by the quadratic formula the discriminant is ${a * a - 4 * b}$.",
            f"Multiplying both sides by ${a}$ gives ${a}y = {a * b}$, and dividing by ${b}$ gives the value.",
            f"By the Pythagorean theorem, $c^2 = {a}^2 + {b}^2 = {a * a + b * b}$.",
        ]
    )
    return f"{steps} Simplifying, we find that the answer is $\\boxed{{{latex}}}$."


def _ship_gold(rng: random.Random, problem: Problem) -> tuple[str, str]:
    r = rng.random()
    if problem.form == "roots" and r < 0.3:
        return "math_boxes", answer_forms.gold_with_boxes(rng, problem.gold_latex.split(", "))
    if problem.form in ("int", "money", "unit", "percent", "decimal") and problem.gold_plain is not None:
        if r < 0.45 and problem.gsm8k:
            return "gsm8k", _gsm8k_solution(rng, problem.gold_plain)
        if r < 0.7:
            return "bare", problem.gold_plain
        if r < 0.9:
            return "math_solution", _math_solution(rng, problem.gold_latex)
        return "latex_dollars", f"${problem.gold_latex}$"
    if r < 0.45:
        return "math_solution", _math_solution(rng, problem.gold_latex)
    if r < 0.72:
        return "latex", problem.gold_latex
    if r < 0.85:
        return "latex_dollars", f"${problem.gold_latex}$"
    if problem.gold_plain is not None:
        return "bare", problem.gold_plain
    return "latex", problem.gold_latex


# ---------------------------------------------------------------------------------------------
# completions

THINK_LINES = [
    "Okay, so I need to figure out {q}. Let me start by writing down what is given.",
    "We have {a} and {b}, so {a} + {b} = {apb}.",
    "Then {a} times {b} is {atb}. Hmm, that seems too big; let me re-read the question.",
    "Wait, maybe I should divide instead: {atb} / {b} = {a}.",
    "Let me double-check with another approach. If I set it up as an equation, $x + {b} = {apb}$, so $x = {a}$.",
    "So far I have {d}. But hold on, the problem says something else about the remaining part.",
    "Let me verify: plugging {d} back in gives {apb}, which doesn't quite match. Hmm.",
    "Alternatively, I could think about it as $\\frac{{{a}}}{{{b}}}$ of the total, which is about {ratio}.",
    "That gives $\\sqrt{{{sq}}}$ for the length, so roughly {root}.",
    "I think the intermediate result is {d}, and now I need one more step.",
    "Hmm, is it {w}? No, that was from the wrong formula.",
    "Let me recount. {a} minus {b} equals {amb}, and the rest stays the same.",
    "So the total should be {d}... wait, let me make sure I'm not double counting.",
    "Yes, I think that's right. Let me also check the units and the edge cases.",
    "Actually, let me redo the computation carefully: {a} \\cdot {b} = {atb}, then subtract {b} to get {atbmb}.",
]
CONCLUSIONS = [
    "So the answer should be {x}.",
    "Therefore I get {x}.",
    "I'm fairly confident now: {x}.",
]


def _think(rng: random.Random, problem: Problem, mentions: Sequence[str]) -> str:
    n_lines = max(2, min(150, round(rng.lognormvariate(math.log(18), 0.75))))
    a, b = rng.randint(2, 300), rng.randint(2, 40)
    out: list[str] = []
    for _ in range(n_lines):
        d = rng.choice([*problem.distractors, str(rng.randint(2, 2000))]) if problem.distractors else str(a + b)
        w = rng.choice(mentions) if mentions else str(a * 2)
        out.append(
            rng.choice(THINK_LINES).format(
                q="the answer to this problem",
                a=a,
                b=b,
                apb=a + b,
                atb=a * b,
                amb=a - b,
                atbmb=a * b - b,
                ratio=round(a / b, 3),
                sq=a * b,
                root=round(math.sqrt(a * b), 2),
                d=d,
                w=w,
            )
        )
        if rng.random() < 0.15:
            a, b = rng.randint(2, 300), rng.randint(2, 40)
    if mentions:
        out.append(rng.choice(CONCLUSIONS).format(x=f"${rng.choice(mentions)}$"))
    return "\n\n".join(out) if rng.random() < 0.5 else " ".join(out)


def _without_answer(problem: Problem) -> Problem:
    """The problem with the distractors that are its answer left out (for completions that give none)."""
    answers = {problem.gold_latex, problem.gold_plain, *(w[1] for w in problem.right)}
    answers |= {str(Fraction(a)) for a in answers if a and _is_number(a)}
    return replace(problem, distractors=tuple(d for d in problem.distractors if d not in answers))


def _is_number(text: str) -> bool:
    try:
        Fraction(text)
    except (ValueError, ZeroDivisionError):
        return False
    return True


def _summary(rng: random.Random, problem: Problem) -> str:
    lines = [
        "To solve the problem, we set up the relationship between the given quantities.",
        f"1. From the data, we get {rng.choice(problem.distractors) if problem.distractors else rng.randint(2, 99)}.",
        f"2. Combining the two parts gives {rng.randint(2, 500)} before the last step.",
        "3. Applying the final condition yields the result.",
    ]
    return "\n".join(lines[: rng.randint(1, 4)])


def _boxed(rng: random.Random, ans: str) -> str:
    return rng.choice(
        [
            f"Therefore, the final answer is $\\boxed{{{ans}}}$.",
            f"**Final Answer**\n\\[\n\\boxed{{{ans}}}\n\\]",
            f"Thus, the answer is \\(\\boxed{{{ans}}}\\).",
            f"The final answer is $\\boxed{{{ans}}}$. I hope it is correct.",
            f"\\boxed{{{ans}}}",
        ]
    )


def _in_tag(rng: random.Random, ans: str) -> str:
    math = ans if "$" in ans else f"${ans}$"
    inner = rng.choices(
        [ans, math, f"\\boxed{{{ans}}}", f"The answer is {math}."],
        weights=[5, 2, 2, 1],
    )[0]
    return f"<answer>{inner}</answer>" if rng.random() < 0.7 else f"<answer>\n{inner}\n</answer>"


def _no_box(rng: random.Random, ans: str) -> str:
    latexy = "\\" in ans or "^" in ans or "{" in ans
    if latexy and "$" not in ans and rng.random() < 0.5:
        ans = f"${ans}$"
    return rng.choice(
        [
            f"The answer is {ans}.",
            f"**Answer:** {ans}",
            f"Therefore, the final answer is {ans}.",
            f"So the result is {ans}.",
        ]
    )


def _place(rng: random.Random, placement: str, ans: str, slip: str, right: str, thinks: bool) -> tuple[str, str]:
    """The answer part of a completion, and the answer as written there."""
    if placement in answer_forms.PLACEMENTS:
        return answer_forms.place(rng, placement, ans, right, phrased=not thinks)
    if placement == "boxed":
        text = _boxed(rng, ans)
    elif placement == "tag":
        text = _in_tag(rng, ans)
    elif placement == "nobox":
        text = _no_box(rng, ans)
    else:  # multibox: a slip, then the correction; the last box is the final answer
        fix = rng.choice(
            [
                "Wait, I made an arithmetic slip in the last step; redoing it",
                "Hmm, let me double-check that. Actually the second term should be subtracted, so",
                "On re-reading the question, I see I answered the wrong quantity. Correcting this,",
            ]
        )
        text = f"So the answer is $\\boxed{{{slip}}}$.\n\n{fix}: the final answer is $\\boxed{{{ans}}}$."
    return text, ans


PLACEMENTS = ["boxed", "tag", "multibox", "nobox", *answer_forms.PLACEMENTS]  # weights: answer_forms.WEIGHTS


def _pick(rng: random.Random, written: Sequence[Written]) -> Written:
    return rng.choices(list(written), weights=[w[2] for w in written])[0]


def make_mix(n_prompts: int = 250, group: int = 8, seed: int = 1234) -> list[Sample]:
    """``n_prompts * group`` samples; a prompt's ``group`` completions are consecutive and share its gold."""
    rng = random.Random(seed)
    makers = [make for make, _ in FORMS]
    weights = [weight for _, weight in FORMS]
    out: list[Sample] = []
    for g in range(n_prompts):
        problem = rng.choices(makers, weights=weights)[0](rng)
        gold_style, gold = _ship_gold(rng, problem)
        # the group's habits: how often this prompt is solved, its usual answer form and placement
        p_right = rng.betavariate(1.1, 0.9)
        usual_right = _pick(rng, problem.right)
        usual_wrong = problem.wrong[0] if problem.wrong else usual_right
        r1_zero = rng.random() < 0.1
        thinks = r1_zero or rng.random() < 0.88
        usual_place = "tag" if r1_zero else answer_forms.pick(rng, problem.form)
        prompt = (
            R1_ZERO_TEMPLATE.format(problem=problem.statement) if r1_zero else f"{problem.statement}\n{R1_INSTRUCTION}"
        )
        mentions = [w[1] for w in problem.wrong[:2]] + [problem.right[0][1]]
        for _ in range(group):
            u = rng.random()
            if u < p_right:
                outcome = "right"
                surface, ans, _w = usual_right if rng.random() < 0.55 else _pick(rng, problem.right)
                slip = (_pick(rng, problem.wrong) if problem.wrong else ("", "0", 0))[1]
            elif u < p_right + (1 - p_right) * 2 / 3 and problem.wrong:
                outcome = "wrong"
                surface, ans, _w = usual_wrong if rng.random() < 0.6 else _pick(rng, problem.wrong)
                # a wrong final answer after a box of the right one ("correcting" into an error), or another slip
                slip = _pick(rng, problem.right)[1] if rng.random() < 0.5 else str(rng.randint(2, 99))
            else:
                outcome, surface, ans, slip = "none", "-", "", ""
            # reasoning mentions candidate answers; without a think section that text is the answer
            # text, so a completion labelled as having no answer must not conclude with one there
            think_mentions = mentions if rng.random() < 0.6 and (thinks or outcome != "none") else []
            # ... nor state the answer among the numbers met on the way (a distractor may be the value itself)
            said = problem if outcome != "none" else _without_answer(problem)
            think = _think(rng, said, think_mentions)
            if thinks and rng.random() < 0.1:  # a tentative box inside the think section
                think += f"\n\nTentatively, $\\boxed{{{rng.choice(mentions)}}}$, but let me check once more."
            head = f"<think>\n{think}\n</think>\n\n" if thinks else f"Let's solve this step by step.\n\n{think}\n\n"
            if r1_zero:
                head = head.removeprefix("<think>")  # the prompt opens the think section
            label = outcome == "right"
            answer: str | None = ans
            if outcome == "none":
                placement = rng.choices(["noanswer", "cut_think", "cut_answer"], weights=[0.45, 0.35, 0.2])[0]
                if placement == "noanswer":
                    tail = rng.choice(
                        [
                            "",
                            "I wasn't able to finish the computation with confidence.",
                            f"We know the total splits into {rng.randint(2, 40)} parts of {rng.randint(2, 40)} each;"
                            " the remaining step is to combine these with the condition on the last part.",
                            "Let me restate the problem to make sure I understand it before answering.",
                        ]
                    )
                    completion = head + _summary(rng, said) + "\n\n" + tail if tail else head
                    answer = None
                elif placement == "cut_think":
                    body = head[: head.rfind("</think>")] if thinks else head
                    completion = body[: rng.randint(min(len(body), 60), len(body))].rstrip()
                    answer = None
                else:
                    pool = problem.right if rng.random() < 0.6 or not problem.wrong else problem.wrong
                    full_ans = _pick(rng, pool)[1]
                    opener = rng.choice(["Therefore, the final answer is $\\boxed{", "<answer>"])
                    if r1_zero:
                        opener = "<answer>"
                    completion = (
                        head + _summary(rng, said) + "\n\n" + opener + full_ans[: rng.randint(0, len(full_ans))]
                    )
                    surface, answer = "-", None
            else:
                placement = usual_place if rng.random() < 0.7 else answer_forms.pick(rng, problem.form)
                if r1_zero and placement not in ("tag", "multibox"):
                    placement = "tag"
                tail, answer = _place(rng, placement, ans, slip, problem.gold_plain or problem.gold_latex, thinks)
                completion = head + _summary(rng, problem) + "\n\n" + tail
            out.append(
                Sample(
                    prompt=prompt,
                    completion=completion,
                    gold=gold,
                    label=label,
                    kind=f"{problem.form}.{surface}@{placement}",
                    form=problem.form,
                    surface=surface,
                    placement=placement,
                    outcome=outcome,
                    gold_style=gold_style,
                    gold_value=problem.gold_latex,
                    answer=answer,
                    group=g,
                )
            )
    return out


def describe(samples: Sequence[Sample]) -> str:
    """Proportions of a mix: outcomes, forms, placements, gold styles, answer surfaces."""
    n = len(samples)

    def table(title: str, counts: Counter[str], limit: int | None = None) -> list[str]:
        rows = [f"{title}:"]
        for key, c in counts.most_common(limit):
            rows.append(f"  {key:<34} {c:>5}  {100 * c / n:5.1f}%")
        return rows

    lines = [f"{n} samples in {len({s.group for s in samples})} groups"]
    lines += table("outcome", Counter(s.outcome for s in samples))
    lines += table("label", Counter(str(s.label) for s in samples))
    lines += table("form (answer type)", Counter(s.form for s in samples))
    lines += table("placement", Counter(s.placement for s in samples))
    lines += table("gold style (per item)", Counter(s.gold_style for s in samples))
    lines += table(
        "surface, right answers", Counter(f"{s.form}.{s.surface}" for s in samples if s.outcome == "right"), 25
    )
    lines += table(
        "surface, wrong answers", Counter(f"{s.form}.{s.surface}" for s in samples if s.outcome == "wrong"), 10
    )
    lengths = sorted(len(s.completion) for s in samples)
    lines.append(
        f"completion chars: p10 {lengths[n // 10]}, median {lengths[n // 2]}, "
        f"p90 {lengths[9 * n // 10]}, max {lengths[-1]}"
    )
    distinct = [len({s.answer for s in samples if s.group == g and s.answer}) for g in {s.group for s in samples}]
    lines.append(f"distinct answer strings per group: mean {sum(distinct) / len(distinct):.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=250)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=0, help="print this many samples' endings")
    args = parser.parse_args()
    samples = make_mix(args.prompts, args.group, seed=args.seed)
    print(describe(samples))
    for s in random.Random(args.seed).sample(samples, args.show):
        print(f"\n--- {s.kind} label={s.label} gold={s.gold[-60:]!r}\n...{s.completion[-240:]}")


if __name__ == "__main__":
    main()
