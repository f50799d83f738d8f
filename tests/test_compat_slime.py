"""``POST /compat/slime``: slime's ``remote_rm`` protocol against the live gateway.

slime is not on PyPI (the ``slime`` there is an unrelated package), so its client is not installed: the
requests below have the shape of its ``slime/rollout/rm_hub`` ``remote_rm`` (aiohttp, ``{"prompt",
"response", "label"}``, ``raise_for_status``, the JSON answer kept as the sample's reward), and
:func:`reward_categories` is the ``error_cat/<value>`` metric its ``--log-reward-category`` logs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import aiohttp
import httpx
import pytest
from compat_stub import KEY, stub_gateway

from rlvr_client.compat_models import SlimeReward
from rlvr_client.errors import NoLiveWorker, Overloaded

GOOD = "<think>2 + 2 = 4</think> The answer is \\boxed{4}."
WRONG = "<think>2 + 2 = 5</think> The answer is \\boxed{5}."
FAIL = {"rewards": [{"name": "sleep", "params": {"raise_error": True}}]}
SLOW = json.dumps({"rewards": [{"name": "sleep", "params": {"ms": 3000, "timeout_s": 0.3}}]})
CHAT = [{"role": "system", "content": "Think first."}, {"role": "user", "content": "What is 2 + 2?"}]


async def remote_rm(rm_url: str, prompt: Any, response: str, label: Any) -> Any:
    """What slime's remote_rm sends and keeps (one attempt)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async with session.post(rm_url, json={"prompt": prompt, "response": response, "label": label}) as resp:
            resp.raise_for_status()
            return await resp.json()


def reward_categories(rewards: list[dict[str, Any]], key: str) -> dict[str, float]:
    """slime's ``--log-reward-category KEY`` metric: the share of samples per value of ``reward[KEY]``."""
    counts = Counter(r[key] for r in rewards)
    return {f"error_cat/{value}": n / len(rewards) for value, n in counts.items()}


CASES = [
    # prompt, response, label, reward, status
    ("What is 2 + 2?", GOOD, "4", 1.0, "ok"),
    (CHAT, WRONG, "4", 0.0, "ok"),
    ("What is 2 + 2?", "", "4", 0.0, "ok"),  # an empty response is a wrong answer
    ("q", GOOD, {"rewards": [{"name": "math", "params": {"gold": "4"}}, {"name": "format", "weight": 0.2}]}, 1.2, "ok"),
    ("q", GOOD, FAIL, 0.0, "error"),
    ("q", GOOD, SLOW, 0.0, "timeout"),
]


@pytest.mark.parametrize(("prompt", "response", "label", "reward", "status"), CASES)
async def test_number_and_dict_forms(
    gateway_url: str, prompt: Any, response: str, label: Any, reward: float, status: str
) -> None:
    number = await remote_rm(f"{gateway_url}/compat/slime", prompt, response, label)
    assert isinstance(number, float) and number == pytest.approx(reward)
    answer = await remote_rm(f"{gateway_url}/compat/slime?reward=dict", prompt, response, label)
    as_dict = SlimeReward.model_validate(answer)
    assert as_dict.score == pytest.approx(reward)
    assert as_dict.rlvr_status == status
    assert as_dict.rlvr_error == int(status in ("error", "timeout"))


async def test_failures_show_in_slimes_reward_category_metric(gateway_url: str) -> None:
    url = f"{gateway_url}/compat/slime?reward=dict"
    rewards = [await remote_rm(url, "q", GOOD, label) for label in ("4", "4", FAIL)]
    assert [r["score"] for r in rewards] == [1.0, 1.0, 0.0]  # --reward-key score
    assert reward_categories(rewards, "rlvr_status") == pytest.approx({"error_cat/ok": 2 / 3, "error_cat/error": 1 / 3})


BAD_BODIES = [
    ({"prompt": "q", "label": "4"}, "", "response"),
    ({"prompt": 3, "response": GOOD, "label": "4"}, "", "prompt"),
    ({"prompt": "q", "response": GOOD}, "", "label"),  # the default profile needs the label as the gold
    ({"prompt": "q", "response": GOOD, "label": {"rewards": [{"name": "math"}]}}, "", "label"),
    ({"prompt": "q", "response": GOOD, "label": "4"}, "?reward=text", "query.reward"),
    ({"prompt": "q", "response": GOOD, "label": "4"}, "/nope", "profile"),
]


@pytest.mark.parametrize(("body", "suffix", "field"), BAD_BODIES)
def test_bad_bodies_get_422_naming_the_field(gateway_url: str, body: dict[str, Any], suffix: str, field: str) -> None:
    r = httpx.post(f"{gateway_url}/compat/slime{suffix}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith(field)


STATUS_MAPPING = [
    (Overloaded("backlog full", details={"retry_after_s": 3}), 503, None),
    (NoLiveWorker("no live worker for math"), 200, -1.0),
    (RuntimeError("a bug of ours"), 200, -1.0),
]


@pytest.mark.parametrize(("error", "status", "reward"), STATUS_MAPPING)
def test_status_mapping(error: Exception, status: int, reward: float | None) -> None:
    body = {"prompt": "q", "response": GOOD, "label": "4"}
    with stub_gateway(compat_fallback=-1.0) as (url, scorer):
        scorer.error = error
        number = httpx.post(f"{url}/compat/slime", json=body)
        as_dict = httpx.post(f"{url}/compat/slime?reward=dict", json=body)
    assert number.status_code == as_dict.status_code == status
    if reward is not None:
        assert number.json() == reward
        assert as_dict.json()["score"] == reward and as_dict.json()["rlvr_error"] == 1


async def test_profiles_by_path_or_query_and_a_key_in_the_url() -> None:
    code = {"name": "code", "params": {"language": "python"}, "from_label": "*"}  # the label holds the tests
    profiles = {"fmt": [{"name": "format"}], "code": [code]}
    with stub_gateway(keys=True, compat_profiles=profiles) as (url, scorer):
        authed = url.replace("http://", f"http://trainer:{KEY}@")
        assert await remote_rm(f"{authed}/compat/slime/fmt", "q", GOOD, None) == 1.0
        assert await remote_rm(f"{authed}/compat/slime?profile=fmt", "q", GOOD, None) == 1.0
        tests = json.dumps({"tests": [{"stdin": "1", "stdout": "1"}]})
        assert await remote_rm(f"{authed}/compat/slime/code", "q", "```python\nprint(input())\n```", tests) == 1.0
        assert [r.items[0].rewards[0].name for r in scorer.requests] == ["format", "format", "code"]  # type: ignore[index]
        params = scorer.requests[-1].items[0].rewards[0].params  # type: ignore[index]
        assert params == {"language": "python", "tests": [{"stdin": "1", "stdout": "1"}]}
        r = httpx.post(f"{url}/compat/slime", json={"prompt": "q", "response": GOOD, "label": "4"})
        assert r.status_code == 401
