"""General samples from a teacher model: R1's stage 3 had DeepSeek-V3 write its 200k non-reasoning samples.

The teacher is a chat backend built by the stack's own backend code (``rlvr_services.backends``): the
same settings as the gateway's backends, the same retries, rate limits and circuit breaker. Each
general question is asked once. A reply is a sample only when it is complete and not empty; a failure
(the backend's ``error`` or ``timeout``, an ``empty`` reply, a reply ``truncated`` at ``max_tokens``)
gives no sample, never an empty one, and is counted by kind.

Answers go to the stage's ``general.jsonl`` as they come (``index``, ``question``, ``completion`` or null,
``failure`` or null, ``reason``), so a resumed stage asks again only the questions without a completion.

``build: base`` serves the run's base model. A model pre-trained on a plain-text prompt template (R1-Zero's
style, the miniature recipe's) has never seen a chat template, so its copy under ``RUN/base/teacher`` gets one
that renders the recipe's template: the teacher is prompted exactly as it was trained.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rlvr_client.errors import BackendError, BackendTimeout

from .config import PromptSpec, Recipe, Teacher, resolve_backend
from .rundir import append_jsonl, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)
FAILURES = ("error", "timeout", "empty", "truncated")
SENTINEL = "\x00question\x00"


@dataclass(frozen=True)
class Answer:
    """The teacher's answer to general question ``index``: a completion, or the failure that left none."""

    index: int
    question: str
    completion: str | None
    failure: str | None = None
    reason: str = ""


def text_chat_template(prompt: PromptSpec) -> str:
    """A Jinja chat template that renders a user turn as ``render_prompt`` renders a question (system first)."""
    before, after = (json.dumps(part) for part in prompt.template.format(question=SENTINEL).split(SENTINEL, 1))
    return (
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'system' -%}{{ message['content'] + '\\n\\n' }}"
        f"{{%- elif message['role'] == 'user' -%}}{{{{ {before} + message['content'] + {after} }}}}"
        "{%- else -%}{{ message['content'] + '\\n\\n' }}"
        "{%- endif -%}"
        "{%- endfor -%}"
    )


def package_base(recipe: Recipe, base_model: Path, out: Path) -> Path:
    """The base model as a chat backend's folder (made once): a copy whose chat template is the recipe's prompt."""
    if (out / "teacher.json").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if base_model.is_dir():
        shutil.copytree(base_model, tmp)
    else:  # a hub name
        AutoModelForCausalLM.from_pretrained(str(base_model)).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(base_model)).save_pretrained(tmp)
    if not recipe.prompt.chat:
        tokenizer = AutoTokenizer.from_pretrained(tmp)
        tokenizer.chat_template = text_chat_template(recipe.prompt)
        tokenizer.save_pretrained(tmp)
    write_json(tmp / "teacher.json", {"from": str(base_model), "chat_template": "model" if recipe.prompt.chat else
                                      "the recipe's prompt template"})  # fmt: skip
    tmp.rename(out)
    return out


def teacher_settings(teacher: Teacher, recipe: Recipe, base_model: Path, base_dir: Path) -> dict[str, Any]:
    """The teacher backend's settings for the stack's backend code (``build: base`` packaged first)."""
    if teacher.backend.get("build") == "base":
        return resolve_backend(teacher.backend, str(package_base(recipe, base_model, base_dir / "teacher")))
    return resolve_backend(teacher.backend, None)


def messages_for(teacher: Teacher, question: str, system: str | None) -> list[dict[str, str]]:
    return [*([{"role": "system", "content": system}] if system else []), {"role": "user", "content": question}]


async def ask(backend: Any, teacher: Teacher, index: int, question: str, *, seed: int, system: str | None) -> Answer:
    """One question to ``backend`` (a ``ChatBackend``); every failure is an :class:`Answer` without completion."""
    from rlvr_services.backends.types import Sampling

    sampling = Sampling(teacher.temperature, teacher.top_p, seed + index, teacher.max_tokens)
    deadline = time.monotonic() + teacher.timeout_s
    try:
        reply = await backend.chat(messages_for(teacher, question, system), sampling, None, deadline)
    except BackendTimeout as exc:
        return Answer(index, question, None, "timeout", str(exc))
    except BackendError as exc:
        return Answer(index, question, None, "error", str(exc))
    if reply.finish_reason == "length":
        return Answer(index, question, None, "truncated", f"cut at max_tokens={teacher.max_tokens}")
    text = reply.text.strip()
    if not text:
        return Answer(index, question, None, "empty", "the reply is empty")
    return Answer(index, question, text)


async def ask_all(
    backend: Any, teacher: Teacher, todo: Sequence[tuple[int, str]], out: Path, *, seed: int, system: str | None
) -> None:
    """Ask ``todo`` in batches of ``teacher.batch``, appending each batch's answers to ``out``."""
    with tqdm(total=len(todo), desc="general samples from the teacher", unit="prompt", leave=False) as bar:
        for start in range(0, len(todo), teacher.batch):
            chunk = todo[start : start + teacher.batch]
            answers = await asyncio.gather(*(ask(backend, teacher, i, q, seed=seed, system=system) for i, q in chunk))
            append_jsonl(out, [asdict(a) for a in answers])
            bar.update(len(chunk))


async def _serve_and_ask(
    settings: dict[str, Any], teacher: Teacher, todo: Sequence[tuple[int, str]], out: Path, *, seed: int,
    system: str | None,
) -> str:  # fmt: skip
    from rlvr_services.backends.config import load_backends
    from rlvr_services.backends.pool import Backends

    pool = Backends(load_backends({"teacher": settings}, None))
    try:
        backend = pool.chat("teacher")
        await backend.start()
        await ask_all(backend, teacher, todo, out, seed=seed, system=system)
        return str(backend.model)
    finally:
        await pool.aclose()


def teacher_samples(
    teacher: Teacher, settings: dict[str, Any], questions: Sequence[str], out: Path, *, seed: int,
    system: str | None = None,
) -> tuple[list[Answer], dict[str, Any]]:  # fmt: skip
    """Every question's answer (from ``out`` where an earlier attempt got one) and a summary for filters.json."""
    answered = [r for r in read_jsonl(out) if r.get("completion") and r.get("index", -1) < len(questions)]
    write_jsonl(out, answered)  # failures are asked again
    done = {r["index"] for r in answered}
    todo = [(i, q) for i, q in enumerate(questions) if i not in done]
    model = str(settings.get("model") or settings.get("path") or "")
    if todo:
        try:
            model = asyncio.run(_serve_and_ask(settings, teacher, todo, out, seed=seed, system=system)) or model
        except ImportError as exc:  # pragma: no cover - the test environment has the stack
            raise RuntimeError("a teacher needs the stack's backend code: pip install rlvr-trainer[embedded]") from exc
    answers = sorted((Answer(**r) for r in read_jsonl(out)), key=lambda a: a.index)
    failures = Counter(a.failure for a in answers if a.failure)
    summary: dict[str, Any] = {
        "backend": settings.get("kind"),
        "model": model,
        "asked": len(questions),
        "samples": sum(a.completion is not None for a in answers),
        "failures": {kind: failures[kind] for kind in FAILURES if failures[kind]},
    }
    if failures:
        first = next(a for a in answers if a.failure)
        summary["first_failure"] = f"{first.failure}: {first.reason}"[:500]
        log.warning("teacher: %d of %d general prompts got no sample (%s), e.g. %s", sum(failures.values()),
                    len(questions), dict(failures), summary["first_failure"])  # fmt: skip
    return answers, summary
