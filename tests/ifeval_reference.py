"""Google's IFEval checkers as ``lm-eval`` ships them, loaded so that they run offline and repeatably.

The reference is loaded from lm-eval's installed files by path (``lm_eval/tasks/ifeval/*.py``) without
importing the ``lm_eval`` package, so it needs only nltk, langdetect and immutabledict. Two parts of
it cannot run here as they are, and are replaced (so those two checks compare the rest of the logic):

- NLTK's Punkt sentence model cannot be downloaded: the reference's sentence tokenizer, and the
  sentence split inside ``nltk.word_tokenize``, are our splitter (``instructions/sentences.py``,
  tested on its own in ``test_verifier_ifeval.py``). The word tokenizer after it is NLTK's own.
- langdetect is seeded (``DetectorFactory.seed = 0``) so that it answers the same every run.

Used by the conformance test and by ``bench/bench_ifeval.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

from ifeval_gen import Case

from rlvr_services.verifiers.instructions import sentences

REFERENCE_FILES = ("instructions_util", "instructions", "instructions_registry", "utils")


class ReferenceMissing(RuntimeError):
    pass


class _OurSentences:
    """Stands in for NLTK's Punkt tokenizer object."""

    def tokenize(self, text: str) -> list[str]:
        return sentences.split_sentences(text)


def _load() -> types.SimpleNamespace:
    spec = importlib.util.find_spec("lm_eval")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ReferenceMissing("lm-eval is not installed: pip install --no-deps lm-eval==0.4.13 (see the Makefile)")
    root = Path(next(iter(spec.submodule_search_locations)))
    folder = root / "tasks" / "ifeval"
    saved = {name: sys.modules.get(name) for name in ("lm_eval", "lm_eval.tasks", "lm_eval.tasks.ifeval")}
    rank = os.environ.get("LOCAL_RANK")
    loaded: dict[str, types.ModuleType] = {}
    try:
        for name, path in (("lm_eval", root), ("lm_eval.tasks", root / "tasks"), ("lm_eval.tasks.ifeval", folder)):
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
        os.environ["LOCAL_RANK"] = "1"  # not rank 0: the reference does not try to download Punkt on import
        for short in REFERENCE_FILES:
            name = f"lm_eval.tasks.ifeval.{short}"
            module_spec = importlib.util.spec_from_file_location(name, folder / f"{short}.py")
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
            setattr(sys.modules["lm_eval.tasks.ifeval"], short, module)
            loaded[short] = module
    finally:
        for name in [*saved, *(f"lm_eval.tasks.ifeval.{short}" for short in REFERENCE_FILES)]:
            if saved.get(name) is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = saved[name]
        if rank is None:
            os.environ.pop("LOCAL_RANK", None)
        else:
            os.environ["LOCAL_RANK"] = rank
    return types.SimpleNamespace(**loaded)


@contextlib.contextmanager
def reference_checkers() -> Iterator[types.SimpleNamespace]:
    """The reference modules, with our sentence splitter patched in and langdetect seeded, for the block."""
    import langdetect
    import nltk.tokenize

    ref = _load()
    langdetect.DetectorFactory.seed = 0
    patched = [
        (ref.instructions_util, "_get_sentence_tokenizer", _OurSentences),
        (nltk.tokenize, "sent_tokenize", lambda text, language="english": sentences.split_sentences(text)),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    try:
        for owner, name, value in patched:
            setattr(owner, name, value)
        yield ref
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)


def reference_follows(ref: types.SimpleNamespace, case: Case, mode: str) -> list[bool]:
    example = ref.utils.InputExample(case.key, case.instruction_id_list, case.prompt, case.kwargs)
    test = (
        ref.utils.test_instruction_following_strict if mode == "strict" else ref.utils.test_instruction_following_loose
    )
    return list(test(example, case.response).follow_instruction_list)
