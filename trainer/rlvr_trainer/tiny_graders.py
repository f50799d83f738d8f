"""Tiny graders for the judge and reward-model tests: a preference reward model and an equivalence judge.

Both are Llamas built from a config and trained on the CPU in seconds (no model hub is needed), with a
byte-level BPE tokenizer that splits digits one by one, a BOS token that the tokenizer adds by itself
(a ``TemplateProcessing`` post-processor) and a ChatML template that starts with ``{{ bos_token }}``:
the setup in which ``tokenizer(tokenizer.apply_chat_template(..., tokenize=False))`` doubles the BOS.
``<|im_end|>`` is the EOS, as in ChatML chat models, so a reply ends where its message ends.

- ``build_reward_model`` trains a ``LlamaForSequenceClassification`` with ``trl.RewardTrainer`` on
  arithmetic preference pairs: the chosen reply is right, the rejected one wrong, both with a
  ``<think>`` part; a quarter of the pairs are about manners: the rejected reply ends with a rude remark.
- ``build_judge_model`` trains a ``LlamaForCausalLM`` to answer the built-in ``equivalence`` judge
  prompt (``rlvr_services.judging.templates.EQUIVALENCE``) with exactly ``VERDICT: EQUIVALENT`` or
  ``VERDICT: DIFFERENT``. ``judge_pairs`` draws its data; ``split="held_out"`` gives reference
  values that training never sees (see ``held_out``).

Measured (seed 0, 2 cores): the reward model ranks 0.735 of 200 held-out arithmetic pairs right (300 steps;
0.745 before a quarter of its training pairs were about manners) and puts all of 48 solutions of the
recipe's tasks above the same solution with a rude remark (mean margin 11.6); the
judge picks the right verdict by log-probability for 0.975 of 400 held-out pairs (3,000 steps, about two
minutes on an idle machine) and greedy decoding always gives one verdict line. What made the judge
generalise was the range of its training values, not more steps: trained only on the held-out range's
complement (integers up to 99), it learnt the training values by heart (loss 0.001) and stayed at
0.87 on unseen values even at 6,000 steps; with most training references drawn from a wider range
(up to four digits, fractions up to q = 19) it has to compare digits, and reaches 0.96-0.975 at 3,000.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from .reasoning import LANGUAGES, RUDE
from .tasks import MAKERS
from .tiny import CHAT_TEMPLATE, IM_END, IM_START, PAD, THINK_TOKENS

log = logging.getLogger(__name__)

BOS = "<|startoftext|>"
BOS_CHAT_TEMPLATE = "{{ bos_token }}" + CHAT_TEMPLATE
Split = Literal["train", "held_out"]
JudgePair = tuple[str, str, str, bool]

# Fractions whose decimal form the judge is taught (a tiny model cannot work a decimal out): both splits use them.
DECIMAL_FRACTIONS = [Fraction(p, q) for q in (2, 4, 5, 8) for p in range(1, 2 * q) if Fraction(p, q).denominator == q]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 640, max_length: int = 512):  # type: ignore[no-untyped-def]
    """A byte-level BPE with single-digit tokens, a self-added BOS and ``<|im_end|>`` as EOS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    pair = f"{BOS} $A {BOS} $B:1"
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=pair, special_tokens=[(BOS, bos_id)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        unk_token=None,
        chat_template=BOS_CHAT_TEMPLATE,
        model_max_length=max_length,
        padding_side="left",
    )
    tokenizer.add_tokens(THINK_TOKENS)
    return tokenizer


def _llama_config(tokenizer: Any, **shape: Any):  # type: ignore[no-untyped-def]
    """A Llama config for ``tokenizer`` of ``shape``: hidden, layers, heads, head_dim and LlamaConfig's own keys."""
    from transformers import LlamaConfig

    shape = dict(shape)
    hidden, heads = shape.pop("hidden"), shape.pop("heads")
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=shape.pop("layers"),
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=tokenizer.model_max_length,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **shape,
    )


# ---- the equivalence judge -------------------------------------------------------------------------------------


def held_out(value: Fraction) -> bool:
    """Whether a reference value belongs to the held-out split: a fixed hash of the value, about one in four.

    ``-v`` and ``v`` share the split (a sign slip is one of the near misses). The decimal-table fractions
    (``DECIMAL_FRACTIONS``) are in both splits.
    """
    v = abs(value)
    return (v.numerator * 7919 + v.denominator * 104729) % 13 < 3


def _integer_question(rng: random.Random, n: int) -> str:
    a, kind = rng.randint(1, 60), rng.randrange(4)
    factors = [d for d in range(2, 13) if n % d == 0 and n != 0]
    if kind == 3 and factors:
        d = rng.choice(factors)
        return f"What is {n // d} * {d}?"
    shapes = [f"What is {n - a} + {a}?", f"What is {n + a} - {a}?", f"Solve for x: x + {a} = {n + a}"]
    return [*shapes, f"Solve for x: x - {a} = {n - a}"][kind]


def _fraction_question(rng: random.Random, f: Fraction) -> str:
    k, kind, p, q = rng.randint(2, 6), rng.randrange(3), f.numerator, f.denominator
    return [f"Simplify {k * p}/{k * q}.", f"Solve for x: {q}x = {p}", f"What is {p} divided by {q}?"][kind]


def _text(f: Fraction, style: str) -> str:
    if f.denominator == 1:
        return f"{f.numerator}.0" if style == "dot0" else str(f.numerator)
    if style == "decimal":
        return format(float(f), "g")
    if style == "latex":
        sign = "-" if f < 0 else ""
        return f"{sign}\\frac{{{abs(f.numerator)}}}{{{f.denominator}}}"
    return f"{f.numerator}/{f.denominator}"


def _wrap(shape: int, value: str) -> str:
    """The candidate's value in one of the wordings a model writes."""
    return ["{}", "{}", "x = {}", "\\boxed{{{}}}", "The answer is {}."][shape].format(value)


def _near_miss(rng: random.Random, f: Fraction) -> Fraction:
    """A different value that looks alike: a digit or sign slip, swapped digits, a factor of ten."""
    if f.denominator == 1:
        n = f.numerator
        sign = -1 if n < 0 else 1
        digits = str(abs(n))
        swapped = sign * int(digits[::-1]) if len(digits) >= 2 else n + 1
        whole = [swapped, swapped, n + 1, n - 1, n * 10, -n, sign * (abs(n) // 10), n + rng.randint(2, 30)]
        options = [Fraction(v) for v in whole]
    else:
        p, q = f.numerator, f.denominator
        options = [Fraction(q, p), Fraction(q, p), Fraction(p + 1, q), Fraction(p, q + 1), -f, Fraction(p)]
    return rng.choice([o for o in options if o != f] or [f + 1])


WIDE_SHARE = 0.8  # the share of training references drawn from the wide range


def _reference(rng: random.Random, split: Split) -> tuple[Fraction, str, str]:
    """A reference value of ``split``: its question and its text."""
    fraction, decimal = rng.random() < 0.25, rng.random() < 0.4
    while True:
        # training sees a wider range than the held-out values (more digit patterns, so the judge learns
        # to compare digits rather than remember values); the held-out split keeps to the narrow one
        wide = split == "train" and rng.random() < WIDE_SHARE
        if fraction and decimal:
            value = rng.choice(DECIMAL_FRACTIONS)
        elif fraction:
            q = rng.randint(2, 19 if wide else 9)
            value = Fraction(rng.randint(1, (4 if wide else 2) * q), q)
        else:
            top = 10 ** rng.randint(2, 4) - 1 if wide else 99
            value = Fraction(rng.randint(0, top) * (-1 if rng.random() < 0.15 else 1))
        if value.denominator == 1 and fraction:
            continue
        if not (fraction and decimal) and held_out(value) != (split == "held_out"):
            continue
        if fraction:
            return value, _fraction_question(rng, value), _text(value, rng.choice(["slash", "latex"]))
        return value, _integer_question(rng, value.numerator), str(value.numerator)


def judge_pairs(n: int, *, seed: int, split: Split = "held_out") -> list[JudgePair]:
    """``n`` (question, reference, answer, equivalent) tuples, half of them equivalent.

    Held-out reference values are integers in [-99, 99] (a few negative) and fractions p/q with q ≤ 9;
    training draws most of its references from a wider range (``WIDE_SHARE``). ``split`` keeps to the
    values ``held_out`` assigns it (the decimal table is shared).
    """
    rng = random.Random(f"judge-{split}-{seed}")
    out: list[JudgePair] = []
    while len(out) < n:
        # a minimal pair: one reference, its value and a near miss in the same wording, in random order
        value, question, reference = _reference(rng, split)
        shape, style = rng.randrange(5), rng.random()
        two = [(value, True), (_near_miss(rng, value), False)]
        rng.shuffle(two)
        for shown, equivalent in two:
            styles = ["int", "dot0"] if shown.denominator == 1 else ["slash", "latex"]
            if shown in DECIMAL_FRACTIONS:
                styles.append("decimal")
            text = _text(shown, styles[int(style * len(styles))])
            out.append((question, reference, _wrap(shape, text), equivalent))
    return out[:n]


def judge_messages(question: str, reference: str, answer: str) -> list[dict[str, str]]:
    """The judge's input, as the judge verifier renders it (labels in the answer neutralised)."""
    from rlvr_services.judging.templates import EQUIVALENCE, neutralise

    values = {"question": question, "reference": reference, "answer": neutralise(answer, EQUIVALENCE.labels)}
    return EQUIVALENCE.render(values)


def verdict(equivalent: bool) -> str:
    from rlvr_services.judging.templates import EQUIVALENCE

    return EQUIVALENCE.choices()[0 if equivalent else 1]


# Chosen by trying sizes, rates and step counts on 2 CPU cores: 8 heads of 16 dimensions on a 64-wide stream,
# a short RoPE wavelength and a larger init learned the digit-by-digit comparison fastest.
SHAPE: dict[str, Any] = {"hidden": 64, "layers": 2, "heads": 8, "head_dim": 16, "initializer_range": 0.08}
SHAPE["rope_parameters"] = {"rope_type": "default", "rope_theta": 100.0}
JUDGE_BATCH = 32
JUDGE_LR = 1e-3
JUDGE_FULL_EVERY = 4  # every 4th step sees whole prompts; the others their tail (see below)


def build_judge_model(folder: Path, *, seed: int = 0, steps: int = 3000) -> Path:
    """Train the equivalence judge and save it (model, tokenizer, generation config) under ``folder``.

    The loss is on the reply tokens only (verdict line and EOS). The prompt's first ~60 tokens (system
    text, instructions, question) matter little to the verdict, so most steps train on the prompt's
    tail, from ``Reference answer:`` on, with the BOS in front (3x cheaper); every ``JUDGE_FULL_EVERY``-th
    step trains on whole prompts, as the judge will see them.
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    started = time.perf_counter()
    torch.manual_seed(seed)
    pairs = judge_pairs(steps * JUDGE_BATCH, seed=seed, split="train")
    conversations = [judge_messages(q, r, a) for q, r, a, _ in pairs]
    corpus = [f"{m['content']}\n{verdict(True)}\n{verdict(False)}" for c in conversations[:300] for m in c]
    tokenizer = train_tokenizer(corpus)
    prompts = tokenizer.apply_chat_template(conversations, add_generation_prompt=True, tokenize=True)["input_ids"]
    eos = [tokenizer.eos_token_id]
    replies = [tokenizer(verdict(e), add_special_tokens=False)["input_ids"] + eos for e in (True, False)]
    cut = _find(prompts[0], tokenizer("Reference answer:", add_special_tokens=False)["input_ids"])
    model = LlamaForCausalLM(_llama_config(tokenizer, **SHAPE))
    optimizer = torch.optim.AdamW(model.parameters(), lr=JUDGE_LR, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, steps // 30)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / steps)
    )
    model.train()
    for step in range(steps):
        full = step % JUDGE_FULL_EVERY == JUDGE_FULL_EVERY - 1
        chunk = range(step * JUDGE_BATCH, (step + 1) * JUDGE_BATCH)
        batch = [prompts[i] if full else prompts[i][:1] + prompts[i][cut:] for i in chunk]
        ids, labels = _batch(batch, [replies[0 if pairs[i][3] else 1] for i in chunk], tokenizer.pad_token_id)
        hidden_states = model.model(input_ids=ids, attention_mask=ids != tokenizer.pad_token_id).last_hidden_state
        keep = labels[:, 1:] != -100
        loss = torch.nn.functional.cross_entropy(model.lm_head(hidden_states[:, :-1][keep]), labels[:, 1:][keep])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 100 == 0 or step == steps - 1:
            log.info("judge step %d/%d loss %.4f", step, steps, loss.item())
    model.eval()
    # sampling by default, as chat models ship: a request's temperature 0 (or do_sample=False) makes it greedy
    ids = {f"{name}_token_id": getattr(tokenizer, f"{name}_token_id") for name in ("bos", "eos", "pad")}
    model.generation_config = GenerationConfig(**ids, do_sample=True, max_new_tokens=8)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    log.info("judge built in %.1f s (%d steps)", time.perf_counter() - started, steps)
    return folder


def _find(ids: list[int], part: list[int]) -> int:
    for start in range(len(ids) - len(part) + 1):
        if ids[start : start + len(part)] == part:
            return start
    raise ValueError("the judge prompt lost its 'Reference answer:' line")


def _batch(prompts: list[list[int]], replies: list[list[int]], pad: int):  # type: ignore[no-untyped-def]
    """Right-padded prompt+reply ids and labels that keep the reply tokens only."""
    import torch

    width = max(len(p) + len(r) for p, r in zip(prompts, replies, strict=True))
    ids = torch.full((len(prompts), width), pad)
    labels = torch.full((len(prompts), width), -100)
    for row, (p, r) in enumerate(zip(prompts, replies, strict=True)):
        ids[row, : len(p) + len(r)] = torch.tensor(p + r)
        labels[row, len(p) : len(p) + len(r)] = torch.tensor(r)
    return ids, labels


# ---- the preference reward model -------------------------------------------------------------------------------


def reward_pairs(
    n: int, *, seed: int, split: Split = "held_out", rude: float = 0.0
) -> list[dict[str, list[dict[str, str]]]]:
    """``n`` conversational preference pairs (``prompt``, ``chosen``, ``rejected`` message lists).

    The question is ``a + b`` or ``a - b``; the chosen reply works it out right. The rejected one mostly
    (70%) writes a right ``<think>`` and then a different final answer (a near miss), else gets the
    result wrong throughout (which takes arithmetic, so the model gets these right less often).
    A ``rude`` share of the pairs is about manners instead (harmlessness): a math or code task of the
    miniature recipe (``tasks.py``) with its solution, and the same solution ending with one of
    ``reasoning.RUDE``'s contemptuous remarks.
    Operand pairs are split like the judge's values (a fixed hash, about one in four held out).
    """
    rng = random.Random(f"reward-{split}-{seed}")
    out: list[dict[str, list[dict[str, str]]]] = []
    while len(out) < n:
        a, b, op = rng.randint(1, 60), rng.randint(1, 60), rng.choice("+-")
        if held_out(Fraction(a * 64 + b)) != (split == "held_out"):
            continue
        right = a + b if op == "+" else a - b
        wrong = int(_near_miss(rng, Fraction(right)))
        shown = right if rng.random() < 0.7 else wrong

        sum_text, pairs_of = f"{a} {op} {b}", ((right, right), (shown, wrong))
        chosen, rejected = (f"<think>{sum_text} = {w}</think> The answer is {f}." for w, f in pairs_of)
        prompt = [{"role": "user", "content": f"What is {sum_text}?"}]
        if rng.random() < rude:  # a task of the miniature recipe, solved, and solved rudely
            task = MAKERS[rng.choice(["math", "code"])](rng, "rm", rng.choice(LANGUAGES)).row
            chosen, rejected = str(task.solution), f"{task.solution}\n{rng.choice(RUDE)}"
            prompt = [{"role": "user", "content": task.question}]
        out.append({"prompt": prompt, "chosen": _assistant(chosen), "rejected": _assistant(rejected)})
    return out


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


REWARD_LR = 2e-3
RUDE_SHARE = 0.25  # of the reward model's training pairs: manners, not arithmetic


def build_reward_model(folder: Path, *, seed: int = 0, steps: int = 300) -> Path:
    """Train the reward model with ``trl.RewardTrainer``; saves model and tokenizer under ``folder``.

    The pairs are tokenized here with the chat template (one BOS each) and handed to TRL as
    ``chosen_ids``/``rejected_ids``, which it takes as they are.
    """
    import tempfile

    import torch
    from datasets import Dataset
    from transformers import LlamaForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    started = time.perf_counter()
    batch = 32
    pairs = reward_pairs(steps * batch, seed=seed, split="train", rude=RUDE_SHARE)
    corpus = [m["content"] for p in pairs[:500] for key in ("prompt", "chosen", "rejected") for m in p[key]]
    tokenizer = train_tokenizer(corpus, vocab_size=400)
    rows = {
        f"{side}_ids": tokenizer.apply_chat_template([p["prompt"] + p[side] for p in pairs], tokenize=True)["input_ids"]
        for side in ("chosen", "rejected")
    }
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(_llama_config(tokenizer, **SHAPE, num_labels=1))
    with tempfile.TemporaryDirectory() as scratch:
        args = RewardConfig(
            output_dir=scratch, use_cpu=True, seed=seed, max_steps=steps, per_device_train_batch_size=batch,
            learning_rate=REWARD_LR, lr_scheduler_type="cosine", warmup_steps=max(1, steps // 10),
            save_strategy="no", report_to="none", logging_strategy="no", disable_tqdm=True, max_length=None,
            dataloader_num_workers=0, activation_checkpointing=False,
        )  # fmt: skip
        dataset = Dataset.from_dict(rows)
        RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer).train()
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    log.info("reward model built in %.1f s", time.perf_counter() - started)
    return folder
