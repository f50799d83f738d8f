"""The API against bad input, the cases a fuzzer will not find: invalid UTF-8, JSON nested too deep (in the body
and in params), lone surrogates in any string field, unicode edge cases in every string field, Content-Type and
Content-Encoding lies (a gzip bomb), 10^5 tiny items, slow clients on raw sockets. Embedded and queue mode."""

from __future__ import annotations

import gzip
import json
import select
import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_queue import queue_gateway, thread_worker

from conftest import REDIS_URL, scratch_prefix

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def embedded_url(gateway_url: str) -> str:
    """The session's embedded gateway."""
    return gateway_url


@pytest.fixture(scope="module")
def queue_url() -> Iterator[str]:
    """A queue-mode gateway, with short read timeouts (the slow-client test waits for them), and a worker (in a
    thread) for `sleep` and `math`, on the shared test Redis."""
    timeouts = {"header_timeout_s": HEADER_TIMEOUT_S, "body_timeout_s": BODY_TIMEOUT_S}
    with (
        scratch_prefix() as prefix,
        thread_worker("sleep,math", REDIS_URL, prefix),
        queue_gateway(REDIS_URL, prefix, **timeouts) as url,
    ):
        yield url


@pytest.fixture(params=["embedded", "queue"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def post_raw(url: str, body: bytes, content_type: str | None = "application/json", **headers: str) -> httpx.Response:
    if content_type is not None:
        headers["content-type"] = content_type
    return httpx.post(f"{url}/v1/score", content=body, headers=headers, timeout=60)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of a refusal, checked to be the one shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["details"], dict)
    return dict(body["error"])


def score_body(item: dict[str, Any] | None = None, **top: Any) -> bytes:
    item = item or {"id": "a", "completion": "<think>x</think> y"}
    return json.dumps({"items": [item], "rewards": [{"name": "format"}], **top}).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [{"id": "a", "completion": "\xff\xfe"}], "rewards": [{"name": "format"}]}',
        b'{"items": [{"id": "a", "completion": "\xc0\xaf"}], "rewards": [{"name": "format"}]}',  # overlong "/"
        b'{"items": [{"id": "a", "completion": "\xed\xa0\x80"}], "rewards": [{"name": "format"}]}',  # raw surrogate
        b'{"items": [{"id": "a", "completion": "\xe2\x82"}], "rewards": [{"name": "format"}]}',  # cut short
        '{"items": [], "rewards": [{"name": "format"}]}'.encode("utf-16"),  # not UTF-8 at all
        '{"items": [], "rewards": [{"name": "format"}]}'.encode("utf-16-le"),  # no BOM: NUL bytes
    ],
    ids=["ff", "overlong", "raw-surrogate", "truncated", "utf16", "utf16le"],
)
def test_a_body_that_is_not_utf8_gets_the_one_error_shape(url: str, body: bytes) -> None:
    error = error_of(post_raw(url, body), 422)
    assert error["code"] == "invalid_request" and error["details"]["field"] == "body"
    assert "UTF-8" in error["message"] or "invalid JSON" in error["message"]


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [65, 900, 1_200, 100_000])
def test_json_nested_too_deep_is_refused_naming_where(url: str, depth: int) -> None:
    """At the root of a field, and deep inside a verifier's params. Past what Python's parser itself can nest
    (about 950 levels) the field is the body."""
    root = f'{{"items": {nested(depth)}, "rewards": [{{"name": "format"}}]}}'.encode()
    error = error_of(post_raw(url, root), 422)
    assert "nested deeper than 64 levels" in error["message"] and "RLVR_MAX_JSON_DEPTH" in error["message"]
    in_params = f'{{"items": [{{"id": "a", "completion": "x"}}], "rewards": [{{"name": "sleep", "params": ' \
        f'{{"value": 1, "x": {nested(depth)}}}}}]}}'.encode()
    error = error_of(post_raw(url, in_params), 422)
    field = error["details"]["field"]
    assert field.startswith("rewards[0].params.x[0][0]") if depth < 950 else field == "body", error
    assert "nested deeper" in error["message"]


def test_json_nested_within_the_limit_is_judged_by_the_params_model(url: str) -> None:
    body = f'{{"items": [{{"id": "a", "completion": "x"}}], "rewards": [{{"name": "sleep", "params": ' \
        f'{{"value": 1, "x": {nested(58)}}}}}]}}'.encode()
    error = error_of(post_raw(url, body), 422)
    assert "nested" not in error["message"] and "rewards[0].params.x" in error["message"]  # extra input


LONE = "\\ud800"
SURROGATE_FIELDS = {
    "items[0].id": {"items": [{"id": f"a{LONE}", "completion": "x"}], "rewards": [{"name": "format"}]},
    "items[0].prompt": {"items": [{"id": "a", "prompt": f"p{LONE}", "completion": "x"}],
                        "rewards": [{"name": "format"}]},
    "items[0].completion": {"items": [{"id": "a", "completion": f"x{LONE}y"}], "rewards": [{"name": "format"}]},
    "items[0].rewards[0].name": {"items": [{"id": "a", "completion": "x", "rewards": [{"name": f"format{LONE}"}]}]},
    "rewards[0].name": {"items": [{"id": "a", "completion": "x"}], "rewards": [{"name": f"{LONE}format"}]},
    "rewards[0].params.gold": {"items": [{"id": "a", "completion": "x"}],
                               "rewards": [{"name": "math", "params": {"gold": f"1{LONE}"}}]},
    "rewards[0].params": {"items": [{"id": "a", "completion": "x"}],
                          "rewards": [{"name": "math", "params": {f"gold{LONE}": "1"}}]},
}


@pytest.mark.parametrize("field", list(SURROGATE_FIELDS))
@pytest.mark.parametrize("surrogate", ["\\ud800", "\\uDFFF", "\\udbff\\ud800"], ids=["high", "low", "high-high"])
def test_a_lone_surrogate_in_any_string_field_is_refused_alike(url: str, field: str, surrogate: str) -> None:
    text = json.dumps(SURROGATE_FIELDS[field]).replace("\\\\ud800", surrogate)
    error = error_of(post_raw(url, text.encode()), 422)
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field
    assert error["message"].startswith(f"{field}: ") and "lone UTF-16 surrogate" in error["message"]


def test_surrogate_pairs_are_text(url: str) -> None:
    body = '{"items": [{"id": "q\\ud83d\\ude00", "completion": "<think>\\ud83e\\udd14</think> \\ud83d\\ude00"}], ' \
        '"rewards": [{"name": "format"}]}'
    response = post_raw(url, body.encode())
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["id"] == "q😀"


EDGE_TEXTS = {
    "nul": "a\x00b",
    "rtl-override": "\u202eabc\u202c",
    "rtl-mark": "\u200fמספר 42\u200f",
    "bom": "\ufeffx",
    "zwj-emoji": "👩\u200d👩\u200d👧",
    "combining": "e" + "\u0301" * 50,
    "noncharacter": "\uffff\ufdd0",
    "line-separator": "a\u2028b\u2029c",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd",
    "controls": "".join(chr(c) for c in range(1, 32)),
}


def edge_batch() -> dict[str, Any]:
    """Every edge text in every string field the request has: ids, prompts, completions, a verifier's params."""
    items = []
    for name, text in EDGE_TEXTS.items():
        items.append({"id": f"{name}:{text}", "prompt": text, "completion": f"<think>{text}</think> {text}",
                      "rewards": [{"name": "math", "params": {"gold": text}}, {"name": "format"},
                                  {"name": "sleep", "params": {"value": 0.5, "record": None}}]})
    return {"items": items}


def test_unicode_edge_cases_in_every_string_field_are_answered_the_same_in_both_modes(
    embedded_url: str, queue_url: str
) -> None:
    answers = []
    for url in (embedded_url, queue_url):
        response = httpx.post(f"{url}/v1/score", json=edge_batch(), timeout=60)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["id"] for r in results] == [f"{name}:{text}" for name, text in EDGE_TEXTS.items()]  # exact echo
        answers.append([(r["reward"], [(c["status"], c["score"]) for c in r["components"]]) for r in results])
        for result in results:
            assert result["components"][1]["status"] == "ok"  # format: a verdict, never an infrastructure error
            assert result["components"][2]["score"] == 0.5  # went through the queue and back intact
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
     "application/json; charset=utf-16", "application/json; charset=latin-1", "json", "application/jsonx"],
)
def test_a_body_that_is_not_declared_json_is_a_415(url: str, content_type: str | None) -> None:
    error = error_of(post_raw(url, score_body(), content_type=content_type), 415)
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type" in error["message"] or "charset" in error["message"]


def test_json_media_types_are_taken_and_a_lie_about_the_body_is_invalid_json(url: str) -> None:
    for content_type in ("application/json", "APPLICATION/JSON; charset=UTF-8", "application/vnd.rlvr+json"):
        assert post_raw(url, score_body(), content_type=content_type).status_code == 200
    error = error_of(post_raw(url, b"items=1&rewards=format"), 422)
    assert error["message"].startswith("body: invalid JSON")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "x-gzip, identity"])
def test_a_compressed_body_is_refused_without_inflating_it(url: str, encoding: str) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024)) if "gzip" in encoding else zlib.compress(b"\0" * 10**7)
    assert len(bomb) < 200_000  # 64 MiB inflated
    started = time.monotonic()
    error = error_of(post_raw(url, bomb, **{"content-encoding": encoding}), 415)
    assert "Content-Encoding" in error["message"]
    assert time.monotonic() - started < 2


def test_100k_tiny_items_are_refused_at_the_documented_cap(url: str) -> None:
    body = {"items": [{"id": f"i{i}", "completion": ""} for i in range(100_000)], "rewards": [{"name": "format"}]}
    started = time.monotonic()
    error = error_of(httpx.post(f"{url}/v1/score", json=body, timeout=60), 413)
    elapsed = time.monotonic() - started
    assert error["message"] == (
        "items has 100,000 entries; the limit is 16,384 (set RLVR_MAX_ITEMS_PER_REQUEST to change it)"
    )
    assert elapsed < 15, elapsed
    small = {"items": body["items"][:2_000], "rewards": body["rewards"]}  # well under the cap: answered
    response = httpx.post(f"{url}/v1/score", json=small, timeout=60)
    assert response.status_code == 200 and len(response.json()["results"]) == 2_000


def test_routing_errors_have_the_one_shape(url: str) -> None:
    missing = error_of(httpx.get(f"{url}/v1/nothing-here"), 404)
    assert missing["code"] == "not_found"
    wrong = httpx.delete(f"{url}/v1/score")
    assert error_of(wrong, 405)["code"] == "method_not_allowed" and wrong.headers["allow"] == "POST"


def test_the_openapi_schema_lists_every_answer(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = set(operation["responses"])
            if "requestBody" in operation:
                assert {"408", "413", "415", "422", "503"} <= answers, (method, path, answers)
                assert operation["responses"]["415"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }
            elif path not in ("/healthz", "/metrics"):
                assert "503" in answers, (method, path, answers)


def test_slow_clients_cannot_hold_the_server(queue_url: str) -> None:
    """20 connections sending a byte a second (10 in their headers, 10 in their bodies) are answered 408 and
    closed within the read timeouts, while other requests are answered at once."""
    host, port = queue_url.removeprefix("http://").split(":")
    head = f"POST /v1/score HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n"
    conns: list[dict[str, Any]] = []
    for i in range(20):
        sock = socket.create_connection((host, int(port)))
        sock.setblocking(False)
        if i >= 10:  # a slow body: the headers at once
            sock.sendall(head.encode())
        conns.append({"sock": sock, "todo": head.encode() if i < 10 else b"x" * 5000, "got": b"", "closed": None})
    started = time.monotonic()
    fast: list[float] = []
    try:
        while any(c["closed"] is None for c in conns) and time.monotonic() - started < 20:
            for c in conns:
                if c["closed"] is None and c["todo"]:
                    try:
                        c["sock"].send(c["todo"][:1])
                        c["todo"] = c["todo"][1:]
                    except OSError:
                        c["closed"] = time.monotonic() - started
            tick = time.monotonic()
            while time.monotonic() - tick < 1.0:  # read for a second, then the next byte
                open_socks = [c["sock"] for c in conns if c["closed"] is None]
                if not open_socks:
                    break
                readable, _, _ = select.select(open_socks, [], [], 0.1)
                for c in conns:
                    if c["sock"] in readable:
                        try:
                            data = c["sock"].recv(65536)
                        except OSError:
                            data = b""
                        c["got"] += data
                        if not data:
                            c["closed"] = time.monotonic() - started
            began = time.monotonic()
            assert httpx.post(f"{queue_url}/v1/score", content=score_body(), timeout=5,
                              headers={"content-type": "application/json"}).status_code == 200
            fast.append(time.monotonic() - began)
    finally:
        for c in conns:
            c["sock"].close()
    closed = [c["closed"] for c in conns]
    print(f"\n20 slow connections (a byte a second): all closed by {max(x or 99 for x in closed):.1f}s "
          f"(header timeout {HEADER_TIMEOUT_S:g}s, body timeout {BODY_TIMEOUT_S:g}s); other requests answered in "
          f"{max(fast) * 1000:.0f} ms at most meanwhile")
    assert all(x is not None for x in closed), closed
    assert max(closed[:10]) < HEADER_TIMEOUT_S + 2.5 and max(closed[10:]) < BODY_TIMEOUT_S + 2.5, closed
    for c in conns:
        status, _, rest = c["got"].partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout", c["got"][:200]
        error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "request_timeout" and set(error) == {"code", "message", "details"}
    assert max(fast) < 1.0
