"""The v1 contract over a real uvicorn server: round trips, validation, limits, ops endpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def http(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=60) as client:
        yield client


MATH = {"name": "math", "weight": 1.0, "params": {"gold": "\\frac{1}{2}"}}
FORMAT = {"name": "format", "weight": 0.2}


def score(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/score", json=body)


def test_round_trip_matches_the_contract(http: httpx.Client) -> None:
    body = {
        "items": [
            {"id": "q1-s1", "prompt": "1/2?", "completion": "<think>half</think> The answer is $\\boxed{0.5}$."},
            {"id": "q1-s2", "prompt": "1/2?", "completion": "<think>hmm</think> \\boxed{3}"},
            {"id": "q1-s3", "prompt": "1/2?", "completion": "no think, \\boxed{1/2}"},
        ],
        "rewards": [MATH, FORMAT],
    }
    r = score(http, body)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["id"] for x in results] == ["q1-s1", "q1-s2", "q1-s3"]
    first = results[0]
    assert first["reward"] == pytest.approx(1.2)
    assert [c["name"] for c in first["components"]] == ["math", "format"]
    for comp in first["components"]:
        assert set(comp) == {"name", "score", "status", "reason", "details"}
        assert comp["status"] == "ok" and comp["score"] == 1.0
    assert results[1]["reward"] == pytest.approx(0.2)  # wrong answer: ok with 0.0, format right
    assert results[1]["components"][0] == {**results[1]["components"][0], "status": "ok", "score": 0.0}
    assert results[2]["reward"] == pytest.approx(1.0)  # right answer, no think section
    assert results[2]["components"][1]["score"] == 0.0


def test_item_specs_override_request_defaults(http: httpx.Client) -> None:
    body = {
        "items": [
            {
                "id": "a",
                "completion": "\\boxed{2}",
                "rewards": [{"name": "math", "weight": 2.0, "params": {"gold": "2"}}],
            },
            {"id": "b", "completion": "<think>x</think>y"},
        ],
        "rewards": [FORMAT],
    }
    results = score(http, body).json()["results"]
    assert results[0]["reward"] == 2.0 and len(results[0]["components"]) == 1
    assert results[1]["reward"] == pytest.approx(0.2)


def test_unparseable_gold_is_error_with_null_score_and_null_reward(http: httpx.Client) -> None:
    body = {
        "items": [{"id": "x", "completion": "\\boxed{1}"}],
        "rewards": [{"name": "math", "params": {"gold": "\\frac{"}}],
    }
    result = score(http, body).json()["results"][0]
    assert result["components"][0]["status"] == "error"
    assert result["components"][0]["score"] is None
    assert result["reward"] is None


def test_error_component_does_not_zero_the_others(http: httpx.Client) -> None:
    body = {
        "items": [{"id": "x", "completion": "<think>a</think>b"}],
        "rewards": [{"name": "sleep", "params": {"raise_error": True}}, FORMAT],
    }
    result = score(http, body).json()["results"][0]
    assert [c["status"] for c in result["components"]] == ["error", "ok"]
    assert result["reward"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"id": "a"}], "rewards": [MATH]}, "items[0].completion"),
        (
            {"items": [{"id": "a", "completion": "x"}], "rewards": [{"name": "math", "weight": "heavy"}]},
            "rewards[0].weight",
        ),
        ({"items": [{"id": "a", "completion": "x"}]}, "items[0].rewards"),
        (
            {"items": [{"id": "a", "completion": "x"}], "rewards": [{"name": "math", "params": {}}]},
            "rewards[0].params.gold",
        ),
        (
            {
                "items": [
                    {"id": "a", "completion": "x", "rewards": [{"name": "math", "params": {"gold": "1", "bogus": 1}}]}
                ]
            },
            "items[0].rewards[0].params.bogus",
        ),
        ({"items": [{"id": "a", "completion": "x", "extra": 1}], "rewards": [MATH]}, "items[0].extra"),
    ],
)
def test_bad_requests_get_422_naming_the_field(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    r = score(http, body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"], error["message"]


def test_unknown_verifier_lists_the_known_ones(http: httpx.Client) -> None:
    r = score(http, {"items": [{"id": "a", "completion": "x"}], "rewards": [{"name": "maths"}]})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unknown_verifier"
    assert "'maths'" in error["message"] and "format" in error["message"] and "math" in error["details"]["known"]


def test_completion_of_several_mb_is_refused_with_a_clear_message(http: httpx.Client) -> None:
    big = "7" * 5_000_000
    r = score(http, {"items": [{"id": "a", "completion": "ok"}, {"id": "b", "completion": big}], "rewards": [MATH]})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "items[1].completion is 5,000,000 characters; the limit is 1,000,000" in error["message"]


def test_not_json_is_a_422(http: httpx.Client) -> None:
    r = http.post("/v1/score", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_hanging_math_item_times_out_while_the_batch_is_scored(http: httpx.Client) -> None:
    # an expansion under every cap that sympy cannot finish: only killing the process stops it
    hang = {"name": "math", "params": {"gold": "1", "timeout_s": 1.0}}
    items: list[dict[str, Any]] = [
        {"id": f"ok{i}", "completion": f"\\boxed{{{i}}}", "rewards": [{"name": "math", "params": {"gold": str(i)}}]}
        for i in range(6)
    ]
    items.insert(3, {"id": "bomb", "completion": "\\boxed{(x+1)^{9999} - (x-1)^{9999}}", "rewards": [hang]})
    start = time.monotonic()
    r = score(http, {"items": items})
    elapsed = time.monotonic() - start
    assert r.status_code == 200
    results = {x["id"]: x for x in r.json()["results"]}
    bomb = results.pop("bomb")
    assert bomb["components"][0]["status"] == "timeout" and bomb["reward"] is None
    assert all(x["reward"] == 1.0 for x in results.values())
    assert elapsed < 1.0 + 5.0, f"deadline 1s, request took {elapsed:.2f}s"


def test_spinning_item_times_out_within_its_deadline(http: httpx.Client) -> None:
    items = [
        {"id": "spin", "completion": "", "rewards": [{"name": "sleep", "params": {"spin": True, "timeout_s": 0.5}}]}
    ]
    items += [
        {"id": f"s{i}", "completion": "", "rewards": [{"name": "sleep", "params": {"value": 0.5}}]} for i in range(4)
    ]
    r = score(http, {"items": items})
    results = r.json()["results"]
    assert results[0]["components"][0]["status"] == "timeout" and results[0]["reward"] is None
    assert [x["reward"] for x in results[1:]] == [0.5] * 4


def test_verifiers_endpoint_lists_names_and_param_schemas(http: httpx.Client) -> None:
    infos = {v["name"]: v for v in http.get("/v1/verifiers").json()["verifiers"]}
    assert {"math", "format"} <= set(infos)
    assert "gold" in infos["math"]["params_schema"]["properties"]
    assert infos["math"]["params_schema"]["required"] == ["gold"]


def test_ops_endpoints(http: httpx.Client) -> None:
    assert http.get("/healthz").json()["status"] == "ok"
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["mode"] == "embedded"
    score(
        http,
        {"items": [{"id": "m", "completion": "\\boxed{1}"}], "rewards": [{"name": "math", "params": {"gold": "1"}}]},
    )
    text = http.get("/metrics").text
    assert 'rlvr_requests_total{code="200",endpoint="/v1/score"}' in text
    assert 'rlvr_verifier_latency_seconds_bucket{le="0.005",verifier="math"}' in text
    assert "rlvr_items_total" in text and 'rlvr_verdicts_total{status="ok",verifier="math"}' in text


def test_openapi_schema_is_generated_from_the_client_models(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    comps = schema["components"]["schemas"]
    assert {"ScoreRequest", "ScoreResponse", "Component", "RewardSpec", "ErrorResponse"} <= set(comps)
    assert comps["Status"]["enum"] == ["ok", "not_applicable", "timeout", "error"]
    assert "/v1/score" in schema["paths"] and "413" in schema["paths"]["/v1/score"]["post"]["responses"]
