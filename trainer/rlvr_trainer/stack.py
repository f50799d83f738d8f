"""The reward stack a run talks to: a URL, or the gateway started in this process when none is given.

The embedded gateway gets the recipe's model backends (``stack.backends``, with the graders the run
built: see ``graders.py``), which its ``judge`` and ``reward_model`` verifiers name; a stack at a URL
has its own.

Either way the run gets a base URL once ``/readyz`` answers; every reward then goes over HTTP through
the client package, the same path a remote stack takes. If the stack does not come up, or stops
answering mid-run after the client's retries, :class:`StackUnavailable` ends the run with a message:
a run never trains on rewards it did not get.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from rlvr_client import RetryPolicy, RewardClient
from rlvr_client.errors import RLVRError

from .config import StackSpec

log = logging.getLogger(__name__)


class StackUnavailable(RuntimeError):
    """The reward stack could not be reached; the message says where and what to do."""


def retry_policy(spec: StackSpec) -> RetryPolicy:
    return RetryPolicy(attempts=spec.retries, initial_s=0.5, max_s=15.0)


def unavailable(url: str, spec: StackSpec, exc: BaseException) -> StackUnavailable:
    return StackUnavailable(
        f"the reward stack at {url} did not answer after {spec.retries} attempts ({type(exc).__name__}: {exc}). "
        "Nothing was trained on missing rewards; start the stack (or fix stack.url) and rerun with --resume."
    )


def wait_until_ready(url: str, spec: StackSpec) -> None:
    try:
        with RewardClient(url, retry=retry_policy(spec)) as client:
            client.wait_ready(spec.ready_timeout_s)
    except (RLVRError, TimeoutError, OSError) as exc:
        raise unavailable(url, spec, exc) from exc


@contextlib.contextmanager
def reward_stack(spec: StackSpec, backends: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[str]:
    """The base URL of a ready stack for the block: ``spec.url``, or an embedded gateway with ``backends``
    (``stack_backends(...)``: the recipe's, builds resolved; default: ``spec.backends`` as they are)."""
    if spec.url is not None:
        if backends:
            raise StackUnavailable(
                f"backends {sorted(backends)} were given for the stack at {spec.url}, which has its own "
                "(its RLVR_BACKENDS settings): configure them there"
            )
        wait_until_ready(spec.url, spec)
        yield spec.url
        return
    try:
        from rlvr_services.gateway.app import create_app
        from rlvr_services.server import serve_in_thread
        from rlvr_services.settings import GatewaySettings
    except ImportError as exc:  # pragma: no cover - the test environment has the services
        raise StackUnavailable(
            "no stack.url in the recipe and the rlvr-stack package is not installed to start one in-process: "
            "pip install rlvr-trainer[embedded], or give stack.url"
        ) from exc
    overrides: dict[str, Any] = {"processes": spec.processes} if spec.processes is not None else {}
    models = {name: dict(config) for name, config in (spec.backends if backends is None else backends).items()}
    settings = GatewaySettings(port=0, log_level="warning", backends=models, **overrides)
    with serve_in_thread(create_app(settings)) as url:
        log.info("reward stack started in-process at %s (model backends: %s)", url, sorted(models) or "none")
        wait_until_ready(url, spec)
        yield url
