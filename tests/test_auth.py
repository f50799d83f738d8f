"""API keys on a real gateway (and a real code worker): scopes, 401/403 in the one error shape, the clients'
bearer token, keys from a mounted file, and keys kept out of logs and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from test_queue import queue_gateway

from rlvr_client import AsyncRewardClient, Forbidden, RetryPolicy, RewardClient, Unauthorized
from rlvr_services.auth import KeyScope, load_api_keys
from rlvr_services.gateway.app import create_app
from rlvr_services.server import serve_in_thread
from rlvr_services.settings import GatewaySettings, WorkerSettings
from rlvr_services.worker import create_worker_app

from conftest import scratch_prefix, wait_ready

pytestmark = [pytest.mark.redis]

TRAINER = "trainer-0123456789abcdef-token"
RUNNER = "runner-0123456789abcdef-token"
OPS = "ops-0123456789abcdef-token"
KEYS = {
    "keys": [
        {"name": "trainer", "key": TRAINER, "scopes": ["score"]},
        {"name": "sandbox-user", "key": RUNNER, "scopes": ["run"]},
        {"name": "ops", "key": OPS, "scopes": ["admin", "score"]},
    ]
}
NO_RETRY = RetryPolicy(attempts=1)
FORMAT_ITEM = {"id": "a", "completion": "<think>x</think> y", "rewards": [{"name": "format"}]}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def keyed_gateway(redis_url: str) -> Iterator[str]:
    """A queue-mode gateway (format runs in it; nothing waits on a worker) with API keys on."""
    with scratch_prefix(redis_url) as prefix, queue_gateway(redis_url, prefix, api_keys=json.dumps(KEYS)) as url:
        yield url


@pytest.fixture(scope="module")
def secured(redis_url: str) -> Iterator[str]:
    with keyed_gateway(redis_url) as url:
        yield url


def test_probes_stay_open_and_everything_else_needs_a_key(secured: str) -> None:
    with httpx.Client(base_url=secured) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200
        assert http.get("/openapi.json").status_code == 200
        for method, path in [("POST", "/v1/score"), ("GET", "/v1/verifiers"), ("GET", "/metrics"), ("GET", "/x")]:
            r = http.request(method, path, json={"items": [FORMAT_ITEM]})
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == 'Bearer realm="rlvr-stack"'
            error = r.json()["error"]
            assert error["code"] == "unauthorized" and "Authorization: Bearer" in error["message"]
        wrong = http.post("/v1/score", json={"items": [FORMAT_ITEM]}, headers=bearer(TRAINER + "x"))
        assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
        basic = http.get("/v1/verifiers", headers={"Authorization": f"Basic {TRAINER}"})
        assert basic.status_code == 401


def test_scopes(secured: str) -> None:
    with httpx.Client(base_url=secured) as http:
        assert http.post("/v1/score", json={"items": [FORMAT_ITEM]}, headers=bearer(TRAINER)).status_code == 200
        assert http.get("/v1/verifiers", headers=bearer(TRAINER)).status_code == 200
        forbidden = http.get("/metrics", headers=bearer(TRAINER))
        assert forbidden.status_code == 403
        assert forbidden.json()["error"] == {
            "code": "forbidden",
            "message": "the API key 'trainer' lacks the 'admin' scope that /metrics needs",
            "details": {"required_scope": "admin", "key": "trainer"},
        }
        # /v1/run executes programs: a scoring key may not call it, a run key may (this gateway has no /v1/run)
        assert http.post("/v1/run", json={}, headers=bearer(TRAINER)).status_code == 403
        assert http.post("/v1/run", json={}, headers=bearer(RUNNER)).status_code == 404
        assert http.post("/v1/score", json={"items": [FORMAT_ITEM]}, headers=bearer(RUNNER)).status_code == 403
        assert http.get("/metrics", headers=bearer(OPS)).status_code == 200


def test_clients_send_the_key_given_or_from_the_environment(secured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLVR_API_KEY", raising=False)
    with RewardClient(secured, api_key=TRAINER) as client:
        assert client.score([FORMAT_ITEM])[0].components[0].status.value == "ok"
    with RewardClient(secured, retry=NO_RETRY) as client, pytest.raises(Unauthorized):
        client.verifiers()
    with RewardClient(secured, api_key=RUNNER, retry=NO_RETRY) as client, pytest.raises(Forbidden) as caught:
        client.score([FORMAT_ITEM])
    assert caught.value.details["required_scope"] == "score"
    monkeypatch.setenv("RLVR_API_KEY", TRAINER)
    with RewardClient(secured) as client:
        assert {v.name for v in client.verifiers()} >= {"math", "format"}

    async def scored() -> float | None:
        async with AsyncRewardClient(secured) as client:
            return (await client.score([FORMAT_ITEM]))[0].reward

    assert asyncio.run(scored()) is not None


def test_keys_never_reach_logs_or_metrics(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    guess = "guess-0123456789abcdef-nope"
    with (
        keyed_gateway(redis_url) as url,  # its own log throttle: earlier denials do not hide these
        httpx.Client(base_url=url) as http,
    ):
        http.post("/v1/score", json={"items": [FORMAT_ITEM]}, headers=bearer(guess))
        http.get("/metrics", headers=bearer(TRAINER))
        http.post("/v1/score", json={"items": [FORMAT_ITEM]}, headers=bearer(TRAINER))
        metrics = http.get("/metrics", headers=bearer(OPS)).text
    assert 'rlvr_auth_denied_total{code="403",key="trainer"}' in metrics
    assert 'rlvr_auth_denied_total{code="401",key="(unknown)"}' in metrics
    assert "key trainer" in caplog.text  # denials are logged by the key's name
    for secret in (TRAINER, RUNNER, OPS, guess):
        assert secret not in caplog.text and secret not in metrics


def test_openapi_documents_the_bearer_scheme(secured: str) -> None:
    schema = httpx.get(f"{secured}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the service (RLVR_API_KEYS / RLVR_API_KEYS_FILE).",
    }
    score = schema["paths"]["/v1/score"]["post"]
    assert score["security"] == [{"bearer": []}] and {"401", "403"} <= set(score["responses"])
    assert "security" not in schema["paths"]["/readyz"]["get"]


def test_keys_from_a_mounted_yaml_file_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mounted = tmp_path / "keys.yaml"
    mounted.write_text(f"keys:\n  - name: trainer\n    key: {TRAINER}\n    scopes: [score]\n", encoding="utf-8")
    monkeypatch.setenv("RLVR_API_KEYS_FILE", str(mounted))
    monkeypatch.setenv("RLVR_API_KEYS", json.dumps({"keys": [{"name": "ops", "key": OPS, "scopes": ["admin"]}]}))
    settings = GatewaySettings()
    assert TRAINER not in repr(settings) and OPS not in repr(settings)
    keys = load_api_keys(settings.api_keys, settings.api_keys_file)
    assert [(k.name, sorted(s.value for s in k.scopes)) for k in keys] == [("trainer", ["score"]), ("ops", ["admin"])]
    assert all(TRAINER not in repr(k) for k in keys)  # only a digest is kept


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"keys": [{"name": "a", "key": "short-secret", "scopes": ["score"]}]}, "keys.0.key"),
        ({"keys": [{"name": "a", "key": TRAINER, "scopes": ["everything"]}]}, "keys.0.scopes.0"),
        ({"keys": [{"name": "a", "key": TRAINER, "scopes": []}]}, "keys.0.scopes"),
        ({"keys": [{"name": "a", "key": TRAINER, "scopes": ["run"]}, {"name": "a", "key": OPS, "scopes": ["run"]}]},
         "unique"),
        ({"keys": [{"name": "a", "key": TRAINER, "scopes": ["run"]}, {"name": "b", "key": TRAINER, "scopes": ["run"]}]},
         "same token"),
    ],
)
def test_bad_key_configs_fail_naming_the_field_never_the_key(config: dict[str, object], problem: str) -> None:
    from pydantic import SecretStr

    with pytest.raises(ValueError, match=problem) as caught:
        load_api_keys(SecretStr(json.dumps(config)), None)
    assert "short-secret" not in str(caught.value) and TRAINER not in str(caught.value)


def test_a_broken_keys_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    broken = tmp_path / "keys.yaml"
    broken.write_text(f"keys: [{{name: a, key: {TRAINER}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON or YAML") as caught:
        load_api_keys(None, str(broken))
    assert TRAINER not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "keys", "warned"),
    [("0.0.0.0", None, True), ("::", None, True), ("127.0.0.1", None, False), ("0.0.0.0", KEYS, False)],
)
def test_an_open_service_on_a_public_address_warns_loudly(
    host: str, keys: dict[str, object] | None, warned: bool, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rlvr_services.auth")
    extra = {"api_keys": json.dumps(keys)} if keys else {}
    create_app(GatewaySettings(host=host, redis_url=redis_url, **extra))  # type: ignore[arg-type]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "NO API KEYS" in r.getMessage()]
    assert bool(warnings) == warned
    if keys:
        assert "API keys on: 3 key(s): trainer, sandbox-user, ops" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/bwrap"), reason="the jail needs root and bwrap")
def test_the_code_worker_needs_the_run_scope() -> None:
    settings = WorkerSettings(verifier="code", port=0, processes=1, api_keys=json.dumps(KEYS))  # type: ignore[arg-type]
    with serve_in_thread(create_worker_app(settings)) as url:
        wait_ready(url)
        with RewardClient(url, api_key=RUNNER) as client:
            assert client.run("python", "print(6 * 7)").stdout == "42\n"
        with RewardClient(url, api_key=TRAINER, retry=NO_RETRY) as client, pytest.raises(Forbidden):
            client.run("python", "print(1)")
        verify = {"items": [{"id": "a", "completion": "x", "params": {"language": "python", "tests": []}}]}
        assert httpx.post(f"{url}/v1/verify", json=verify, headers=bearer(RUNNER)).status_code == 403
        assert httpx.post(f"{url}/v1/verify", json=verify).status_code == 401


def test_scope_names_are_the_documented_ones() -> None:
    assert [s.value for s in KeyScope] == ["score", "run", "admin"]


def test_a_plain_401_or_403_from_a_proxy_maps_to_the_same_errors() -> None:
    from rlvr_client.errors import error_from_body

    assert isinstance(error_from_body(401, "<html>401 Authorization Required</html>"), Unauthorized)
    assert isinstance(error_from_body(403, "denied"), Forbidden)
    rebuilt = error_from_body(403, {"error": {"code": "forbidden", "message": "m", "details": {"key": "k"}}})
    assert isinstance(rebuilt, Forbidden) and rebuilt.details == {"key": "k"}
