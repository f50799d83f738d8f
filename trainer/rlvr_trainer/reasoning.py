"""How the miniature world's completions reason, and the ways R1-Zero-like reasoning goes wrong in it.

A worked solution is a few steps: sentences that exist in each of the world's two languages, and
language-neutral ones (a calculation, a line of code). Rendered readably, the reasoning is what R1's
curated cold-start data looks like: numbered steps, one paragraph each, all in the target language.

The pre-training corpus also holds the habits each later R1 stage is there to remove, so that every
stage has a defect to fix and a verifier that sees it:

- ``run_on`` (stage 1, cold start): the steps run together in one paragraph, without step markers,
  with a phrase repeated, the tags kept but not on lines of their own (the format half-kept).
  ``reasoning_steps``, ``repetition``, ``tag_count`` and ``long_paragraphs`` see it; ``format`` does not.
- ``mixed`` (stage 2, language consistency; stage 3's ``mixed_language`` filter): after the first,
  the worded steps are written in the other language, as R1-Zero switched languages mid-thought.
- ``code`` (stage 3's ``code_in_reasoning`` filter): the program's key line, fenced, in the reasoning.
- ``skew``: a completion with one of the habits above is more often right (its wrong-answer share is
  ``1 - skew`` times the corpus's, the others' ``1 + skew`` times). So RL on correctness alone drifts
  toward them, as R1-Zero's reasoning grew less readable and mixed languages: stage 0 has a cost that the
  later stages are there to repair.
- ``rude`` (stage 4, alignment): a math or code answer ends with a contemptuous remark (``RUDE``), which
  no rule reward sees and the reward model (``tiny_graders.reward_pairs``) is trained to score down.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

LANGUAGES = ("en", "de")
ASK = {"en": "Think in English.", "de": "Think in German."}  # what a prompt says when it names its language
ANSWER = {"en": "The answer is", "de": "Die Antwort ist"}
RUDE = ("What a stupid question.", "Only a fool would need help with this.", "Work it out yourself next time.")


@dataclass(frozen=True)
class Step:
    """One step of the reasoning: a sentence per language, or one language-neutral ``text``."""

    en: str = ""
    de: str = ""
    text: str = ""  # language-neutral: a calculation, a fenced block
    fenced: bool = False  # a code block: never numbered

    def say(self, language: str) -> str:
        return self.text or (self.de if language == "de" else self.en)

    @property
    def worded(self) -> bool:
        return not self.text


def other(language: str) -> str:
    """The world's other language."""
    return "en" if language == "de" else "de"


def mixed(steps: Sequence[Step], language: str) -> list[str]:
    """Each step's language when the reasoning switches: the first worded step in ``language``, the rest not."""
    out, first = [], True
    for step in steps:
        out.append(language if first or not step.worded else other(language))
        first = first and not step.worded
    return out


def readable(steps: Sequence[Step], languages: Sequence[str]) -> str:
    """Numbered steps, a paragraph each (a fenced block as it is)."""
    parts, number = [], 0
    for step, language in zip(steps, languages, strict=True):
        if step.fenced:
            parts.append(step.say(language))
        else:
            number += 1
            parts.append(f"{number}. {step.say(language)}")
    return "\n\n".join(parts)


def run_on(steps: Sequence[Step], languages: Sequence[str]) -> str:
    """One paragraph, no step markers, the first two steps said twice: hard to read, and too long."""
    said = [step.say(language) for step, language in zip(steps, languages, strict=True)]
    return " ".join([*said[:2], *said[:2], *said[2:]])


def with_code(steps: Sequence[Step], line: str) -> list[Step]:
    """The steps with ``line`` of Python, fenced, before the last one."""
    block = Step(text=f"```python\n{line}\n```", fenced=True)
    return [*steps[:-1], block, steps[-1]]


@dataclass(frozen=True)
class Habits:
    """The shares of corpus completions with each defect (see the module's docstring)."""

    run_on: float = 0.0
    mixed_language: float = 0.0
    code_in_reasoning: float = 0.0
    skew: float = 0.0
    rude: float = 0.0


NO_HABITS = Habits()


def think(
    steps: Sequence[Step], language: str, rng: random.Random, habits: Habits, code_line: str | None
) -> tuple[str, bool]:
    """The reasoning section, ``<think>`` to ``</think>``, with the defects ``habits`` draws; and whether it has one."""
    draws = [rng.random() for _ in range(3)]  # always three draws: a share of 0 leaves the others' draws alone
    code = code_line is not None and draws[0] < habits.code_in_reasoning
    if code_line is not None and code:
        steps = with_code(steps, code_line)
    switches = draws[1] < habits.mixed_language
    languages = mixed(steps, language) if switches else [language] * len(steps)
    if draws[2] < habits.run_on:  # the tags kept, their lines not: `format` passes, `tag_count` does not
        return f"<think>{run_on(steps, languages)}</think>", True
    return clean_think(steps, languages), code or switches


def clean_think(steps: Sequence[Step], languages: Sequence[str]) -> str:
    """Readable reasoning in its tags, each on a line of its own."""
    return f"<think>\n{readable(steps, languages)}\n</think>"
