"""IFEval's ``detectable_format:*``, ``combination:*`` and ``startend:*``: the shape of the response.

Bullets, highlights, sections, JSON, a title, a fixed answer, two answers, the prompt repeated first,
the closing phrase, quotation marks around it all.

The counts are IFEval's, quirks included (a line that is only ``*`` takes the next line into its
bullet; ``***bold***`` is a ``*…*`` highlight and a ``**…**`` one), but computed in linear time
where IFEval's patterns can backtrack (a bullet pattern that starts with ``^\\s*`` rescans every
blank line below each line start; ``<<[^\\n]+>>`` rescans the line from every ``<<``).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from . import arguments
from .registry import instruction

CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
_NON_SPACE = re.compile(r"\S")
_HIGHLIGHT = re.compile(r"\*[^\n*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n*]*\*\*")
_JSON_FENCES = ("```json", "```Json", "```JSON", "```")
RESPONSE_SEPARATOR = "******"


def count_bullets(text: str) -> int:
    """IFEval's bullet count: lines that start (after white space) with ``*`` and not ``**``, plus with ``-``."""
    return _count_marked_lines(text, "*") + _count_marked_lines(text, "-")


def _count_marked_lines(text: str, mark: str) -> int:
    """Matches of ``^\\s*<mark>…$`` (multi-line, as ``re.findall`` finds them), in linear time.

    From a line start the match skips all white space, line breaks included, so every line start in
    one run of white space leads to the same character: it is looked up once per run. A ``*`` must be
    followed by some character other than ``*`` (a line break too: the bullet then runs to the end of
    the next line); the match ends at the end of the line it has reached.
    """
    n = len(text)
    count, line_start = 0, 0
    run_from, run_end = -1, -1  # the last white-space run looked up: [run_from, run_end) is all white space
    while line_start < n:
        if not run_from <= line_start <= run_end:
            found = _NON_SPACE.search(text, line_start)
            run_from, run_end = line_start, found.start() if found else n
        first = run_end
        matched = first < n and text[first] == mark
        if matched and mark == "*":
            matched = first + 1 < n and text[first + 1] != "*"
            rest = first + 2
        else:
            rest = first + 1
        if not matched:
            following = text.find("\n", line_start)
            if following < 0:
                return count
            line_start = following + 1
            continue
        count += 1
        end = text.find("\n", rest)
        if end < 0:
            return count
        # the search goes on from the end of the match, the line break: a line start only right after another
        line_start = end if text[end - 1] == "\n" else end + 1
    return count


def count_highlights(text: str) -> int:
    """IFEval's count of ``*highlighted*`` and ``**highlighted**`` spans with some non-blank text."""
    single = sum(1 for m in _HIGHLIGHT.finditer(text) if m.group().strip("*").strip())
    double = sum(1 for m in _DOUBLE_HIGHLIGHT.finditer(text) if m.group()[2:-2].strip())
    return single + double


@instruction(
    "detectable_format:number_bullet_lists",
    kwargs=("num_bullets",),
    description="Exactly `num_bullets` markdown bullet points (lines starting with '* ' or '- ').",
)
def number_bullet_lists(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return count_bullets(response) == arguments.integer(kwargs, "num_bullets")


@instruction(
    "detectable_format:constrained_response",
    description='The response contains "My answer is yes.", "My answer is no." or "My answer is maybe.".',
)
def constrained_response(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return any(option in response for option in CONSTRAINED_RESPONSES)


@instruction(
    "detectable_format:number_highlighted_sections",
    kwargs=("num_highlights",),
    description="At least `num_highlights` sections highlighted with markdown, as *highlighted section*.",
)
def number_highlighted_sections(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return count_highlights(response) >= arguments.integer(kwargs, "num_highlights")


@functools.lru_cache(maxsize=256)
def _section_header(splitter: str) -> re.Pattern[str]:
    return re.compile(rf"\s?{re.escape(splitter)}\s?\d+\s?")


@instruction(
    "detectable_format:multiple_sections",
    kwargs=("section_spliter", "num_sections"),
    description=(
        "At least `num_sections` sections, each started by `section_spliter` and a number, "
        'such as "SECTION 1" (IFEval spells the kwarg section_spliter).'
    ),
)
def multiple_sections(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    splitter = arguments.text(kwargs, "section_spliter").strip()
    expected = arguments.integer(kwargs, "num_sections")
    found = sum(1 for _ in _section_header(splitter).finditer(response))
    return found >= expected


@instruction(
    "detectable_format:json_format",
    description="The whole response is JSON, optionally in a ```json fenced block.",
)
def json_format(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    value = response.strip()
    for fence in _JSON_FENCES:  # one after another, as IFEval removes them
        value = value.removeprefix(fence)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError:
        return False
    except RecursionError:  # nested deeper than the parser goes: not an answer anyone asked for
        return False
    return True


@instruction(
    "detectable_format:title",
    description="A title in double angular brackets, such as <<poem of joy>>.",
)
def title(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    for line in response.split("\n"):
        start = line.find("<<")
        end = line.rfind(">>") + 2
        # IFEval's <<[^\n]+>> takes the first << and the last >> of the line, something between them
        if start >= 0 and end >= start + 5 and line[start:end].lstrip("<").rstrip(">").strip():
            return True
    return False


@instruction(
    "combination:two_responses",
    description=(
        "Two different responses separated by six asterisks ******, and nothing else: no empty part "
        "between two separators."
    ),
)
def two_responses(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    parts = response.split(RESPONSE_SEPARATOR)
    answers = []
    for index, part in enumerate(parts):
        if part.strip():
            answers.append(part.strip())
        elif 0 < index < len(parts) - 1:
            return False
    return len(answers) == 2 and answers[0] != answers[1]


@instruction(
    "combination:repeat_prompt",
    kwargs=("prompt_to_repeat",),
    description=(
        "The response starts with `prompt_to_repeat` word for word (any case, surrounding white space "
        "ignored); without the kwarg, with the item's prompt."
    ),
)
def repeat_prompt(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    if kwargs.get("prompt_to_repeat") is not None:
        to_repeat = arguments.text(kwargs, "prompt_to_repeat")
    elif prompt.strip():
        to_repeat = prompt
    else:
        raise ValueError("prompt_to_repeat is required when the item has no prompt")
    return response.strip().lower().startswith(to_repeat.strip().lower())


@instruction(
    "startend:end_checker",
    kwargs=("end_phrase",),
    description=(
        "The response ends with `end_phrase` (any case; surrounding white space and double quotes "
        "around the response ignored)."
    ),
)
def end_checker(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    phrase = arguments.text(kwargs, "end_phrase").strip().lower()
    return response.strip().strip('"').lower().endswith(phrase)


@instruction("startend:quotation", description="The whole response is wrapped in double quotation marks.")
def quotation(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    value = response.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'
