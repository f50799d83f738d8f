"""Copying instructions of the extended set (IFEvalG / Tülu 3): repeat the request, a span of it, or a phrase.

Copies are compared case-insensitively with whitespace runs collapsed, so a copy that differs only in
line wrapping or capitalisation counts; any other change (a word, a punctuation mark) does not.
"""

from __future__ import annotations

from typing import Any

from .extended_text import int_kwarg, str_kwarg
from .registry import instruction

SOURCE = "extended"
REPEAT_SEPARATOR = "******"


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _bare(token: str) -> str:
    """A whitespace token without the punctuation around it, case-folded."""
    return token.strip(".,;:!?\"'“”‘’()[]{}*_").casefold()


@instruction(
    "copy:copy",
    kwargs=("prompt_to_repeat",),
    description="The response is a verbatim copy of the instruction, nothing else; "
    "prompt_to_repeat: the text to copy (compared ignoring case and whitespace runs).",
    source=SOURCE,
)
def check_copy(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return _normalized(response) == _normalized(str_kwarg(kwargs, "prompt_to_repeat"))


@instruction(
    "copy:copying_simple",
    kwargs=("prompt_to_repeat",),
    description="Repeat the request without change and do not answer it; "
    "prompt_to_repeat: the request to repeat (compared ignoring case and whitespace runs).",
    source=SOURCE,
)
def check_copying_simple(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return _normalized(response) == _normalized(str_kwarg(kwargs, "prompt_to_repeat"))


@instruction(
    "copy:copying_multiple",
    kwargs=("prompt_to_repeat", "N"),
    description="Repeat the request without change N times, separated by 6 asterisks (******), and nothing else; "
    "prompt_to_repeat: the request; N: how many copies (at least 1).",
    source=SOURCE,
)
def check_copying_multiple(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    target = _normalized(str_kwarg(kwargs, "prompt_to_repeat"))
    copies = response.split(REPEAT_SEPARATOR)
    return len(copies) == int_kwarg(kwargs, "N", minimum=1) and all(_normalized(c) == target for c in copies)


@instruction(
    "new:copy_span_idx",
    kwargs=("prompt_to_repeat", "n_start", "n_end"),
    description="The response is exactly the span of prompt_to_repeat between character indices n_start and n_end; "
    "n_start: 0-based start index; n_end: end index (the span prompt_to_repeat[n_start:n_end] "
    "or the one including n_end are both accepted).",
    source=SOURCE,
)
def check_copy_span_idx(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    source = str_kwarg(kwargs, "prompt_to_repeat")
    start = int_kwarg(kwargs, "n_start")
    end = int_kwarg(kwargs, "n_end")
    if not start < end <= len(source):
        raise ValueError(f"need 0 <= n_start < n_end <= {len(source)}, got n_start={start}, n_end={end}")
    answer = _normalized(response)
    if not answer:
        return False
    return answer in {_normalized(source[start:end]), _normalized(source[start : end + 1])}


def _phrase_variants(tokens: list[str], phrase: list[str]) -> list[list[str]]:
    """The windows of ``tokens`` framed like ``phrase`` (same length, same first and last word), left to right.

    Windows do not overlap: after a match the search resumes past its last word.
    """
    size = len(phrase)
    found: list[list[str]] = []
    index = 0
    while index + size <= len(tokens):
        window = tokens[index : index + size]
        if window[0] == phrase[0] and window[-1] == phrase[-1]:
            found.append(window)
            index += size
        else:
            index += 1
    return found


@instruction(
    "copy:repeat_phrase",
    kwargs=("phrase", "small_n"),
    description="Repeat the phrase exactly small_n times, each time replacing exactly one inner word "
    "(first and last words kept); phrase: the phrase (at least 3 words); small_n: number of repetitions.",
    source=SOURCE,
)
def check_repeat_phrase(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    phrase = [bare for bare in (_bare(token) for token in str_kwarg(kwargs, "phrase").split()) if bare]
    times = int_kwarg(kwargs, "small_n", minimum=1)
    if len(phrase) < 3:
        raise ValueError(f"phrase needs at least 3 words to change an inner one, got {kwargs['phrase']!r}")
    tokens = [bare for bare in (_bare(token) for token in response.split()) if bare]
    variants = _phrase_variants(tokens, phrase)
    if len(variants) != times:
        return False
    return all(sum(a != b for a, b in zip(variant[1:-1], phrase[1:-1], strict=True)) == 1 for variant in variants)
