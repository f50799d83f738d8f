"""The ``transformers`` backend: a reward model or a causal-LM judge run in this process.

The model is loaded once per service process (``start``), before the verifiers report ready, and
every verifier of the process shares it. Work reaches it through a micro-batcher and runs in one
thread of its own (torch releases the GIL), so the event loop keeps serving.

- Reward model: ``AutoModelForSequenceClassification``. Each (prompt, response) is rendered with the
  model's own chat template and tokenized in the same call, so a template that writes the BOS is
  not given a second one. Batches are sorted by length and cut under a padded-token budget, padded
  on the right; the score is the logit at the last real token (as TRL and OpenRLHF do).
- Judge: ``AutoModelForCausalLM``. Constrained choice scores each choice's reply tokens by total
  log-probability and takes the best; free generation is greedy when the temperature is 0, else
  sampled under a per-request seed. ``finish_reason`` is ``length`` when no end token came.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rlvr_client.errors import BackendError

from .batcher import MicroBatcher
from .config import TransformersBackend
from .limits import CircuitBreaker
from .types import ChatReply, Conversation, Sampling


@dataclass(frozen=True)
class _Encoded:
    ids: list[int]
    error: str = ""


@dataclass(frozen=True)
class _ChatJob:
    messages: tuple[tuple[str, str], ...]
    sampling: Sampling
    choices: tuple[str, ...] | None


class _Loaded:
    """The model, its tokenizer and the device, owned by the backend's one compute thread."""

    def __init__(self, config: TransformersBackend) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

        if config.threads:
            torch.set_num_threads(config.threads)
        dtype: Any = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
        cls = AutoModelForSequenceClassification if config.task == "reward" else AutoModelForCausalLM
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(config.path)
        self.model = cls.from_pretrained(config.path, dtype=dtype).to(config.device).eval()
        self.device = config.device
        limit = config.max_length or getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = int(limit or self.tokenizer.model_max_length)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.tokenizer.eos_token_id or 0))

    def render(self, messages: Sequence[dict[str, str]], *, generation_prompt: bool) -> list[int]:
        """Token ids of a conversation, through the chat template (tokenized once: no doubled BOS)."""
        if self.tokenizer.chat_template:
            out = self.tokenizer.apply_chat_template(
                list(messages), tokenize=True, add_generation_prompt=generation_prompt, return_dict=True
            )
            return list(out["input_ids"])
        text = "\n\n".join(m["content"] for m in messages)
        return list(self.tokenizer(text)["input_ids"])


class LocalModel:
    """Both tasks share the loading, the thread and the batching; ``config.task`` says which one serves."""

    def __init__(self, name: str, config: TransformersBackend) -> None:
        self.name = name
        self.config = config
        self.model = config.path
        self.supports_choice = True
        self.breaker = CircuitBreaker(name, config.breaker_failures, config.breaker_reset_s)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rlvr-model-{name}")
        self.loaded: _Loaded | None = None
        self.load_lock = threading.Lock()
        self.semaphore = asyncio.Semaphore(config.concurrency)
        linger = config.linger_ms / 1000
        self.reward_batcher: MicroBatcher[tuple[Conversation, bool], float] = MicroBatcher(
            self._run_rewards, max_size=config.max_batch_size * 4, linger_s=linger
        )
        self.chat_batcher: MicroBatcher[_ChatJob, ChatReply] = MicroBatcher(
            self._run_chats, max_size=config.max_batch_size, linger_s=linger
        )

    def _load(self) -> _Loaded:
        with self.load_lock:
            if self.loaded is None:
                self.loaded = _Loaded(self.config)
            return self.loaded

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._load)

    def state(self) -> str:
        return self.breaker.state() if self.loaded is not None or self.breaker.is_open else "loading"

    async def _call(self, batcher: MicroBatcher[Any, Any], item: Any) -> Any:
        self.breaker.check()
        async with self.semaphore:
            try:
                result = await batcher.submit(item)
            except BackendError:
                raise
            except Exception as exc:
                self.breaker.failure(f"{type(exc).__name__}: {exc}")
                raise BackendError(
                    f"backend {self.name!r}: {type(exc).__name__}: {exc}", details={"kind": "model_error"}
                ) from exc
        self.breaker.success()
        return result

    # ----- reward model -----

    async def score(self, conversations: Sequence[Conversation], deadline: float, *, truncate: bool) -> list[float]:
        if self.config.task != "reward":
            raise BackendError(f"backend {self.name!r} is a judge, not a reward model", details={"kind": "config"})
        scores = await asyncio.gather(*(self._call(self.reward_batcher, (c, truncate)) for c in conversations))
        return [float(s) for s in scores]

    async def _run_rewards(self, batch: list[tuple[Conversation, bool]]) -> list[float | BaseException]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._rewards_now, batch)

    def encode_conversation(self, conversation: Conversation, truncate: bool) -> _Encoded:
        m = self._load()
        ids = m.render(
            [{"role": "user", "content": conversation.prompt}, {"role": "assistant", "content": conversation.response}],
            generation_prompt=False,
        )
        if len(ids) > m.max_length:
            if not truncate:
                return _Encoded(
                    [],
                    f"input is {len(ids)} tokens; the reward model takes {m.max_length} "
                    '(set "truncation": "left" to keep the end)',
                )
            ids = ids[-m.max_length :]
        return _Encoded(ids)

    def _rewards_now(self, batch: list[tuple[Conversation, bool]]) -> list[float | BaseException]:
        m = self._load()
        encoded = [self.encode_conversation(c, t) for c, t in batch]
        out: list[float | BaseException] = [0.0] * len(batch)
        order = sorted((i for i, e in enumerate(encoded) if not e.error), key=lambda i: len(encoded[i].ids))
        for i, e in enumerate(encoded):
            if e.error:
                out[i] = BackendError(e.error, details={"kind": "too_long"})
        for chunk in self._budget_chunks(order, [len(e.ids) for e in encoded]):
            logits = self._forward_scores(m, [encoded[i].ids for i in chunk])
            for i, value in zip(chunk, logits, strict=True):
                out[i] = value
        return out

    def _budget_chunks(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of ``order`` (sorted by length) whose padded size fits the token budget."""
        chunks: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = max(lengths[i], *(lengths[j] for j in current)) if current else lengths[i]
            if current and (
                longest * (len(current) + 1) > self.config.max_batch_tokens
                or len(current) >= self.config.max_batch_size
            ):
                chunks.append(current)
                current = []
            current.append(i)
        if current:
            chunks.append(current)
        return chunks

    def _forward_scores(self, m: _Loaded, rows: list[list[int]]) -> list[float]:
        torch = m.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), m.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):  # right padding: position ids are the same as unpadded
            ids[k, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[k, : len(row)] = 1
        with torch.inference_mode():
            base = getattr(m.model, m.model.base_model_prefix)
            hidden = base(input_ids=ids.to(m.device), attention_mask=mask.to(m.device)).last_hidden_state
            last = torch.tensor([len(r) - 1 for r in rows], device=hidden.device)
            pooled = hidden[torch.arange(len(rows), device=hidden.device), last]
            logits = m.model.score(pooled)
        return [float(v) for v in logits[:, 0].float().cpu()]

    # ----- judge -----

    async def chat(
        self, messages: Sequence[dict[str, str]], sampling: Sampling, choices: Sequence[str] | None, deadline: float
    ) -> ChatReply:
        if self.config.task != "judge":
            raise BackendError(f"backend {self.name!r} is a reward model, not a judge", details={"kind": "config"})
        job = _ChatJob(
            tuple((m["role"], m["content"]) for m in messages), sampling, tuple(choices) if choices else None
        )
        reply: ChatReply = await self._call(self.chat_batcher, job)
        return reply

    async def _run_chats(self, batch: list[_ChatJob]) -> list[ChatReply | BaseException]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._chats_now, batch)

    def _chats_now(self, batch: list[_ChatJob]) -> list[ChatReply | BaseException]:
        m = self._load()
        out: list[ChatReply | BaseException] = []
        for job in batch:
            try:
                messages = [{"role": r, "content": c} for r, c in job.messages]
                prompt = m.render(messages, generation_prompt=True)
                if len(prompt) >= m.max_length:
                    raise BackendError(
                        f"judge prompt is {len(prompt)} tokens; the model takes {m.max_length}",
                        details={"kind": "too_long"},
                    )
                if job.choices:
                    out.append(self._choose(m, messages, prompt, job.choices))
                else:
                    out.append(self._generate(m, prompt, job.sampling))
            except BackendError as exc:
                out.append(exc)
        return out

    def _choose(
        self, m: _Loaded, messages: list[dict[str, str]], prompt: list[int], choices: tuple[str, ...]
    ) -> ChatReply:
        torch = m.torch
        rows: list[list[int]] = []
        for choice in choices:
            full = m.render([*messages, {"role": "assistant", "content": choice}], generation_prompt=False)
            if full[: len(prompt)] != prompt:  # a template that rewrites earlier turns: score the bare reply
                full = prompt + list(m.tokenizer(choice, add_special_tokens=False)["input_ids"])
            rows.append(full)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), m.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):
            ids[k, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[k, : len(row)] = 1
        with torch.inference_mode():
            logits = m.model(input_ids=ids.to(m.device), attention_mask=mask.to(m.device)).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        totals = []
        for k, row in enumerate(rows):
            targets = torch.tensor(row[len(prompt) :], device=logprobs.device)
            steps = logprobs[k, len(prompt) - 1 : len(row) - 1]
            totals.append(float(steps.gather(1, targets[:, None]).sum()))
        best = max(range(len(choices)), key=lambda k: totals[k])
        return ChatReply(choices[best], "stop", len(prompt), len(rows[best]) - len(prompt))

    def _generate(self, m: _Loaded, prompt: list[int], sampling: Sampling) -> ChatReply:
        torch = m.torch
        budget = min(sampling.max_tokens, m.max_length - len(prompt))
        kwargs: dict[str, Any] = {"max_new_tokens": budget, "pad_token_id": m.pad_id}
        if sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        ids = torch.tensor([prompt], dtype=torch.long, device=m.device)
        with torch.inference_mode():
            out = m.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        new = out[0, len(prompt) :].tolist()
        eos = m.model.generation_config.eos_token_id
        ends = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        stop = next((k for k, t in enumerate(new) if t in ends), None)
        text = m.tokenizer.decode(new[:stop] if stop is not None else new, skip_special_tokens=True)
        return ChatReply(text, "stop" if stop is not None else "length", len(prompt), len(new))

    async def aclose(self) -> None:
        await self.reward_batcher.aclose()
        await self.chat_batcher.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)
