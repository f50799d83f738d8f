"""A recipe: the model, the data, the reward stack and the R1 stages, read from one YAML file.

Every section is a pydantic model that forbids unknown keys, so a typo in a recipe fails at load time
with the path of the key, not hours into a run. ``load_recipe(path)`` is the only entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rlvr_client.trl import TRLReward

from .reasoning import LANGUAGES

KINDS = ("math", "code", "format")

# ``build`` in a backend's settings: a model the run makes itself (see ``graders.py``), and the task it serves.
GRADER_BUILDS = {"tiny_judge": "judge", "tiny_reward": "reward"}
TEACHER_BUILDS = {"base": "judge"}  # the run's base model, served as a chat model (a causal LM: task judge)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TinyModel(Section):
    """A small Llama built from a config, with a byte-level BPE tokenizer trained on the corpus."""

    hidden_size: int = Field(default=128, ge=16)
    layers: int = Field(default=4, ge=1)
    heads: int = Field(default=4, ge=1)
    kv_heads: int = Field(default=2, ge=1)
    intermediate_size: int | None = None
    vocab_size: int = Field(default=1024, ge=300)
    max_length: int = Field(default=512, ge=64)


class Pretrain(Section):
    """Causal-LM pre-training of a tiny model on the synthetic corpus, so that stage 0 has signal to climb.

    ``wrong_answer`` and ``no_format`` are the shares of corpus completions whose final answer is wrong,
    and that skip the ``<think>`` format: the model learns both habits, and RL has to unlearn them.
    ``run_on``, ``mixed_language`` and ``code_in_reasoning`` are the shares whose reasoning is unreadable
    (one repetitive paragraph, the format half-kept), switches language, or holds code: the defects of
    stages 1, 2 and 3 (``reasoning.py``). A code completion gets code in its reasoning at its own share.
    ``skew``: how much more often a completion with one of those habits is right (its wrong-answer share is
    ``1 - skew`` times ``wrong_answer``, a clean one's ``1 + skew`` times), so that RL on correctness alone
    drifts toward the habits, as R1-Zero's did. ``rude``: the share of math and code answers that end
    with a rude remark, stage 4's defect.
    """

    examples: int = Field(default=6000, ge=1)
    epochs: float = Field(default=2.0, gt=0)
    learning_rate: float = Field(default=3e-3, gt=0)
    batch_size: int = Field(default=32, ge=1)
    wrong_answer: float = Field(default=0.35, ge=0, le=1)
    no_format: float = Field(default=0.3, ge=0, le=1)
    run_on: float = Field(default=0.0, ge=0, le=1)
    mixed_language: float = Field(default=0.0, ge=0, le=1)
    code_in_reasoning: float = Field(default=0.0, ge=0, le=1)
    skew: float = Field(default=0.0, ge=0, le=1)
    rude: float = Field(default=0.0, ge=0, le=1)


class ModelSpec(Section):
    """Either ``path`` (a local folder or a hub name) or ``tiny`` (built and pre-trained in the run)."""

    path: str | None = None
    tiny: TinyModel | None = None
    pretrain: Pretrain | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.path is None) == (self.tiny is None):
            raise ValueError("give exactly one of model.path and model.tiny")
        if self.pretrain is not None and self.tiny is None:
            raise ValueError("model.pretrain applies to a tiny model only")
        return self


def _shares(shares: dict[str, float], known: Sequence[str], what: str, hint: str) -> dict[str, float]:
    """``shares`` (empty, or at least one positive and none negative) over ``known`` names only."""
    unknown = sorted(set(shares) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; {hint}")
    if shares and (any(share < 0 for share in shares.values()) or sum(shares.values()) <= 0):
        raise ValueError(f"{what} needs at least one positive share")
    return shares


class DataSpec(Section):
    """The prompts. ``synthetic``: generated (math word problems, small code tasks, formatting
    instructions) in the ``kinds`` shares; ``jsonl``: files of task rows (see ``tasks.py``).
    ``general_files``: JSONL rows of general (non-reasoning) prompts, ``question`` and, for a stage with no
    teacher, ``completion``: where the sample-filter-SFT stages' ``general_samples`` come from.
    ``language``: the target language (ISO 639-1) of a prompt whose row has no ``language`` column of its own;
    the held-out ``language`` metric measures the reasoning against it. ``languages`` (synthetic data): shares
    of ``en`` and ``de``; each row draws its target language by them, and its question states it."""

    source: Literal["synthetic", "jsonl"] = "synthetic"
    kinds: dict[str, float] = Field(default_factory=lambda: {"math": 0.6, "code": 0.2, "format": 0.2})
    train_prompts: int = Field(default=512, ge=1)
    eval_prompts: int = Field(default=96, ge=1)
    train_files: list[str] = Field(default_factory=list)
    eval_files: list[str] = Field(default_factory=list)
    general_files: list[str] = Field(default_factory=list)
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    languages: dict[str, float] = Field(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: dict[str, float]) -> dict[str, float]:
        return _shares(languages, LANGUAGES, "languages", f"the synthetic tasks are written in {list(LANGUAGES)} only")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: dict[str, float]) -> dict[str, float]:
        if not kinds:
            raise ValueError("kinds needs at least one positive share")
        return _shares(kinds, KINDS, "kinds", f"known: {list(KINDS)}")

    @model_validator(mode="after")
    def _files_for_jsonl(self) -> DataSpec:
        if self.source == "jsonl" and not (self.train_files and self.eval_files):
            raise ValueError("data.source jsonl needs train_files and eval_files")
        return self


class PromptSpec(Section):
    """How a question becomes the model's input: a plain-text template (base models, R1-Zero's
    style) or the tokenizer's chat template (``chat: true``)."""

    chat: bool = False
    template: str = "User: {question}\nAssistant:"
    system: str | None = None

    @field_validator("template")
    @classmethod
    def _has_question(cls, template: str) -> str:
        if "{question}" not in template:
            raise ValueError("the prompt template must contain {question}")
        return template


def check_backend(where: str, config: dict[str, Any], builds: dict[str, str]) -> dict[str, Any]:
    """A backend's settings as the stack takes them (``kind``, ``path``, ...; see the stack's README), plus
    the trainer's ``build``: a model the run makes itself, whose folder becomes ``path``. The rest is
    checked with the stack's own settings model where the stack is installed."""
    build = config.get("build")
    if build is not None:
        if build not in builds:
            raise ValueError(f"{where}: build {build!r} is not one of {sorted(builds)}")
        if config.get("kind", "transformers") != "transformers" or "path" in config:
            raise ValueError(f"{where}: build makes a transformers backend's model: give no kind other than "
                             "transformers and no path")  # fmt: skip
        if config.get("task", builds[build]) != builds[build]:
            raise ValueError(f"{where}: build {build} serves task {builds[build]}, not {config['task']}")
    elif "build_steps" in config:
        raise ValueError(f"{where}: build_steps goes with build")
    steps = config.get("build_steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1 or build == "base"):
        raise ValueError(f"{where}: build_steps must be a positive integer, with build tiny_judge or tiny_reward")
    resolved = resolve_backend(config, "<built in the run>")
    try:
        from rlvr_services.backends.config import load_backends
    except ImportError:  # pragma: no cover - a trainer without the stack: the server checks its own backends
        return config
    try:
        load_backends({"backend": resolved}, None)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][2:]) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(f"{where}: {problems}") from None
    return config


def resolve_backend(config: dict[str, Any], path: str | None) -> dict[str, Any]:
    """The stack's settings of a backend: ``build`` replaced by ``kind: transformers``, its task and ``path``."""
    build = config.get("build")
    settings = {k: v for k, v in config.items() if k not in ("build", "build_steps")}
    if build is not None:
        task = {**GRADER_BUILDS, **TEACHER_BUILDS}[build]
        settings.update(kind="transformers", task=task, path=path)
    return settings


class StackSpec(Section):
    """The reward stack: a URL, or none to start it in this process (needs the rlvr-stack package).

    ``backends`` are the embedded gateway's model backends (its ``GatewaySettings.backends``), which the
    ``judge`` and ``reward_model`` verifiers name: ``{name: settings}`` in the stack's shape, where a
    transformers backend may say ``build: tiny_judge`` or ``build: tiny_reward`` to have the run train that
    tiny grader itself (once, under ``RUN/base/``). A stack at ``url`` has its own backends.
    """

    url: str | None = None
    processes: int | None = Field(default=None, ge=1)
    ready_timeout_s: float = Field(default=180.0, gt=0)
    request_timeout_s: float = Field(default=300.0, gt=0)
    retries: int = Field(default=5, ge=1)
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("backends")
    @classmethod
    def _valid_backends(cls, backends: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {name: check_backend(f"backend {name!r}", c, GRADER_BUILDS) for name, c in backends.items()}

    @model_validator(mode="after")
    def _url_or_backends(self) -> StackSpec:
        if self.url is not None and self.backends:
            raise ValueError(
                f"stack.backends {sorted(self.backends)} configure the gateway the run starts itself; the stack at "
                f"stack.url {self.url} has its own (its RLVR_BACKENDS settings): give stack.url or stack.backends"
            )
        return self


class GenerationSpec(Section):
    """Where completions come from: transformers (CPU or GPU) or vLLM (GPU only, an optional extra)."""

    backend: Literal["transformers", "vllm"] = "transformers"
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_url: str | None = None
    vllm_gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)
    max_new_tokens: int = Field(default=96, ge=1)
    temperature: float = Field(default=1.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    batch_size: int = Field(default=64, ge=1)


class Filter(Section):
    """A reward a sample must reach to be kept (``min_score``); an unscored sample is never kept.

    Rewards here and in GRPO stages are the client's :class:`TRLReward` (``verifier``, ``weight``,
    ``params``, ``columns``, ``params_column``, ``name``), written as mappings.
    """

    reward: TRLReward
    min_score: float = 1.0


class PreferenceModel(Section):
    """Stage 4's preference reward: a sequence-classification model at ``path``, or one trained in
    the run (``train_steps`` > 0) on pairs from an SFT stage's samples (kept = chosen, dropped =
    rejected, same prompt)."""

    path: str | None = None
    pairs_from: str | None = None
    train_steps: int = Field(default=0, ge=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    weight: float = 0.5

    @model_validator(mode="after")
    def _source(self) -> PreferenceModel:
        if (self.path is None) == (self.pairs_from is None):
            raise ValueError("give exactly one of preference_model.path and preference_model.pairs_from")
        if self.pairs_from is not None and self.train_steps == 0:
            raise ValueError("preference_model.pairs_from needs train_steps > 0")
        return self


class GRPOStage(Section):
    """GRPO (``trl.GRPOTrainer``) with rewards from the stack: R1 stages 0, 2 and 4."""

    kind: Literal["grpo"]
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    rewards: list[TRLReward] = Field(min_length=1)
    preference_model: PreferenceModel | None = None
    steps: int = Field(ge=1)
    prompts_per_step: int = Field(default=8, ge=1)
    num_generations: int = Field(default=8, ge=2)
    learning_rate: float = Field(default=1e-5, gt=0)
    beta: float = Field(default=0.0, ge=0)
    temperature: float | None = None
    max_new_tokens: int | None = None
    save_steps: int = Field(default=50, ge=1)
    loss_type: str = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    extra: dict[str, Any] = Field(default_factory=dict, description="more GRPOConfig fields, as TRL names them")


class Sampling(Section):
    prompts: int | None = Field(default=None, ge=1, description="how many training prompts to sample for (all)")
    samples_per_prompt: int = Field(default=4, ge=1)
    few_shot: int = Field(default=0, ge=0, description="solved examples put before each prompt (cold start)")
    max_kept_per_prompt: int = Field(default=1, ge=1)
    temperature: float | None = None
    max_new_tokens: int | None = None


class Teacher(Section):
    """Where an SFT stage's general (non-reasoning) samples come from: a teacher model, as R1 had DeepSeek-V3
    write its 200k. ``backend`` is a chat backend in the stack's settings shape (``kind: openai`` for any
    OpenAI-compatible server, or ``kind: transformers`` with ``task: judge`` for a causal LM in this
    process); ``build: base`` serves the run's base model, its prompt template as chat template. The
    prompts are ``prompt_files`` (JSONL rows with a ``question``), else ``data.general_files``, else the
    synthetic general questions. A failed call (the backend's error or timeout, an empty reply, a reply
    cut at ``max_tokens``) gives no sample; failures are counted in ``filters.json``."""

    backend: dict[str, Any]
    prompt_files: list[str] = Field(default_factory=list)
    system: str | None = None
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=512, ge=1)
    timeout_s: float = Field(default=300.0, gt=0, description="each request's deadline, retries included")
    batch: int = Field(default=64, ge=1, description="requests in flight between two writes of general.jsonl")

    @field_validator("backend")
    @classmethod
    def _chat_backend(cls, backend: dict[str, Any]) -> dict[str, Any]:
        check_backend("teacher.backend", backend, TEACHER_BUILDS)
        kind = backend.get("kind", "transformers" if "build" in backend else None)
        task = backend.get("task", "judge")
        if kind not in ("openai", "transformers") or (kind == "transformers" and task != "judge"):
            raise ValueError("teacher.backend must be a chat model: kind openai, or transformers with task judge")
        return backend


class SFTTraining(Section):
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=1e-4, gt=0)
    batch_size: int = Field(default=16, ge=1)
    max_steps: int | None = Field(default=None, ge=1)


class SFTStage(Section):
    """Sample, keep what the verifiers and filters pass, then ``trl.SFTTrainer``: R1 stages 1 and 3."""

    kind: Literal["sft"]
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    sampling: Sampling = Sampling()
    filters: list[Filter] = Field(min_length=1)
    general_samples: int = Field(default=0, ge=0, description="non-reasoning samples added to the SFT data")
    teacher: Teacher | None = None
    sft: SFTTraining = SFTTraining()

    @model_validator(mode="after")
    def _teacher_has_work(self) -> SFTStage:
        if self.teacher is not None and self.general_samples == 0:
            raise ValueError("a teacher needs general_samples > 0: how many general prompts to ask it")
        return self

    @field_validator("filters")
    @classmethod
    def _one_filter_per_verifier(cls, filters: list[Filter]) -> list[Filter]:
        names = [f.reward.verifier for f in filters]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"filters name the verifiers {repeated} more than once: one filter per verifier")
        return filters


Stage = Annotated[GRPOStage | SFTStage, Field(discriminator="kind")]


class EvalSpec(Section):
    """Held-out evaluation before stage 0 and after every stage (``rewards`` empty: each kind's
    correctness verifier at weight 1 plus ``format`` at 0.2)."""

    temperature: float = Field(default=1.0, ge=0)
    samples_per_prompt: int = Field(default=2, ge=1)
    max_new_tokens: int | None = None
    rewards: list[TRLReward] = Field(default_factory=list)
    general_prompts: int = Field(
        default=0,
        ge=0,
        description="held-out general prompts of the synthetic world ('Tell me about {topic}.'), sampled as the "
        "task prompts are: the `general` metric, the share of replies on topic with no reasoning (0: none)",
    )


class Recipe(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model: ModelSpec
    data: DataSpec = DataSpec()
    prompt: PromptSpec = PromptSpec()
    stack: StackSpec = StackSpec()
    generation: GenerationSpec = GenerationSpec()
    eval: EvalSpec = EvalSpec()
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _stages_fit_together(self) -> Recipe:
        names = [s.name for s in self.stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"stage names {repeated} repeat")
        for index, stage in enumerate(self.stages):
            if isinstance(stage, GRPOStage) and stage.preference_model and stage.preference_model.pairs_from:
                source = stage.preference_model.pairs_from
                earlier = {s.name for s in self.stages[:index] if isinstance(s, SFTStage)}
                if source not in earlier:
                    raise ValueError(
                        f"stage {stage.name!r}: preference_model.pairs_from {source!r} is not an earlier sft stage"
                        f" (earlier: {sorted(earlier)})"
                    )
        for stage in self.stages:
            teacher = stage.teacher if isinstance(stage, SFTStage) else None
            if teacher and not (teacher.prompt_files or self.data.general_files or self.data.source == "synthetic"):
                raise ValueError(
                    f"stage {stage.name!r}: the teacher has no prompts: give teacher.prompt_files or data.general_files"
                )
        if self.eval.general_prompts and self.data.source != "synthetic":
            raise ValueError("eval.general_prompts are the synthetic world's topics: they need data.source synthetic")
        if self.generation.backend == "vllm" and self.device == "cpu":
            raise ValueError("generation.backend vllm needs a GPU: set device to cuda or auto")
        return self

    def stage_index(self, name_or_index: str | int) -> int:
        if isinstance(name_or_index, int) or name_or_index.isdigit():
            index = int(name_or_index)
            if not 0 <= index < len(self.stages):
                raise ValueError(f"stage {index} does not exist: the recipe has stages 0..{len(self.stages) - 1}")
            return index
        for index, stage in enumerate(self.stages):
            if stage.name == name_or_index:
                return index
        raise ValueError(f"no stage named {name_or_index!r}; the recipe has {[s.name for s in self.stages]}")


class RecipeError(ValueError):
    """A recipe file that cannot be read or does not validate; the message names the key."""


def load_recipe(path: str | Path) -> Recipe:
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {file}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {file} must be a mapping at the top level")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise RecipeError(f"recipe {file}: {problems}") from exc
