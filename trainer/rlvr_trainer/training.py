"""What every TRL trainer of a run shares: device and precision settings, and the step log on disk."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .rundir import StageDir, append_jsonl

# The TRL adapter logs each component's mean as "<function>/<component>"; the log writes it as
# "rewards/<component>/mean", beside TRL's own "rewards/<function>/mean".
REWARD_FUNCTION = "rlvr"
_COMPONENT = re.compile(rf"^{REWARD_FUNCTION}/(?!unscored_frac$)([A-Za-z0-9_.-]+)$")


def common_args(device: str, seed: int, output_dir: Path) -> dict[str, Any]:
    """Keyword arguments of every TRL config in the run."""
    cpu = device == "cpu"
    return {
        "output_dir": str(output_dir),
        "use_cpu": cpu,
        "bf16": not cpu,
        "fp16": False,
        "seed": seed,
        "report_to": "none",
        "logging_steps": 1,
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
    }


def model_init(dtype: str) -> dict[str, Any]:
    """``model_init_kwargs`` for TRL's configs: the recipe's dtype (``auto``: the checkpoint's own)."""
    return {"model_init_kwargs": {"dtype": dtype}} if dtype != "auto" else {}


class StepLog(TrainerCallback):  # type: ignore[misc]
    """Appends every logged step to a JSONL file (fsynced: an interrupted stage keeps its curve)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs:
            return
        record: dict[str, Any] = {"step": state.global_step}
        for key, value in logs.items():
            if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
                continue
            match = _COMPONENT.match(key)
            record[f"rewards/{match.group(1)}/mean" if match else key] = value
        append_jsonl(self.path, [record])


def fit_sft(model_dir: Path, data: list[dict[str, str]], args: Any, tokenizer: Any, folder: StageDir) -> Any:
    """``trl.SFTTrainer`` on prompt/completion pairs; the model and tokenizer are saved to ``folder.model``.

    The step log starts afresh: an interrupted SFT trains again from its input model.
    """
    from datasets import Dataset
    from trl import SFTTrainer

    step_log = folder.file("train_log.jsonl")
    step_log.unlink(missing_ok=True)
    trainer = SFTTrainer(
        model=str(model_dir),
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
        callbacks=[StepLog(step_log)],
    )
    trainer.train()
    trainer.save_model(str(folder.model))
    tokenizer.save_pretrained(folder.model)
    return trainer


def last_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoint-N`` folder TRL saved under ``folder``, if any."""
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()] if folder.exists() else []
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)
