"""The backends of this process: built from the settings once, shared by every model-based verifier.

``configure(configs, events)`` is called by the gateway and the worker when they start (tests pass
their own settings); verifiers look a backend up by the name their request gives. A name that is
not configured is refused with the configured ones listed; a request can never give a URL or key.
Clients are built lazily, on the event loop of the model-based verifiers (``runtime.aio``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rlvr_client.errors import BackendError

from .config import BackendConfig, OpenAIBackend, RewardServerBackend, TransformersBackend
from .http_calls import Events
from .types import ChatBackend, RewardBackend

log = logging.getLogger(__name__)


def _no_events(backend: str, outcome: str) -> None:
    return None


class Backends:
    def __init__(
        self, configs: Mapping[str, BackendConfig], events: Events = _no_events, failures: Events = _no_events
    ) -> None:
        self.configs = dict(configs)
        self.events = events  # (backend, outcome) of each HTTP attempt
        self.failures = failures  # (verifier, kind) of each item a backend failure left without a score
        self.built: dict[str, Any] = {}
        self.failed: dict[str, str] = {}  # backends that could not start: why

    def names(self) -> list[str]:
        return sorted(self.configs)

    def _config(self, name: str) -> BackendConfig:
        if name in self.failed:
            raise BackendError(
                f"backend {name!r} could not start: {self.failed[name]}",
                details={"kind": "load_failed", "backend": name},
            )
        try:
            return self.configs[name]
        except KeyError:
            known = ", ".join(self.names()) or "none (set RLVR_BACKENDS or RLVR_BACKENDS_FILE)"
            raise BackendError(
                f"backend {name!r} is not configured on this server; configured backends: {known}",
                details={"kind": "unknown_backend", "backend": name, "known": self.names()},
            ) from None

    def _build(self, name: str) -> Any:
        if name not in self.built:
            config = self._config(name)
            if isinstance(config, OpenAIBackend):
                from .openai_chat import OpenAIChat

                self.built[name] = OpenAIChat(name, config, self.events)
            elif isinstance(config, RewardServerBackend):
                from .reward_servers import RewardServer

                self.built[name] = RewardServer(name, config, self.events)
            else:
                from .local import LocalModel

                self.built[name] = LocalModel(name, config)
        return self.built[name]

    def chat(self, name: str) -> ChatBackend:
        config = self._config(name)
        if isinstance(config, RewardServerBackend) or (
            isinstance(config, TransformersBackend) and config.task != "judge"
        ):
            raise BackendError(f"backend {name!r} is a reward model, not a chat model", details={"kind": "config"})
        backend: ChatBackend = self._build(name)
        return backend

    def reward(self, name: str) -> RewardBackend:
        config = self._config(name)
        if isinstance(config, OpenAIBackend) or (isinstance(config, TransformersBackend) and config.task != "reward"):
            raise BackendError(f"backend {name!r} is a chat model, not a reward model", details={"kind": "config"})
        backend: RewardBackend = self._build(name)
        return backend

    async def start(self) -> None:
        """Build every backend and load the in-process models (before the service reports ready)."""
        for name in self.names():
            try:
                await self._build(name).start()
            except Exception as exc:
                log.exception("backend %s could not start", name)
                self.failed[name] = f"{type(exc).__name__}: {exc}"[:500]

    def checks(self) -> dict[str, str]:
        out = {}
        for name in self.names():
            if name in self.failed:
                out[f"backend:{name}"] = f"could not start: {self.failed[name]}"
            else:
                out[f"backend:{name}"] = self.built[name].state() if name in self.built else "ok"
        return out

    async def aclose(self) -> None:
        for backend in self.built.values():
            try:
                await backend.aclose()
            except Exception:
                log.exception("closing a backend failed")
        self.built.clear()


_current = Backends({})


def configure(
    configs: Mapping[str, BackendConfig], events: Events = _no_events, failures: Events = _no_events
) -> Backends:
    """Make these the process's backends (the previous ones must have been closed by their owner)."""
    global _current
    _current = Backends(configs, events, failures)
    return _current


def current() -> Backends:
    return _current
