"""One number per sample, for trainers whose reward protocol cannot say "no score".

verl, OpenRLHF and slime need a float for every sample. The rule is the same for all of them:

- ``score`` is the gateway's ``reward`` when every verifier of the sample answered (``ok`` or
  ``not_applicable``) and at least one scored;
- otherwise it is the configured *fallback*, and the outcome says why in ``status``:
  ``error`` / ``timeout`` (a verifier failed, or the service could not be reached: the error flag is set)
  or ``unscored`` (no verifier applied: nothing failed, nothing was measured).

Each adapter then puts ``failed`` where its trainer logs it (verl's reward extra info, OpenRLHF's
``extra_logs``, slime's reward dict, NeMo-Gym's ``mask_sample``), so a fallback is never a silent 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .models import ItemResult, Status

__all__ = ["Outcome", "failed_outcome", "outcome"]

OK = "ok"
UNSCORED = "unscored"


@dataclass(frozen=True)
class Outcome:
    score: float
    status: str  # ok, unscored, error, timeout
    components: dict[str, float | None] = field(default_factory=dict)  # by key: the score when ok, else None
    reason: str = ""

    @property
    def failed(self) -> bool:
        """A verifier or the service failed: ``score`` is the fallback, not a measurement."""
        return self.status in (Status.ERROR.value, Status.TIMEOUT.value)


def outcome(result: ItemResult, fallback: float, keys: Sequence[str] | None = None) -> Outcome:
    """The outcome of one scored item; ``keys`` name its components in order (default: their verifiers)."""
    names = list(keys) if keys is not None and len(keys) == len(result.components) else [
        c.name for c in result.components
    ]
    components = {
        name: (c.score if c.status is Status.OK else None) for name, c in zip(names, result.components, strict=True)
    }
    failed = [c for c in result.components if c.status in (Status.ERROR, Status.TIMEOUT)]
    if failed:
        status = Status.ERROR if any(c.status is Status.ERROR for c in failed) else Status.TIMEOUT
        reason = "; ".join(f"{c.name}: {c.status.value}: {c.reason}".rstrip(": ") for c in failed[:3])
        return Outcome(fallback, status.value, components, reason)
    if result.reward is None or not math.isfinite(result.reward):
        return Outcome(fallback, UNSCORED, components, "no verifier applied to the sample")
    return Outcome(result.reward, OK, components)


def failed_outcome(reason: str, fallback: float, keys: Sequence[str] = (), *, timeout: bool = False) -> Outcome:
    """The outcome of a sample that could not be scored at all (the service unreachable, a request refused)."""
    status = Status.TIMEOUT if timeout else Status.ERROR
    return Outcome(fallback, status.value, dict.fromkeys(keys), reason)
