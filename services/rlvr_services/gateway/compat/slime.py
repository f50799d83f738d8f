"""slime's remote reward protocol: ``POST /compat/slime`` (``--rm-type remote_rm --rm-url …``).

slime's ``remote_rm`` posts ``{"prompt", "response", "label"}`` for one sample and stores the JSON answer as
the sample's reward; it retries any failure ten times with backoff and then fails the rollout. Answers:

- the reward as a bare number (the default); or, with ``?reward=dict``, a :class:`SlimeReward` dict: ``score``,
  ``rlvr_status`` (ok, unscored, error, timeout), ``rlvr_error`` and the components. Run slime with
  ``--reward-key score --log-reward-category rlvr_status`` and it logs ``error_cat/<status>``: the share of
  samples whose reward is the fallback is visible in its own metrics;
- a failed verification gets the configured fallback (``RLVR_COMPAT_FALLBACK``): flagged in the dict form,
  only logged by the gateway in the number form (a number cannot carry the flag);
- 422 for a malformed body or a label that gives no specs; 503 only while overloaded, starting or draining.

``?profile=NAME`` (or ``/compat/slime/NAME``) uses a profile of reward specs for plain labels.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from rlvr_client.compat_models import SlimeRequest, SlimeReward
from rlvr_client.outcome import Outcome
from rlvr_client.trl import prompt_text

from ...http import ERROR_RESPONSES
from .bridge import Bridge

RewardForm = Literal["number", "dict"]


def _reward(out: Outcome, form: RewardForm) -> float | SlimeReward:
    if form == "number":
        return float(out.score)
    return SlimeReward(
        score=float(out.score),
        rlvr_status=out.status,
        rlvr_error=int(out.failed),
        rlvr_reason=out.reason,
        components=out.components,
    )


def slime_router(bridge: Bridge) -> APIRouter:
    router = APIRouter(prefix="/compat/slime", tags=["compat: slime"])

    async def answer(body: SlimeRequest, profile: str | None, form: RewardForm) -> float | SlimeReward:
        templates = bridge.templates(profile)
        sample = bridge.sample(0, prompt_text(body.prompt), body.response, body.label, templates, "label")
        [out] = await bridge.score([sample], field=lambda _: "label")
        return _reward(out, form)

    form_query = Query(default="number", description="number: the reward alone; dict: with its status and flag.")
    summary = "slime remote_rm: {prompt, response, label} -> the reward (a number, or a dict with ?reward=dict)."

    @router.post("", response_model=float | SlimeReward, responses=ERROR_RESPONSES, summary=summary)
    async def reward(
        body: SlimeRequest,
        reward: RewardForm = form_query,
        profile: str | None = Query(default=None, description="A profile of reward specs for plain labels."),
    ) -> float | SlimeReward:
        return await answer(body, profile, reward)

    @router.post("/{profile}", response_model=float | SlimeReward, responses=ERROR_RESPONSES, summary=summary)
    async def reward_with(profile: str, body: SlimeRequest, reward: RewardForm = form_query) -> float | SlimeReward:
        return await answer(body, profile, reward)

    return router
