"""Judge prompt templates: the built-in ones, custom text, one safe placeholder pass, label neutralising.

A template is a system text and a user text with named placeholders (``{question}``, ``{reference}``,
``{answer}``, ...) and the verdict labels the judge must end with (``VERDICT: EQUIVALENT``). Filling
is one pass over the template text: a value that itself contains ``{answer}`` or a label is inserted
as it is and never expanded again. Text the graded model wrote has the verdict labels (and the
``VERDICT:`` marker) neutralised first, so an answer that says "VERDICT: EQUIVALENT" cannot win by
echo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MARKER = "VERDICT"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Template:
    """A judge prompt: ``labels`` are the verdicts it may end with, best first."""

    name: str
    system: str
    user: str
    labels: tuple[str, ...]

    def placeholders(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.system)) | set(_PLACEHOLDER.findall(self.user))

    def choices(self) -> list[str]:
        """The exact replies of constrained-choice mode: the verdict lines."""
        return [verdict_line(label) for label in self.labels]

    def render(self, values: Mapping[str, str]) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled in one pass; a missing value raises KeyError."""
        messages = []
        if self.system:
            messages.append({"role": "system", "content": fill(self.system, values)})
        messages.append({"role": "user", "content": fill(self.user, values)})
        return messages


def verdict_line(label: str) -> str:
    return f"{MARKER}: {label}"


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` by ``values[name]`` in one left-to-right pass (inserted text is never re-read)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return _PLACEHOLDER.sub(one, text)


def neutralise(text: str, labels: Sequence[str]) -> str:
    """The graded text with each verdict label and the verdict marker defused.

    A label (any case, as a whole word) becomes the same word with its letters spaced out in
    lower case, which no verdict parser reads as a label and a judge can still read as prose.
    """
    words = sorted({*labels, MARKER}, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(w) for w in words) + r")(?![A-Za-z0-9_])", re.I)
    return pattern.sub(lambda m: "-".join(m.group(1).lower()), text)


_GRADER = "You are a careful, impartial grader."

EQUIVALENCE = Template(
    name="equivalence",
    system=_GRADER,
    user=(
        "Decide whether the candidate's final answer to the question is equivalent to the reference answer. "
        "Equivalent means the same value or meaning, whatever the notation or wording; ignore how it was derived.\n\n"
        "Question:\n{question}\n\n"
        "Reference answer:\n{reference}\n\n"
        "Candidate answer:\n{answer}\n\n"
        "End with one line: VERDICT: EQUIVALENT or VERDICT: DIFFERENT"
    ),
    labels=("EQUIVALENT", "DIFFERENT"),
)

QUALITY_WITH_REFERENCE = Template(
    name="quality_reference",
    system=_GRADER,
    user=(
        "Judge whether the response answers the question correctly and helpfully. "
        "A reference answer is given to help you.\n\n"
        "Question:\n{question}\n\n"
        "Reference answer:\n{reference}\n\n"
        "Response:\n{answer}\n\n"
        "End with one line: VERDICT: GOOD or VERDICT: BAD"
    ),
    labels=("GOOD", "BAD"),
)

QUALITY = Template(
    name="quality",
    system=_GRADER,
    user=(
        "Judge whether the response answers the question correctly and helpfully.\n\n"
        "Question:\n{question}\n\n"
        "Response:\n{answer}\n\n"
        "End with one line: VERDICT: GOOD or VERDICT: BAD"
    ),
    labels=("GOOD", "BAD"),
)

PAIRWISE = Template(
    name="pairwise",
    system=_GRADER,
    user=(
        "Compare two responses to the same question and decide which is better: more correct first, "
        "then more helpful. The order in which they are shown does not matter.\n\n"
        "Question:\n{question}\n\n"
        "Response A:\n{answer_a}\n\n"
        "Response B:\n{answer_b}\n\n"
        "End with one line: VERDICT: A, VERDICT: B or VERDICT: TIE"
    ),
    labels=("A", "B", "TIE"),
)

RUBRIC_CRITERION = Template(
    name="rubric_criterion",
    system=_GRADER,
    user=(
        "Grade the response on one criterion.\n\n"
        "Question:\n{question}\n\n"
        "Response:\n{answer}\n\n"
        "Criterion: {criterion}\n"
        "Choices, worst to best:\n{choices}\n\n"
        "End with one line: VERDICT: followed by exactly one of the choices."
    ),
    labels=(),  # the criterion's own choices
)

RUBRIC_ALL = Template(
    name="rubric",
    system=_GRADER,
    user=(
        "Grade the response on every criterion below.\n\n"
        "Question:\n{question}\n\n"
        "Response:\n{answer}\n\n"
        "Criteria, each with its choices from worst to best:\n{criteria}\n\n"
        'End with one line: VERDICT: followed by a JSON object mapping each criterion to one of its choices, '
        'for example VERDICT: {example}'
    ),
    labels=(),
)

BUILTIN: dict[str, Template] = {t.name: t for t in (EQUIVALENCE, QUALITY, QUALITY_WITH_REFERENCE)}


def custom(text: str, labels: Sequence[str], system: str = _GRADER) -> Template:
    return Template(name="custom", system=system, user=text, labels=tuple(labels))
