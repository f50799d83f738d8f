"""The shaping rewards (repetition, overlong, cosine_length, length, tag_count, reasoning_steps) on
R1-style completions, against hand-computed values, and their params through the real gateway."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rlvr_client import InvalidRequest, RewardClient
from rlvr_client.models import Status
from rlvr_services.runtime.verifier import Task, Verdict, Verifier
from rlvr_services.verifiers.cosine_length import CosineLengthVerifier
from rlvr_services.verifiers.length import LengthVerifier
from rlvr_services.verifiers.overlong import OverlongVerifier
from rlvr_services.verifiers.reasoning_steps import ReasoningStepsVerifier
from rlvr_services.verifiers.repetition import RepetitionVerifier, tokenize
from rlvr_services.verifiers.tag_count import TagCountVerifier

VERIFIERS: dict[str, Verifier] = {
    cls.name: cls()
    for cls in (
        RepetitionVerifier, OverlongVerifier, CosineLengthVerifier, LengthVerifier, TagCountVerifier,
        ReasoningStepsVerifier,
    )
}  # fmt: skip

ANSWER = "\n\nThe answer is $\\boxed{4}$."
LOOP = "<think>\nWait, let me check. Wait, let me check. Wait, let me check.\n</think>\nThe answer is 4."


def r1(chars: int) -> str:
    """An R1 completion of exactly ``chars`` characters (reasoning padded with prose)."""
    head, tail = "<think>\nWe need 2 + 2. Adding gives 4", f".\n</think>{ANSWER}"
    filler = " and checking again it is still 4" * (chars // 30 + 1)
    body = (head + filler)[: chars - len(tail)]
    assert len(body) == chars - len(tail)
    return body + tail


def r1_words(words: int) -> str:
    """An R1 completion of exactly ``words`` whitespace-separated words."""
    reasoning = " ".join(["step"] * (words - 5))  # "<think>", "</think>" and "The answer: 4" are words too
    return f"<think>\n{reasoning}\n</think>\nThe answer: 4"


def verdict(name: str, completion: str, params: dict[str, Any]) -> Verdict:
    verifier = VERIFIERS[name]
    task = Task(id="t", completion=completion, params=verifier.params_model.model_validate(params))
    [result] = verifier.verify_batch([task])
    return result


def score(name: str, completion: str, params: dict[str, Any]) -> float | None:
    result = verdict(name, completion, params)
    assert result.status is Status.OK, result
    return result.score


# fmt: off
REPETITION: list[Any] = [
    # a reasoning that never repeats a trigram
    pytest.param("<think>\nThe cat sat on the mat.\n</think>\nIt sat.", {"scope": "think"}, 0.0, id="unique"),
    # abcabc: trigrams abc bca cab abc, 3 of 4 unique: (1 - 3/4) * -1
    pytest.param("<think>\na b c a b c\n</think>\nDone.", {"scope": "think"}, -0.25, id="abcabc"),
    # the same with a milder max_penalty: 0.25 * -0.5
    pytest.param("<think>\na b c a b c\n</think>\nDone.", {"scope": "think", "max_penalty": -0.5}, -0.125,
                 id="max-penalty"),
    # a looping reasoning: 12 tokens, 10 trigrams, 4 unique: (1 - 4/10) * -1
    pytest.param(LOOP, {"scope": "think"}, -0.6, id="loop-think"),
    # the loop's answer alone ("the answer is 4": 2 trigrams, unique)
    pytest.param(LOOP, {"scope": "answer"}, 0.0, id="loop-answer"),
    # the whole loop, tags dropped: 16 tokens, 14 trigrams, unique: 4 of the loop + check-the, the-answer,
    # answer-is, is-4 = 8: (1 - 8/14) * -1
    pytest.param(LOOP, {}, -(1 - 8 / 14), id="loop-all"),
    # case and punctuation do not make a repeat new: 3 unigrams, 1 unique
    pytest.param("Hello, hello! HELLO.", {"ngram_size": 1}, -(1 - 1 / 3), id="case-punct"),
    # fewer tokens than ngram_size: no n-grams, no penalty
    pytest.param("<think>\nYes.\n</think>\n4", {"scope": "think"}, 0.0, id="too-short"),
    # Chinese: each Han character a token; 嗯让我想想 twice: 10 tokens, 8 trigrams, 5 unique
    pytest.param("<think>\n嗯，让我想想。嗯，让我想想。\n</think>\n答案是4。", {"scope": "think"}, -0.375,
                 id="chinese-loop"),
    # Chinese without a repeat
    pytest.param("<think>\n首先计算二加二等于四。\n</think>\n答案是4。", {"scope": "think"}, 0.0, id="chinese-unique"),
    # Japanese hiragana: そうですね twice: 10 tokens, 8 trigrams, 5 unique
    pytest.param("<think>\nそうですね。そうですね。\n</think>\n答えは4です。", {"scope": "think"}, -0.375,
                 id="japanese-loop"),
    # katakana and kanji, bigrams: テ ス ト 計 算 テ ス ト: 7 bigrams, テス and スト twice: 5 unique
    pytest.param("テスト計算テスト", {"ngram_size": 2}, -(1 - 5 / 7), id="japanese-katakana"),
    # Korean syllables: 안녕 안녕: 3 bigrams, 2 unique
    pytest.param("안녕 안녕", {"ngram_size": 2}, -(1 - 2 / 3), id="korean"),
]
# fmt: on


@pytest.mark.parametrize(("completion", "params", "expected"), REPETITION)
def test_repetition(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("repetition", completion, params) == pytest.approx(expected)


def test_repetition_tokenizer_is_cjk_aware() -> None:
    assert tokenize("Hello, World! 你好世界 カタカナ ひらがな 한국") == [
        "hello", "world", "你", "好", "世", "界", "カ", "タ", "カ", "ナ", "ひ", "ら", "が", "な", "한", "국",
    ]  # fmt: skip
    assert tokenize("x_1=2.5; don't") == ["x", "1", "2", "5", "don", "t"]


def test_repetition_without_a_think_section_is_no_penalty() -> None:
    result = verdict("repetition", "The answer is 4. The answer is 4.", {"scope": "think"})
    assert (result.status, result.score) == (Status.OK, 0.0)
    assert "no <think> section" in result.reason


def test_repetition_on_a_megabyte_completion() -> None:
    loop = "<think>\n" + "Let me try again. " * 58_000 + "\n</think>\nI give up."  # about 1 MB
    assert len(loop) > 1_000_000
    result = verdict("repetition", loop, {})
    assert result.score is not None and result.score < -0.99
    cjk = "<think>\n" + "".join(chr(0x4E00 + i % 20_000) for i in range(1_000_000)) + "\n</think>\n四"
    assert score("repetition", cjk, {"scope": "think"}) == pytest.approx(-(1 - 20_000 / (1_000_000 - 2)))


# fmt: off
OVERLONG: list[Any] = [
    # well inside the budget: L_max - L_cache = 80
    pytest.param(r1(60), {"max_len": 100, "cache_len": 20}, 0.0, id="short"),
    # exactly at the start of the ramp
    pytest.param(r1(80), {"max_len": 100, "cache_len": 20}, 0.0, id="ramp-start"),
    # half-way down the ramp: (80 - 90) / 20
    pytest.param(r1(90), {"max_len": 100, "cache_len": 20}, -0.5, id="ramp-middle"),
    # at L_max: (80 - 100) / 20
    pytest.param(r1(100), {"max_len": 100, "cache_len": 20}, -1.0, id="at-max"),
    # past L_max
    pytest.param(r1(150), {"max_len": 100, "cache_len": 20}, -1.0, id="over"),
    # words: 13 words with L_max 15, L_cache 4: (11 - 13) / 4
    pytest.param(r1_words(13), {"max_len": 15, "cache_len": 4, "unit": "words"}, -0.5, id="words"),
    # tokens counted by the caller; the text's own length does not matter: (3000 - 3500) / 1000
    pytest.param(r1(50), {"max_len": 4000, "cache_len": 1000, "unit": "tokens", "tokens": 3500}, -0.5, id="tokens"),
    # tokens below the ramp
    pytest.param(r1(50_000), {"max_len": 4000, "cache_len": 1000, "unit": "tokens", "tokens": 12}, 0.0,
                 id="tokens-short"),
]

COSINE: list[Any] = [
    # correct, half of max_len: cos = 0, 0.5 + 0.5 * 0.5 * 1
    pytest.param(r1(50), {"correct": True, "max_len": 100}, 0.75, id="correct-half"),
    # wrong, half of max_len: 0 + 0.5 * (-0.5) * 1
    pytest.param(r1(50), {"correct": False, "max_len": 100}, -0.25, id="wrong-half"),
    # correct and short: 0.5 + 0.25 * (1 + cos(pi / 10))
    pytest.param(r1(10 * 20), {"correct": True, "max_len": 2000}, 0.987764129, id="correct-short"),
    # wrong and short: 0 - 0.25 * (1 + cos(pi / 10))
    pytest.param(r1(10 * 20), {"correct": False, "max_len": 2000}, -0.487764129, id="wrong-short"),
    # correct, a quarter: 0.5 + 0.25 * (1 + cos(pi / 4))
    pytest.param(r1(100), {"correct": True, "max_len": 400}, 0.926776695, id="correct-quarter"),
    # correct at max_len
    pytest.param(r1(100), {"correct": True, "max_len": 100}, 0.5, id="correct-at-max"),
    # correct past max_len: clipped
    pytest.param(r1(300), {"correct": True, "max_len": 100}, 0.5, id="correct-clipped"),
    # wrong past max_len: clipped to max_value_wrong
    pytest.param(r1(300), {"correct": False, "max_len": 100}, 0.0, id="wrong-clipped"),
    # custom values, words: 10 words of 20, correct: 0 + 0.5 * (2 - 0) * 1
    pytest.param(r1_words(10), {"correct": True, "max_len": 20, "unit": "words", "min_value_correct": 0.0,
                                "max_value_correct": 2.0}, 1.0, id="custom-words"),
]

LENGTH: list[Any] = [
    # the shortest of the group, correct: +0.5
    pytest.param(r1(100), {"correct": True, "group_lengths": [100, 200, 300]}, 0.5, id="shortest-correct"),
    # the longest, correct: -0.5
    pytest.param(r1(300), {"correct": True, "group_lengths": [100, 200, 300]}, -0.5, id="longest-correct"),
    # the middle: 0.5 - 100/200
    pytest.param(r1(200), {"correct": True, "group_lengths": [100, 200, 300]}, 0.0, id="middle"),
    # a quarter of the way: 0.5 - 50/200
    pytest.param(r1(150), {"correct": True, "group_lengths": [100, 200, 300]}, 0.25, id="quarter"),
    # short but wrong: min(0, 0.5)
    pytest.param(r1(100), {"correct": False, "group_lengths": [100, 200, 300]}, 0.0, id="shortest-wrong"),
    # long and wrong: min(0, -0.5)
    pytest.param(r1(300), {"correct": False, "group_lengths": [100, 200, 300]}, -0.5, id="longest-wrong"),
    # all the same length: lambda 0
    pytest.param(r1(100), {"correct": True, "group_lengths": [100, 100]}, 0.0, id="all-equal"),
    # this completion is longer than the group it was given: it joins it, max 400: 0.5 - 300/300
    pytest.param(r1(400), {"correct": True, "group_lengths": [100, 200]}, -0.5, id="joins-group"),
    # words: 15 words among 10..30: 0.5 - 5/20
    pytest.param(r1_words(15), {"correct": True, "group_lengths": [10, 30], "unit": "words"}, 0.25, id="words"),
]

R1_ZERO = "<think>\nWe add 2 and 2.\n</think>\n<answer>\n4\n</answer>"
TAG_COUNT: list[Any] = [
    # the R1-Zero template, all four tags with their newlines
    pytest.param(R1_ZERO, {}, 1.0, id="r1-zero"),
    # no newlines around the tags: strict counts none
    pytest.param("<think>We add 2 and 2.</think><answer>4</answer>", {}, 0.0, id="no-newlines-strict"),
    # no newlines, bare tags counted
    pytest.param("<think>We add 2 and 2.</think><answer>4</answer>", {"strict_newlines": False}, 1.0,
                 id="no-newlines-bare"),
    # prefilled <think>: the completion starts inside the reasoning
    pytest.param("We add 2 and 2.\n</think>\n<answer>\n4\n</answer>", {"prefilled_think": True}, 1.0, id="prefilled"),
    # the same without the flag: the <think> quarter is missing
    pytest.param("We add 2 and 2.\n</think>\n<answer>\n4\n</answer>", {}, 0.75, id="prefilled-no-flag"),
    # R1 style without answer tags: half
    pytest.param("<think>\nWe add 2 and 2.\n</think>\nThe answer is 4.", {}, 0.5, id="no-answer-tags"),
    # two answers: both answer quarters lost
    pytest.param(R1_ZERO + "\n<answer>\n5\n</answer>", {}, 0.5, id="two-answers"),
    # cut off inside the answer
    pytest.param("<think>\nWe add 2 and 2.\n</think>\n<answer>\n4", {}, 0.75, id="cut-off"),
    # plain text
    pytest.param("4", {}, 0.0, id="plain"),
    # prefilled, but the model opens a second <think> mid-way: two, the quarter is lost
    pytest.param("We add.\n<think>\nAgain.\n</think>\n<answer>\n4\n</answer>", {"prefilled_think": True}, 0.75,
                 id="prefilled-second-think"),
    # prefilled, and the model repeats the <think> at its very start: accepted as the one
    pytest.param(R1_ZERO, {"prefilled_think": True}, 1.0, id="prefilled-repeated-at-start"),
]

STEPS: list[Any] = [
    # explicit steps
    pytest.param("<think>\nStep 1: read.\nStep 2: add 2 and 2.\nStep 3: check.\n</think>\n4", {}, 1.0, id="steps"),
    # a numbered list, both styles
    pytest.param("<think>\n1. Read.\n2) Add.\n3. Check.\n</think>\n4", {}, 1.0, id="numbered"),
    # bullets, indented
    pytest.param("<think>\n- read\n  * add\n</think>\n4", {}, 2 / 3, id="bullets"),
    # transition words
    pytest.param("<think>\nFirst, read. Then, add. Finally, check. Next, stop.\n</think>\n4", {}, 1.0,
                 id="transitions"),
    # one marker of three
    pytest.param("<think>\nFirst, 2 + 2 = 4.\n</think>\n4", {}, 1 / 3, id="one-marker"),
    # a target of one
    pytest.param("<think>\nFirst, 2 + 2 = 4.\n</think>\n4", {"target": 1}, 1.0, id="target-1"),
    # prose without markers; a decimal at the start of a line is no numbered step
    pytest.param("<think>\nWe add two and two.\n2.5 is not it either.\n</think>\n4", {}, 0.0, id="prose"),
    # markers only in the answer: not counted in the think scope
    pytest.param("<think>\nEasy.\n</think>\nStep 1: add.\nStep 2: done.", {}, 0.0, id="answer-markers-think"),
    # the same with scope all
    pytest.param("<think>\nEasy.\n</think>\nStep 1: add.\nStep 2: done.", {"scope": "all"}, 2 / 3,
                 id="answer-markers-all"),
    # no think section at all
    pytest.param("Step 1: add. Step 2: done. Step 3: check.", {}, 0.0, id="no-think"),
]
# fmt: on


@pytest.mark.parametrize(("completion", "params", "expected"), OVERLONG)
def test_overlong(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("overlong", completion, params) == pytest.approx(expected)


@pytest.mark.parametrize(("completion", "params", "expected"), COSINE)
def test_cosine_length(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("cosine_length", completion, params) == pytest.approx(expected)


@pytest.mark.parametrize(("completion", "params", "expected"), LENGTH)
def test_length(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("length", completion, params) == pytest.approx(expected)


@pytest.mark.parametrize(("completion", "params", "expected"), TAG_COUNT)
def test_tag_count(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("tag_count", completion, params) == pytest.approx(expected)


@pytest.mark.parametrize(("completion", "params", "expected"), STEPS)
def test_reasoning_steps(completion: str, params: dict[str, Any], expected: float) -> None:
    assert score("reasoning_steps", completion, params) == pytest.approx(expected)


MEGABYTE_PARAMS: dict[str, dict[str, Any]] = {
    "repetition": {},
    "overlong": {"max_len": 4000, "cache_len": 1000},
    "cosine_length": {"correct": False, "max_len": 4000},
    "length": {"correct": True, "group_lengths": [1000, 2000]},
    "tag_count": {},
    "reasoning_steps": {"scope": "all"},
}


@pytest.mark.parametrize("name", sorted(MEGABYTE_PARAMS))
def test_a_megabyte_completion_returns(name: str) -> None:
    """Every verifier reads 1 MB of R1 reasoning (steps, bullets, tags, CJK) and answers: no quadratic scan."""
    chunk = "Step 1: add 2 and 2.\n- check: 2 + 2 = 4\nFirst, 嗯，让我想想。そうですね。<think>\n</think>\n  \t"
    completion = "<think>\n" + chunk * (1_000_000 // len(chunk) + 1) + "\n</think>\n<answer>\n4\n</answer>"
    assert len(completion) > 1_000_000
    result = verdict(name, completion, MEGABYTE_PARAMS[name])
    assert result.status is Status.OK and result.score is not None


def test_helpers_build_exact_lengths() -> None:
    assert [len(r1(n)) for n in (50, 90, 300)] == [50, 90, 300]
    assert len(r1_words(13).split()) == 13


def test_all_six_through_the_gateway(gateway_url: str) -> None:
    rewards = [
        {"name": "repetition", "params": {"scope": "think"}},
        {"name": "overlong", "params": {"max_len": 100, "cache_len": 20}},
        {"name": "cosine_length", "params": {"correct": True, "max_len": 100}},
        {"name": "length", "params": {"correct": True, "group_lengths": [90, 110]}},
        {"name": "tag_count"},
        {"name": "reasoning_steps"},
    ]
    with RewardClient(gateway_url) as client:
        [result] = client.score([{"id": "a", "completion": r1(90), "rewards": rewards}])
    scores = {c.name: c.score for c in result.components}
    assert scores == pytest.approx(
        {"repetition": 0.0, "overlong": -0.5, "cosine_length": 0.5 + 0.25 * (1 + math.cos(0.9 * math.pi)),
         "length": 0.5 - 0 / 20, "tag_count": 0.5, "reasoning_steps": 0.0}
    )  # fmt: skip
    assert all(c.status == "ok" for c in result.components)


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("cosine_length", {"max_len": 100}, "items[0].rewards[0].params.correct"),
        ("cosine_length", {"correct": True}, "items[0].rewards[0].params.max_len"),
        ("overlong", {"cache_len": 10}, "items[0].rewards[0].params.max_len"),
        ("overlong", {"max_len": 100}, "items[0].rewards[0].params.cache_len"),
        ("overlong", {"max_len": 100, "cache_len": 100}, "cache_len (100) must be < max_len"),
        ("overlong", {"max_len": 100, "cache_len": 10, "unit": "tokens"}, "tokens is required"),
        ("length", {"group_lengths": [1, 2]}, "items[0].rewards[0].params.correct"),
        ("length", {"correct": True}, "items[0].rewards[0].params.group_lengths"),
        ("length", {"correct": True, "group_lengths": []}, "items[0].rewards[0].params.group_lengths"),
        ("length", {"correct": True, "group_lengths": [10, -1]}, "items[0].rewards[0].params.group_lengths.1"),
        ("repetition", {"max_penalty": 0.5}, "items[0].rewards[0].params.max_penalty"),
        ("repetition", {"scope": "reasoning"}, "items[0].rewards[0].params.scope"),
        ("repetition", {"ngram_size": 0}, "items[0].rewards[0].params.ngram_size"),
        ("reasoning_steps", {"target": 0}, "items[0].rewards[0].params.target"),
        ("tag_count", {"strict": True}, "items[0].rewards[0].params.strict"),
    ],
)
def test_bad_params_are_422_naming_the_field(gateway_url: str, name: str, params: dict[str, Any], field: str) -> None:
    reward = {"name": name, "params": params}
    with RewardClient(gateway_url) as client, pytest.raises(InvalidRequest) as exc:
        client.score([{"id": "a", "completion": r1(90), "rewards": [reward]}])
    assert field in str(exc.value)
