"""The `rlvr` command, run as a real subprocess: help, verifiers, score (embedded, remote, resumable), demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rlvr_services

SAMPLE = Path(rlvr_services.__file__).resolve().parent / "data" / "sample_batch.jsonl"
MATH_2 = {"name": "math", "params": {"gold": "2"}}
FORMAT_HALF = {"name": "format", "weight": 0.5}


def rlvr(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m rlvr_services.cli ARGS` with no RLVR_* settings leaking in from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLVR_")}
    env.update(PYTHONIOENCODING="utf-8", COLUMNS="160")
    return subprocess.run(
        [sys.executable, "-m", "rlvr_services.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=env,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def graded_items(n: int) -> list[dict[str, Any]]:
    """Item i answers i; even items have a think section. Expected reward: see `expected_reward`."""
    return [
        {
            "id": f"q{i}",
            "prompt": "1 + 1?",
            "completion": (f"<think>so {i}</think> " if i % 2 == 0 else "") + f"\\boxed{{{i}}}",
            "rewards": [MATH_2, FORMAT_HALF],
        }
        for i in range(n)
    ]


def expected_reward(i: int) -> float:
    return (1.0 if i == 2 else 0.0) + (0.5 if i % 2 == 0 else 0.0)


# --- help and verifiers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ([], ["serve", "worker", "score", "verifiers", "demo", "--version"]),
        (
            ["serve"],
            ["--host", "--port", "--redis-url", "--processes", "--plugin", "--api-keys-file", "--drain-timeout-s",
             "RLVR_API_KEYS", "RLVR_DRAIN_TIMEOUT_S", "SIGTERM", "no live worker"],
        ),
        (
            ["worker"],
            ["--verifier", "--host", "--port", "--redis-url", "--processes", "--plugin", "--api-keys-file",
             "--drain-timeout-s", "comma-separated", "RLVR_VERIFIER", "SIGTERM", "hands the rest back"],
        ),
        (["score"], ["input", "--output", "--url", "--rewards", "--batch-size", "--processes", "--quiet"]),
        (["verifiers"], ["--url", "--plugin", "--json"]),
        (["demo"], ["usage: rlvr demo"]),
    ],
    ids=["rlvr", "serve", "worker", "score", "verifiers", "demo"],
)
def test_help(command: list[str], mentions: list[str]) -> None:
    out = ok(rlvr(*command, "--help")).stdout
    for word in mentions:
        assert word in out, f"`rlvr {' '.join(command)} --help` does not mention {word}:\n{out}"


def test_console_script_and_missing_subcommand() -> None:
    script = Path(sys.executable).with_name("rlvr")
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.strip() == f"rlvr-stack {rlvr_services.__version__}"
    bare = rlvr()
    assert bare.returncode == 2 and "required" in bare.stderr


def test_worker_needs_its_verifiers_named() -> None:
    result = rlvr("worker")
    assert result.returncode == 2 and "--verifier math[,ifeval,...] or RLVR_VERIFIER" in result.stderr
    twice = rlvr("worker", "--verifier", "math,math", "--port", "0")
    assert twice.returncode == 2 and "named twice" in twice.stderr


def test_verifiers_lists_math_and_format() -> None:
    out = ok(rlvr("verifiers")).stdout
    names = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert {"math", "format"} <= set(names)
    assert "params: gold" in out


def test_verifiers_json_matches_a_running_gateway(gateway_url: str) -> None:
    local = json.loads(ok(rlvr("verifiers", "--json", "--plugin", "rlvr_test_plugins")).stdout)
    by_name = {v["name"]: v for v in local}
    assert {"math", "format", "sleep"} <= set(by_name)
    for info in local:
        assert isinstance(info["params_schema"], dict) and info["description"]
    assert "gold" in by_name["math"]["params_schema"]["properties"]
    remote = json.loads(ok(rlvr("verifiers", "--json", "--url", gateway_url)).stdout)
    assert remote == local  # the gateway fixture loads the same plug-in


# --- score ------------------------------------------------------------------------------------------------


def test_score_embedded_with_the_items_own_rewards(tmp_path: Path) -> None:
    src, out = write_jsonl(tmp_path / "in.jsonl", graded_items(5)), tmp_path / "out.jsonl"
    run = ok(rlvr("score", src, "-o", out, "--processes", "1"))
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(5)]
    assert [r["reward"] for r in rows] == [expected_reward(i) for i in range(5)]
    assert [c["name"] for c in rows[2]["components"]] == ["math", "format"]
    assert rows[2]["components"][0] == {**rows[2]["components"][0], "status": "ok", "score": 1.0}
    assert f"scored 5 items, 0 already in {out}" in run.stderr


def test_score_embedded_with_default_rewards(tmp_path: Path) -> None:
    rows = [
        {"id": "right", "completion": "\\boxed{2}"},
        {"id": "wrong", "completion": "\\boxed{3}"},
        {"id": "own", "completion": "<think>a</think> b", "rewards": [FORMAT_HALF]},  # overrides the default
    ]
    src, out = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    ok(rlvr("score", src, "-o", out, "--processes", "1", "-q", "--rewards", json.dumps([MATH_2])))
    got = read_jsonl(out)
    assert [(r["id"], r["reward"]) for r in got] == [("right", 1.0), ("wrong", 0.0), ("own", 0.5)]
    assert [[c["name"] for c in r["components"]] for r in got] == [["math"], ["math"], ["format"]]


def test_score_resumes_an_interrupted_run(tmp_path: Path) -> None:
    n, k = 8, 3
    src, out = write_jsonl(tmp_path / "in.jsonl", graded_items(n)), tmp_path / "out.jsonl"
    ok(rlvr("score", src, "-o", out, "--processes", "1", "--batch-size", "3"))
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(full) == n

    # An interrupted run: k whole lines, then half of the next one. Mark line 0 to see that it is kept as is.
    first = json.loads(full[0])
    first["reward"] = 42.0
    kept = [json.dumps(first) + "\n", *full[1:k]]
    out.write_text("".join(kept) + full[k][: len(full[k]) // 2], encoding="utf-8")

    run = ok(rlvr("score", src, "-o", out, "--processes", "1", "--batch-size", "3"))
    assert f"scored {n - k} items, {k} already in {out}" in run.stderr
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == n and all(line.endswith("\n") for line in lines)
    rows = [json.loads(line) for line in lines]  # no torn line left
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(n)]  # each id once
    assert rows[0]["reward"] == 42.0  # not scored again
    assert lines[k:] == full[k:]
    assert [r["reward"] for r in rows[1:]] == [expected_reward(i) for i in range(1, n)]

    again = ok(rlvr("score", src, "-o", out, "--processes", "1"))
    assert f"scored 0 items, {n} already in {out}" in again.stderr
    assert out.read_text(encoding="utf-8").splitlines(keepends=True) == lines


def test_score_resumes_after_a_line_torn_before_its_newline(tmp_path: Path) -> None:
    """Regression: a last line that parses but lacks its newline was taken as done, and the next result
    was appended onto it (two JSON objects on one line)."""
    src, out = write_jsonl(tmp_path / "in.jsonl", graded_items(4)), tmp_path / "out.jsonl"
    done = [json.dumps({"id": f"q{i}", "reward": 9.0, "components": []}) for i in range(3)]
    out.write_text("\n".join(done), encoding="utf-8")  # q2's line lost its "\n"
    run = ok(rlvr("score", src, "-o", out, "--processes", "1", "-q"))
    assert f"scored 2 items, 2 already in {out}" in run.stderr
    rows = read_jsonl(out)
    assert [(r["id"], r["reward"]) for r in rows] == [("q0", 9.0), ("q1", 9.0), ("q2", 1.5), ("q3", 0.0)]


def test_score_remote_matches_embedded(tmp_path: Path, gateway_url: str) -> None:
    rows = [*graded_items(4), {"id": "default", "prompt": "", "completion": "<think>x</think> \\boxed{2}"}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    specs = tmp_path / "rewards.json"  # --rewards also takes a file
    specs.write_text(json.dumps([MATH_2, FORMAT_HALF]), encoding="utf-8")
    embedded, remote = tmp_path / "embedded.jsonl", tmp_path / "remote.jsonl"
    ok(rlvr("score", src, "-o", embedded, "--processes", "1", "-q", "--rewards", specs))
    ok(rlvr("score", src, "-o", remote, "--url", gateway_url, "-q", "--rewards", specs, "--batch-size", "2"))
    got = read_jsonl(remote)
    assert got == read_jsonl(embedded)
    assert [r["id"] for r in got] == ["q0", "q1", "q2", "q3", "default"]
    assert got[-1]["reward"] == 1.5


def test_score_with_a_long_inline_rewards_list(tmp_path: Path) -> None:
    """Regression: `Path(text).exists()` on inline JSON raised ENAMETOOLONG past 255 bytes."""
    specs = [MATH_2] + [{"name": "format", "weight": 0.05}] * 10
    assert len(json.dumps(specs)) > 255
    src, out = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "completion": "<think>x</think> 2"}]), tmp_path / "o"
    ok(rlvr("score", src, "-o", out, "--processes", "1", "-q", "--rewards", json.dumps(specs)))
    assert read_jsonl(out)[0]["reward"] == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"id": "a", "completion": "x"}', "", "{not json"], [":3:", "json"]),
        (['{"id": "a", "completion": "x"}', '{"id": "b"}'], [":2:", "completion", "Field required"]),
        (['{"id": "a", "completion": "x", "color": "red"}'], [":1:", "color"]),
    ],
    ids=["not-json", "missing-field", "unknown-field"],
)
def test_score_malformed_line_names_file_and_line(tmp_path: Path, lines: list[str], expected: list[str]) -> None:
    src, out = tmp_path / "bad.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = rlvr("score", src, "-o", out, "--rewards", json.dumps([FORMAT_HALF]))
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("rlvr: invalid_request: ")
    assert f"{src}:" in run.stderr
    for fragment in expected:
        assert fragment in run.stderr
    assert not out.exists()  # refused before anything was scored


def test_score_items_without_rewards_and_no_default_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [*graded_items(1), {"id": "lonely", "completion": "x"}])
    run = rlvr("score", src, "-o", tmp_path / "out.jsonl")
    assert run.returncode == 2
    assert "items[1].rewards" in run.stderr and "lonely" in run.stderr
    assert not (tmp_path / "out.jsonl").exists()


# --- demo -------------------------------------------------------------------------------------------------


def test_demo_prints_the_sample_batch_table() -> None:
    run = ok(rlvr("demo"))
    ids = [json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line and not line[0].isspace()}
    for item_id in ids:
        assert item_id in rows, f"{item_id} missing from:\n{run.stdout}"
    # the unparseable gold is an error (no score, never 0.0); the power tower is refused before sympy sees it
    assert rows["bad-gold"].split()[2:5] == ["math", "error", "null"]
    assert rows["tower"].split()[2:5] == ["math", "ok", "0.00"]
    assert "exceeds evaluation limits" in rows["tower"]
    # an expansion under every cap that sympy cannot finish: the process is killed, the item is a timeout
    assert rows["expansion"].split()[2:5] == ["math", "timeout", "null"]
    assert rows["gsm8k-17-s0"].split()[1:5] == ["1.20", "math", "ok", "1.00"]
