"""Task rows: the prompts every stage trains on, and the synthetic set the miniature recipe uses.

A task row is a flat dict (one row of a ``datasets.Dataset`` or one line of a JSONL file):

| column | type | meaning |
|---|---|---|
| ``id`` | str | unique |
| ``kind`` | ``math`` / ``code`` / ``format`` | which verifier decides correctness |
| ``question`` | str | the user's request, put into the recipe's prompt template |
| ``solution`` | str or null | a correct R1-style completion (``<think>…</think>`` then the answer): few-shot examples |
| ``gold`` | str or null | the ``math`` verifier's ``gold`` |
| ``code_params`` | JSON text or null | the ``code`` verifier's params (``language``, ``tests``, …) |
| ``ifeval_params`` | JSON text or null | the ``ifeval`` verifier's params (``instruction_id_list``, ``kwargs``) |
| ``language`` | str or null | the reasoning's target language (ISO 639-1); null: the recipe's ``data.language`` |

Params travel as JSON text so that rows of different kinds fit one Arrow schema; the client's TRL
adapter reads them with ``params_column``. The synthetic generator is deterministic for a seed: small
arithmetic word problems, short Python programs with stdin/stdout tests, and one-sentence writing tasks
with an IFEval instruction, each with a worked solution in numbered steps (``reasoning.py``), in English
or German as the row's ``language`` asks. ``noisy_completion`` makes the imperfect completions the
miniature model is pre-trained on: wrong answers, no format, and the reasoning habits each later R1
stage is there to remove.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .reasoning import ANSWER, ASK, NO_HABITS, RUDE, Habits, Step, clean_think, think

COLUMNS = ("id", "kind", "question", "solution", "gold", "code_params", "ifeval_params", "language")


@dataclass(frozen=True)
class TaskRow:
    id: str
    kind: str
    question: str
    solution: str | None = None
    gold: str | None = None
    code_params: str | None = None
    ifeval_params: str | None = None
    language: str | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Worked:
    """A synthetic task and its worked solution: the reasoning's steps, the right final answer, wrong ones."""

    row: TaskRow
    steps: tuple[Step, ...]
    answer: str
    wrong: tuple[str, ...]
    code_line: str | None = None  # a code task's key line, which a completion may put in its reasoning

    @property
    def language(self) -> str:
        return self.row.language or "en"


def _worked(
    row: TaskRow, steps: tuple[Step, ...], answer: str, wrong: Sequence[str], code_line: str | None = None
) -> Worked:
    """The task with its readable solution (numbered steps in the target language, then the answer) filled in."""
    solution = f"{clean_think(steps, [row.language or 'en'] * len(steps))}\n{answer}"
    return Worked(replace(row, solution=solution), steps, answer, tuple(wrong), code_line)


def read_rows(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Task rows from JSONL files; a row missing ``id``, ``kind`` or ``question`` is an error naming the line."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [c for c in ("id", "kind", "question") if not row.get(c)]
            if missing:
                raise ValueError(f"{path}:{number}: task row lacks {missing}")
            for column in ("code_params", "ifeval_params"):
                if isinstance(row.get(column), dict):
                    row[column] = json.dumps(row[column])
            rows.append({c: row.get(c) for c in COLUMNS})
    return rows


def _asked(question: str, language: str | None) -> str:
    """The question, stating the reasoning's language when the row has one."""
    return question if language is None else f"{question} {ASK[language]}"


# --- math: one-step word problems ---------------------------------------------------------------------------

NAMES = ["Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivy", "Jon", "Kim", "Leo"]
THINGS = ["apples", "books", "coins", "pens", "shells", "stamps", "cards", "eggs", "cups", "balls"]
MATH_STEPS = {
    "+": Step("We add the two numbers.", "Wir addieren die beiden Zahlen."),
    "-": Step("We take the second number away from the first.", "Wir ziehen die zweite Zahl von der ersten ab."),
    "*": Step("We multiply the two numbers.", "Wir multiplizieren die beiden Zahlen."),
}


def _math(rng: random.Random) -> tuple[str, str, str, int]:
    name, things = rng.choice(NAMES), rng.choice(THINGS)
    op = rng.choice("+-*")
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    if op == "+":
        question = f"{name} has {a} {things} and gets {b} more. How many {things} does {name} have now?"
    elif op == "-":
        a, b = max(a, b) + rng.randint(0, 5), min(a, b)
        question = f"{name} has {a} {things} and gives away {b}. How many {things} are left?"
    else:
        question = f"{name} has {a} bags with {b} {things} in each bag. How many {things} are there in all?"
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return question, op, f"{a} {op} {b} = {value}", value


def math_task(rng: random.Random, id: str, language: str | None = None) -> Worked:
    question, op, calculation, value = _math(rng)
    said = ANSWER[language or "en"]
    steps = (
        MATH_STEPS[op],
        Step(text=calculation),
        Step(f"So the result is {value}.", f"Also ist das Ergebnis {value}."),
    )
    wrong = [f"{said} \\boxed{{{value + d}}}." for d in (-2, -1, 1, 2, 10)]
    row = TaskRow(id, "math", _asked(question, language), gold=str(value), language=language)
    return _worked(row, steps, f"{said} \\boxed{{{value}}}.", wrong)


# --- code: short Python programs ----------------------------------------------------------------------------

# what the program prints (its last line) and what that line computes
OPERATIONS: dict[str, Callable[[int, int], int]] = {
    "print(a + b)": lambda a, b: a + b,
    "print(a - b)": lambda a, b: a - b,
    "print(a * b)": lambda a, b: a * b,
    "print(max(a, b))": max,
    "print(min(a, b))": min,
    "print(a * a + b)": lambda a, b: a * a + b,
    "print(a)": lambda a, b: a,
}
# (what to do, the right line, what it prints in German)
CODE_TASKS: list[tuple[str, str, str]] = [
    ("prints their sum", "print(a + b)", "ihre Summe"),
    ("prints their difference a - b", "print(a - b)", "ihre Differenz a - b"),
    ("prints their product", "print(a * b)", "ihr Produkt"),
    ("prints the larger of the two", "print(max(a, b))", "die größere der beiden Zahlen"),
    ("prints the smaller of the two", "print(min(a, b))", "die kleinere der beiden Zahlen"),
    ("prints a squared plus b", "print(a * a + b)", "a zum Quadrat plus b"),
]
CODE_PHRASES = [
    "Write a Python program that reads two integers a and b from one line and {what}.",
    "Write a program in Python: read two integers a and b (on one line) and {what}.",
]


def _program(line: str) -> str:
    return f"```python\na, b = map(int, input().split())\n{line}\n```"


def _tests(rng: random.Random, line: str) -> list[dict[str, str]]:
    """Three stdin/stdout cases on which every other operation prints something else at least once."""
    right = OPERATIONS[line]
    while True:
        cases = [(rng.randint(-20, 50), rng.randint(-20, 50)) for _ in range(3)]
        others = [op for other, op in OPERATIONS.items() if other != line]
        if all(any(op(a, b) != right(a, b) for a, b in cases) for op in others):
            return [{"stdin": f"{a} {b}\n", "stdout": f"{right(a, b)}\n"} for a, b in cases]


def code_task(rng: random.Random, id: str, language: str | None = None) -> Worked:
    what, line, german = rng.choice(CODE_TASKS)
    question = rng.choice(CODE_PHRASES).format(what=what)
    params = {"language": "python", "tests": _tests(rng, line), "timeout_s": 5}
    steps = (
        Step("We read a and b from the input.", "Wir lesen a und b aus der Eingabe."),
        Step(f"The program {what}.", f"Das Programm gibt {german} aus."),
        Step("One print call is enough.", "Ein Aufruf von print genügt."),
    )
    wrong = [_program(other) for other in OPERATIONS if other != line]
    row = TaskRow(id, "code", _asked(question, language), code_params=json.dumps(params), language=language)
    return _worked(row, steps, _program(line), wrong, code_line=line)


# --- format: one sentence with an IFEval instruction ---------------------------------------------------------

# every sentence names its topic's noun (TOPIC_NOUNS): the general task's check that a reply is on topic
SENTENCES = {
    "the sea": ["The sea is calm and blue today.", "Waves roll in from the sea, slow and quiet."],
    "a forest": ["Tall trees keep the forest cool and dark.", "Birds sing, high up in the old forest."],
    "the city": ["The city wakes up early and never rests.", "Buses, bikes and people fill the city."],
    "the moon": ["The moon shines over the quiet hills.", "At night, the moon lights the empty road."],
    "rain": ["Soft rain falls on the roof all night.", "Rain fills the streets, and the air smells fresh."],
    "a garden": ["The garden is full of red and yellow flowers.", "Bees fly all day in the garden, busy and loud."],
}
TOPIC_NOUNS = {"the sea": "sea", "a forest": "forest", "the city": "city", "the moon": "moon", "rain": "rain",
               "a garden": "garden"}  # fmt: skip
TOPICS_DE = {"the sea": "dem Meer", "a forest": "einem Wald", "the city": "der Stadt", "the moon": "dem Mond",
             "rain": "dem Regen", "a garden": "einem Garten"}  # fmt: skip
END_PHRASE = "Is there anything else?"


def _title(topic: str) -> str:
    return topic.removeprefix("the ").removeprefix("a ").title()


# instruction id -> (request, kwargs, follow(sentence, topic), miss(sentence, topic), the rule as a step)
FORMAT_RULES: dict[str, tuple[str, dict[str, Any], Callable[[str, str], str], Callable[[str, str], str], Step]] = {
    "detectable_format:title": (
        "Give it a title wrapped in double angular brackets, such as <<title>>.",
        {},
        lambda s, t: f"<<{_title(t)}>>\n{s}",
        lambda s, t: s,
        Step("It needs a title in double angular brackets.", "Er braucht einen Titel in doppelten spitzen Klammern."),
    ),
    "startend:quotation": (
        "Wrap your entire response in double quotation marks.",
        {},
        lambda s, t: f'"{s}"',
        lambda s, t: s,
        Step("The whole reply goes in quotation marks.", "Die ganze Antwort steht in Anführungszeichen."),
    ),
    "punctuation:no_comma": (
        "Do not use any commas.",
        {},
        lambda s, t: s.replace(",", ""),
        lambda s, t: s if "," in s else s.replace(" ", ", ", 1),
        Step("It must not use any commas.", "Er darf keine Kommas enthalten."),
    ),
    "startend:end_checker": (
        f"End your response with the exact phrase '{END_PHRASE}'.",
        {"end_phrase": END_PHRASE},
        lambda s, t: f"{s} {END_PHRASE}",
        lambda s, t: s,
        Step("It ends with the exact phrase asked for.", "Er endet genau mit dem verlangten Satz."),
    ),
}


def format_task(rng: random.Random, id: str, language: str | None = None) -> Worked:
    topic = rng.choice(sorted(SENTENCES))
    rule = rng.choice(sorted(FORMAT_RULES))
    request, kwargs, follow, miss, rule_step = FORMAT_RULES[rule]
    sentence = rng.choice(SENTENCES[topic])
    question = f"Write one sentence about {topic}. {request}"
    steps = (
        Step(f"The sentence is about {topic}.", f"Der Satz handelt von {TOPICS_DE[topic]}."),
        rule_step,
        Step("One sentence is enough.", "Ein Satz genügt."),
    )
    params = {"instruction_id_list": [rule], "kwargs": [kwargs]}
    row = TaskRow(id, "format", _asked(question, language), ifeval_params=json.dumps(params), language=language)
    wrong = [miss(other, topic) for other in SENTENCES[topic]]
    return _worked(row, steps, follow(sentence, topic), wrong)


MAKERS: dict[str, Callable[[random.Random, str, str | None], Worked]] = {
    "math": math_task,
    "code": code_task,
    "format": format_task,
}


def synthetic_tasks(
    n: int, kinds: dict[str, float], *, seed: int, prefix: str, languages: dict[str, float] | None = None
) -> list[Worked]:
    """``n`` worked tasks, kinds drawn by their shares; the same seed gives the same tasks.

    ``languages`` (shares of ``reasoning.LANGUAGES``): each row's target language, drawn by its share and
    stated in the question ("Think in German."); without it the rows name none (the recipe's applies).
    """
    rng = random.Random(seed)
    names = sorted(k for k, share in kinds.items() if share > 0)
    weights = [kinds[k] for k in names]
    spoken = sorted(k for k, share in (languages or {}).items() if share > 0)
    shares = [(languages or {})[k] for k in spoken]
    out = []
    for i in range(n):
        kind = rng.choices(names, weights)[0]
        language = rng.choices(spoken, shares)[0] if spoken else None
        out.append(MAKERS[kind](rng, f"{prefix}-{i}", language))
    return out


def synthetic_rows(
    n: int, kinds: dict[str, float], *, seed: int, prefix: str, languages: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """The rows of ``synthetic_tasks``."""
    return [task.row.as_row() for task in synthetic_tasks(n, kinds, seed=seed, prefix=prefix, languages=languages)]


def noisy_completion(
    task: Worked, rng: random.Random, *, wrong_answer: float, no_format: float, habits: Habits = NO_HABITS
) -> str:
    """A completion for the pre-training corpus: the solution, sometimes wrong, unformatted or badly reasoned.

    A wrong answer keeps the right reasoning and ends in another number, another operation's program or a
    sentence that ignores the instruction. An unformatted completion is the answer alone, with no
    ``<think>`` section. ``habits`` are the reasoning's defects (``reasoning.think``) and the rude remark
    after an answer. This is what the model learns to imitate, and what the stages then have to correct.
    """
    reasoning, habit = think(task.steps, task.language, rng, habits, task.code_line)
    unformatted = rng.random() < no_format
    skew = 0.0 if unformatted else (-habits.skew if habit else habits.skew)
    answer = rng.choice(task.wrong) if rng.random() < wrong_answer * (1 + skew) else task.answer
    remark = rng.choice(RUDE)
    if task.row.kind != "format" and rng.random() < habits.rude:  # a remark would break a format instruction
        answer = f"{answer}\n{remark}"
    return answer if unformatted else f"{reasoning}\n{answer}"


def general_rows(n: int, *, seed: int) -> list[dict[str, str]]:
    """Non-reasoning prompt/completion pairs (stage 3's "general samples"): short factual replies."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        topic = rng.choice(sorted(SENTENCES))
        out.append({"question": f"Say something about {topic}.", "completion": rng.choice(SENTENCES[topic])})
    return out


def general_eval_rows(n: int, *, seed: int) -> list[dict[str, Any]]:
    """Held-out general prompts (stage 3's general task): "Tell me about {topic}.", a wording no training or corpus
    prompt uses. A reply passes (``ifeval``, all or nothing, on the whole completion) when it names the topic's noun
    and reasons about nothing: no ``<think>``, as the general samples answer."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = rng.choice(sorted(SENTENCES))
        params = {
            "instruction_id_list": ["keywords:existence", "keywords:forbidden_words"],
            "kwargs": [{"keywords": [TOPIC_NOUNS[topic]]}, {"forbidden_words": ["think"]}],
            "all_or_nothing": True,
            "think": "keep",
        }
        rows.append({"id": f"general-{i}", "kind": "general", "question": f"Tell me about {topic}.",
                     "ifeval_params": json.dumps(params)})  # fmt: skip
    return rows


def read_general(paths: Iterable[str | Path], *, completions: bool) -> list[dict[str, str]]:
    """General rows from JSONL files: a ``question`` each and, with ``completions``, a ``completion``."""
    needed = ("question", "completion") if completions else ("question",)
    rows = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [c for c in needed if not isinstance(row.get(c), str) or not row[c].strip()]
            if missing:
                hint = " (a stage without a teacher takes the completions as they are)" if completions else ""
                raise ValueError(f"{path}:{number}: general row lacks {missing}{hint}")
            rows.append({c: row[c] for c in needed})
    return rows


def general_set(n: int, files: Sequence[str | Path], *, seed: int, completions: bool) -> list[dict[str, str]]:
    """``n`` general rows: drawn from ``files`` (all of them when fewer), else synthetic ones."""
    if not files:
        return general_rows(n, seed=seed)
    rows = read_general(files, completions=completions)
    return random.Random(seed).sample(rows, min(n, len(rows)))
