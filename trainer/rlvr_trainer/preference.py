"""Stage 4's preference reward model, when the recipe trains one in the run.

Pairs come from an earlier sample-filter-SFT stage: for each prompt, a sample that passed every
filter (chosen) against one that did not (rejected). A sequence-classification head on the stage's
input model is trained on them with ``trl.RewardTrainer``; the accuracy on the pairs (chosen scored
above rejected) is recorded. GRPO then loads the folder as a reward model.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import PreferenceModel
from .rundir import StageDir, read_jsonl, write_json
from .training import common_args

log = logging.getLogger(__name__)
MAX_PAIRS_PER_PROMPT = 4


def preference_pairs(samples: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    by_prompt: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    prompts: dict[str, str] = {}
    for s in samples:
        prompts[s["prompt_id"]] = s["prompt"]
        by_prompt[s["prompt_id"]][0 if s["passed"] else 1].append(s["completion"])
    pairs = []
    for prompt_id, (good, bad) in by_prompt.items():
        combos = [(g, b) for g, b in itertools.product(dict.fromkeys(good), dict.fromkeys(bad)) if g != b]
        for chosen, rejected in combos[:MAX_PAIRS_PER_PROMPT]:
            prompt = prompts[prompt_id]
            pairs.append({"chosen": prompt + chosen, "rejected": prompt + rejected})
    return pairs


def train_preference_model(
    spec: PreferenceModel, source: StageDir, base_model: Path, out: Path, *, device: str, seed: int
) -> dict[str, Any]:
    """Train a reward model on ``source``'s samples; saved to ``out`` with its tokenizer."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    pairs = preference_pairs(read_jsonl(source.path / "samples.jsonl"))
    if not pairs:
        raise RuntimeError(
            f"no preference pairs in {source.path / 'samples.jsonl'}: a prompt needs one sample that passed "
            "the filters and one that did not"
        )
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(
        **common_args(device, seed, out.parent / "preference_checkpoints"),
        max_steps=spec.train_steps,
        per_device_train_batch_size=16,
        learning_rate=spec.learning_rate,
        save_strategy="no",
        activation_checkpointing=False,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    model.eval()
    right = 0
    with torch.inference_mode():
        for pair in pairs:
            scores = [
                model(**tokenizer(pair[k], return_tensors="pt").to(model.device)).logits[0, 0].item()
                for k in ("chosen", "rejected")
            ]
            right += scores[0] > scores[1]
    summary = {"pairs": len(pairs), "pair_accuracy": round(right / len(pairs), 4), "steps": spec.train_steps}
    write_json(out / "preference_summary.json", summary)
    log.info("preference model: %d pairs, accuracy on them %.3f", len(pairs), summary["pair_accuracy"])
    return summary
