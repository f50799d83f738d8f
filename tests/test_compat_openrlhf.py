"""``POST /compat/openrlhf/get_reward`` driven by OpenRLHF's own remote reward client (openrlhf 0.11.2).

``SingleTurnAgentExecutor`` builds each query by decoding prompt + response tokens with the special tokens
kept, posts ``{"query", "prompts", "labels"}`` and reads ``{"rewards", "scores", "extra_logs"}``; it retries
any non-2xx five times. The live gateway scores; tests/compat_stub.py serves the status mapping and keys.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from compat_stub import KEY, RUN_ONLY_KEY, stub_gateway
from peer_code import CharTokenizer, EngineStub, SamplingParamsStub, openrlhf_agent

from rlvr_client.errors import (
    InternalError,
    NoLiveWorker,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    UnknownVerifier,
)
from rlvr_services.gateway.compat.openrlhf import completion_of, strip_eos
from rlvr_services.settings import EOS_TEXTS

GOOD = "<think>2 + 2 = 4</think> The answer is \\boxed{4}."
WRONG = "<think>2 + 2 = 5</think> The answer is \\boxed{5}."
PROMPT = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
FAIL = json.dumps({"rewards": [{"name": "sleep", "params": {"raise_error": True}}]})
SLOW = json.dumps({"rewards": [{"name": "sleep", "params": {"ms": 3000, "timeout_s": 0.3}}]})
WITH_FORMAT = json.dumps({"rewards": [{"name": "math", "params": {"gold": "4"}}, {"name": "format", "weight": 0.2}]})


def endpoint(url: str, profile: str | None = None) -> str:
    return f"{url}/compat/openrlhf/{profile}/get_reward" if profile else f"{url}/compat/openrlhf/get_reward"


async def fetch(url: str, queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
    executor = openrlhf_agent().SingleTurnAgentExecutor(remote_rm_url=url)
    [response] = await executor._fetch_rewards_via_http(queries, prompts, labels)
    assert isinstance(response, dict)
    return response


CASES = [
    # response, label, reward, rlvr_error
    (GOOD + "<|im_end|>", "4", 1.0, 0.0),
    (WRONG + "<|im_end|>", "4", 0.0, 0.0),
    (GOOD + "<|im_end|><|endoftext|><|endoftext|>", "4", 1.0, 0.0),  # padding after the end of sequence
    (GOOD, WITH_FORMAT, 1.2, 0.0),  # a JSON label that carries reward specs
    (GOOD, "\\frac{", 0.0, 1.0),  # a gold that does not parse: the fallback, flagged
    (GOOD, FAIL, 0.0, 1.0),  # a verifier that crashes
    (GOOD, SLOW, 0.0, 1.0),  # a verifier past its deadline
]


@pytest.mark.parametrize(("response", "label", "reward", "error"), CASES)
async def test_openrlhf_client_batch(gateway_url: str, response: str, label: str, reward: float, error: float) -> None:
    got = await fetch(endpoint(gateway_url), [PROMPT + response], [PROMPT], [label])
    assert got["rewards"] == pytest.approx([reward])
    assert got["scores"] == pytest.approx([reward])
    assert got["extra_logs"] == {"rlvr_error": [error]}


async def test_openrlhf_single_turn_rollout(gateway_url: str) -> None:
    """The whole executor: prompt tokenized, a response generated, the query decoded with its EOS text, scored."""
    agent = openrlhf_agent()
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=endpoint(gateway_url))
    engine = EngineStub({PROMPT: GOOD, "Q: 1 + 1 = ?\n": WRONG})
    for prompt, label, reward in ((PROMPT, "4", 1.0), ("Q: 1 + 1 = ?\n", "2", 0.0)):
        out = await executor.execute(prompt, label, SamplingParamsStub(), 4096, CharTokenizer(), engine)
        assert out["reward"] == pytest.approx([reward])
        assert out["scores"] == pytest.approx([reward])
        assert out["extra_logs"] == {"rlvr_error": [0.0]}


async def test_empty_batch_is_valid(gateway_url: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(endpoint(gateway_url), json={"query": [], "prompts": [], "labels": []})
    assert r.status_code == 200
    assert r.json() == {"rewards": [], "scores": [], "extra_logs": {"rlvr_error": []}}


BAD_BODIES = [
    ({"prompts": ["p"], "labels": ["4"]}, "query"),
    ({"query": "p x", "prompts": ["p"], "labels": ["4"]}, "query"),
    ({"query": ["p x"], "prompts": ["p", "q"], "labels": ["4"]}, "prompts"),
    ({"query": ["p x"], "prompts": ["p"], "labels": []}, "labels"),
    ({"query": ["p x"], "prompts": ["p"], "labels": [None]}, "labels[0]"),
    ({"query": ["p x"], "prompts": ["p"], "labels": ['{"rewards": [{"name": "math"}]}']}, "labels[0]"),
    ({"query": ["x", "y"], "prompts": ["p", "p"], "labels": ["1", '[{"name": "math", "weight": "x"}]']}, "labels[1]"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_bodies_get_422_naming_the_field(gateway_url: str, body: dict[str, Any], field: str) -> None:
    r = httpx.post(endpoint(gateway_url), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith(field) or f"{field}:" in r.json()["error"]["message"]


def test_unknown_verifier_and_profile(gateway_url: str) -> None:
    label = json.dumps({"rewards": [{"name": "no_such_verifier"}]})
    r = httpx.post(endpoint(gateway_url), json={"query": ["p x"], "prompts": ["p"], "labels": [label]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_verifier"
    assert "labels[0]" in r.json()["error"]["message"]
    r = httpx.post(endpoint(gateway_url, "nope"), json={"query": ["p x"], "prompts": ["p"], "labels": ["4"]})
    assert r.status_code == 422 and "unknown profile 'nope'" in r.json()["error"]["message"]


STATUS_MAPPING = [
    # what the scorer raises, the HTTP status OpenRLHF sees, the reward and flag when 200
    (Overloaded("backlog full", details={"retry_after_s": 3}), 503, None),
    (NotReady("starting"), 503, None),
    (NoLiveWorker("no live worker for math"), 200, -1.0),
    (InternalError("boom"), 200, -1.0),
    (RuntimeError("a bug of ours"), 200, -1.0),
    (UnknownVerifier("unknown verifier 'x'"), 422, None),
    (PayloadTooLarge("items[0].completion: too long"), 200, -1.0),  # the model's output, not a bad request
]


@pytest.mark.parametrize(("error", "status", "reward"), STATUS_MAPPING)
def test_status_mapping(error: Exception, status: int, reward: float | None) -> None:
    with stub_gateway(compat_fallback=-1.0) as (url, scorer):
        scorer.error = error
        r = httpx.post(endpoint(url), json={"query": ["p x"], "prompts": ["p"], "labels": ["4"]})
    assert r.status_code == status, r.text
    if status == 503:
        assert r.headers.get("retry-after")
    if reward is not None:
        assert r.json() == {"rewards": [reward], "scores": [reward], "extra_logs": {"rlvr_error": [1.0]}}


async def test_profiles_and_label_specs_reach_the_scorer() -> None:
    profiles = {"math_format": [{"name": "math", "from_label": "gold"}, {"name": "format", "weight": 0.2}]}
    with stub_gateway(compat_profiles=profiles) as (url, scorer):
        got = await fetch(endpoint(url, "math_format"), ["p x", "p y"], ["p", "p"], ["4", WITH_FORMAT])
        assert got["rewards"] == pytest.approx([1.2, 1.2])
        [request] = scorer.requests
        first, second = request.items
        assert [(s.name, s.params) for s in first.rewards or []] == [("math", {"gold": "4"}), ("format", {})]
        assert (first.prompt, first.completion) == ("p", " x")
        assert [s.name for s in second.rewards or []] == ["math", "format"]
        await fetch(endpoint(url), ["p x"], ["p"], [42])  # a number is a plain label too
        assert scorer.requests[-1].items[0].rewards[0].params == {"gold": "42"}  # type: ignore[index]


async def test_api_key_in_the_url_or_as_a_bearer_token() -> None:
    body = {"query": ["p x"], "prompts": ["p"], "labels": ["4"]}
    with stub_gateway(keys=True) as (url, _):
        authed = url.replace("http://", f"http://trainer:{KEY}@")
        got = await fetch(endpoint(authed), ["p x"], ["p"], ["4"])  # aiohttp sends the URL's credentials
        assert got["rewards"] == [1.0]
        assert httpx.post(endpoint(url), json=body).status_code == 401
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert httpx.post(endpoint(url), json=body, headers=bearer).status_code == 200
        r = httpx.post(endpoint(url), json=body, headers={"Authorization": f"Bearer {RUN_ONLY_KEY}"})
        assert r.status_code == 403 and r.json()["error"]["details"]["required_scope"] == "score"
        for bad in ("Basic !!not-base64", "Basic " + base64.b64encode(b"trainer:wrong-key").decode()):
            assert httpx.post(endpoint(url), json=body, headers={"Authorization": bad}).status_code == 401


LONG = "a long prompt, " * 10 + "Think step by step."
COMPLETIONS = [
    # query, prompt, completion
    ("PROMPT answer<|im_end|>", "PROMPT", " answer"),
    ("<s>PROMPT answer</s>", "PROMPT", " answer"),  # a BOS text before the prompt
    (LONG[-40:] + " answer<|im_end|>", LONG, " answer"),  # the prompt's start cut to fit max_len
    ("answer<|eot_id|><|end_of_text|>\n<pad><pad>", "PROMPT", "answer"),  # no prompt in the query at all
    ("PROMPT answer", None, "PROMPT answer"),
    ("PROMPT ", "PROMPT", " "),
]


@pytest.mark.parametrize(("query", "prompt", "completion"), COMPLETIONS)
def test_completion_of(query: str, prompt: str | None, completion: str) -> None:
    assert completion_of(query, prompt, EOS_TEXTS) == completion


def test_strip_eos_keeps_text_without_one() -> None:
    assert strip_eos("an answer  ", EOS_TEXTS) == "an answer  "
    assert strip_eos("a</s> \n</s>", EOS_TEXTS) == "a"
