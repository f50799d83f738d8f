"""The peers' own client code, as pinned in tests/requirements-peers.txt (installed by `make install`).

The wheels sit in ``.venv/peers`` without their dependencies. Their package ``__init__`` files import what is
not installed here (verl: Ray, tensordict, OmegaConf; openrlhf.utils: deepspeed helpers), so the modules the
tests drive are loaded from their own files under their real names, with their parent packages as bare
namespaces and the few names they take from the missing libraries stubbed:

- verl: ``verl.trainer.ppo.reward`` (``get_custom_reward_fn``: the ``custom_reward_function`` loader, with
  ``reward_kwargs``), ``verl.utils.import_utils`` (``pkg://`` and file paths), the reward loop's ``naive``
  manager (async ``compute_score``), and the legacy ``naive``, ``batch`` and ``prime`` managers. They run on
  :class:`DataProtoStub` (the fields those managers read) and a character-level :class:`CharTokenizer`;
- OpenRLHF: ``openrlhf.utils.agent.SingleTurnAgentExecutor``, its remote reward client.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

PEERS = Path(sys.prefix) / "peers"
PAD = 0
EOS_TEXT = "<|im_end|>"
EOS = 1


def _require(package: str) -> Path:
    path = PEERS / package
    if not path.is_dir():
        pytest.fail(f"{package} is not in {PEERS}: run `make install` (tests/requirements-peers.txt)")
    return path


def _namespace(name: str, path: Path | None = None, **attrs: Any) -> ModuleType:
    module = sys.modules.get(name)
    if module is None:
        module = ModuleType(name)
        if path is not None:
            module.__path__ = [str(path)]
        sys.modules[name] = module
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def _load(name: str) -> ModuleType:
    if name in sys.modules and getattr(sys.modules[name], "__file__", None):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PEERS / (name.replace(".", "/") + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- the batch verl's managers read -----------------------------------------------------------------------------


class CharTokenizer:
    """One token per character (``ord``); 0 pads, 1 is the end-of-sequence text."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: Any, skip_special_tokens: bool = False) -> str:
        values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        if isinstance(values, int):
            values = [values]
        out = []
        for i in values:
            if i == PAD or (i == EOS and skip_special_tokens):
                continue
            out.append(EOS_TEXT if i == EOS else chr(i))
        return "".join(out)

    def batch_decode(self, rows: Any, skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(row, skip_special_tokens) for row in rows]

    def __call__(self, text: str, add_special_tokens: bool = False, return_tensors: str | None = None) -> Any:
        return {"input_ids": torch.tensor([self.encode(text)])}


@dataclass
class DataProtoStub:
    """verl's DataProto, as far as its reward managers use it: tensors, numpy object columns, items, slices."""

    batch: dict[str, torch.Tensor]
    non_tensor_batch: dict[str, np.ndarray]
    meta_info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.batch.values())))

    def __getitem__(self, index: int | slice) -> Any:
        batch = {k: v[index] for k, v in self.batch.items()}
        columns = {k: v[index] for k, v in self.non_tensor_batch.items()}
        if isinstance(index, slice):
            return DataProtoStub(batch, columns, self.meta_info)
        return SimpleNamespace(batch=batch, non_tensor_batch=columns)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True)
class Row:
    data_source: str
    response: str
    ground_truth: Any
    extra_info: dict[str, Any] = field(default_factory=dict)
    prompt: str = "Q"


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def verl_batch(rows: Sequence[Row]) -> DataProtoStub:
    """Left-padded prompts, right-padded responses ending in EOS, and the non-tensor columns verl's data has."""
    tok = CharTokenizer()
    prompts = [tok.encode(r.prompt) for r in rows]
    responses = [[*tok.encode(r.response), EOS] for r in rows]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses)) + 2
    prompt_ids = torch.tensor([[PAD] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [PAD] * (r_len - len(r)) for r in responses])
    mask = torch.tensor(
        [[0] * (p_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (r_len - len(r)) for p, r in zip(
            prompts, responses, strict=True)]
    )
    batch = {
        "prompts": prompt_ids,
        "responses": response_ids,
        "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
        "attention_mask": mask,
    }
    columns = {
        "data_source": _objects([r.data_source for r in rows]),
        "reward_model": _objects([{"ground_truth": r.ground_truth, "style": "rule"} for r in rows]),
        "extra_info": _objects([dict(r.extra_info) for r in rows]),
    }
    return DataProtoStub(batch, columns)


class ConfigStub(dict[str, Any]):
    """An OmegaConf DictConfig as verl's loader reads it: keys as attributes, ``.get``."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return ConfigStub(value) if isinstance(value, dict) else value


def verl_config(path: str, name: str, reward_kwargs: dict[str, Any]) -> ConfigStub:
    return ConfigStub(
        reward={"custom_reward_function": {"path": path, "name": name, "reward_kwargs": reward_kwargs}}
    )


def _register(name: str) -> Callable[[type], type]:
    return lambda cls: cls


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.new_event_loop()


@functools.cache
def verl() -> SimpleNamespace:
    """verl's reward loader and reward managers (the real modules; see the module docstring)."""
    root = _require("verl")
    _namespace("verl", root, DataProto=DataProtoStub)
    _namespace("verl.protocol", DataProto=DataProtoStub)
    _namespace("verl.utils", root / "utils")
    _namespace("verl.utils.reward_score", default_compute_score=None, get_default_compute_score=lambda name: None)
    _namespace("verl.utils.ray_utils", get_event_loop=_event_loop)
    for package in ("trainer", "trainer/ppo", "workers", "experimental", "experimental/reward_loop"):
        _namespace("verl." + package.replace("/", "."), root / package)
    _namespace("verl.workers.reward_manager", root / "workers/reward_manager", register=_register)
    _namespace(
        "verl.experimental.reward_loop.reward_manager", root / "experimental/reward_loop/reward_manager",
        register=_register,
    )
    stubbed = "omegaconf" not in sys.modules  # only an annotation of the reward loop's base class needs it
    if stubbed:
        _namespace("omegaconf", DictConfig=dict)
    try:
        return SimpleNamespace(
            import_utils=_load("verl.utils.import_utils"),
            reward=_load("verl.trainer.ppo.reward"),
            loop_naive=_load("verl.experimental.reward_loop.reward_manager.naive"),
            naive=_load("verl.workers.reward_manager.naive"),
            batch=_load("verl.workers.reward_manager.batch"),
            prime=_load("verl.workers.reward_manager.prime"),
        )
    finally:
        if stubbed:
            del sys.modules["omegaconf"]


@functools.cache
def openrlhf_agent() -> ModuleType:
    """``openrlhf.utils.agent``: ``SingleTurnAgentExecutor`` and its remote reward client."""
    root = _require("openrlhf")
    _namespace("openrlhf", root)
    _namespace("openrlhf.utils", root / "utils")
    _load("openrlhf.utils.logging_utils")
    return _load("openrlhf.utils.agent")


@dataclass
class SamplingParamsStub:
    """vLLM's SamplingParams, as far as SingleTurnAgentExecutor reads it."""

    max_tokens: int | None = 64
    logprobs: int | None = None


class EngineStub:
    """An LLM engine that answers each prompt with a fixed response (as token ids), ending in EOS."""

    def __init__(self, responses: dict[str, str]) -> None:
        self.responses = responses
        self.tok = CharTokenizer()

    async def generate(self, prompt_ids: list[int], params: Any, multi_modal_data: Any = None) -> Any:
        prompt = self.tok.decode(prompt_ids)
        text = self.responses[prompt]
        ids = [*self.tok.encode(text), EOS]
        output = SimpleNamespace(token_ids=ids, text=text + EOS_TEXT, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def sandbox_fusion() -> ModuleType:
    """The ``sandbox-fusion`` SDK (its ``run_code`` client and models), with tenacity, from ``.venv/peers``.

    Both are imported with the peers' folder on the path for the import only (so its ``tests`` never shadows
    ours); the SDK's other dependencies (requests, aiohttp, pydantic.v1) are the project's own.
    """
    _require("sandbox_fusion")
    _require("tenacity")
    if "sandbox_fusion" not in sys.modules:
        sys.path.insert(0, str(PEERS))
        try:
            importlib.import_module("tenacity")
            importlib.import_module("sandbox_fusion")
        finally:
            sys.path.remove(str(PEERS))
    return sys.modules["sandbox_fusion"]


def verl_sandbox_fusion() -> ModuleType:
    """verl's SandboxFusion utilities (``verl/utils/reward_score/sandbox_fusion/utils.py``: ``call_sandbox_api``).

    The file imports only the standard library and requests, so it is loaded on its own, under a private name
    (its package ``__init__`` chain is not needed).
    """
    name = "_verl_sandbox_fusion_utils"
    if name not in sys.modules:
        path = _require("verl") / "utils/reward_score/sandbox_fusion/utils.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
