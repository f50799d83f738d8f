"""Sampling completions outside the GRPO loop (cold-start and rejection sampling, evaluation).

A :class:`Sampler` loads the model once, for every batch a stage asks of it, with the backend the
recipe chooses: transformers ``generate`` (CPU or GPU) or vLLM (GPU only; imported only when
chosen, so nothing on the CPU path needs it). Prompts go in batches with a progress bar; the result
keeps the order of the prompts, ``n`` completions each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .config import GenerationSpec


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the recipe asks for device cuda but torch sees no GPU; use device: cpu or auto")
    return device


class Sampler:
    """The model at ``model_dir``, loaded once, sampled as often as a stage needs."""

    def __init__(self, model_dir: Path, spec: GenerationSpec, *, device: str, seed: int = 0) -> None:
        self.spec = spec
        self.device = device
        self.seed = seed
        if spec.backend == "vllm":  # pragma: no cover - needs a GPU and the vllm extra
            try:
                from vllm import LLM
            except ImportError as exc:
                raise RuntimeError(
                    "generation.backend is vllm but vllm is not installed: pip install rlvr-trainer[vllm]"
                ) from exc
            self.llm: Any = LLM(
                model=str(model_dir), gpu_memory_utilization=spec.vllm_gpu_memory_utilization, seed=seed
            )
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.tokenizer: Any = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
            self.model: Any = AutoModelForCausalLM.from_pretrained(model_dir).to(device)
            self.model.eval()

    def sample(
        self,
        prompts: Sequence[str],
        *,
        n: int,
        temperature: float | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        desc: str = "generating",
    ) -> list[list[str]]:
        """``n`` completions for each prompt, in order (temperature 0: greedy, one distinct completion).

        ``seed`` (default: the sampler's) makes a call repeatable on its own, e.g. a resumed chunk.
        """
        seed = self.seed if seed is None else seed
        temp = self.spec.temperature if temperature is None else temperature
        tokens = self.spec.max_new_tokens if max_new_tokens is None else max_new_tokens
        if self.spec.backend == "vllm":  # pragma: no cover - needs a GPU and the vllm extra
            from vllm import SamplingParams

            params = SamplingParams(n=n, temperature=temp, top_p=self.spec.top_p, max_tokens=tokens, seed=seed)
            return [[choice.text for choice in result.outputs] for result in self.llm.generate(list(prompts), params)]
        return self._generate(prompts, n=n, temperature=temp, max_new_tokens=tokens, seed=seed, desc=desc)

    def _generate(
        self, prompts: Sequence[str], *, n: int, temperature: float, max_new_tokens: int, seed: int, desc: str
    ) -> list[list[str]]:
        import torch

        tokenizer = self.tokenizer
        torch.manual_seed(seed)
        greedy = temperature == 0
        per_prompt = 1 if greedy else n
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
        if greedy:
            kwargs.update(do_sample=False, num_return_sequences=1)
        else:
            kwargs.update(
                do_sample=True, temperature=temperature, top_p=self.spec.top_p, top_k=0, num_return_sequences=n
            )
        per_batch = max(1, self.spec.batch_size // per_prompt)
        out: list[list[str]] = []
        with torch.inference_mode(), tqdm(total=len(prompts), desc=desc, unit="prompt", leave=False) as bar:
            for start in range(0, len(prompts), per_batch):
                batch = list(prompts[start : start + per_batch])
                encoded = tokenizer(batch, return_tensors="pt", padding=True).to(self.device)
                generated = self.model.generate(**encoded, **kwargs)
                new_tokens = generated[:, encoded["input_ids"].shape[1] :]
                texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                for i in range(len(batch)):
                    group = texts[i * per_prompt : (i + 1) * per_prompt]
                    out.append(group * n if greedy else group)
                bar.update(len(batch))
        return out
