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
arithmetic word problems with the worked step, short Python programs with stdin/stdout tests, and
one-sentence writing tasks with an IFEval instruction. ``noisy_completion`` makes the imperfect
completions the miniature model is pre-trained on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


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


# --- math: one-step word problems ---------------------------------------------------------------------------

NAMES = ["Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivy", "Jon", "Kim", "Leo"]
THINGS = ["apples", "books", "coins", "pens", "shells", "stamps", "cards", "eggs", "cups", "balls"]


def _math(rng: random.Random) -> tuple[str, str, int]:
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
    return question, f"{a} {op} {b} = {value}", value


def math_task(rng: random.Random, id: str) -> TaskRow:
    question, step, value = _math(rng)
    solution = f"<think>\n{step}\n</think>\nThe answer is \\boxed{{{value}}}."
    return TaskRow(id, "math", question, solution, gold=str(value))


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
# (what to do, the right line)
CODE_TASKS: list[tuple[str, str]] = [
    ("prints their sum", "print(a + b)"),
    ("prints their difference a - b", "print(a - b)"),
    ("prints their product", "print(a * b)"),
    ("prints the larger of the two", "print(max(a, b))"),
    ("prints the smaller of the two", "print(min(a, b))"),
    ("prints a squared plus b", "print(a * a + b)"),
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


def code_task(rng: random.Random, id: str) -> TaskRow:
    what, line = rng.choice(CODE_TASKS)
    question = rng.choice(CODE_PHRASES).format(what=what)
    params = {"language": "python", "tests": _tests(rng, line), "timeout_s": 5}
    solution = f"<think>\nRead a and b, then {what.removeprefix('prints ')}.\n</think>\n{_program(line)}"
    return TaskRow(id, "code", question, solution, code_params=json.dumps(params))


# --- format: one sentence with an IFEval instruction ---------------------------------------------------------

SENTENCES = {
    "the sea": ["The sea is calm and blue today.", "Waves roll onto the sand, slow and quiet."],
    "a forest": ["Tall trees keep the forest cool and dark.", "Birds sing, high up in the old trees."],
    "the city": ["The city wakes up early and never rests.", "Buses, bikes and people fill the streets."],
    "the moon": ["The moon shines over the quiet hills.", "At night, the moon lights the empty road."],
    "rain": ["Soft rain falls on the roof all night.", "Rain fills the streets, and the air smells fresh."],
    "a garden": ["The garden is full of red and yellow flowers.", "Bees move from flower to flower, busy all day."],
}
END_PHRASE = "Is there anything else?"


def _title(topic: str) -> str:
    return topic.removeprefix("the ").removeprefix("a ").title()


# instruction id -> (request, kwargs, follow(sentence, topic), miss(sentence, topic))
FORMAT_RULES: dict[str, tuple[str, dict[str, Any], Callable[[str, str], str], Callable[[str, str], str]]] = {
    "detectable_format:title": (
        "Give it a title wrapped in double angular brackets, such as <<title>>.",
        {},
        lambda s, t: f"<<{_title(t)}>>\n{s}",
        lambda s, t: s,
    ),
    "startend:quotation": (
        "Wrap your entire response in double quotation marks.",
        {},
        lambda s, t: f'"{s}"',
        lambda s, t: s,
    ),
    "punctuation:no_comma": (
        "Do not use any commas.",
        {},
        lambda s, t: s.replace(",", ""),
        lambda s, t: s if "," in s else s.replace(" ", ", ", 1),
    ),
    "startend:end_checker": (
        f"End your response with the exact phrase '{END_PHRASE}'.",
        {"end_phrase": END_PHRASE},
        lambda s, t: f"{s} {END_PHRASE}",
        lambda s, t: s,
    ),
}


def format_task(rng: random.Random, id: str) -> TaskRow:
    topic = rng.choice(sorted(SENTENCES))
    rule = rng.choice(sorted(FORMAT_RULES))
    request, kwargs, follow, _ = FORMAT_RULES[rule]
    sentence = rng.choice(SENTENCES[topic])
    question = f"Write one sentence about {topic}. {request}"
    solution = f"<think>\nA sentence about {topic}. {request}\n</think>\n{follow(sentence, topic)}"
    params = {"instruction_id_list": [rule], "kwargs": [kwargs]}
    return TaskRow(id, "format", question, solution, ifeval_params=json.dumps(params))


MAKERS: dict[str, Callable[[random.Random, str], TaskRow]] = {
    "math": math_task,
    "code": code_task,
    "format": format_task,
}


def synthetic_rows(n: int, kinds: dict[str, float], *, seed: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` task rows, kinds drawn by their shares; the same seed gives the same rows."""
    rng = random.Random(seed)
    names = sorted(k for k, share in kinds.items() if share > 0)
    weights = [kinds[k] for k in names]
    return [MAKERS[rng.choices(names, weights)[0]](rng, f"{prefix}-{i}").as_row() for i in range(n)]


def noisy_completion(row: dict[str, Any], rng: random.Random, *, wrong_answer: float, no_format: float) -> str:
    """A completion for the pre-training corpus: the row's solution, sometimes wrong, sometimes unformatted.

    A wrong math answer keeps the right worked step and boxes another number; wrong code uses another
    operation; a wrong format answer ignores the instruction. An unformatted completion has no
    ``<think>`` section. This is what the model learns to imitate, and what RL then has to correct.
    """
    kind, solution = str(row["kind"]), str(row["solution"])
    think, answer = solution.split("</think>\n", 1)
    if rng.random() < wrong_answer:
        if kind == "math":
            gold = int(row["gold"])
            wrong = gold + rng.choice([-2, -1, 1, 2, 10])
            answer = f"The answer is \\boxed{{{wrong}}}."
        elif kind == "code":
            line = answer.split("\n")[2]
            answer = _program(rng.choice([other for other in OPERATIONS if other != line]))
        else:
            rule = json.loads(row["ifeval_params"])["instruction_id_list"][0]
            topic = row["question"].removeprefix("Write one sentence about ").split(".")[0]
            sentence = rng.choice(SENTENCES[topic])
            answer = FORMAT_RULES[rule][3](sentence, topic)
    if rng.random() < no_format:
        return answer
    return f"{think}</think>\n{answer}"


def general_rows(n: int, *, seed: int) -> list[dict[str, str]]:
    """Non-reasoning prompt/completion pairs (stage 3's "general samples"): short factual replies."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        topic = rng.choice(sorted(SENTENCES))
        out.append({"question": f"Say something about {topic}.", "completion": rng.choice(SENTENCES[topic])})
    return out


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
