"""Round-two answer forms for the generated mix (bench/mathmix.py): answers as models state them
outside a plain ``\\boxed{}``, each written so that its label stays true by construction.

Placements (the ``@…`` of a sample's kind):

* ``subject``: "Final Answer: The value of $f(x)$ is 34." (a formula names the subject; the value
  follows the last "is"), or a one-line "… there are 34 of them.";
* ``display``: an unboxed ``\\[`` / ``$$`` display over three lines, or a box with a stray ``$``;
* ``lang``: an answer phrase in another language ("答案是34个。", "Ответ: 34.", "La réponse est 34."),
  sometimes with a check line with other numbers after it;
* ``prose_choice`` (multiple choice): "therefore I think it's B", "The answer is for sure D, it can't be
  A or B", a reply that starts "D. …"; a wrong outcome is sometimes a hedge "B or D" that includes the
  right letter (still wrong);
* ``final_line`` (letters and words): a last line that is only ``$E$`` or ``$odd$``;
* ``labelled`` (pairs and roots): ``$x = \\boxed{2}$ and $y = \\boxed{5}$`` against a gold listing both.

Surfaces: ``decimal_comma`` (``3,5``, ``0,125``: never a 1-3 digit group followed by exactly three
digits, which reads as thousands) and ``eq_pair_prose`` (``$x = 2$ or $x = -3$``); and the gold style
``math_boxes``: a MATH solution that ends with one box per root.
"""

from __future__ import annotations

import random
import re

PLACEMENTS = ("subject", "display", "lang", "prose_choice", "final_line", "labelled")
NUMERIC_FORMS = frozenset(
    {"int", "money", "unit", "frac", "decimal", "percent", "radical", "pi", "sci", "complex", "tuple", "interval"}
)
# (language, statement): {ans} is the answer, {unit} a counter or word after a plain number
LANG_STATEMENTS = [
    ("zh", "答案是{ans}{unit}。", "个"),
    ("zh", "答：一共是{ans}{unit}。", "个"),
    ("ja", "答えは {ans} {unit}です。", "個"),
    ("ko", "정답은 {ans}{unit}입니다.", "개"),
    ("fr", "La réponse est {ans} {unit}.", "élèves"),
    ("de", "Die Antwort lautet {ans} {unit}.", "Stück"),
    ("es", "La respuesta es {ans} {unit}.", "manzanas"),
    ("it", "La risposta è {ans}.", ""),
    ("pt", "A resposta é {ans}.", ""),
    ("ru", "Ответ: {ans} {unit}.", "штук"),
    ("uk", "Відповідь: {ans}.", ""),
    ("pl", "Odpowiedź: {ans}.", ""),
    ("tr", "Cevap: {ans}.", ""),
    ("vi", "Đáp số: {ans}.", ""),
    ("id", "Jadi, jawabannya adalah {ans}.", ""),
    ("ar", "الإجابة هي {ans}.", ""),
    ("he", "התשובה היא {ans}.", ""),
    ("hi", "अतः उत्तर {ans} है।", ""),
    ("th", "คำตอบคือ {ans}", ""),
    ("el", "Η απάντηση είναι {ans}.", ""),
    ("sv", "Svaret är {ans}.", ""),
    ("nl", "Het antwoord is {ans}.", ""),
]
CHECK_LINES = ["验证：3 + 4 = 7，7 × 2 = 14。", "Vérification : 2 × 6 = 12 et 12 − 5 = 7.", "(Check: 14 - 5 = 9.)"]
SUBJECTS = [
    "**Final Answer:** The value of $f(x)$ at the point found above is {ans}.",
    "Final Answer: The requested quantity for $ABCD$ is {ans}.",
    "So the number asked for, $N$, is {ans}.",
    "Counting the cases of $k$ one by one, the total is {ans}.",
]
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _math(ans: str) -> str:
    """``ans`` as prose writes it: a plain number as is, anything else in $…$."""
    return ans if _PLAIN_NUMBER.fullmatch(ans) or re.search(r"(?<!\\)\$", ans) else f"${ans}$"


WEIGHTS = {  # of all placements (mathmix's and these) for an answer: those that do not apply are left out
    "boxed": 0.50, "tag": 0.12, "multibox": 0.08, "nobox": 0.14,
    "subject": 0.05, "display": 0.04, "lang": 0.05, "prose_choice": 0.25, "final_line": 0.10, "labelled": 0.25,
}  # fmt: skip


def pick(rng: random.Random, form: str) -> str:
    """A placement for an answer of this form."""
    names = [name for name in WEIGHTS if applies(name, form)]
    return rng.choices(names, weights=[WEIGHTS[name] for name in names])[0]


def applies(placement: str, form: str) -> bool:
    """Whether ``placement`` is a way to state an answer of this form."""
    if placement in ("subject", "lang"):
        return form in NUMERIC_FORMS
    if placement == "display":
        return form not in ("choice", "text")
    if placement == "prose_choice":
        return form == "choice"
    if placement == "final_line":
        return form in ("choice", "text")
    if placement == "labelled":
        return form in ("tuple", "roots")
    return True


def place(rng: random.Random, placement: str, ans: str, right: str, phrased: bool) -> tuple[str, str]:
    """The answer part of a completion in a round-two placement, and the answer as written.

    ``right``: the correct answer (a letter for multiple choice), for hedges that include it.
    ``phrased``: the text before may hold an answer phrase ("So the answer should be 16" in reasoning
    without a think section), which a later statement without one does not override: use one.
    """
    if placement == "subject":
        return rng.choice(SUBJECTS[:1] if phrased else SUBJECTS).format(ans=_math(ans)), ans
    if placement == "display":
        return _display(rng, ans, phrased), ans
    if placement == "lang":
        _, statement, unit = rng.choice(LANG_STATEMENTS)
        unit = unit if _PLAIN_NUMBER.fullmatch(ans) and rng.random() < 0.6 else ""
        text = statement.format(ans=_math(ans), unit=unit).replace("  ", " ").replace(" .", ".")
        return (text + "\n" + rng.choice(CHECK_LINES) if rng.random() < 0.4 else text), ans
    if placement == "prose_choice":
        return _prose_choice(rng, ans, right, phrased)
    if placement == "final_line":
        word = re.sub(r"\\text\{(.*?)\}|\\textbf\{(.*?)\}", lambda m: m.group(1) or m.group(2) or "", ans)
        word = word.strip("()") if re.fullmatch(r"\(?[A-E]\)?", word) else word
        return f"Checking each candidate against the conditions leaves only one.\n${word}$", word
    if placement == "labelled":
        return _labelled(rng, ans), ans
    raise ValueError(placement)


def _display(rng: random.Random, ans: str, phrased: bool) -> str:
    r = rng.random()
    if r < 0.4 or (phrased and r < 0.7):
        return f"**Final Answer**\n\\[\n{ans}\n\\]"
    if r < 0.7:
        return f"Putting it together:\n$$\n{ans}\n$$"
    return f"So the answer is $\\boxed{{{ans}$}}."  # a $ stray inside the box


def _prose_choice(rng: random.Random, ans: str, right: str, phrased: bool) -> tuple[str, str]:
    letter = re.search(r"[A-E]", ans)
    stated = letter.group() if letter else ans
    others = [c for c in "ABCDE" if c not in (stated, right)]
    rng.shuffle(others)
    if stated != right and rng.random() < 0.3:  # a wrong outcome written as a hedge that includes the right letter
        pair = sorted([stated, right])
        return rng.choice([f"The answer is {pair[0]} or {pair[1]}.", f"答案是{pair[0]}或{pair[1]}。"]), "/".join(pair)
    with_phrase = [
        f"The answer is for sure {stated}, it can't be {others[0]} or {others[1]}.",
        f"The answer: {stated}, since the others break the condition.",
        f"经过比较，答案是{stated}。",
        f"La bonne réponse est {stated}, pas {others[0]}.",
        f"Die richtige Antwort ist {stated}, nicht {others[0]}.",
        f"正解は{stated}です。",
        f"정답은 {stated}입니다.",
    ]
    without = [
        f"Comparing the values, therefore I think it's {stated}",
        f"Not {others[0]}, since the count is too small; it's ({stated}).",
        f"{others[0]}、{others[1]}都不满足条件，所以选{stated}。",
        f"{stated}. It can't be {others[0]}, because the total would be odd.",
    ]
    return rng.choice(with_phrase if phrased else with_phrase + without), stated


def _labelled(rng: random.Random, ans: str) -> str:
    """One labelled box per coordinate or root: "$x = \\boxed{2}$ and $y = \\boxed{5}$"."""
    bare = ans.replace("\\left", "").replace("\\right", "").replace("\\{", "").replace("\\}", "").strip()
    if "=" in bare or "\\text" in bare or "$" in bare:
        return f"Therefore the answer is $\\boxed{{{ans}}}$."
    ordered = bare.startswith("(")
    parts = [p.strip() for p in bare.strip("()").split(",")]
    names = ["x", "y", "z"] if ordered else ["x_1", "x_2", "x_3"]
    boxes = [f"${n} = \\boxed{{{p}}}$" for n, p in zip(names, parts, strict=False)]
    return "Therefore " + (" and ".join(boxes) if rng.random() < 0.6 else ", ".join(boxes)) + "."


def decimal_comma(decimal: str) -> str | None:
    """``decimal`` written with a decimal comma, unless that would read as thousands (``1,250``)."""
    whole, _, fraction = decimal.lstrip("-").partition(".")
    if not fraction or (len(fraction) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")):
        return None
    return decimal.replace(".", ",")


def gold_with_boxes(rng: random.Random, roots: list[str]) -> str:
    """A MATH solution that boxes each root: the gold is the list of them."""
    boxes = [f"$x = \\boxed{{{r}}}$" for r in roots]
    joined = " or ".join(boxes) if rng.random() < 0.5 else ", ".join(boxes[:-1]) + ", and " + boxes[-1]
    return f"Factoring the quadratic and setting each factor to zero, we get {joined}."
