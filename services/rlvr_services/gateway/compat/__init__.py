"""The peer protocols the gateway also speaks, each a thin edge over the one scoring core.

- ``/compat/openrlhf/get_reward``: OpenRLHF's remote reward model (:mod:`.openrlhf`);
- ``/compat/slime``: slime's ``remote_rm`` (:mod:`.slime`);
- ``/compat/nemo-gym/<profile>/...``: NeMo-Gym resources servers for math, instruction following and code
  (:mod:`.nemo_gym`);
- ``/run_code`` and ``/v1/ping`` (also under ``/compat/sandboxfusion``): SandboxFusion's sandbox API
  (:mod:`.sandboxfusion`), installed with ``/v1/run`` wherever programs run (``rlvr_services.runs``).

verl needs no endpoint: its adapter is a reward function in the client package (``rlvr_client.verl``).
"""

from __future__ import annotations

from fastapi import FastAPI

from ...settings import GatewaySettings
from ..scoring import Scorer
from .bridge import Bridge
from .nemo_gym import install_nemo_gym
from .openrlhf import openrlhf_router
from .slime import slime_router

__all__ = ["install_compat"]


def install_compat(app: FastAPI, scorer: Scorer, settings: GatewaySettings) -> None:
    app.include_router(openrlhf_router(Bridge(scorer, settings, "openrlhf")))
    app.include_router(slime_router(Bridge(scorer, settings, "slime")))
    install_nemo_gym(app, Bridge(scorer, settings, "nemo-gym"), settings.nemo_gym_profile)
