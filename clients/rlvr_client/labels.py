"""How a trainer's label (OpenRLHF ``labels``, slime ``label``, verl ``ground_truth``) becomes reward specs.

Every peer protocol hands the reward service one opaque value per sample. It is read in one way everywhere:

- JSON (text or an already decoded object) that *carries reward specs*: ``{"rewards": [{"name", "weight",
  "params"}, …]}`` or a bare list of such objects. Those specs are used as they are.
- Anything else is a *plain label*: the templates of the route (a server-side profile, or the verl adapter's
  ``data_source`` mapping) say which param it fills. The default template reads it as the ``math`` gold.

A template is a reward spec with one more field, ``from_label``: the param the label fills (``"gold"``),
or ``"*"`` to merge a label that is a JSON object into the params (a code problem's tests, say).

Labels from data pipelines can hold numpy values (verl keeps rows in numpy object arrays): :func:`plain`
turns them into JSON values without importing numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .models import RewardSpec

__all__ = ["DEFAULT_TEMPLATES", "LabelError", "SpecTemplate", "plain", "specs_for_label", "template_keys"]

MERGE = "*"
_MAX_DEPTH = 32


class LabelError(ValueError):
    """A label (or a template) cannot be turned into reward specs; the message names the field."""


class SpecTemplate(BaseModel):
    """A reward spec whose params are completed from each sample's label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, description="Verifier name.")
    weight: float = Field(default=1.0, allow_inf_nan=False)
    params: dict[str, Any] = Field(default_factory=dict, description="Params every sample gets.")
    from_label: str | None = Field(
        default=None,
        min_length=1,
        description='The param the label fills ("gold"), or "*": the label is a JSON object merged into the params.',
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="verl: param → key of the sample's extra_info whose value fills it (numpy values made plain).",
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The component's name in the adapter's outputs (default: the verifier name).",
    )

    @property
    def label(self) -> str:
        return self.key or self.name

    @model_validator(mode="after")
    def _params_filled_once(self) -> SpecTemplate:
        filled = [p for p in [self.from_label, *self.columns] if p is not None and p != MERGE]
        twice = sorted({p for p in filled if filled.count(p) > 1} | (set(filled) & set(self.params)))
        if twice:
            raise ValueError(f"params {twice} of {self.name!r} are filled from two places")
        return self


DEFAULT_TEMPLATES: tuple[SpecTemplate, ...] = (SpecTemplate(name="math", from_label="gold"),)


def template_keys(templates: Sequence[SpecTemplate]) -> list[str]:
    """The component keys of ``templates``, in order; raises when two specs share one."""
    keys = [t.label for t in templates]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise LabelError(f"component keys {twice} repeat: give the specs distinct `key`s")
    return keys


def plain(value: Any, *, _depth: int = 0) -> Any:
    """``value`` as plain JSON data: numpy arrays and scalars, tuples, sets and mappings (OmegaConf's too) become
    lists, numbers and dicts. Non-finite floats stay floats (JSON encoders decide); unknown objects become text."""
    if _depth > _MAX_DEPTH:
        raise LabelError("value is nested too deeply")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "dtype"):  # numpy array or scalar (item() of a 0-d array)
        return plain(tolist(), _depth=_depth + 1)
    if isinstance(value, Mapping):
        return {str(k): plain(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (Sequence, set, frozenset)):
        return [plain(v, _depth=_depth + 1) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        return plain(item(), _depth=_depth + 1)
    return str(value)


def _decoded(label: Any) -> Any:
    """A label that is JSON text of an object or array, decoded; anything else as it is."""
    if isinstance(label, str):
        text = label.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return label
    return label


def _carried_specs(value: Any) -> list[Any] | None:
    """The spec objects a decoded label carries, or None when it is a plain label."""
    if isinstance(value, Mapping) and isinstance(value.get("rewards"), list):
        return list(value["rewards"])
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        return value
    return None


def _as_text(label: Any, where: str) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, bool) or not isinstance(label, (int, float)):
        raise LabelError(f"{where}: a plain label must be text or a number, not {type(label).__name__}")
    if isinstance(label, float) and not math.isfinite(label):
        raise LabelError(f"{where}: a plain label must be a finite number")
    return str(label)


def _filled(
    template: SpecTemplate, label: Any, decoded: Any, extra: Mapping[str, Any] | None, where: str
) -> RewardSpec:
    params = dict(template.params)
    if template.from_label == MERGE:
        merged = decoded
        if not isinstance(merged, Mapping):
            raise LabelError(f"{where}: the {template.name!r} reward reads the label as a JSON object of params")
        params.update(merged)
    elif template.from_label is not None:
        if label is None or label == "":
            raise LabelError(f"{where}: the {template.name!r} reward needs a label for its {template.from_label!r}")
        params[template.from_label] = _as_text(label, where)
    for param, column in template.columns.items():
        if extra is None or column not in extra:
            raise LabelError(f"{where}: extra_info has no {column!r} for the {template.name!r} param {param!r}")
        params[param] = plain(extra[column])
    return RewardSpec(name=template.name, weight=template.weight, params=params)


def specs_for_label(
    label: Any,
    templates: Sequence[SpecTemplate] = DEFAULT_TEMPLATES,
    *,
    where: str = "label",
    extra: Mapping[str, Any] | None = None,
) -> tuple[list[RewardSpec], bool]:
    """The reward specs for one sample, and whether they came from the label itself (JSON specs).

    Raises :class:`LabelError` naming ``where`` when the label cannot give them."""
    raw = plain(label)
    value = _decoded(raw)
    carried = _carried_specs(value)
    if carried is not None:
        specs = []
        for j, raw in enumerate(carried):
            try:
                specs.append(RewardSpec.model_validate(raw))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{where}.rewards[{j}]{''.join(f'.{p}' for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise LabelError(problems) from None
        if not specs:
            raise LabelError(f"{where}.rewards: the label carries no reward specs")
        return specs, True
    if not templates:
        raise LabelError(f"{where}: no reward specs: the label carries none and the route names none")
    return [_filled(t, raw, value, extra, where) for t in templates], False
