"""Backend settings, wire shapes and limits, without a model: what is sent, what is read back, and
how the limits and the breaker behave. (The live behaviour is in test_judge_service.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rlvr_client.errors import BackendError, BackendTimeout
from rlvr_services.backends.batcher import MicroBatcher
from rlvr_services.backends.config import OpenAIBackend, RewardServerBackend, load_backends
from rlvr_services.backends.limits import CircuitBreaker, TokenBucket
from rlvr_services.backends.openai_chat import OpenAIChat, parse_reply
from rlvr_services.backends.pool import Backends
from rlvr_services.backends.reward_servers import RewardServer, parse_scores
from rlvr_services.backends.types import Sampling
from rlvr_services.settings import GatewaySettings


def _no_events(backend: str, outcome: str) -> None:
    return None


def test_backends_from_env_json_and_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "backends.yaml"
    file.write_text(
        "backends:\n"
        "  judge: {kind: openai, base_url: 'http://a/v1', model: m}\n"
        "  reward: {kind: vllm_classify, base_url: 'http://b', model: rm}\n"
    )
    monkeypatch.setenv(
        "RLVR_BACKENDS", json.dumps({"judge": {"kind": "openai", "base_url": "http://c/v1", "model": "x"}})
    )
    monkeypatch.setenv("RLVR_BACKENDS_FILE", str(file))
    configs = GatewaySettings().backend_configs()
    assert sorted(configs) == ["judge", "reward"]
    judge = configs["judge"]
    assert isinstance(judge, OpenAIBackend) and judge.base_url == "http://c/v1"  # the variable wins
    assert isinstance(configs["reward"], RewardServerBackend)


def test_a_bad_backend_entry_names_itself() -> None:
    with pytest.raises(ValidationError, match="judge"):
        load_backends({"judge": {"kind": "openai", "model": "m"}}, None)  # no base_url
    with pytest.raises(ValidationError):
        load_backends({"x": {"kind": "nope"}}, None)
    with pytest.raises(ValidationError):
        load_backends({"x": {"kind": "openai", "base_url": "u", "model": "m", "api_key": "sk-..."}}, None)


def test_api_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    config = OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="RLVR_TEST_KEY")
    monkeypatch.delenv("RLVR_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match="RLVR_TEST_KEY is not set"):
        OpenAIChat("j", config, _no_events)

    async def build() -> str:
        chat = OpenAIChat("j", config, _no_events)
        header = chat.http.clients[0].headers["authorization"]
        await chat.aclose()
        return header

    monkeypatch.setenv("RLVR_TEST_KEY", "secret")
    assert asyncio.run(build()) == "Bearer secret"


def test_unknown_backend_lists_the_configured_ones() -> None:
    pool = Backends(load_backends({"judge": {"kind": "openai", "base_url": "u", "model": "m"}}, None))
    with pytest.raises(BackendError, match="configured backends: judge") as info:
        pool.chat("other")
    assert info.value.kind == "unknown_backend"
    with pytest.raises(BackendError, match="not a reward model"):
        pool.reward("judge")


async def test_chat_body_in_each_choice_style() -> None:
    messages = [{"role": "user", "content": "q"}]
    sampling = Sampling(temperature=0.0, top_p=1.0, seed=3, max_tokens=64)
    bodies = {}
    for style in ("structured_outputs", "guided_choice", "none"):
        chat = OpenAIChat("j", OpenAIBackend(base_url="http://x/v1", model="m", choice_style=style), _no_events)  # type: ignore[arg-type]
        bodies[style] = chat.body(messages, sampling, ["VERDICT: A", "VERDICT: B"])
        await chat.aclose()
    assert bodies["structured_outputs"]["structured_outputs"] == {"choice": ["VERDICT: A", "VERDICT: B"]}
    assert "guided_choice" not in bodies["structured_outputs"]
    assert bodies["guided_choice"]["guided_choice"] == ["VERDICT: A", "VERDICT: B"]
    assert "structured_outputs" not in bodies["none"] and "guided_choice" not in bodies["none"]
    assert bodies["none"] == {
        "model": "m", "messages": messages, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "stream": False,
        "seed": 3,
    }  # fmt: skip


def test_parse_reply_shapes() -> None:
    data = {
        "choices": [{"message": {"content": "VERDICT: A", "reasoning_content": "hmm"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3},
    }
    reply = parse_reply("j", data, 2)
    assert (reply.text, reply.reasoning, reply.finish_reason, reply.prompt_tokens, reply.attempts) == (
        "VERDICT: A", "hmm", "stop", 12, 2,
    )  # fmt: skip
    assert parse_reply("j", {"choices": [{"message": {"content": None}, "finish_reason": "length"}]}, 1).text == ""
    for bad in ({}, {"choices": []}, {"choices": [{"message": {"content": 5}}]}, []):
        with pytest.raises(BackendError) as info:
            parse_reply("j", bad, 1)
        assert info.value.kind == "bad_response"


@pytest.mark.parametrize(
    ("kind", "answer", "scores"),
    [
        ("vllm_classify", {"data": [{"index": 1, "probs": [-0.5]}, {"index": 0, "probs": [2.0]}]}, [2.0, -0.5]),
        ("vllm_pooling", {"data": [{"index": 0, "data": [1.5]}, {"index": 1, "data": [[0.25]]}]}, [1.5, 0.25]),
        ("sglang", [{"embedding": [0.7], "meta_info": {}}, {"embedding": [-1.0]}], [0.7, -1.0]),
        ("openrlhf", {"rewards": [0.1, 0.9], "scores": [0.1, 0.9], "extra_logs": {}}, [0.1, 0.9]),
    ],
)
def test_reward_server_answers_are_read_in_request_order(kind: str, answer: Any, scores: list[float]) -> None:
    assert parse_scores(kind, answer, 2) == scores
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_scores(kind, answer, 3)  # a count that does not match is an error


def test_reward_server_rejects_non_numbers() -> None:
    with pytest.raises(ValueError):
        parse_scores("openrlhf", {"rewards": ["high"]}, 1)
    with pytest.raises(ValueError):
        parse_scores("vllm_classify", {"data": [{"index": 0, "probs": []}]}, 1)


async def test_reward_server_request_bodies() -> None:
    def body(kind: str, **extra: Any) -> dict[str, Any]:
        server = RewardServer(
            "rm", RewardServerBackend(kind=kind, base_url="http://x", model="rm", **extra), _no_events
        )  # type: ignore[arg-type]
        try:
            return server.body(["a", "b"])
        finally:
            asyncio.get_running_loop().create_task(server.aclose())

    assert body("vllm_classify") == {"input": ["a", "b"], "use_activation": False, "model": "rm"}
    assert body("vllm_classify", raw_scores_field="activation")["activation"] is False
    assert body("vllm_pooling")["task"] == "classify"
    assert body("sglang") == {"text": ["a", "b"]}
    assert body("openrlhf") == {"query": ["a", "b"]}
    await asyncio.sleep(0)


async def test_token_bucket_waits_and_gives_up_at_the_deadline() -> None:
    bucket = TokenBucket(rate_per_minute=600)  # 10 a second, a burst of 600
    bucket.level = 1
    await bucket.take(1, time.monotonic() + 1)
    start = time.monotonic()
    await bucket.take(1, time.monotonic() + 1)  # waits ~0.1 s for a refill
    assert 0.05 <= time.monotonic() - start < 0.5
    bucket.level = 0
    with pytest.raises(BackendTimeout):
        await bucket.take(100, time.monotonic() + 0.5)  # 10 s of refill: past the deadline


def test_circuit_breaker() -> None:
    breaker = CircuitBreaker("b", failures=2, reset_s=0.05)
    breaker.check()
    breaker.failure("boom")
    breaker.check()  # one failure: still closed
    breaker.failure("boom")
    with pytest.raises(BackendError) as info:
        breaker.check()
    assert info.value.kind == "circuit_open" and "boom" in str(info.value)
    assert breaker.state().startswith("circuit open")
    time.sleep(0.06)
    breaker.check()  # the trial call goes
    with pytest.raises(BackendError):
        breaker.check()  # only one trial at a time
    breaker.failure("again")  # the trial failed: open again
    with pytest.raises(BackendError):
        breaker.check()
    time.sleep(0.06)
    breaker.check()
    breaker.success()
    assert breaker.state() == "ok" and breaker.times_opened == 2


async def test_micro_batcher_batches_concurrent_callers() -> None:
    sizes: list[int] = []

    async def run(batch: list[int]) -> list[int | BaseException]:
        sizes.append(len(batch))
        await asyncio.sleep(0.01)
        return [x * 2 if x != 13 else ValueError("thirteen") for x in batch]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_size=8, linger_s=0.005)
    results = await asyncio.gather(*(batcher.submit(x) for x in range(20)), return_exceptions=True)
    assert results[:13] == [x * 2 for x in range(13)] and isinstance(results[13], ValueError)
    assert sum(sizes) == 20 and max(sizes) <= 8 and len(sizes) <= 4
    await batcher.aclose()
