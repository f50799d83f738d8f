"""Reading an instruction's kwargs: typed getters that raise ``ValueError`` naming the kwarg.

IFEval's data spells thresholds as JSON integers and relations as ``"less than"``/``"at least"``.
A missing or malformed kwarg is the request's fault, so it raises (the verifier turns that into an
``error`` verdict), where IFEval's own code would silently draw a random value instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LESS_THAN = "less than"
AT_LEAST = "at least"
RELATIONS = (LESS_THAN, AT_LEAST)


def integer(kwargs: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    """An integer kwarg ≥ ``minimum`` (an integral float such as 3.0 is accepted, a bool is not)."""
    value = required(kwargs, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be an integer, not {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} must be an integer, not {value!r}")
        value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def text(kwargs: Mapping[str, Any], name: str) -> str:
    """A non-blank string kwarg, as given (callers strip or lower it as IFEval does)."""
    value = required(kwargs, name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def words(kwargs: Mapping[str, Any], name: str) -> list[str]:
    """A non-empty list of non-blank strings."""
    value = required(kwargs, name)
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{name} must be a non-empty list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name}[{i}] must be a non-empty string, not {item!r}")
    return list(value)


def relation(kwargs: Mapping[str, Any], name: str) -> str:
    """``"less than"`` or ``"at least"``."""
    value = required(kwargs, name)
    if value not in RELATIONS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, RELATIONS))}, not {value!r}")
    return str(value)


def compare(count: int, how: str, threshold: int) -> bool:
    """``count < threshold`` for "less than", ``count >= threshold`` for "at least"."""
    return count < threshold if how == LESS_THAN else count >= threshold


def required(kwargs: Mapping[str, Any], name: str) -> Any:
    if kwargs.get(name) is None:
        raise ValueError(f"{name} is required")
    return kwargs[name]
