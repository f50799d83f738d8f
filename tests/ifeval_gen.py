"""A deterministic generator of IFEval items: responses that follow or miss each of the 25 instructions.

``generate(seed)`` makes, for every instruction type, responses built to sit on both sides of the
threshold and on the edges IFEval's checkers have (case, punctuation, blank lines, markdown, first
and last lines that loose mode removes), with kwargs as IFEval's data spells them. Most items also
carry one or two other instructions with random kwargs, checked against the same response.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ifeval_samples import ENGLISH, IFEVAL_LANGUAGE_CODES, LANGUAGES

SEED = 20250525
RELATIONS = ("less than", "at least")
KEYWORDS = ["sleep", "river", "Carnegie", "mandatory", "fox", "team", "season", "train", "report", "Dog", "art"]
FIRST_WORDS = ["summary", "however", "first", "the", "bonjour", "weekend", "therefore", "Yes"]
SPLITTERS = ["Section", "SECTION", "PARAGRAPH", "Paragraph", "Day", "PART", "Part", "Slide", "Chapter"]
END_PHRASES = [
    "Any other questions?",
    "Is there anything else I can help with?",
    "Peace!",
    "Let me know if you have additional questions.",
]
PREAMBLES = ["Sure! Here is my answer:", "**Answer**", "Here you go.", "Of course, happy to help"]
POSTAMBLES = ["Hope this helps!", "Let me know if you need anything else, thanks.", "*Good luck*", "---"]
CAPITAL_WORDS = ["NASA", "DON'T", "WELL-KNOWN", "U.S.A.", "I", "A", "OK", "3D", "CANNOT", "HELLO,WORLD", "IT'S", "ÉTÉ"]
NOISE_WORDS = ["hello", "world's", "e-mail", "naïve", "co-op", "x²", "snake_case", "3.14", "हिन्दी", "don't", "--", "…"]


@dataclass
class Case:
    key: int
    instruction_id_list: list[str]
    kwargs: list[dict[str, Any]]
    response: str
    prompt: str = "Write a response that follows the instructions."
    meta: dict[str, Any] = field(default_factory=dict)


def _sentences(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(ENGLISH) for _ in range(k))


def _decorate(rng: random.Random, body: str) -> str:
    """Sometimes a preamble line, a closing line or markdown emphasis: what loose mode forgives."""
    roll = rng.random()
    if roll < 0.2:
        body = f"{rng.choice(PREAMBLES)}\n{body}"
    elif roll < 0.35:
        body = f"{body}\n{rng.choice(POSTAMBLES)}"
    elif roll < 0.45:
        body = f"{rng.choice(PREAMBLES)}\n\n{body}\n\n{rng.choice(POSTAMBLES)}"
    elif roll < 0.5:
        body = f"**{body}**"
    if rng.random() < 0.1:
        body = f"  \n{body}\n  "
    return body


def _language_text(rng: random.Random, code: str) -> str:
    pool = LANGUAGES[code]
    return " ".join(rng.sample(pool, rng.randint(2, min(4, len(pool)))))


# --- one generator per instruction: (response, kwargs, meta) ------------------------------------------------

Made = tuple[str, dict[str, Any], dict[str, Any]]


def _existence(rng: random.Random) -> Made:
    keywords = rng.sample(KEYWORDS, rng.randint(1, 3))
    words = _sentences(rng, rng.randint(1, 4)).split()
    for keyword in keywords:
        if rng.random() < 0.7:
            form = rng.choice([keyword, keyword.upper(), keyword.lower(), keyword + "ing", "un" + keyword])
            words.insert(rng.randint(0, len(words)), form)
    return _decorate(rng, " ".join(words)), {"keywords": keywords}, {}


def _frequency(rng: random.Random) -> Made:
    keyword, threshold = rng.choice(KEYWORDS), rng.randint(1, 5)
    count = max(0, threshold + rng.randint(-2, 2))
    words = _sentences(rng, rng.randint(1, 3)).split()
    for _ in range(count):
        form = rng.choice([keyword, keyword.upper(), keyword.capitalize(), keyword + "s", f"({keyword})"])
        words.insert(rng.randint(0, len(words)), form)
    kwargs = {
        "keyword": rng.choice([keyword, f" {keyword} "]),
        "frequency": threshold,
        "relation": rng.choice(RELATIONS),
    }
    return _decorate(rng, " ".join(words)), kwargs, {}


def _forbidden(rng: random.Random) -> Made:
    forbidden = rng.sample(KEYWORDS, rng.randint(1, 3))
    words = _sentences(rng, rng.randint(1, 3)).split()
    if rng.random() < 0.5:
        word = rng.choice(forbidden)
        form = rng.choice([word, word.upper(), word + "s", word + ".", f'"{word}"', "re" + word, word + "-like"])
        words.insert(rng.randint(0, len(words)), form)
    return _decorate(rng, " ".join(words)), {"forbidden_words": forbidden}, {}


def _letter(rng: random.Random) -> Made:
    letter = rng.choice(string.ascii_lowercase)
    text = _sentences(rng, rng.randint(1, 4))
    extra = rng.randint(0, 6)
    text += " " + " ".join(rng.choice([letter, letter.upper()]) * rng.randint(1, 3) for _ in range(extra))
    count = text.lower().count(letter)
    threshold = max(1, count + rng.randint(-2, 2))
    kwargs = {
        "letter": rng.choice([letter, letter.upper()]) if rng.random() < 0.2 else letter,
        "let_frequency": threshold,
        "let_relation": rng.choice(RELATIONS),
    }
    return _decorate(rng, text), kwargs, {}


def _language(rng: random.Random) -> Made:
    code = rng.choice([*IFEVAL_LANGUAGE_CODES, "en", "nl", "tr", "zh", "el"])
    text = _language_text(rng, code)
    roll = rng.random()
    if roll < 0.1:
        text = text.upper()
    elif roll < 0.2:
        text = text.lower()
    elif roll < 0.3:
        text = f"{text}\n\n{_language_text(rng, 'en')}"  # a mixed response: mostly the language, or not
    wanted = code if rng.random() < 0.6 and code in IFEVAL_LANGUAGE_CODES else rng.choice(IFEVAL_LANGUAGE_CODES)
    return _decorate(rng, text), {"language": wanted}, {"language": code}


def _number_sentences(rng: random.Random) -> Made:
    k = rng.randint(1, 8)
    text = _sentences(rng, k)
    return (
        _decorate(rng, text),
        {"num_sentences": max(1, k + rng.randint(-2, 2)), "relation": rng.choice(RELATIONS)},
        {},
    )


def _number_paragraphs(rng: random.Random) -> Made:
    k = rng.randint(1, 5)
    parts = [_sentences(rng, rng.randint(1, 2)) for _ in range(k)]
    divider = rng.choice(["\n\n***\n\n", "\n***\n", " *** ", "***", "\n\n* * *\n\n", "\n****\n"])
    text = divider.join(parts)
    roll = rng.random()
    if roll < 0.1:
        text = f"***\n{text}\n***"
    elif roll < 0.15:
        text = text.replace(divider, f"{divider}***{divider}", 1)  # an empty paragraph in the middle
    return _decorate(rng, text), {"num_paragraphs": max(1, k + rng.randint(-1, 1))}, {}


def _number_words(rng: random.Random) -> Made:
    words = _sentences(rng, rng.randint(1, 12)).split()
    for _ in range(rng.randint(0, 6)):
        words.insert(rng.randint(0, len(words)), rng.choice(NOISE_WORDS))
    text = " ".join(words)
    count = len(words)
    threshold = max(1, count + rng.randint(-8, 8))
    return _decorate(rng, text), {"num_words": threshold, "relation": rng.choice(RELATIONS)}, {}


def _nth_paragraph(rng: random.Random) -> Made:
    k = rng.randint(1, 5)
    nth = rng.randint(1, k)
    first = rng.choice(FIRST_WORDS)
    parts = [_sentences(rng, rng.randint(1, 2)) for _ in range(k)]
    if rng.random() < 0.7:
        start = rng.choice(
            [first, first.upper(), first.capitalize(), f'"{first}', f"'{first},", f"{first}:", f"*{first}*"]
        )
        parts[nth - 1] = f"{start} {parts[nth - 1]}"
    separator = rng.choice(["\n\n", "\n\n", "\n\n\n", "\n \n", "\n"])
    text = separator.join(parts)
    if rng.random() < 0.15:
        text = "\n\n" + text
    num = max(1, k + rng.choice([0, 0, 0, 1, -1]))
    kwargs = {"num_paragraphs": num, "nth_paragraph": min(nth, num), "first_word": first}
    return _decorate(rng, text), kwargs, {}


def _placeholders(rng: random.Random) -> Made:
    words = _sentences(rng, rng.randint(1, 3)).split()
    k = rng.randint(0, 5)
    for _ in range(k):
        holder = rng.choice(["[name]", "[address]", "[ date ]", "[]", "[[nested]]", "[line\nbreak]", "[unclosed", "]["])
        words.insert(rng.randint(0, len(words)), holder)
    return _decorate(rng, " ".join(words)), {"num_placeholders": max(1, k + rng.randint(-2, 1))}, {}


def _postscript(rng: random.Random) -> Made:
    marker = rng.choice(["P.S.", "P.P.S"])
    text = _sentences(rng, rng.randint(1, 3))
    written = rng.choice(["P.S.", "p.s.", "P. S.", "PS", "P.P.S.", "P. P. S", "p.p.s", "Note:", "P.S"])
    if rng.random() < 0.8:
        text = f"{text}\n\n{written} {rng.choice(ENGLISH)}" if rng.random() < 0.8 else f"{written} {text}"
    return _decorate(rng, text), {"postscript_marker": rng.choice([marker, f" {marker} "])}, {}


def _bullets(rng: random.Random) -> Made:
    k = rng.randint(1, 6)
    lines = []
    for _ in range(k):
        lines.append(rng.choice(["* ", "- ", "  * ", "*", "-", "\t- "]) + rng.choice(ENGLISH))
    for _ in range(rng.randint(0, 2)):
        lines.insert(
            rng.randint(0, len(lines)), rng.choice(["", "**Bold heading**", "---", "*", " ", "-5 degrees", "1. one"])
        )
    text = rng.choice(["\n", "\n\n"]).join(lines)
    return _decorate(rng, text), {"num_bullets": max(1, k + rng.randint(-1, 1))}, {}


def _constrained(rng: random.Random) -> Made:
    option = rng.choice(
        [
            "My answer is yes.",
            "My answer is no.",
            "My answer is maybe.",
            "My answer is Yes.",
            "My answer is yes",
            "my answer is no.",
            "My answer is probably yes.",
        ]
    )
    text = rng.choice([option, f"{_sentences(rng, 1)} {option}", f"{option}\n{_sentences(rng, 1)}"])
    return _decorate(rng, text), {}, {}


def _highlights(rng: random.Random) -> Made:
    words = _sentences(rng, rng.randint(1, 3)).split()
    k = rng.randint(0, 5)
    for _ in range(k):
        mark = rng.choice(["*important*", "**bold part**", "* *", "**", "*un closed", "*a\nb*", "***triple***", "****"])
        words.insert(rng.randint(0, len(words)), mark)
    return _decorate(rng, " ".join(words)), {"num_highlights": max(1, k + rng.randint(-2, 1))}, {}


def _sections(rng: random.Random) -> Made:
    splitter = rng.choice(SPLITTERS)
    k = rng.randint(1, 5)
    parts = []
    for i in range(1, k + 1):
        header = rng.choice(
            [
                f"{splitter} {i}",
                f"{splitter} {i}",
                f"{splitter}{i}",
                f"{splitter.lower()} {i}",
                f"{splitter} X",
                f"**{splitter} {i}**",
                f"{splitter} {i}:",
            ]
        )
        parts.append(f"{header}\n{_sentences(rng, rng.randint(1, 2))}")
    return (
        _decorate(rng, "\n\n".join(parts)),
        {"section_spliter": splitter, "num_sections": max(1, k + rng.randint(-1, 1))},
        {},
    )


def _json(rng: random.Random) -> Made:
    data = {"name": rng.choice(KEYWORDS), "count": rng.randint(0, 9), "items": rng.sample(KEYWORDS, 2)}
    body = json.dumps(data, indent=rng.choice([None, 2]))
    text = rng.choice(
        [
            body,
            f"```json\n{body}\n```",
            f"```JSON\n{body}\n```",
            f"```\n{body}\n```",
            f"```json{body}```",
            body.replace('"', "'"),
            body[:-1],
            f"{body} trailing",
            "NaN",
            "[1, 2, 3,]",
            f"Here is the JSON:\n{body}",
            f"```Json\n{body}\n```\nDone.",
        ]
    )
    return _decorate(rng, text) if rng.random() < 0.3 else text, {}, {}


def _title(rng: random.Random) -> Made:
    title = rng.choice(
        [
            "<<Ode to Joy>>",
            "<< >>",
            "<<>>",
            "<<a>>>",
            "<<<Poem>>>",
            "<<Two\nLines>>",
            "<Single>",
            "<<Title>> and <<Another>>",
            "<<   x   >>",
            ">>backwards<<",
        ]
    )
    text = rng.choice([f"{title}\n{_sentences(rng, 2)}", f"{_sentences(rng, 1)} {title}", _sentences(rng, 2)])
    return _decorate(rng, text), {}, {}


def _two_responses(rng: random.Random) -> Made:
    a, b = _sentences(rng, 2), _sentences(rng, 2)
    text = rng.choice(
        [
            f"{a}\n******\n{b}",
            f"{a}\n******\n{a}",
            f"{a}******{b}",
            f"******\n{a}\n******\n{b}\n******",
            f"{a}\n******\n******\n{b}",
            f"{a}\n*******\n{b}",
            f"{a}\n******\n{b}\n******\n{a}",
            a,
        ]
    )
    return _decorate(rng, text) if rng.random() < 0.4 else text, {}, {}


def _repeat(rng: random.Random) -> Made:
    request = rng.choice(
        [
            "Write a short poem about the sea.",
            "Explain why the sky is blue in two sentences.",
            "List three uses of copper",
        ]
    )
    prompt = f"{request} First repeat the request word for word without change, then give your answer."
    start = rng.choice([request, request.upper(), f"  {request}", f"Sure! {request}", request[:-4], f"*{request}*"])
    return (
        _decorate(rng, f"{start}\n{_sentences(rng, 2)}") if rng.random() < 0.3 else f"{start}\n{_sentences(rng, 2)}",
        {"prompt_to_repeat": request},
        {"prompt": prompt},
    )


def _end(rng: random.Random) -> Made:
    phrase = rng.choice(END_PHRASES)
    ending = rng.choice(
        [phrase, phrase.lower(), f'"{phrase}"', f"{phrase}  \n", f"{phrase} Bye.", phrase[:-1], f"**{phrase}**"]
    )
    text = f"{_sentences(rng, rng.randint(1, 3))} {ending}"
    if rng.random() < 0.2:
        text = f'"{text}"'
    return _decorate(rng, text) if rng.random() < 0.3 else text, {"end_phrase": phrase}, {}


def _capital_frequency(rng: random.Random) -> Made:
    words = _sentences(rng, rng.randint(1, 4)).split()
    k = rng.randint(0, 12)
    for _ in range(k):
        words.insert(rng.randint(0, len(words)), rng.choice(CAPITAL_WORDS))
    threshold = max(1, k + rng.randint(-4, 6))
    return (
        _decorate(rng, " ".join(words)),
        {"capital_frequency": threshold, "capital_relation": rng.choice(RELATIONS)},
        {},
    )


def _case_text(rng: random.Random) -> tuple[str, str]:
    code = "en" if rng.random() < 0.6 else rng.choice(["es", "fr", "de", "it", "pl", "fi", "nl", "ru", "el"])
    return _language_text(rng, code) if code != "en" else _sentences(rng, rng.randint(2, 4)), code


def _english_capital(rng: random.Random) -> Made:
    text, code = _case_text(rng)
    roll = rng.random()
    text = text.upper() if roll < 0.7 else text.upper().replace("THE", "the", 1) if roll < 0.85 else text
    return _decorate(rng, text) if rng.random() < 0.3 else text, {}, {"language": code}


def _english_lowercase(rng: random.Random) -> Made:
    text, code = _case_text(rng)
    roll = rng.random()
    text = text.lower() if roll < 0.7 else text.lower().replace("the", "The", 1) if roll < 0.85 else text
    return _decorate(rng, text) if rng.random() < 0.3 else text, {}, {"language": code}


def _no_comma(rng: random.Random) -> Made:
    text = _sentences(rng, rng.randint(1, 3))
    if rng.random() < 0.5:
        text = text.replace(",", "")
    return _decorate(rng, text), {}, {}


def _quotation(rng: random.Random) -> Made:
    body = _sentences(rng, 2)
    text = rng.choice([f'"{body}"', f' \n"{body}"\n ', f"“{body}”", f'"{body}', '"', '""', f"'{body}'", body])
    return text, {}, {}


GENERATORS: dict[str, Callable[[random.Random], Made]] = {
    "keywords:existence": _existence,
    "keywords:frequency": _frequency,
    "keywords:forbidden_words": _forbidden,
    "keywords:letter_frequency": _letter,
    "language:response_language": _language,
    "length_constraints:number_sentences": _number_sentences,
    "length_constraints:number_paragraphs": _number_paragraphs,
    "length_constraints:number_words": _number_words,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "detectable_format:number_bullet_lists": _bullets,
    "detectable_format:constrained_response": _constrained,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:multiple_sections": _sections,
    "detectable_format:json_format": _json,
    "detectable_format:title": _title,
    "combination:two_responses": _two_responses,
    "combination:repeat_prompt": _repeat,
    "startend:end_checker": _end,
    "change_case:capital_word_frequency": _capital_frequency,
    "change_case:english_capital": _english_capital,
    "change_case:english_lowercase": _english_lowercase,
    "punctuation:no_comma": _no_comma,
    "startend:quotation": _quotation,
}

# every kwarg name in IFEval's data: its rows carry them all, null where unused
ALL_KWARGS = (
    "keywords",
    "keyword",
    "frequency",
    "relation",
    "forbidden_words",
    "letter",
    "let_frequency",
    "let_relation",
    "language",
    "num_sentences",
    "num_paragraphs",
    "num_words",
    "nth_paragraph",
    "first_word",
    "num_placeholders",
    "postscript_marker",
    "num_bullets",
    "num_highlights",
    "section_spliter",
    "num_sections",
    "prompt_to_repeat",
    "end_phrase",
    "capital_frequency",
    "capital_relation",
)
# instructions to add to an item with kwargs drawn at random (the repeat and language ones need their own text)
EXTRA = [id for id in GENERATORS if id not in ("combination:repeat_prompt",)]


def random_kwargs(rng: random.Random, id: str) -> dict[str, Any]:
    """Kwargs for ``id`` drawn as IFEval's data has them, for a response made for another instruction."""
    _, kwargs, _ = GENERATORS[id](rng)
    return kwargs


def generate(seed: int = SEED, per_type: int = 120) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for id, make in GENERATORS.items():
        for _ in range(per_type):
            response, kwargs, meta = make(rng)
            ids, all_kwargs = [id], [kwargs]
            for _ in range(rng.choice([0, 1, 1, 2])):
                other = rng.choice(EXTRA)
                ids.append(other)
                all_kwargs.append(random_kwargs(rng, other))
            if rng.random() < 0.25:  # IFEval's own rows: every kwarg name, null where unused
                all_kwargs = [{name: kw.get(name) for name in ALL_KWARGS} for kw in all_kwargs]
            prompt = meta.get("prompt", "Write a response that follows the instructions.")
            cases.append(Case(len(cases), ids, all_kwargs, response, prompt, meta))
    return cases
