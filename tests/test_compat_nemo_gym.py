"""The NeMo-Gym resources-server profiles (``/compat/nemo-gym/<profile>/...``) against the live gateway.

NeMo-Gym needs Python 3.13 (this project runs on 3.11), so its client is not installed: the bodies below
have the shapes of its ``base_resources_server`` and of the ``math_with_judge``, ``instruction_following``
and ``code_gen`` resources servers, with the rollout's ``response`` built by the OpenAI SDK's own Responses
model (which NeMo-Gym's ``NeMoGymResponse`` extends).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import httpx
import pytest
from compat_stub import stub_gateway
from openai.types.responses import Response, ResponseOutputMessage, ResponseOutputText, ResponseReasoningItem

from rlvr_client.errors import NoLiveWorker, Overloaded
from rlvr_client.models import Status

GOOD = "The answer is \\boxed{4}."
WRONG = "The answer is \\boxed{5}."
ECHO = "```python\nprint(int(input()) * 2)\n```"
SOLUTION = "```python\nclass Solution:\n    def twice(self, x: int) -> int:\n        return 2 * x\n```"


def rollout(*texts: str, reasoning: str | None = None) -> dict[str, Any]:
    """A Responses-API object with a reasoning item and one assistant message per text."""
    output: list[Any] = []
    if reasoning is not None:
        summary = [{"type": "summary_text", "text": reasoning}]
        output.append(ResponseReasoningItem(id="rs_0", type="reasoning", summary=summary))
    for i, text in enumerate(texts):
        part = ResponseOutputText(type="output_text", text=text, annotations=[])
        message = ResponseOutputMessage(
            id=f"msg_{i}", type="message", role="assistant", status="completed", content=[part]
        )
        output.append(message)
    response = Response(
        id="resp_0", created_at=0, model="policy", object="response", output=output,
        parallel_tool_calls=False, tool_choice="auto", tools=[],
    )
    return response.model_dump(mode="json")


def body(response: dict[str, Any], **fields: Any) -> dict[str, Any]:
    params = {"input": [{"role": "user", "content": "What is 2 + 2?"}]}
    return {"responses_create_params": params, "response": response, **fields}


def verify(url: str, profile: str, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/compat/nemo-gym/{profile}/verify", json=payload, timeout=120)


MATH = [
    # response texts, expected answer, reward, library_reward, extracted
    ((GOOD,), "4", 1.0, 1.0, "4"),
    ((WRONG,), "4", 0.0, 0.0, "5"),
    (("Let me think.", " So \\boxed{4}"), "4", 1.0, 1.0, "4"),  # every message's output_text parts
]


@pytest.mark.parametrize(("texts", "gold", "reward", "library", "extracted"), MATH)
def test_math_profile(
    gateway_url: str, texts: tuple[str, ...], gold: str, reward: float, library: float, extracted: str
) -> None:
    response = rollout(*texts, reasoning="2 + 2 = 5?")
    payload = body(response, question="What is 2 + 2?", expected_answer=gold, _ng_task_index=7)
    r = verify(gateway_url, "math", payload)
    assert r.status_code == 200, r.text
    got = r.json()
    assert {k: got[k] for k in payload} == payload  # the request is echoed
    assert (got["reward"], got["library_reward"], got["extracted_answer"]) == (reward, library, extracted)
    assert got["reward_components"] == {"math": reward}
    assert got["judge_evaluations"] is None and got["mask_sample"] is False


def test_a_failed_verification_is_tagged_like_a_failed_judge(gateway_url: str) -> None:
    payload = body(rollout(GOOD), question="q", expected_answer="\\frac{", instance_config={"x": 1})
    got = verify(gateway_url, "math", payload).json()
    assert got["reward"] == 0.0
    assert got["mask_sample"] is True
    assert got["failure_kind"] == got["_ng_failure_class"] == "judge_failed"
    assert "math: error" in got["failure_reason"] and got["_ng_failure_judge_error"] == got["failure_reason"]
    assert got["instance_config"] == {"x": 1, "mask_sample": True}


IFEVAL = [
    # texts, metadata (top-level fields for the legacy layout), reward, follow list
    (("all lowercase, sadly a comma",), {"grading_mode": "binary"}, 0.0, [False, True]),
    (("all lowercase, sadly a comma",), {"grading_mode": "fraction"}, 0.5, [False, True]),
    (("Ignored, First.", "all lowercase and no comma"), {}, 1.0, [True, True]),  # the last message counts
]


@pytest.mark.parametrize(("texts", "extra", "reward", "follows"), IFEVAL)
@pytest.mark.parametrize("legacy", [False, True])
def test_instruction_following_profile(
    gateway_url: str, texts: tuple[str, ...], extra: dict[str, Any], reward: float, follows: list[bool], legacy: bool
) -> None:
    metadata = {
        "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
        "kwargs": [None, {}],
        "prompt": "Write in lowercase without commas.",
        **extra,
    }
    fields = metadata if legacy else {"verifier_metadata": metadata}
    got = verify(gateway_url, "instruction_following", body(rollout(*texts), id=3, **fields)).json()
    assert got["reward"] == reward
    assert got["follow_instruction_list"] == follows
    assert got["follow_all_instructions"] is all(follows)
    assert got["verifier_metadata"]["instruction_id_list"] == metadata["instruction_id_list"]


def packed(tests: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(zlib.compress(json.dumps(tests).encode())).decode()
    return {"packed": data, "fn_name": tests.get("fn_name")}


CODE = [
    # program, unit tests, reward, per-test results
    (ECHO, {"inputs": ["2\n", "5\n"], "outputs": ["4\n", "10\n"], "fn_name": None}, 1.0, [True, True]),
    (ECHO, {"inputs": ["2\n", "5\n"], "outputs": ["4\n", "11\n"], "fn_name": None}, 0.0, [True, False]),
    (ECHO, packed({"inputs": ["3\n"], "outputs": ["6\n"]}), 1.0, [True]),
    (SOLUTION, {"inputs": ["2", "21"], "outputs": ["4", "42"], "fn_name": "twice"}, 1.0, [True, True]),
    ("no code here", {"inputs": ["1"], "outputs": ["2"], "fn_name": None}, 0.0, []),
]


@pytest.mark.parametrize(("program", "tests", "reward", "results"), CODE)
def test_code_profile(
    gateway_url: str, program: str, tests: dict[str, Any], reward: float, results: list[bool]
) -> None:
    payload = body(rollout(program), verifier_metadata={"unit_tests": tests, "difficulty": "easy"})
    got = verify(gateway_url, "code", payload).json()
    assert (got["reward"], got["result"], got["difficulty"]) == (reward, results, "easy")
    assert got["extracted_model_output"] == program


BAD_BODIES = [
    ("math", {"response": rollout(GOOD), "expected_answer": "4"}, "responses_create_params"),
    ("math", body({"id": "r"}, expected_answer="4"), "response.output"),
    ("math", body(rollout(GOOD), question="q"), "expected_answer"),
    ("instruction_following", body(rollout(GOOD), verifier_metadata={"kwargs": []}), "instruction_id_list"),
    ("instruction_following", body(rollout(GOOD), instruction_id_list=["x:y"], kwargs=[{}]), "instruction_id_list"),
    ("instruction_following", body(rollout(GOOD), verifier_metadata=[None, None]), "verifier_metadata"),  # fuzz-found
    ("code", body(rollout(ECHO)), "verifier_metadata"),
    ("code", body(rollout(ECHO), verifier_metadata={"unit_tests": {"packed": "not base64!"}}), "unit_tests"),
    ("code", body(rollout(ECHO), verifier_metadata={"unit_tests": {"inputs": ["1"], "outputs": []}}), "unit_tests"),
]


@pytest.mark.parametrize(("profile", "payload", "field"), BAD_BODIES)
def test_bad_bodies_get_422_naming_the_field(
    gateway_url: str, profile: str, payload: dict[str, Any], field: str
) -> None:
    r = verify(gateway_url, profile, payload)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]


def test_sessions_and_reverify_mode(gateway_url: str) -> None:
    for profile in ("math", "instruction_following", "code"):
        base = f"{gateway_url}/compat/nemo-gym/{profile}"
        assert httpx.post(f"{base}/seed_session", json={}).json() == {}
        seeded = {"resources_session_id": "s1", "episode_id": "e", "task_id": "t", "task_data": {}}
        assert httpx.post(f"{base}/seed_session", json=seeded).json() == {"resources_session_id": "s1"}
        assert httpx.post(f"{base}/close_session", json={"resources_session_id": "s1", "episode_id": "e"}).json() == {
            "resources_session_id": "s1"
        }
        assert httpx.get(f"{base}/reverify_mode").json() == "stateless"


def test_aggregate_metrics_leave_masked_samples_out(gateway_url: str) -> None:
    rows = []
    for task, (text, gold) in enumerate([(GOOD, "4"), (WRONG, "4"), (GOOD, "\\frac{")]):
        payload = body(rollout(text), question="q", expected_answer=gold, _ng_task_index=task, _ng_rollout_index=0)
        rows.append(verify(gateway_url, "math", payload).json())
    got = httpx.post(f"{gateway_url}/compat/nemo-gym/math/aggregate_metrics", json={"verify_responses": rows}).json()
    agent = got["agent_metrics"]
    assert agent["mean/reward"] == 0.5 and agent["mean/library_reward"] == 0.5
    assert agent["coverage/masked_rollouts"] == 1 and agent["coverage/fully_masked_tasks"] == 1
    assert "mean/mask_sample" not in agent
    assert got["key_metrics"] == {k: v for k, v in agent.items() if k.startswith("mean/")}
    assert [g["_ng_task_index"] for g in got["group_level_metrics"]] == [0, 1]
    empty = httpx.post(f"{gateway_url}/compat/nemo-gym/math/aggregate_metrics", json={"verify_responses": []}).json()
    assert empty["agent_metrics"] == {} and empty["group_level_metrics"] == []
    url = f"{gateway_url}/compat/nemo-gym/code/aggregate_metrics"
    only_masked = httpx.post(url, json={"verify_responses": rows[2:]})
    assert only_masked.json()["agent_metrics"] == {
        "coverage/measured_rollouts": 0, "coverage/masked_rollouts": 1, "coverage/measured_tasks": 0,
        "coverage/fully_masked_tasks": 1,
    }


@pytest.mark.parametrize(
    ("error", "status", "http"),
    [
        (None, Status.TIMEOUT, 200),
        (None, Status.ERROR, 200),
        (NoLiveWorker("no live worker for math"), Status.OK, 200),
        (Overloaded("backlog full", details={"retry_after_s": 3}), Status.OK, 503),
    ],
)
def test_status_mapping_and_the_root_profile(error: Exception | None, status: Status, http: int) -> None:
    with stub_gateway(compat_fallback=-1.0, nemo_gym_profile="math") as (url, scorer):
        scorer.error, scorer.status = error, status
        r = httpx.post(f"{url}/verify", json=body(rollout(GOOD), question="q", expected_answer="4"))
        assert httpx.get(f"{url}/reverify_mode").json() == "stateless"
    assert r.status_code == http, r.text
    if http == 200:
        got = r.json()
        assert got["reward"] == -1.0 and got["mask_sample"] is True and got["_ng_failure_class"] == "judge_failed"
