"""Sampling completions outside the GRPO loop (cold-start and rejection sampling, evaluation).

Two backends behind one function, chosen by the recipe: transformers ``generate`` (CPU or GPU) and
vLLM (GPU only; imported only when chosen, so nothing on the CPU path needs it). Prompts go in
batches with a progress bar; the result keeps the order of the prompts, ``n`` completions each.
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


def sample(
    model_dir: Path,
    prompts: Sequence[str],
    *,
    n: int,
    spec: GenerationSpec,
    device: str,
    temperature: float | None = None,
    max_new_tokens: int | None = None,
    seed: int = 0,
    desc: str = "generating",
) -> list[list[str]]:
    """``n`` completions for each prompt, in order (temperature 0: greedy, one distinct completion)."""
    temp = spec.temperature if temperature is None else temperature
    tokens = spec.max_new_tokens if max_new_tokens is None else max_new_tokens
    if spec.backend == "vllm":
        return _sample_vllm(model_dir, prompts, n=n, temperature=temp, max_new_tokens=tokens, spec=spec, seed=seed)
    return _sample_transformers(
        model_dir, prompts, n=n, temperature=temp, max_new_tokens=tokens, spec=spec, device=device, seed=seed, desc=desc
    )


def _sample_transformers(
    model_dir: Path,
    prompts: Sequence[str],
    *,
    n: int,
    temperature: float,
    max_new_tokens: int,
    spec: GenerationSpec,
    device: str,
    seed: int,
    desc: str,
) -> list[list[str]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device)
    model.eval()
    torch.manual_seed(seed)
    greedy = temperature == 0
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
    if greedy:
        kwargs.update(do_sample=False, num_return_sequences=1)
    else:
        kwargs.update(do_sample=True, temperature=temperature, top_p=spec.top_p, top_k=0, num_return_sequences=n)
    per_batch = max(1, spec.batch_size // (1 if greedy else n))
    out: list[list[str]] = []
    with torch.inference_mode(), tqdm(total=len(prompts), desc=desc, unit="prompt", leave=False) as bar:
        for start in range(0, len(prompts), per_batch):
            batch = list(prompts[start : start + per_batch])
            encoded = tokenizer(batch, return_tensors="pt", padding=True).to(device)
            generated = model.generate(**encoded, **kwargs)
            texts = tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
            per_prompt = 1 if greedy else n
            for i in range(len(batch)):
                group = texts[i * per_prompt : (i + 1) * per_prompt]
                out.append(group * n if greedy else group)
            bar.update(len(batch))
    return out


def _sample_vllm(
    model_dir: Path,
    prompts: Sequence[str],
    *,
    n: int,
    temperature: float,
    max_new_tokens: int,
    spec: GenerationSpec,
    seed: int,
) -> list[list[str]]:  # pragma: no cover - needs a GPU and the vllm extra
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:
        raise RuntimeError(
            "generation.backend is vllm but vllm is not installed: pip install rlvr-trainer[vllm]"
        ) from exc
    llm = LLM(model=str(model_dir), gpu_memory_utilization=spec.vllm_gpu_memory_utilization, seed=seed)
    params = SamplingParams(n=n, temperature=temperature, top_p=spec.top_p, max_tokens=max_new_tokens, seed=seed)
    results = llm.generate(list(prompts), params)
    del llm
    return [[choice.text for choice in result.outputs] for result in results]
