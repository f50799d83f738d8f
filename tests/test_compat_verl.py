"""The verl adapter (rlvr_client.verl), loaded and called by verl's own code against the live gateway.

verl's ``get_custom_reward_fn`` loads the function from ``reward.custom_reward_function`` with its
``reward_kwargs``; the reward loop's naive manager awaits it per sample; the legacy naive, batch and prime
managers call the sync, batch and number forms. See tests/peer_code.py for how verl's modules are loaded.
"""

from __future__ import annotations

import inspect
import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compat_stub import stub_gateway
from peer_code import CharTokenizer, Row, verl, verl_batch, verl_config

import rlvr_client.verl as adapter
from rlvr_client import InternalError, InvalidRequest, NoLiveWorker, Overloaded, UnknownVerifier
from rlvr_client.verl import VerlRewardConfig, compute_score_batch, config_from

GOOD = "<think>2 + 2 = 4</think> The answer is \\boxed{4}."
WRONG = "<think>2 + 2 = 5</think> The answer is \\boxed{5}."
UNFORMATTED = "The answer is \\boxed{4}."
FAIL = json.dumps({"rewards": [{"name": "sleep", "params": {"raise_error": True}}]})
SLOW = json.dumps({"rewards": [{"name": "sleep", "params": {"ms": 3000, "timeout_s": 0.3}}]})
KEYS = {"score", "rlvr_error", "math", "format"}


def kwargs_for(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "specs": {"gsm8k": [{"name": "math", "from_label": "gold"}, {"name": "format", "weight": 0.2}]},
        "fallback": -1.0,
        "attempts": 2,
        **extra,
    }


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def loaded(name: str, reward_kwargs: dict[str, Any], path: str = "pkg://rlvr_client.verl") -> Any:
    fn = verl().reward.get_custom_reward_fn(verl_config(path, name, reward_kwargs))
    assert fn is not None
    return fn


def test_loader_sees_each_form_as_verl_expects() -> None:
    file_path = str(Path(adapter.__file__))  # older verl loads the file by path under another module name
    for path in ("pkg://rlvr_client.verl", file_path):
        assert inspect.iscoroutinefunction(loaded("compute_score", {}, path))
        assert not inspect.iscoroutinefunction(loaded("compute_score_sync", {}, path))
        assert not inspect.iscoroutinefunction(loaded("compute_score_batch", {}, path))


def test_config_from_reward_kwargs() -> None:
    config = config_from(
        {"url": "http://x:1", "specs": {"a": [{"name": "math", "from_label": "gold"}]}, "reward_router_address": None}
    )
    assert config.component_keys == ["math"]
    assert config_from({"specs": {"a": [{"name": "math", "from_label": "gold"}]}, "url": "http://x:1"}) is config
    with pytest.raises(ValueError, match="reserved"):
        VerlRewardConfig(components=["score"])
    with pytest.raises(ValueError, match="repeat"):
        VerlRewardConfig(specs={"a": [{"name": "format"}, {"name": "format"}]})


CASES = [
    # data_source, response, ground truth, score, rlvr_error, math, format
    ("gsm8k", GOOD, "4", 1.2, 0.0, 1.0, 1.0),
    ("gsm8k", WRONG, "4", 0.2, 0.0, 0.0, 1.0),
    ("gsm8k", UNFORMATTED, "4", 1.0, 0.0, 1.0, 0.0),
    ("other", GOOD, "4", 1.0, 0.0, 1.0, None),  # the default: the ground truth as the math gold
    ("gsm8k", GOOD, json.dumps({"rewards": [{"name": "format"}]}), 1.0, 0.0, None, 1.0),
    ("gsm8k", GOOD, "\\frac{", -1.0, 1.0, None, 1.0),  # a gold that does not parse: error, never 1.0
    ("gsm8k", GOOD, FAIL, -1.0, 1.0, None, None),  # a verifier that crashes: the fallback, flagged
]


@pytest.mark.parametrize(("source", "response", "truth", "score", "error", "math", "fmt"), CASES)
async def test_reward_loop_naive_manager(
    gateway_url: str, source: str, response: str, truth: str, score: float, error: float, math: Any, fmt: Any
) -> None:
    v = verl()
    fn = loaded("compute_score", kwargs_for(gateway_url))
    manager = v.loop_naive.NaiveRewardManager(config={}, tokenizer=CharTokenizer(), compute_score=fn)
    out = await manager.run_single(verl_batch([Row(source, response, truth)]))
    info = out["reward_extra_info"]
    assert set(info) == KEYS  # the same keys for every sample: verl stacks them into arrays
    assert out["reward_score"] == pytest.approx(score)
    assert (info["rlvr_error"], info["math"], info["format"]) == (error, math, fmt)


async def test_timeout_and_unreachable_service_give_the_flagged_fallback(gateway_url: str) -> None:
    v = verl()
    for url, truth in ((gateway_url, SLOW), (closed_port(), "4")):
        fn = loaded("compute_score", kwargs_for(url))
        manager = v.loop_naive.NaiveRewardManager(config={}, tokenizer=CharTokenizer(), compute_score=fn)
        out = await manager.run_single(verl_batch([Row("gsm8k", GOOD, truth)]))
        assert out["reward_score"] == -1.0
        assert out["reward_extra_info"]["rlvr_error"] == 1.0
        assert set(out["reward_extra_info"]) == KEYS


@pytest.mark.parametrize(
    "error",
    [
        Overloaded("backlog full", details={"retry_after_s": 0}),
        NoLiveWorker("no live worker for math", details={"retry_after_s": 0}),
        InternalError("boom"),
    ],
)
async def test_service_errors_give_the_flagged_fallback(error: Exception) -> None:
    with stub_gateway() as (url, scorer):
        scorer.error = error
        fn = loaded("compute_score", kwargs_for(url))
        out = await fn(data_source="gsm8k", solution_str=GOOD, ground_truth="4", extra_info={})
    assert out == {"score": -1.0, "rlvr_error": 1.0, "math": None, "format": None}
    assert len(scorer.requests) == (2 if isinstance(error, Overloaded | NoLiveWorker) else 1)  # 503s are retried


async def test_config_mistakes_raise_instead_of_scoring(gateway_url: str) -> None:
    fn = loaded("compute_score", kwargs_for(gateway_url))
    unknown = json.dumps({"rewards": [{"name": "no_such_verifier"}]})
    with pytest.raises(UnknownVerifier):
        await fn(data_source="gsm8k", solution_str=GOOD, ground_truth=unknown, extra_info={})
    with pytest.raises(InvalidRequest, match="gold"):
        await fn(data_source="gsm8k", solution_str=GOOD, ground_truth='{"rewards": [{"name": "math"}]}')
    with pytest.raises(ValueError, match="needs a label"):
        await fn(data_source="gsm8k", solution_str=GOOD, ground_truth=None)


def test_legacy_batch_manager(gateway_url: str) -> None:
    v = verl()
    fn = loaded("compute_score_batch", kwargs_for(gateway_url))
    manager = v.batch.BatchRewardManager(tokenizer=CharTokenizer(), num_examine=0, compute_score=fn)
    rows = [Row("gsm8k", GOOD, "4"), Row("gsm8k", WRONG, "4"), Row("other", GOOD, FAIL)]
    data = verl_batch(rows)
    out = manager(data, return_dict=True)
    info = out["reward_extra_info"]
    assert set(info) == KEYS and all(len(values) == 3 for values in info.values())
    assert info["score"] == pytest.approx([1.2, 0.2, -1.0])
    assert info["rlvr_error"] == [0.0, 0.0, 1.0]
    last = data.batch["attention_mask"][:, data.batch["prompts"].shape[-1]:].sum(-1) - 1
    rewards = [out["reward_tensor"][i, int(last[i])].item() for i in range(3)]
    assert rewards == pytest.approx([1.2, 0.2, -1.0])
    assert compute_score_batch([], [], [], [], **kwargs_for(gateway_url)) == []


def test_legacy_naive_manager_and_numpy_extra_info(gateway_url: str) -> None:
    v = verl()
    specs = {"ifeval": [{"name": "ifeval", "columns": {"instruction_id_list": "ids", "kwargs": "kwargs"}}]}
    fn = loaded("compute_score_sync", {**kwargs_for(gateway_url), "specs": specs, "prompt_key": "question"})
    manager = v.naive.NaiveRewardManager(tokenizer=CharTokenizer(), num_examine=0, compute_score=fn)
    extra = {  # parquet rows come back as numpy arrays and numpy scalars
        "ids": np.array(["punctuation:no_comma", "change_case:english_lowercase"], dtype=object),
        "kwargs": np.array([{}, {"unused": None}], dtype=object),
        "question": np.str_("write without commas"),
        "index": np.int64(3),
    }
    rows = [
        Row("ifeval", "all lowercase and no commas here", None, extra),
        Row("ifeval", "Has, a Comma", None, extra),
    ]
    out = manager(verl_batch(rows), return_dict=True)
    assert out["reward_extra_info"]["score"] == pytest.approx([1.0, 0.0])
    assert out["reward_extra_info"]["ifeval"] == pytest.approx([1.0, 0.0])


def test_legacy_prime_manager_keeps_a_number(gateway_url: str) -> None:
    v = verl()
    fn = loaded("compute_score_prime", kwargs_for(gateway_url))
    scores = v.prime.run_reward_scoring(
        fn, completions=[GOOD, WRONG], references=["4", "4"], tasks=["gsm8k", "gsm8k"], num_processes=1
    )
    assert scores == pytest.approx([1.2, 0.2])
