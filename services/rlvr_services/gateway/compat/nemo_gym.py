"""NeMo-Gym resources servers, one per verifier profile: ``/compat/nemo-gym/<profile>/{seed_session, verify, …}``.

Each profile answers as the NeMo-Gym resources server of the same kind does (read from its source):

- ``math`` (``math_with_judge``): task fields ``question``, ``expected_answer``; the ``math`` verifier; adds
  ``expected_answer``, ``extracted_answer``, ``library_reward``, ``judge_evaluations`` (always null: no judge);
- ``instruction_following``: ``verifier_metadata`` with ``instruction_id_list``, ``kwargs``, ``prompt``,
  ``grading_mode`` (or those at the top level, as older rows have them); the ``ifeval`` verifier; adds
  ``follow_all_instructions``, ``follow_instruction_list``;
- ``code`` (``code_gen``): ``verifier_metadata.unit_tests``, LiveCodeBench's ``{inputs, outputs, fn_name}`` or
  its packed form; the ``code`` verifier (python, all tests or nothing); adds ``extracted_model_output``,
  ``result``, ``metadata``, ``unit_tests_time_taken``, ``difficulty``.

``/verify`` echoes the request and adds ``reward`` and ``reward_components`` (each verifier's score) besides
the profile's fields. The text is the Responses object's ``output_text`` parts (all message items; the last
one for instruction following). An infrastructure failure (a verifier ``error``/``timeout``, no live worker)
is tagged as NeMo-Gym's ``judge_failsafe`` tags a failed judge: ``reward`` = the fallback, ``mask_sample``,
``failure_kind``/``_ng_failure_class`` ``judge_failed`` and the reason, so its tooling routes the row to the
failures file, leaves it out of the metrics and retries it on resume.

NeMo-Gym addresses a resources server by host and port, without a path: ``RLVR_NEMO_GYM_PROFILE=<profile>``
serves one profile at the gateway's root too.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI
from fastapi.responses import JSONResponse

from rlvr_client.compat_models import (
    NeMoGymAggregateMetrics,
    NeMoGymAggregateRequest,
    NeMoGymCodeRequest,
    NeMoGymIFRequest,
    NeMoGymMathRequest,
    NeMoGymResponse,
    NeMoGymVerifyRequest,
)
from rlvr_client.errors import InvalidRequest
from rlvr_client.models import ItemResult, RewardSpec
from rlvr_client.outcome import UNSCORED, Outcome

from ...http import ERROR_RESPONSES
from .bridge import Bridge
from .nemo_gym_metrics import aggregate

PROFILES = ("math", "instruction_following", "code")
JUDGE_FAILED = "judge_failed"
NOT_MEASURED = "rlvr:not_applicable"

Fields = Callable[[ItemResult | None], dict[str, Any]]


def output_text(response: NeMoGymResponse, *, last_message: bool = False) -> str:
    """The text of the ``output_text`` parts of the response's message items (or of the last message only)."""
    messages = [item for item in response.output if item.get("type") == "message"]
    if last_message:
        messages = messages[-1:]
    return "".join(
        str(part.get("text", ""))
        for message in messages
        for part in message.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    )


def _details(result: ItemResult | None, name: str) -> dict[str, Any]:
    if result is None:
        return {}
    return next((dict(c.details) for c in result.components if c.name == name), {})


def _answer(body: NeMoGymVerifyRequest, out: Outcome, fields: dict[str, Any]) -> JSONResponse:
    data = body.model_dump(mode="json")
    components = {k: v for k, v in out.components.items() if v is not None}
    data |= {"reward": float(out.score), "reward_components": components}
    if out.failed:
        config = data.get("instance_config")
        data |= {
            "mask_sample": True,
            "failure_kind": JUDGE_FAILED,
            "failure_reason": out.reason,
            "instance_config": {**(config if isinstance(config, dict) else {}), "mask_sample": True},
            "_ng_failure_class": JUDGE_FAILED,
            "_ng_failure_judge_error": out.reason,
        }
    else:
        data |= fields
        data["mask_sample"] = out.status == UNSCORED  # no verifier applied: nothing was measured
        if out.status == UNSCORED:
            data |= {"failure_kind": NOT_MEASURED, "failure_reason": out.reason}
    return JSONResponse(data)


async def _verify(
    bridge: Bridge, body: NeMoGymVerifyRequest, prompt: str, text: str, spec: RewardSpec, fields: Fields
) -> JSONResponse:
    sample = bridge.sample_with(0, prompt, text, [spec], [spec.name])
    [(out, result)] = await bridge.scored([sample], field=lambda _: "body")
    return _answer(body, out, fields(result))


def _unit_tests(metadata: dict[str, Any]) -> dict[str, Any]:
    raw = metadata["unit_tests"]
    try:
        if isinstance(raw, dict) and "packed" in raw:
            decoded = json.loads(zlib.decompress(base64.b64decode(raw["packed"])))
            raw = {"inputs": decoded["inputs"], "outputs": decoded["outputs"], "fn_name": raw.get("fn_name")}
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not isinstance(raw, dict) or len(raw.get("inputs", ())) != len(raw.get("outputs", ())):
            raise ValueError("needs `inputs` and `outputs` of the same length")
        return raw
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise InvalidRequest(f"verifier_metadata.unit_tests: {exc}", details={"field": "unit_tests"}) from None


def code_spec(metadata: dict[str, Any]) -> RewardSpec:
    """LiveCodeBench tests as the ``code`` verifier's: stdin/stdout, or calls of ``Solution.<fn_name>``."""
    tests = _unit_tests(metadata)
    fn_name = tests.get("fn_name")
    cases: list[dict[str, Any]] = []
    for i, (given, expected) in enumerate(zip(tests["inputs"], tests["outputs"], strict=True)):
        if not fn_name:
            cases.append({"stdin": str(given), "stdout": str(expected)})
            continue
        try:  # LiveCodeBench's functional tests: one JSON argument per line, a JSON return value
            args = [json.loads(line) for line in str(given).split("\n") if line.strip()]
            cases.append({"fn": f"Solution.{fn_name}", "args": args, "expected": json.loads(str(expected))})
        except ValueError as exc:
            raise InvalidRequest(f"verifier_metadata.unit_tests[{i}]: not JSON: {exc}") from None
    return RewardSpec(name="code", params={"language": "python", "tests": cases, "all_or_nothing": True})


def _math_fields(body: NeMoGymMathRequest) -> Fields:
    def fields(result: ItemResult | None) -> dict[str, Any]:
        details = _details(result, "math")
        score = next((c.score for c in result.components if c.name == "math"), None) if result else None
        return {
            "expected_answer": body.expected_answer,
            "extracted_answer": details.get("extracted"),
            "library_reward": float(score or 0.0),
            "judge_evaluations": None,
        }

    return fields


def _if_fields(body: NeMoGymIFRequest) -> Fields:
    def fields(result: ItemResult | None) -> dict[str, Any]:
        followed = [bool(x) for x in _details(result, "ifeval").get("follow_instruction_list", [])]
        return {
            "follow_all_instructions": bool(followed) and all(followed),
            "follow_instruction_list": followed,
            "verifier_metadata": body.verifier_metadata,
        }

    return fields


def _code_fields(text: str, metadata: dict[str, Any]) -> Fields:
    def fields(result: ItemResult | None) -> dict[str, Any]:
        details = _details(result, "code")
        tests = details.get("tests") or []
        return {
            "extracted_model_output": text,
            "extracted_model_code": None,
            "result": [t.get("status") == "passed" for t in tests],
            "metadata": {k: details[k] for k in ("passed", "total", "language") if k in details},
            "unit_tests_time_taken": sum(float(t.get("time_s") or 0.0) for t in tests) if tests else None,
            "difficulty": metadata.get("difficulty"),
        }

    return fields


def _common_routes(router: APIRouter) -> None:
    @router.post("/seed_session", summary="Start a rollout's session (stateless: nothing is kept).")
    async def seed_session(body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        session = (body or {}).get("resources_session_id")
        return {"resources_session_id": session} if session is not None else {}

    @router.post("/close_session", summary="Close a rollout's session (nothing is kept).")
    async def close_session(body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        return {"resources_session_id": (body or {}).get("resources_session_id", "")}

    @router.post("/aggregate_metrics", response_model=NeMoGymAggregateMetrics, summary="Metrics over verify responses.")
    async def aggregate_metrics(body: NeMoGymAggregateRequest) -> NeMoGymAggregateMetrics:
        return aggregate(body.verify_responses)

    @router.get("/reverify_mode", summary="stateless: a verification depends on its request alone.")
    async def reverify_mode() -> str:
        return "stateless"


def profile_router(bridge: Bridge, profile: str) -> APIRouter:
    """The resources-server routes of one profile, at the router's root."""
    router = APIRouter(tags=[f"compat: NeMo-Gym {profile}"])
    _common_routes(router)
    summary = f"NeMo-Gym /verify ({profile}): the request echoed with reward and the profile's fields."
    if profile == "math":

        @router.post("/verify", responses=ERROR_RESPONSES, summary=summary)
        async def verify_math(body: NeMoGymMathRequest) -> JSONResponse:
            spec = RewardSpec(name="math", params={"gold": body.expected_answer})
            return await _verify(bridge, body, body.question, output_text(body.response), spec, _math_fields(body))

    elif profile == "instruction_following":

        @router.post("/verify", responses=ERROR_RESPONSES, summary=summary)
        async def verify_if(body: NeMoGymIFRequest) -> JSONResponse:
            meta = body.verifier_metadata
            params = {
                "instruction_id_list": list(meta["instruction_id_list"]),
                "kwargs": [k or {} for k in meta["kwargs"]],
                "all_or_nothing": meta.get("grading_mode", "binary") == "binary",
                "prompt": meta.get("prompt"),
            }
            spec = RewardSpec(name="ifeval", params=params)
            text = output_text(body.response, last_message=True)
            return await _verify(bridge, body, str(meta.get("prompt") or ""), text, spec, _if_fields(body))

    elif profile == "code":

        @router.post("/verify", responses=ERROR_RESPONSES, summary=summary)
        async def verify_code(body: NeMoGymCodeRequest) -> JSONResponse:
            text = output_text(body.response)
            spec = code_spec(body.verifier_metadata)
            return await _verify(bridge, body, "", text, spec, _code_fields(text, body.verifier_metadata))

    else:
        raise ValueError(f"unknown NeMo-Gym profile {profile!r}; known: {', '.join(PROFILES)}")
    return router


def install_nemo_gym(app: FastAPI, bridge: Bridge, root_profile: str | None) -> None:
    for profile in PROFILES:
        app.include_router(profile_router(bridge, profile), prefix=f"/compat/nemo-gym/{profile}")
    if root_profile:
        app.include_router(profile_router(bridge, root_profile))
