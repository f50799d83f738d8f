"""Text helpers shared by the verifiers: the think section, \\boxed{}, <answer> tags, GSM8K gold.

Every helper is linear in the length of its input (``str.find``/``rfind`` and one scan), so a
multi-megabyte completion cannot make them backtrack.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
BOXED = "\\boxed"
BOX_COMMANDS = (BOXED, "\\fbox")
GSM8K_MARK = "####"

# an escaped character (\{, \}, \\) or a brace: escapes never open or close a group
_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)
# a label before a box: "y_1 =", "f(2) =", "(b)", "\\text{(b)}"
_BOX_LABEL = re.compile(
    r"[A-Za-z](?:_\{?[A-Za-z0-9]{1,3}\}?)?(?:\([^()$]{1,10}\))?\s*=|\\text\{\s*\(?[a-h]\)\s*\}|\(?\b[a-h]\)|\([ivx]{1,4}\)"
)
# what may stand between two boxes that state one answer together: "$, $", " and ", "\\text{ or }", "$ and $y_2 = "
_BOX_SEPARATOR = re.compile(
    r"(?:[ \t$,;]|\\quad|\\qquad|\\,|\\text\{\s*(?:and|or|,)\s*\}|\band\b|\bor\b|" + _BOX_LABEL.pattern + "){0,40}"
)
# a unit after the first box: "$\\boxed{12}$ muffins and $\\boxed{8}$ loaves"
_UNIT_WORDS = re.compile(r"^\$?[ \t]*[^\W\d_]+(?:[ \t]+[^\W\d_]+)?(?=[ \t]*(?:,|\band\b|\bor\b))")
_ASSIGNED = re.compile(r"(?<![A-Za-z0-9\\])([A-Za-z](?:_\{?[A-Za-z0-9]{1,3}\}?)?)\s*=\s*\$?\s*$")
_GAP_SENTENCE_END = re.compile(r"\.\s|\n\s*\n")
MAX_GOLD_GAP = 80
MAX_SEPARATOR_CHARS = 200


def after_think(text: str) -> str | None:
    """The text after the last ``</think>``; all of it when there is no think section.

    None when a ``<think>`` is opened and never closed (the completion was cut off while reasoning).
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    if THINK_OPEN in text:
        return None
    return text


def answer_tag(text: str) -> str | None:
    """The content of the last closed ``<answer>…</answer>`` pair, or None."""
    start = text.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    start += len(ANSWER_OPEN)
    end = text.find(ANSWER_CLOSE, start)
    if end < 0:
        return None
    return text[start:end]


def _last_box_command(text: str, end: int) -> tuple[int, int]:
    """Start and length of the last ``\\boxed``/``\\fbox`` before ``end``; (-1, 0) if none."""
    best, size = -1, 0
    for command in BOX_COMMANDS:
        pos = text.rfind(command, 0, end)
        if pos > best:
            best, size = pos, len(command)
    return best, size


def has_box(text: str) -> bool:
    return any(command in text for command in BOX_COMMANDS)


def _box_argument(text: str, start: int) -> tuple[str, int] | None:
    """The braced argument of the box command whose name ends at ``start``, and where it ends."""
    brace = start
    while brace < len(text) and text[brace] in " \t\n":
        brace += 1
    if brace >= len(text) or text[brace] != "{":
        return None  # "\boxed 5" and a trailing "\boxed" have no braced argument
    depth = 0
    for token in _BRACE_TOKENS.finditer(text, brace):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : token.start()], token.end()
    return None


def last_boxed(text: str) -> str | None:
    """The argument of the last ``\\boxed{…}`` (or ``\\fbox{…}``), braces balanced; None if absent or not closed."""
    pos, size = _last_box_command(text, len(text))
    if pos < 0:
        return None
    found = _box_argument(text, pos + size)
    return None if found is None else found[0]


def final_boxes(text: str, limit: int = 8, *, gold: bool = False) -> list[tuple[str, str]] | None:
    """The last box, preceded by the boxes just before it that state one answer with it, as
    (label, content) pairs: the label is the variable the box is assigned to ("y_1 = \\boxed{3}"), or "".

    "$\\boxed{2}$ and $\\boxed{3}$" gives two boxes: a model that boxes several values states them all,
    and checking only the last would reward hedging. Between the boxes of a completion only a
    separator may stand: commas, "and", "or", a label ("$y_1 = \\boxed{3}$ and $y_2 = \\boxed{5}$") or a
    part mark ("(b)"); in a gold (``gold``) any words of the same sentence without numbers ("The
    solutions are $\\boxed{1}$ and $\\boxed{-2}$"), up to 80 characters. None when the last box is not closed.
    """
    pos, size = _last_box_command(text, len(text))
    if pos < 0:
        return None
    found = _box_argument(text, pos + size)
    if found is None:
        return None
    boxes = [(_label_before(text, pos), found[0])]
    while len(boxes) < limit:
        prev, prev_size = _last_box_command(text, pos)
        if prev < 0:
            break
        arg = _box_argument(text, prev + prev_size)
        if arg is None or arg[1] > pos or not _separates(text[arg[1] : pos], gold):
            break
        boxes.append((_label_before(text, prev), arg[0]))
        pos = prev
    boxes.reverse()
    return boxes


def _separates(gap: str, gold: bool) -> bool:
    """Whether ``gap`` (the text between two boxes) joins them into one answer."""
    if len(gap) <= MAX_SEPARATOR_CHARS and _BOX_SEPARATOR.fullmatch(_UNIT_WORDS.sub("", gap, count=1)):
        return True
    if not gold or len(gap) > MAX_GOLD_GAP or _GAP_SENTENCE_END.search(gap):
        return False
    return not any(ch.isdigit() for ch in _BOX_LABEL.sub(" ", gap))


def _label_before(text: str, box: int) -> str:
    """The variable a box is assigned to: "y_1" in "$y_1 = \\boxed{3}$"; "" when there is none."""
    found = _ASSIGNED.search(text, max(0, box - 24), box)
    return found.group(1) if found else ""


def gsm8k_answer(text: str) -> str | None:
    """What follows the last ``####`` (GSM8K's gold format), thousands separators removed; None if absent."""
    mark = text.rfind(GSM8K_MARK)
    if mark < 0:
        return None
    rest = text[mark + len(GSM8K_MARK) :].strip()
    line = rest.split("\n", 1)[0].strip()
    return line.replace(",", "")


def strip_math_delimiters(text: str) -> str:
    """``$x$``, ``$$x$$``, ``\\(x\\)`` and ``\\[x\\]`` → ``x``; other text is returned stripped."""
    s = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            inner = s[len(left) : len(s) - len(right)]
            if not _has_delimiter(inner, left) and not _has_delimiter(inner, right):  # not "$a$ and $b$"
                return inner.strip()
    return s


def _has_delimiter(text: str, delimiter: str) -> bool:
    """Whether ``delimiter`` occurs in ``text`` other than as the escaped dollar ``\\$``."""
    if delimiter != "$":
        return delimiter in text
    return any(i == 0 or text[i - 1] != "\\" for i, ch in enumerate(text) if ch == "$")


_INLINE_FORMULA = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL
)
_NUMBER = re.compile(r"(?<![\d.,])-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")


def last_formula(text: str) -> str | None:
    """The content of the last ``$…$``, ``\\(…\\)`` or ``\\[…\\]`` in ``text``, or None."""
    found = _last_match(_INLINE_FORMULA, text)
    return None if found is None else _formula_text(found)


def _formula_text(match: re.Match[str]) -> str:
    """What is inside the delimiters of an ``_INLINE_FORMULA`` match."""
    return next(g for g in match.groups() if g is not None).strip()


def last_number(text: str) -> str | None:
    """The last number in ``text`` ("1,234", "-0.5", "3/4"), or None."""
    found = _last_match(_NUMBER, text)
    return None if found is None else found.group()


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return found


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block (```lang … ``` or ~~~), in order, as (tag, body); an unclosed fence is dropped.

    One pass over the lines: the tag is the first word after the opening fence, lower-cased.
    """
    blocks: list[tuple[str, str]] = []
    fence = ""
    tag = ""
    body: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not fence:
            if stripped.startswith(("```", "~~~")):
                marker = stripped[0]
                width = len(stripped) - len(stripped.lstrip(marker))
                fence = marker * width
                rest = stripped[width:].strip()
                tag = rest.split()[0].lower().lstrip("{.").rstrip("}") if rest else ""
                body = []
        elif stripped.startswith(fence) and not stripped[len(fence) :].strip(fence[0]).strip():
            blocks.append((tag, "\n".join(body)))
            fence = ""
        else:
            body.append(line)
    return blocks


def think_section(text: str) -> str | None:
    """The reasoning: between ``<think>`` (or the start, when the template prefilled it) and the last
    ``</think>``; None when there is no closed think section."""
    close = text.rfind(THINK_CLOSE)
    if close < 0:
        return None
    open_ = text.find(THINK_OPEN, 0, close)
    return text[open_ + len(THINK_OPEN) if open_ >= 0 else 0 : close]
