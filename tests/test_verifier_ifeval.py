"""The `ifeval` verifier: a table of real responses per instruction, the sentence splitter, params, the gateway."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from rlvr_client import InvalidRequest, RewardClient, Status
from rlvr_services.runtime.verifier import Task, Verdict
from rlvr_services.verifiers.ifeval import IFEvalParams, IFEvalVerifier
from rlvr_services.verifiers.instructions import INSTRUCTIONS
from rlvr_services.verifiers.instructions.sentences import split_sentences

VERIFIER = IFEvalVerifier()
POEM = "Roses are red.\nViolets are blue.\nSugar is sweet.\nAnd so are you."
ESSAY = (
    "Remote work has changed how teams collaborate. Meetings moved online, and many companies discovered "
    "that focused work at home is often more productive. Still, spontaneous conversations are harder."
)


def verify(completion: str, item_prompt: str = "", **params: Any) -> Verdict:
    return VERIFIER.verify(Task("t", completion, IFEvalParams(**params), item_prompt))


def followed(id: str, kwargs: dict[str, Any], response: str, mode: str = "strict", prompt: str = "") -> bool:
    verdict = verify(response, prompt, instruction_id_list=[id], kwargs=[kwargs], mode=mode, think="keep")
    assert verdict.status is Status.OK, verdict
    return verdict.score == 1.0


# fmt: off
TABLE: list[Any] = [
    # keywords
    ("keywords:existence", {"keywords": ["remote", "teams"]}, ESSAY, True),
    ("keywords:existence", {"keywords": ["REMOTE"]}, ESSAY, True),  # any case
    ("keywords:existence", {"keywords": ["remote", "office"]}, ESSAY, False),
    ("keywords:existence", {"keywords": ["work"]}, "Homework first.", True),  # inside a longer word, as in IFEval
    ("keywords:frequency", {"keyword": "work", "frequency": 2, "relation": "at least"}, ESSAY, True),
    ("keywords:frequency", {"keyword": "work", "frequency": 2, "relation": "less than"}, ESSAY, False),
    ("keywords:frequency", {"keyword": "are", "frequency": 3, "relation": "at least"}, POEM, True),
    ("keywords:forbidden_words", {"forbidden_words": ["office", "boss"]}, ESSAY, True),
    ("keywords:forbidden_words", {"forbidden_words": ["Meetings"]}, ESSAY, False),
    ("keywords:forbidden_words", {"forbidden_words": ["team"]}, ESSAY, True),  # "teams" is another word
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 1, "let_relation": "less than"}, ESSAY, True),
    ("keywords:letter_frequency", {"letter": "R", "let_frequency": 4, "let_relation": "at least"}, POEM, True),
    ("keywords:letter_frequency", {"letter": "y", "let_frequency": 2, "let_relation": "at least"}, POEM, False),
    # language
    ("language:response_language", {"language": "en"}, ESSAY, True),
    ("language:response_language", {"language": "fr"}, ESSAY, False),
    ("language:response_language", {"language": "de"}, "Die Sonne schien, während die Kinder Fußball spielten.", True),
    ("language:response_language", {"language": "kn"}, "ನನ್ನ ಅಜ್ಜಿ ಇಡೀ ಊರಿನಲ್ಲಿ ಅತ್ಯಂತ ರುಚಿಯಾದ ಅಡುಗೆ ಮಾಡುತ್ತಾರೆ.", True),
    ("language:response_language", {"language": "hi"}, "मेरी दादी पूरे गाँव में सबसे स्वादिष्ट खाना बनाती हैं।", True),
    ("language:response_language", {"language": "ne"}, "मेरी दादी पूरे गाँव में सबसे स्वादिष्ट खाना बनाती हैं।", False),
    ("language:response_language", {"language": "ja"}, "12345 !!!", True),  # no letters: cannot be told, as IFEval
    # length
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"}, ESSAY, True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"}, ESSAY, False),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "Dr. Smith met Mr. Jones at 3 p.m. in Washington.", True),
    ("length_constraints:number_words", {"num_words": 28, "relation": "at least"}, ESSAY, True),
    ("length_constraints:number_words", {"num_words": 29, "relation": "at least"}, ESSAY, False),
    ("length_constraints:number_words", {"num_words": 8, "relation": "less than"}, "It's a well-known fact.", True),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "It's a well-known fact.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst.\n***\nSecond.\n***", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\n***\nSecond.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 1}, "First.\n\nSecond.", True),  # only *** divides
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "still"},
     "Remote work changed teams.\n\nStill, talks are harder.", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "still"},
     "Remote work changed teams.\n\n\"Still\" talks are harder.", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "still"},
     "Remote work changed teams.\n\nStill, talks are harder.", False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "remote"},
     "Remote: work changed teams.\n\nStill, talks are harder.", False),  # ':' is not stripped, as in IFEval
    # content
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see you at [address].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see you at [add\nress].", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, f"{ESSAY}\n\nP.S. Stay in touch.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, f"{ESSAY}\n\np. s. stay in touch.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, f"{ESSAY}\n\nP.S. Stay in touch.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, f"{ESSAY}\n\nP.P.S. Stay in touch.", True),
    ("punctuation:no_comma", {}, POEM, True),
    ("punctuation:no_comma", {}, ESSAY, False),
    # format
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "Plan:\n* one\n* two\n- three", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "Plan:\n* one\n* two\n- three", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "**Plan**\n  * one\n\n  * two", True),
    ("detectable_format:constrained_response", {}, "After some thought: My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is Yes.", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "A *first* and a *second* one.", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "Only **one** here.", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* ***b*** **c**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "Nothing * * here.", False),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "SECTION 1\nIntro.\nSECTION 2\nBody.", True),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "SECTION 1\nIntro.\nSECTION 2\nBody.", False),  # the splitter's case matters
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, '{"a": 1} and more', False),
    ("detectable_format:title", {}, "<<Ode to Remote Work>>\n" + ESSAY, True),
    ("detectable_format:title", {}, "<< >>\n" + ESSAY, False),
    ("detectable_format:title", {}, "<<Broken\ntitle>>", False),
    # combination, start and end
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", True),
    ("combination:two_responses", {}, "Same answer.\n******\nSame answer.", False),
    ("combination:two_responses", {}, "One.\n******\nTwo.\n******\nThree.", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem.\n" + POEM, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem.\n" + POEM, False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, ESSAY + " Any other questions?", True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, f'"{ESSAY} any other questions?"\n', True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, ESSAY + " Any other questions? Bye.", False),
    ("startend:quotation", {}, f'"{ESSAY}"', True),
    ("startend:quotation", {}, f"“{ESSAY}”", False),  # typographic quotes are not double quotation marks here
    # case
    ("change_case:capital_word_frequency", {"capital_frequency": 3, "capital_relation": "at least"},
     "I DON'T like NASA.", True),  # I, DO, N'T, NASA: 4
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"},
     "The U.S.A. is BIG.", False),
    ("change_case:english_capital", {}, ESSAY.upper(), True),
    ("change_case:english_capital", {}, "MY ANSWER IS YES.", True),
    ("change_case:english_capital", {}, ESSAY, False),
    ("change_case:english_capital", {}, "DIE SONNE SCHIEN, WÄHREND DIE KINDER FUSSBALL SPIELTEN.", False),
    ("change_case:english_lowercase", {}, ESSAY.lower(), True),
    ("change_case:english_lowercase", {}, ESSAY, False),
    ("change_case:english_lowercase", {}, "le soleil brillait sur la place pendant que les enfants jouaient.", False),
]
# fmt: on


def test_table_covers_every_ifeval_instruction() -> None:
    ifeval = {id for id, found in INSTRUCTIONS.items() if found.source == "ifeval"}
    assert {row[0] for row in TABLE} == ifeval
    assert len(ifeval) == 25


@pytest.mark.parametrize(("id", "kwargs", "response", "expected"), TABLE)
def test_instruction_table(id: str, kwargs: dict[str, Any], response: str, expected: bool) -> None:
    assert followed(id, kwargs, response) is expected


# loose mode: the response with its first line, last line, both, removed, and with '*' removed
LOOSE: list[Any] = [
    ("startend:quotation", {}, f'Here is my answer:\n"{ESSAY}"', False, True),
    ("startend:end_checker", {"end_phrase": "Peace!"}, f"{ESSAY} Peace!\nHope this helps.", False, True),
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": [1, 2]}\nDone.', False, True),
    ("change_case:english_lowercase", {}, f"**Answer**\n{ESSAY.lower()}", False, True),
    ("detectable_format:title", {}, "Plain text\n" + ESSAY, False, False),
    ("punctuation:no_comma", {}, "Sure, here it is:\nNo commas in this line\nThanks, bye", False, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "**Write a poem.**\n" + POEM, False, True),
]


@pytest.mark.parametrize(("id", "kwargs", "response", "strict", "loose"), LOOSE)
def test_loose_mode(id: str, kwargs: dict[str, Any], response: str, strict: bool, loose: bool) -> None:
    assert followed(id, kwargs, response, "strict") is strict
    assert followed(id, kwargs, response, "loose") is loose


# --- the sentence splitter -------------------------------------------------------------------------------------

# fmt: off
SENTENCES: list[Any] = [
    ("Hello world. This is a test.", ["Hello world.", "This is a test."]),
    ("", []),
    ("   \n ", []),
    ("No end mark at all", ["No end mark at all"]),
    # titles and other abbreviations
    ("Dr. Smith went to Washington. He arrived late.", ["Dr. Smith went to Washington.", "He arrived late."]),
    ("We use tools, e.g. hammers. They help.", ["We use tools, e.g. hammers.", "They help."]),
    ("See Fig. 3 for details. It shows data.", ["See Fig. 3 for details.", "It shows data."]),
    ("No. I will not go.", ["No.", "I will not go."]),
    ("Martin Luther King Jr. was a leader.", ["Martin Luther King Jr. was a leader."]),
    # abbreviations that may end a sentence
    ("He arrived at 3 p.m. The meeting was long.", ["He arrived at 3 p.m.", "The meeting was long."]),
    ("I live in the U.S. The weather is nice.", ["I live in the U.S.", "The weather is nice."]),
    ("The U.S. Army is big.", ["The U.S. Army is big."]),
    ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
    # decimals, addresses, initials
    ("Pi is about 3.14. It is irrational.", ["Pi is about 3.14.", "It is irrational."]),
    ("Visit example.com today. It is great.", ["Visit example.com today.", "It is great."]),
    ("J. K. Rowling wrote it. It sold well.", ["J. K. Rowling wrote it.", "It sold well."]),
    ("He got an A. Then he celebrated.", ["He got an A.", "Then he celebrated."]),
    # ellipses
    ("Wait... what? I thought... No.", ["Wait... what?", "I thought...", "No."]),
    ("The end is near… Truly.", ["The end is near…", "Truly."]),
    # quotes and brackets
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ('"Why?" she asked. Nobody answered.', ['"Why?" she asked.', "Nobody answered."]),
    ("(This is an aside.) The text goes on.", ["(This is an aside.)", "The text goes on."]),
    ("**Bold claim.** Then more.", ["**Bold claim.**", "Then more."]),
    # question and exclamation marks
    ("Really?! Yes!!! ok.", ["Really?!", "Yes!!!", "ok."]),
    ("Is it? no. it is not.", ["Is it?", "no.", "it is not."]),
    # enumerations and lines
    ("1. Preheat the oven.\n2. Mix the flour.", ["1. Preheat the oven.", "2. Mix the flour."]),
    ("Steps:\n  a. Mix.\n  b. Bake.", ["Steps:\n  a. Mix.", "b. Bake."]),
    ("**Title**\n\nThe first sentence. The second!", ["**Title**\n\nThe first sentence.", "The second!"]),
    ("In 2020. The year was odd.", ["In 2020.", "The year was odd."]),
    # other scripts
    ("你好。我很好！你呢？", ["你好。", "我很好！", "你呢？"]),
    ("यह एक वाक्य है। यह दूसरा है।", ["यह एक वाक्य है।", "यह दूसरा है।"]),
    # a piece with no word joins the sentence before it
    ("Done! !", ["Done! !"]),
]
# fmt: on


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_sentence_splitter(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# --- the verifier ------------------------------------------------------------------------------------------------

NO_COMMA_AND_WORDS = {
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    "kwargs": [{}, {"num_words": 5, "relation": "at least"}],
}


def test_score_is_the_fraction_followed_with_details() -> None:
    verdict = verify(f"<think>Let me think, carefully.</think>{ESSAY}", **NO_COMMA_AND_WORDS)
    assert verdict.status is Status.OK and verdict.score == 0.5
    assert verdict.reason == "not followed: punctuation:no_comma"
    assert verdict.details == {
        "mode": "strict",
        "followed": ["length_constraints:number_words"],
        "failed": ["punctuation:no_comma"],
        "follow_instruction_list": [False, True],
    }
    assert verify(ESSAY, all_or_nothing=True, **NO_COMMA_AND_WORDS).score == 0.0
    assert verify(POEM, all_or_nothing=True, **NO_COMMA_AND_WORDS).score == 1.0


def test_think_section_is_stripped_or_kept() -> None:
    # the comma in the reasoning does not count by default
    assert verify(f"<think>Hmm, well.</think>{POEM}", **NO_COMMA_AND_WORDS).score == 1.0
    assert verify(f"<think>Hmm, well.</think>{POEM}", think="keep", **NO_COMMA_AND_WORDS).score == 0.5
    cut_off = verify(f"<think>{POEM} and then", **NO_COMMA_AND_WORDS)
    assert cut_off.status is Status.OK and cut_off.score == 0.0
    assert "unclosed <think>" in cut_off.reason


def test_blank_answer_follows_nothing() -> None:
    verdict = verify("<think>x</think>   ", instruction_id_list=["punctuation:no_comma"])
    assert verdict.score == 0.0 and verdict.details["failed"] == ["punctuation:no_comma"]


def test_repeat_prompt_falls_back_to_the_item_prompt() -> None:
    params = {"instruction_id_list": ["combination:repeat_prompt"]}
    assert verify("Write a poem. " + POEM, "Write a poem.", **params).score == 1.0
    assert verify("Write a poem. " + POEM, "Write a story.", **params).score == 0.0
    assert verify("Write a poem. " + POEM, "Write a story.", prompt="Write a poem.", **params).score == 1.0
    assert verify("Write a poem. " + POEM, "", **params).status is Status.ERROR


@pytest.mark.parametrize(("id", "kwargs", "message"), [
    ("length_constraints:number_words", {"num_words": 10, "relation": "at most"}, "relation must be one of"),
    ("length_constraints:number_words", {"relation": "at least"}, "num_words is required"),
    ("length_constraints:number_words", {"num_words": "ten", "relation": "at least"}, "num_words must be an integer"),
    ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"}, "letter must be"),
    ("keywords:existence", {"keywords": []}, "keywords must be a non-empty list"),
    ("language:response_language", {"language": "xx"}, "language 'xx' is not supported"),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 1, "nth_paragraph": 2, "first_word": "a"},
     "must not exceed"),
])  # fmt: skip
def test_bad_kwargs_values_are_errors_naming_the_instruction(id: str, kwargs: dict[str, Any], message: str) -> None:
    for response in (ESSAY, "  "):
        verdict = verify(response, instruction_id_list=["punctuation:no_comma", id], kwargs=[{}, kwargs])
        assert verdict.status is Status.ERROR and verdict.score is None
        assert verdict.reason.startswith(f"{id} (instruction 1): ") and message in verdict.reason
        assert verdict.details == {"instruction": id, "index": 1}


def test_params_validation() -> None:
    with pytest.raises(ValidationError, match=r"unknown instruction id 'no:such' .*known ids: .*punctuation:no_comma"):
        IFEvalParams(instruction_id_list=["no:such"])
    with pytest.raises(ValidationError, match=r"kwargs\[0\] has 'relation', which punctuation:no_comma does not"):
        IFEvalParams(instruction_id_list=["punctuation:no_comma"], kwargs=[{"relation": "at least"}])
    with pytest.raises(ValidationError, match="kwargs has 2 entries but instruction_id_list has 1"):
        IFEvalParams(instruction_id_list=["punctuation:no_comma"], kwargs=[{}, {}])
    with pytest.raises(ValidationError):
        IFEvalParams(instruction_id_list=[])
    with pytest.raises(ValidationError):
        IFEvalParams(instruction_id_list=["punctuation:no_comma"], mode="lenient")
    # IFEval's rows carry every kwarg name, null where unused: the nulls are dropped
    params = IFEvalParams(
        instruction_id_list=["punctuation:no_comma", "detectable_format:title"],
        kwargs=[{"num_words": None, "relation": None}, {"language": None}],
    )
    assert params.kwargs == [{}, {}]


FIRST_KWARGS = {id: kwargs for id, kwargs, *_ in reversed(TABLE)}  # each instruction's first row in TABLE
EVERY_INSTRUCTION = {"instruction_id_list": list(FIRST_KWARGS), "kwargs": list(FIRST_KWARGS.values())}


@pytest.mark.parametrize("text", [
    "[" * 300_000, "\n" * 300_000 + "x", " \n" * 150_000, "<<" * 150_000, "*" * 300_000, "a. " * 100_000,
    "-\n" * 150_000, "*\n" * 150_000, "[\n" * 150_000 + "]", "'" * 300_000, "p. " * 100_000,
    "Hello world, THIS is DON'T. " * 10_000, "SECTION " * 40_000, "हिन्दी भाषा " * 25_000, "\U0001f600a" * 150_000,
], ids=lambda text: repr(text[:12]))  # fmt: skip
def test_pathological_inputs_stay_fast(text: str) -> None:
    """Inputs on which IFEval's own patterns backtrack (quadratic time) or that are merely long: linear here."""
    assert len(EVERY_INSTRUCTION["instruction_id_list"]) == 25
    verify(text[:1000], think="keep", **EVERY_INSTRUCTION)  # models and patterns loaded before the clock starts
    start = time.perf_counter()
    verdict = verify(text, think="keep", **EVERY_INSTRUCTION)
    assert verdict.status is Status.OK
    assert time.perf_counter() - start < 2.0


# --- through the real gateway ------------------------------------------------------------------------------------


def test_ifeval_through_the_gateway(gateway_url: str) -> None:
    def item(id: str, kwargs: list[dict[str, Any]]) -> dict[str, Any]:
        ids = ["punctuation:no_comma", "combination:repeat_prompt", "length_constraints:number_words"]
        params = {"instruction_id_list": ids, "kwargs": kwargs, "mode": "loose"}
        return {"id": id, "prompt": "Write a poem.", "completion": f"<think>A poem, then.</think>{POEM}",
                "rewards": [{"name": "ifeval", "params": params}]}  # fmt: skip

    good = [{"num_words": None}, {}, {"num_words": 10, "relation": "at least"}]
    bad = [{}, {}, {"num_words": 10, "relation": "at most"}]
    with RewardClient(gateway_url) as client:
        scored, failed = client.score([item("good", good), item("bad", bad)])
        info = {verifier.name: verifier for verifier in client.verifiers()}
    [component] = scored.components
    assert component.status is Status.OK and component.score == pytest.approx(2 / 3)
    assert component.details["failed"] == ["combination:repeat_prompt"]
    assert component.details["mode"] == "loose"
    # a kwarg IFEval cannot use is the request's fault: an error, never a score
    [component] = failed.components
    assert component.status is Status.ERROR and component.score is None and failed.reward is None
    assert component.reason.startswith("length_constraints:number_words (instruction 2): relation must be one of")
    assert "instruction_id_list" in info["ifeval"].params_schema["properties"]


@pytest.mark.parametrize(("params", "message"), [
    ({"instruction_id_list": ["no:such"]}, "unknown instruction id 'no:such'"),
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"relation": "at least"}]}, "does not take"),
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "kwargs has 2 entries"),
    ({"instruction_id_list": ["punctuation:no_comma"], "mode": "lenient"}, "params.mode"),
    ({"kwargs": []}, "params.instruction_id_list"),
])  # fmt: skip
def test_bad_params_are_422_naming_the_field(gateway_url: str, params: dict[str, Any], message: str) -> None:
    item = {"id": "a", "completion": POEM, "rewards": [{"name": "ifeval", "params": params}]}
    with RewardClient(gateway_url) as client, pytest.raises(InvalidRequest) as caught:
        client.score([item])
    assert str(caught.value).startswith("items[0].rewards[0].params")
    assert message in str(caught.value)
