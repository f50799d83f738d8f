"""Realistic math completions for benchmarks: the forms models write, right and wrong, seeded.

Each sample is (prompt, completion, gold) with a gold as data sets ship it (bare value, LaTeX,
GSM8K's ``#### n``, or a MATH solution ending in ``\\boxed{}``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Sample:
    prompt: str
    completion: str
    gold: str
    kind: str


def _int_value(rng: random.Random) -> tuple[str, list[str], str]:
    n = rng.choice([rng.randint(2, 99), rng.randint(100, 9999), rng.randint(10_000, 2_000_000)])
    plain = str(n)
    forms = [plain, f"{n:,}" if n >= 1000 else plain, f"{n}.0" if rng.random() < 0.2 else plain]
    return plain, forms, str(n + rng.choice([-10, -1, 1, 2, 7]))


def _fraction_value(rng: random.Random) -> tuple[str, list[str], str]:
    f = Fraction(rng.randint(1, 40), rng.randint(2, 12))
    while f.denominator == 1:
        f = Fraction(rng.randint(1, 40), rng.randint(2, 12))
    latex = f"\\frac{{{f.numerator}}}{{{f.denominator}}}"
    forms = [latex, f"\\dfrac{{{f.numerator}}}{{{f.denominator}}}", f"{f.numerator}/{f.denominator}"]
    if f.denominator in (2, 4, 5, 8, 10):
        forms.append(str(float(f)))
    wrong = Fraction(f.numerator + 1, f.denominator)
    return latex, forms, f"\\frac{{{wrong.numerator}}}{{{wrong.denominator}}}"


def _radical_value(rng: random.Random) -> tuple[str, list[str], str]:
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
    latex = f"{a}\\sqrt{{{b}}}"
    return latex, [latex, f"{a} \\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}"], f"{a + 1}\\sqrt{{{b}}}"


def _pi_value(rng: random.Random) -> tuple[str, list[str], str]:
    a = rng.randint(2, 30)
    return f"{a}\\pi", [f"{a}\\pi", f"{a} \\pi", f"\\pi \\cdot {a}"], f"{a * 2}\\pi"


def _negative_value(rng: random.Random) -> tuple[str, list[str], str]:
    n = -rng.randint(1, 500)
    return str(n), [str(n), f"x = {n}", f"{n}"], str(-n)


VALUES = [_int_value, _int_value, _fraction_value, _radical_value, _pi_value, _negative_value]

THINK_FILLER = [
    "Let me set up the problem. We have {a} items and {b} groups.",
    "First compute {a} + {b} = {c}, then check it against the constraint.",
    "Hmm, wait: {a} times {b} is {d}, not what we need. Let me redo this.",
    "So the intermediate value is {c}, and dividing by {b} gives roughly {e}.",
    "Double-checking with a different approach: {a} - {b} = {f}.",
]


def _think(rng: random.Random, lines: int) -> str:
    a, b = rng.randint(2, 300), rng.randint(2, 40)
    nums = {"a": a, "b": b, "c": a + b, "d": a * b, "e": round((a + b) / b, 2), "f": a - b}
    return " ".join(rng.choice(THINK_FILLER).format(**nums) for _ in range(lines))


def _answer_text(rng: random.Random, answer: str) -> str:
    style = rng.random()
    if style < 0.55:
        return f"Therefore, the final answer is $\\boxed{{{answer}}}$."
    if style < 0.7:
        return f"<answer>{answer}</answer>"
    if style < 0.8:
        return f"I first wrote $\\boxed{{0}}$, which was a slip. Correcting it: $\\boxed{{{answer}}}$."
    if style < 0.9:
        return f"The answer is {answer}."
    return f"Final answer: \\boxed{{{answer}}}"


def _gold_as_shipped(rng: random.Random, gold: str, is_int: bool) -> str:
    r = rng.random()
    if is_int and r < 0.4:
        return f"We add the parts step by step.\n#### {gold}"
    if r < 0.6:
        return f"Working through the algebra we find the value is $\\boxed{{{gold}}}$."
    return gold


def make_samples(n: int, seed: int = 1234) -> list[Sample]:
    """``n`` samples: about 60% right, 25% wrong, 10% without an answer, 5% cut off."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for i in range(n):
        make = rng.choice(VALUES)
        gold, forms, wrong = make(rng)
        prompt = f"Problem {i}: compute the requested quantity and put the final answer in \\boxed{{}}."
        think = f"<think>{_think(rng, rng.randint(2, 12))}</think>\n"
        r = rng.random()
        if r < 0.60:
            kind, completion = "right", think + _answer_text(rng, rng.choice(forms))
        elif r < 0.85:
            kind, completion = "wrong", think + _answer_text(rng, wrong)
        elif r < 0.95:
            kind, completion = "no_answer", think + "I am not sure how to finish this problem."
        else:
            kind, completion = "cut_off", think[: rng.randint(10, max(11, len(think) - 5))]
        is_int = make is _int_value
        out.append(Sample(prompt, completion, _gold_as_shipped(rng, gold, is_int), kind))
    return out
