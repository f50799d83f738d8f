"""Rule-based instructions (IFEval, and the extended RLVR constraint set): one ``Instruction`` per id.

Each module of this package registers its instructions on import; importing the package imports
them all. The ``ifeval`` verifier checks a response against any registered id.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import INSTRUCTIONS, Instruction, instruction

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["INSTRUCTIONS", "Instruction", "instruction"]
