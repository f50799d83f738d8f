"""Scoring samples with the stack outside TRL (filters, evaluation), and the prompts the model sees.

``score_samples`` turns (task row, completion) pairs and a recipe's reward specs into ``/v1/score``
requests (the same row-to-params mapping as the TRL adapter) and returns each sample's result.
``CORRECTNESS`` names, per task kind, the verifier that says whether an answer is right.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from rlvr_client import RewardClient
from rlvr_client.errors import RLVRError
from rlvr_client.models import ItemResult, ScoreItem, Status
from rlvr_client.trl import TRLReward

from .config import PromptSpec, StackSpec
from .stack import retry_policy, unavailable

CORRECTNESS: dict[str, TRLReward] = {
    "math": TRLReward("math", columns={"gold": "gold"}),
    "code": TRLReward("code", params_column="code_params"),
    "format": TRLReward("ifeval", params_column="ifeval_params"),
}


@dataclass(frozen=True)
class Scored:
    """A sample's result: the weighted reward (None when unscored) and each component by verifier name."""

    reward: float | None
    components: dict[str, tuple[str, float | None, str]]  # name -> (status, score, reason)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> the verdict's details

    def score_of(self, name: str) -> float | None:
        status, score, _ = self.components.get(name, (Status.NOT_APPLICABLE.value, None, ""))
        return score if status == Status.OK.value else None

    def failed(self) -> bool:
        return any(status in (Status.ERROR.value, Status.TIMEOUT.value) for status, _, _ in self.components.values())


def _scored(result: ItemResult) -> Scored:
    failed = any(c.status in (Status.ERROR, Status.TIMEOUT) for c in result.components)
    return Scored(
        None if failed else result.reward,
        {c.name: (c.status.value, c.score, c.reason) for c in result.components},
        {c.name: c.details for c in result.components},
    )


def score_samples(
    url: str,
    stack: StackSpec,
    rows: Sequence[Mapping[str, Any]],
    completions: Sequence[str],
    prompts: Sequence[str],
    specs: Sequence[TRLReward],
    *,
    desc: str = "scoring",
    batch: int = 256,
) -> list[Scored | None]:
    """One result per sample; None where no spec applies to the row. Raises StackUnavailable."""
    items: list[ScoreItem | None] = []
    for i, (row, completion, prompt) in enumerate(zip(rows, completions, prompts, strict=True)):
        rewards = [r for s in specs if (r := s.spec_for(row))]
        items.append(ScoreItem(id=str(i), prompt=prompt, completion=completion, rewards=rewards) if rewards else None)
    to_send = [item for item in items if item is not None]
    results: dict[str, Scored] = {}
    try:
        with RewardClient(url, retry=retry_policy(stack), timeout_s=stack.request_timeout_s) as client:
            with tqdm(total=len(to_send), desc=desc, unit="sample", leave=False) as bar:
                for start in range(0, len(to_send), batch):
                    chunk = to_send[start : start + batch]
                    for item, result in zip(chunk, client.score(chunk), strict=True):
                        results[item.id] = _scored(result)
                    bar.update(len(chunk))
    except RLVRError as exc:
        raise unavailable(url, stack, exc) from exc
    return [None if item is None else results[item.id] for item in items]


def render_prompt(spec: PromptSpec, question: str, tokenizer: Any | None = None, shots: Sequence[Any] = ()) -> str:
    """The model's input for ``question``: the template (or chat template), after solved ``shots``.

    A shot is ``(question, solution)``; with a text template each is written as a full exchange
    (the template, then the solution right after it, as the model would continue) before the
    question, with a chat template as earlier user/assistant turns.
    """
    if spec.chat:
        if tokenizer is None:
            raise ValueError("a chat prompt needs the tokenizer")
        messages = [{"role": "system", "content": spec.system}] if spec.system else []
        for shot_question, shot_solution in shots:
            messages += [{"role": "user", "content": shot_question}, {"role": "assistant", "content": shot_solution}]
        messages.append({"role": "user", "content": question})
        text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text
    prefix = "".join(f"{spec.template.format(question=q)}{s}\n\n" for q, s in shots)
    system = f"{spec.system}\n\n" if spec.system else ""
    return f"{system}{prefix}{spec.template.format(question=question)}"


def pick_shots(rows: Sequence[Mapping[str, Any]], row: Mapping[str, Any], k: int, rng: random.Random) -> list[Any]:
    """``k`` solved examples of the same kind as ``row`` (never ``row`` itself), for few-shot prompts."""
    pool = [r for r in rows if r["kind"] == row["kind"] and r["id"] != row["id"] and r.get("solution")]
    return [(r["question"], r["solution"]) for r in rng.sample(pool, min(k, len(pool)))]


def with_target_language(rows: Sequence[Mapping[str, Any]], default: str) -> list[dict[str, Any]]:
    """The rows, each with its target language: its own ``language`` column, else ``default`` (the recipe's
    ``data.language``): what a ``language`` reward with ``columns: {language: language}`` reads."""
    return [{**row, "language": row.get("language") or default} for row in rows]
