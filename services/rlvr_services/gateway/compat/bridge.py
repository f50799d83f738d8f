"""What every peer endpoint shares: profiles of reward specs, and scoring with the fallback rule.

A peer endpoint turns its request into `ScoreItem`s and hands them to :meth:`Bridge.score`, which runs them
through the same `Scorer` as ``POST /v1/score`` and gives back one :class:`~rlvr_client.outcome.Outcome` per
item. Errors are split the way the peers' retry loops need:

- a malformed request (`InvalidRequest`, 413/422) and transient overload (`Overloaded`, `NotReady`: 503 with
  Retry-After) are raised: the peer's client sees the status, retries the 503 and stops on the rest;
- anything else that keeps the items from being scored (no live worker, a sample over the size limits, a
  failure inside the gateway) gives every item of the request the configured fallback with its error flag
  set, as does a verifier's ``error`` or ``timeout`` for its own item.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rlvr_client.errors import InvalidRequest, NotReady, Overloaded, PayloadTooLarge, RLVRError, UnknownVerifier
from rlvr_client.labels import DEFAULT_TEMPLATES, LabelError, SpecTemplate, specs_for_label, template_keys
from rlvr_client.models import ItemResult, RewardSpec, ScoreItem, ScoreRequest
from rlvr_client.outcome import Outcome, failed_outcome, outcome

from ...settings import GatewaySettings
from ..scoring import Scorer

log = logging.getLogger(__name__)

BUILTIN_PROFILES: dict[str, tuple[SpecTemplate, ...]] = {"math": DEFAULT_TEMPLATES}
DEFAULT_PROFILE = "math"
_ITEM = re.compile(r"items\[(\d+)\]\.")


@dataclass(frozen=True)
class Sample:
    """One item to score, with the keys that name its components in the peer's outputs."""

    item: ScoreItem
    keys: list[str]


class _FallbackLog:
    """One warning per peer every 10 s at most about items that got the fallback, with the count."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.lock = threading.Lock()
        self.state: dict[str, tuple[float, int]] = {}

    def __call__(self, peer: str, failed: Sequence[Outcome], fallback: float) -> None:
        if not failed:
            return
        with self.lock:
            last, count = self.state.get(peer, (-self.every_s, 0))
            count += len(failed)
            now = time.monotonic()
            if now - last < self.every_s:
                self.state[peer] = (last, count)
                return
            self.state[peer] = (now, 0)
        log.warning("%s: %d item(s) got the fallback %g (flagged), e.g. %s", peer, count, fallback, failed[0].reason)


_log_fallbacks = _FallbackLog()


class Bridge:
    def __init__(self, scorer: Scorer, settings: GatewaySettings, peer: str) -> None:
        self.scorer = scorer
        self.settings = settings
        self.peer = peer
        self.fallback = settings.compat_fallback

    def profiles(self) -> dict[str, tuple[SpecTemplate, ...]]:
        return {**BUILTIN_PROFILES, **{k: tuple(v) for k, v in self.settings.compat_profiles.items()}}

    def templates(self, profile: str | None) -> tuple[SpecTemplate, ...]:
        """The specs of a named profile (the default: the label as the math gold); 422 naming the known ones."""
        known = self.profiles()
        name = profile or DEFAULT_PROFILE
        if name not in known:
            raise InvalidRequest(
                f"profile: unknown profile {name!r}; known: {', '.join(sorted(known))} (RLVR_COMPAT_PROFILES)",
                details={"known": sorted(known)},
            )
        return known[name]

    def sample(
        self, i: int, prompt: str, completion: str, label: object, templates: Sequence[SpecTemplate], where: str
    ) -> Sample:
        """The item for one labelled completion; 422 naming ``where`` when the label gives no specs."""
        try:
            specs, carried = specs_for_label(label, templates, where=where)
        except LabelError as exc:
            raise InvalidRequest(str(exc), details={"field": where}) from None
        keys = [s.name for s in specs] if carried else template_keys(templates)
        return Sample(ScoreItem(id=f"{self.peer}-{i}", prompt=prompt, completion=completion, rewards=specs), keys)

    def sample_with(self, i: int, prompt: str, completion: str, specs: list[RewardSpec], keys: list[str]) -> Sample:
        return Sample(ScoreItem(id=f"{self.peer}-{i}", prompt=prompt, completion=completion, rewards=specs), keys)

    async def score(self, samples: Sequence[Sample], field: Callable[[int], str] | None = None) -> list[Outcome]:
        """Score the samples; ``field(i)`` names the peer's field that gave item ``i`` its specs (for 422s)."""
        return [out for out, _ in await self.scored(samples, field)]

    async def scored(
        self, samples: Sequence[Sample], field: Callable[[int], str] | None = None
    ) -> list[tuple[Outcome, ItemResult | None]]:
        """:meth:`score`, with each item's result (None where the items could not be scored at all)."""
        if not samples:
            return []
        outs: list[tuple[Outcome, ItemResult | None]]
        try:
            response = await self.scorer.score(ScoreRequest(items=[s.item for s in samples]))
        except PayloadTooLarge as exc:  # a sample over the size limits: the model's output, not a malformed request
            outs = [(failed_outcome(f"{exc.code}: {exc.message}", self.fallback, s.keys), None) for s in samples]
        except InvalidRequest as exc:
            if field is not None:
                _name_the_field(exc, samples, field)
            raise
        except (Overloaded, NotReady) as exc:
            exc.details.setdefault("retry_after_s", self.settings.retry_after_s)
            raise
        except RLVRError as exc:
            outs = [(failed_outcome(f"{exc.code}: {exc.message}", self.fallback, s.keys), None) for s in samples]
        except Exception as exc:  # a fault of ours must reach the peer as a flagged fallback, not a retry loop
            log.exception("%s: scoring failed inside the gateway", self.peer)
            reason = f"internal_error: {type(exc).__name__}"
            outs = [(failed_outcome(reason, self.fallback, s.keys), None) for s in samples]
        else:
            outs = [
                (outcome(r, self.fallback, s.keys), r) for r, s in zip(response.results, samples, strict=True)
            ]
        _log_fallbacks(self.peer, [o for o, _ in outs if o.failed], self.fallback)
        return outs


def _name_the_field(exc: InvalidRequest, samples: Sequence[Sample], field: Callable[[int], str]) -> None:
    """Say which of the peer's fields gave the offending specs (``items[3].`` -> ``labels[3]: ``)."""
    message = _ITEM.sub(lambda m: f"{field(int(m[1]))}: ", exc.message)
    if message == exc.message and isinstance(exc, UnknownVerifier):
        name = exc.details.get("name")
        at = next((i for i, s in enumerate(samples) if any(r.name == name for r in s.item.rewards or [])), None)
        if at is not None:
            message = f"{field(at)}: {message}"
    exc.message = message
    exc.args = (message,)
