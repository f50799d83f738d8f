"""The extended instruction set (IFEvalG / Tülu 3 / IFBench style): a following and a violating response each."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rlvr_services.verifiers.instructions import INSTRUCTIONS
from rlvr_services.verifiers.instructions.extended_text import sentences, words

PROMPT = "Write a short note about the sea."
REQUEST = "Write a haiku about autumn leaves."
PHRASE = {"phrase": "Dance like nobody is watching you", "small_n": 2}
COMPOSED = "One two three. Four five six.\n* * *\nSeven eight nine. Ten eleven twelve.\n***\nA b c. D e f."
LONG_PALINDROMES = "level radar civic kayak refer rotor madam stats tenet racecar"


def case(iid: str, kwargs: dict[str, Any], response: str, expected: bool) -> Any:
    return pytest.param(iid, kwargs, response, expected, id=f"{iid}-{'follows' if expected else 'violates'}")


# fmt: off
CASES: list[Any] = [
    # the exact request, up to case and whitespace
    case("copy:copy", {"prompt_to_repeat": REQUEST}, "write a haiku  about\nautumn leaves.", True),
    # the request answered instead of copied
    case("copy:copy", {"prompt_to_repeat": REQUEST}, "Red leaves drift and fall.", False),
    # a plain copy
    case("copy:copying_simple", {"prompt_to_repeat": REQUEST}, f"  {REQUEST}\n", True),
    # a copy with a preamble
    case("copy:copying_simple", {"prompt_to_repeat": REQUEST}, f"Sure! {REQUEST}", False),
    # three copies separated by six asterisks
    case("copy:copying_multiple", {"prompt_to_repeat": REQUEST, "N": 3},
         f"{REQUEST}\n******\n{REQUEST}\n******\n{REQUEST}", True),
    # two copies where three are asked
    case("copy:copying_multiple", {"prompt_to_repeat": REQUEST, "N": 3}, f"{REQUEST}\n******\n{REQUEST}", False),
    # three separators, but one copy altered
    case("copy:copying_multiple", {"prompt_to_repeat": REQUEST, "N": 2}, f"{REQUEST}\n******\nWrite a poem.", False),
    # the span [8:13] of the request ("haiku")
    case("new:copy_span_idx", {"prompt_to_repeat": REQUEST, "n_start": 8, "n_end": 13}, "haiku", True),
    # the span read as including n_end ("haiku ") is accepted too
    case("new:copy_span_idx", {"prompt_to_repeat": REQUEST, "n_start": 0, "n_end": 5}, "Write ", True),
    # a different span
    case("new:copy_span_idx", {"prompt_to_repeat": REQUEST, "n_start": 8, "n_end": 13}, "autumn", False),
    # two variants, each with one inner word replaced
    case("copy:repeat_phrase", PHRASE,
         "Dance like everybody is watching you. Then: Dance like nobody was watching you!", True),
    # one variant changes two inner words
    case("copy:repeat_phrase", PHRASE,
         "Dance like everybody is watching you. Dance like somebody was watching you.", False),
    # exact copies are not transformations
    case("copy:repeat_phrase", PHRASE,
         "Dance like nobody is watching you. Dance like nobody is watching you.", False),
    # only one variant where two are asked
    case("copy:repeat_phrase", PHRASE, "Dance like everybody is watching you.", False),
    # 5 words in [3, 6]
    case("count:word_count_range", {"min_words": 3, "max_words": 6}, "The sea is very calm.", True),
    # 7 words is too many
    case("count:word_count_range", {"min_words": 3, "max_words": 6}, "The sea is very calm this morning.", False),
    # 4 distinct words (the/The count once)
    case("count:unique_word_count", {"N": 4}, "The sea and the sky.", True),
    # only 3 distinct words
    case("count:unique_word_count", {"N": 4}, "Sea sea sky sky and.", False),
    # no word twice
    case("count:count_unique", {}, "Every word here appears once.", True),
    # "the" twice, in two cases
    case("count:count_unique", {}, "The cat saw the dog.", False),
    # "sea" three times with a limit of 3
    case("words:repeats", {"small_n": 3}, "Sea, sea, sea: the sea is wide.", False),
    # "sea" three times with a limit of 4
    case("words:repeats", {"small_n": 4}, "Sea, sea, sea: the sea is wide.", True),
    # 2 lowercase words ("is", "calm"), at most 2
    case("count:lowercase_counting", {"N": 2}, "The Sea is calm.", True),
    # 3 lowercase words, at most 2
    case("count:lowercase_counting", {"N": 2}, "The sea is calm.", False),
    # 7 letters, at least 5
    case("letters:letter_counting", {"N": 5, "relation": "at least"}, "Calm sea!", True),
    # 7 letters, less than 5 asked
    case("letters:letter_counting", {"N": 5, "relation": "less than"}, "Calm sea!", False),
    # "e" 3 times (any case), at least 3
    case("letters:letter_counting2", {"letter": "e", "let_frequency": 3, "let_relation": "at least"},
         "Every tree.", True),
    # "e" 4 times, less than 3 asked
    case("letters:letter_counting2", {"letter": "E", "let_frequency": 3, "let_relation": "less than"},
         "Every tree.", False),
    # no dot at all
    case("punctuation:punctuation_dot", {}, "The sea is calm, the sky is clear", True),
    # a dot inside a number counts too
    case("punctuation:punctuation_dot", {}, "It is 3.5 metres deep", False),
    # an ellipsis character is dots
    case("punctuation:punctuation_dot", {}, "Well… maybe", False),
    # no exclamation mark
    case("punctuation:punctuation_exclamation", {}, "What a calm sea.", True),
    # an exclamation mark
    case("punctuation:punctuation_exclamation", {}, "What a calm sea!", False),
    # the keyword once, as a whole word, any case
    case("keywords:word_once", {"keyword": "sea"}, "The Sea is calm; seals rest nearby.", True),
    # the keyword twice
    case("keywords:word_once", {"keyword": "sea"}, "The sea, oh the sea.", False),
    # a multi-word keyword across a line break
    case("keywords:word_once", {"keyword": "ice cream"}, "I like ice\ncream.", True),
    # 2 occurrences, at least 2
    case("keywords:word_count_different_numbers", {"keyword": "wave", "frequency": 2, "relation": "at least"},
         "A wave, then another wave.", True),
    # 2 occurrences, less than 2 asked ("waves" is another word)
    case("keywords:word_count_different_numbers", {"keyword": "wave", "frequency": 2, "relation": "less than"},
         "A wave, then waves, then a wave.", False),
    # the forbidden word only inside a longer word
    case("keywords:exclude_word_harder", {"keyword": "note"}, "This is notable.", True),
    # the forbidden word at the start, capitalised, next to punctuation
    case("keywords:exclude_word_harder", {"keyword": "note"}, "Note: the sea is calm.", False),
    # keyword1 once, keyword2 twice
    case("count:count_increment_word", {"keyword1": "sun", "keyword2": "moon"}, "Sun, moon, and the moon.", True),
    # keyword2 only once
    case("count:count_increment_word", {"keyword1": "sun", "keyword2": "moon"}, "Sun and moon.", False),
    # 1, 2, 3, 5 and 7 occurrences
    case("count:keywords_multiple", {"keyword1": "a1", "keyword2": "b2", "keyword3": "c3", "keyword4": "d4",
                                     "keyword5": "e5"}, " ".join(["a1"] + ["b2"] * 2 + ["c3"] * 3 + ["d4"] * 5
                                                                + ["e5"] * 7), True),
    # keyword5 six times
    case("count:keywords_multiple", {"keyword1": "a1", "keyword2": "b2", "keyword3": "c3", "keyword4": "d4",
                                     "keyword5": "e5"}, " ".join(["a1"] + ["b2"] * 2 + ["c3"] * 3 + ["d4"] * 5
                                                                + ["e5"] * 6), False),
    # "calm" is the 3rd word of the 2nd sentence
    case("keywords:keyword_specific_position", {"keyword": "calm", "n": 2, "m": 3},
         "Look at it. The sea, calm and wide, rests.", True),
    # "calm" is the 4th word of the 2nd sentence
    case("keywords:keyword_specific_position", {"keyword": "calm", "n": 2, "m": 3},
         "Look at it. The sea is calm.", False),
    # too few sentences
    case("keywords:keyword_specific_position", {"keyword": "calm", "n": 3, "m": 1}, "Calm. Calm.", False),
    # second and second-to-last word are the keyword
    case("words:words_position", {"keyword": "sea"}, "The sea is a sea today.", True),
    # only the second word is
    case("words:words_position", {"keyword": "sea"}, "The sea is calm today.", False),
    # the first word, under markdown bold and a comma
    case("first_word:first_word_answer", {"first_word": "yes"}, "**Yes,** the sea is calm.", True),
    # another first word
    case("first_word:first_word_answer", {"first_word": "yes"}, "Well, yes.", False),
    # every sentence starts with the word
    case("first_word:first_word_sent", {"first_word": "The"}, "The sea is calm. the sky is clear!\nThe end.", True),
    # the second sentence does not
    case("first_word:first_word_sent", {"first_word": "The"}, "The sea is calm. A gull flies.", False),
    # the last word, then a full stop
    case("last_word:last_word_answer", {"last_word": "today"}, "The sea is calm today.", True),
    # another last word
    case("last_word:last_word_answer", {"last_word": "today"}, "Today the sea is calm.", False),
    # every sentence ends with the word before its punctuation
    case("last_word:last_word_sent", {"last_word": "sea"}, "I love the sea. Look at the Sea!", True),
    # the second sentence does not
    case("last_word:last_word_sent", {"last_word": "sea"}, "I love the sea. It is calm.", False),
    # same first and last word, nothing after it
    case("keywords:start_end", {}, "Calm is the sea, and the sea is calm", True),
    # punctuation after the last word
    case("keywords:start_end", {}, "Calm is the sea, and the sea is calm.", False),
    # different first and last words
    case("keywords:start_end", {}, "Calm is the sea", False),
    # each sentence starts with the last word of the previous one
    case("words:last_first", {}, "I watch the sea. Sea birds fly high. High clouds pass.", True),
    # the chain breaks at the third sentence
    case("words:last_first", {}, "I watch the sea. Sea birds fly high. Low clouds pass.", False),
    # a single sentence does not chain
    case("words:last_first", {}, "I watch the sea.", False),
    # every line ends with its first word
    case("words:paragraph_last_first", {}, "Sea, calm and blue sea.\n\nWind blows, the wind!", True),
    # the second paragraph does not
    case("words:paragraph_last_first", {}, "Sea, calm and blue sea.\nWind blows hard.", False),
    # two paragraphs around the markdown divider
    case("paragraphs:paragraphs", {}, "The sea is calm.\n***\nThe sky is clear.", True),
    # three paragraphs
    case("paragraphs:paragraphs", {}, "One.\n***\nTwo.\n***\nThree.", False),
    # an empty paragraph between two dividers
    case("paragraphs:paragraphs", {}, "One.\n***\n***\nTwo.", False),
    # two paragraphs separated by a blank line, a single line break inside one
    case("paragraphs:paragraphs2", {}, "The sea is calm.\nIt is blue.\n\nThe sky is clear.", True),
    # one paragraph only
    case("paragraphs:paragraphs2", {}, "The sea is calm.\nThe sky is clear.", False),
    # 3 paragraphs of 2 sentences of 3 words
    case("count:counting_composition", {"n_sent": 2, "n_words": 3}, COMPOSED, True),
    # the last sentence has 4 words
    case("count:counting_composition", {"n_sent": 2, "n_words": 3}, COMPOSED.replace("D e f.", "D e f g."), False),
    # only 2 paragraphs
    case("count:counting_composition", {"n_sent": 2, "n_words": 3}, COMPOSED.split("\n***\n")[0], False),
    # sentences joined by hyphens, a hyphenated word inside one
    case("detectable_format:sentence_hyphens", {}, "It rained.-We stayed in.-A well-known film played!", True),
    # a space after the hyphen
    case("detectable_format:sentence_hyphens", {}, "It rained.- We stayed in.", False),
    # two sentences not joined at all
    case("detectable_format:sentence_hyphens", {}, "It rained. We stayed in.", False),
    # every word in its own brackets, punctuation outside
    case("detectable_format:square_brackets", {}, "[Hello], [calm] [sea]!", True),
    # one word left bare
    case("detectable_format:square_brackets", {}, "[Hello], calm [sea]!", False),
    # two words in one pair of brackets
    case("detectable_format:square_brackets", {}, "[Hello calm] [sea]", False),
    # every bigram wrapped, the odd last word alone
    case("detectable_format:bigram_wrapping", {}, "<<I am>> <<at home>> <<with my>> <<cute dog>> <<today>>.", True),
    # a group of three words
    case("detectable_format:bigram_wrapping", {}, "<<I am at>> <<home now>>", False),
    # a word outside the brackets
    case("detectable_format:bigram_wrapping", {}, "<<I am>> at <<home now>>", False),
    # one sentence of each type
    case("ratio:sentence_balance", {}, "The sea is calm. Is it cold? What a view!", True),
    # two statements, one question, one exclamation
    case("ratio:sentence_balance", {}, "The sea is calm. It is blue. Is it cold? What a view!", False),
    # two statements per question
    case("ratio:sentence_type", {}, "The sea is calm. It is blue. Is it cold? Wow!", True),
    # one statement per question
    case("ratio:sentence_type", {}, "The sea is calm. Is it cold?", False),
    # a palindromic word
    case("keywords:palindrome", {}, "We saw a kayak.", True),
    # a palindromic sentence
    case("keywords:palindrome", {}, "She said: Never odd or even.", True),
    # "a" and "I" are too short to count
    case("keywords:palindrome", {}, "I saw a boat.", False),
    # ten distinct long palindromes
    case("words:palindrome", {}, LONG_PALINDROMES, True),
    # one palindrome repeated ten times
    case("words:palindrome", {}, "level " * 10, False),
    # no word follows one starting with the previous letter
    case("keywords:no_adjacent_consecutive", {}, "The sea is calm.", True),
    # "a" then "big"
    case("keywords:no_adjacent_consecutive", {}, "It is a big sea.", False),
    # no two adjacent words share a first letter
    case("words:no_consecutive", {}, "The quiet ocean rests.", True),
    # "silent sea"
    case("words:no_consecutive", {}, "The silent sea rests.", False),
    # x, y, z, then back to a
    case("words:alphabet", {}, "Xylophones yield zany art.", True),
    # "bright" should start with "a"
    case("words:alphabet", {}, "Zebras bright cats.", False),
]
# fmt: on


@pytest.mark.parametrize(("iid", "kwargs", "response", "expected"), CASES)
def test_checker(iid: str, kwargs: dict[str, Any], response: str, expected: bool) -> None:
    assert INSTRUCTIONS[iid].check(response, kwargs, PROMPT) is expected


# fmt: off
BAD_KWARGS: list[Any] = [
    # a copy instruction with nothing to copy
    pytest.param("copy:copy", {}, id="copy-missing"),
    # a blank request
    pytest.param("copy:copying_simple", {"prompt_to_repeat": "  "}, id="copying-simple-blank"),
    # zero copies
    pytest.param("copy:copying_multiple", {"prompt_to_repeat": REQUEST, "N": 0}, id="copying-multiple-zero"),
    # a span past the end of the request
    pytest.param("new:copy_span_idx", {"prompt_to_repeat": "short", "n_start": 2, "n_end": 40}, id="span-past-end"),
    # a span that ends before it starts
    pytest.param("new:copy_span_idx", {"prompt_to_repeat": REQUEST, "n_start": 9, "n_end": 3}, id="span-reversed"),
    # a phrase without an inner word
    pytest.param("copy:repeat_phrase", {"phrase": "Hello world", "small_n": 2}, id="phrase-too-short"),
    # a range upside down
    pytest.param("count:word_count_range", {"min_words": 9, "max_words": 3}, id="range-reversed"),
    # a count that is not a number
    pytest.param("count:unique_word_count", {"N": "many"}, id="unique-not-int"),
    # a boolean is not a count
    pytest.param("words:repeats", {"small_n": True}, id="repeats-bool"),
    # a negative count
    pytest.param("count:lowercase_counting", {"N": -1}, id="lowercase-negative"),
    # a relation IFEval does not know
    pytest.param("letters:letter_counting", {"N": 5, "relation": "about"}, id="letters-relation"),
    # two letters where one is asked
    pytest.param("letters:letter_counting2", {"letter": "ab", "let_frequency": 2, "let_relation": "at least"},
                 id="letter-two-chars"),
    # an empty keyword
    pytest.param("keywords:word_once", {"keyword": ""}, id="word-once-empty"),
    # a missing relation
    pytest.param("keywords:word_count_different_numbers", {"keyword": "sea", "frequency": 2}, id="word-count-relation"),
    # a missing keyword2
    pytest.param("count:count_increment_word", {"keyword1": "sun"}, id="increment-missing"),
    # the same keyword for two different counts
    pytest.param("count:keywords_multiple", {"keyword1": "a", "keyword2": "a", "keyword3": "c", "keyword4": "d",
                                             "keyword5": "e"}, id="multiple-duplicate"),
    # sentence number 0
    pytest.param("keywords:keyword_specific_position", {"keyword": "sea", "n": 0, "m": 1}, id="position-zero"),
    # a phrase where a single word is asked
    pytest.param("first_word:first_word_answer", {"first_word": "in fact"}, id="first-word-phrase"),
    # a list of two words
    pytest.param("last_word:last_word_sent", {"last_word": ["sea", "sky"]}, id="last-word-list"),
    # a non-positive sentence count
    pytest.param("count:counting_composition", {"n_sent": 0, "n_words": 3}, id="composition-zero"),
]
# fmt: on


@pytest.mark.parametrize(("iid", "kwargs"), BAD_KWARGS)
def test_bad_kwargs_raise(iid: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        INSTRUCTIONS[iid].check("The sea is calm.", kwargs, PROMPT)


def test_registry_holds_the_extended_set() -> None:
    extended = [item for item in INSTRUCTIONS.values() if item.source == "extended"]
    assert len(extended) >= 20
    for item in extended:
        assert item.description.strip() and "\n" not in item.description, item.id
        assert all(name in item.description for name in item.kwargs), item.id
        assert ":" in item.id, item.id


def test_every_extended_instruction_has_both_verdicts() -> None:
    covered: dict[str, set[bool]] = {}
    for param in CASES:
        iid, _, _, expected = param.values
        covered.setdefault(iid, set()).add(expected)
    extended = {item.id for item in INSTRUCTIONS.values() if item.source == "extended"}
    assert {iid for iid, verdicts in covered.items() if verdicts == {True, False}} == extended


def test_kwargs_from_json_strings_and_floats_are_read() -> None:
    check = INSTRUCTIONS["count:word_count_range"].check
    assert check("one two three", {"min_words": "2", "max_words": 3.0}, PROMPT) is True


def test_sentence_and_word_units() -> None:
    text = 'Dr. Smith sailed e.g. far. He said "hi!" Then J. K. Rowling wrote.\n- a list item\n1. Boil it. I said no.'
    assert sentences(text) == ["Dr. Smith sailed e.g. far.", 'He said "hi!"', "Then J. K. Rowling wrote.",
                               "- a list item", "1. Boil it.", "I said no."]  # fmt: skip
    assert words("Don't pay 3.14 or 1,000 for well-known items, ok?") == [
        "Don't", "pay", "3.14", "or", "1,000", "for", "well-known", "items", "ok",
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["<<" * 20000, "!" * 20000 + "a", "a" + " " * 20000 + "b", "[" * 20000 + "x"])
def test_long_hostile_responses_are_checked_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    for item in INSTRUCTIONS.values():
        if item.source == "extended" and not item.kwargs:
            item.check(text, {}, PROMPT)
    assert time.perf_counter() - started < 2.0
