"""Imported by the forkserver of the verifier processes: loads the models they share.

``pool.warm_in_forkserver(names)`` puts the verifier names in ``RLVR_FORKSERVER_WARM`` before the
forkserver starts; this module, in the forkserver's preload list, calls each one's ``warm_up`` there.
Every verifier process is then forked with the models in memory: one copy for all of them, no load
time after a kill. A failure here is logged and left to the processes' own warm-up.
"""

from __future__ import annotations

import logging
import os

from .pool import WARM_ENV
from .registry import REGISTRY

log = logging.getLogger(__name__)


def warm(names: list[str]) -> None:
    for name in names:
        try:
            warm_up = getattr(REGISTRY.instance(name), "warm_up", None)
            if callable(warm_up):
                warm_up()
        except Exception:  # an exception here would kill the forkserver; the processes warm up on their own
            log.exception("could not warm up %s in the forkserver", name)


warm([name for name in os.environ.get(WARM_ENV, "").split(",") if name])
