"""A tiny causal LM and its tokenizer for the tests, built on the spot (no model hub here).

``build_tiny_model(path)`` trains the trainer's byte-level BPE tokenizer on generated arithmetic text,
builds a 2-layer Llama from a config with seeded weights (``rlvr_trainer.tiny``), saves both with
``save_pretrained`` and returns the directory, which TRL's trainers given a path load. It takes well
under a second and is deterministic for a seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from rlvr_trainer.config import TinyModel
from rlvr_trainer.tiny import build_tiny


def arithmetic_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Short question/answer lines in the shapes the tests and the R1 format use."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice("+-*")
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        lines.append(f"What is {a} {op} {b}? <think>{a} {op} {b} = {value}</think> The answer is \\boxed{{{value}}}.")
    return lines


def build_tiny_model(path: str | Path, *, seed: int = 0, hidden_size: int = 32, num_layers: int = 2) -> Path:
    """Save a tiny Llama and its tokenizer under ``path`` and return it."""
    spec = TinyModel(
        hidden_size=hidden_size,
        layers=num_layers,
        heads=4,
        kv_heads=2,
        intermediate_size=2 * hidden_size,
        vocab_size=512,
        max_length=512,
    )
    return build_tiny(Path(path), spec, arithmetic_corpus(seed=seed), seed=seed)
