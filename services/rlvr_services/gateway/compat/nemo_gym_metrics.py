"""``POST /aggregate_metrics`` of the NeMo-Gym profiles: statistics over verify responses, as NeMo-Gym shapes them.

NeMo-Gym sends ``{"verify_responses": [...]}`` (each a verify response, with ``_ng_task_index`` and
``_ng_rollout_index``) and logs the flat keys of the answer. Like its own aggregation:

- a masked sample (``mask_sample: true``: our infrastructure failures) is left out of every quality metric and
  counted under ``coverage/*`` instead; when every sample is masked only the coverage is reported;
- every top-level number (booleans as 0/1) not starting with ``_`` gets ``mean/``, ``max/``, ``min/``,
  ``median/`` and ``std/`` (sample std, from two samples on) over the measured samples, per task in
  ``group_level_metrics`` and overall in ``agent_metrics``; ``key_metrics`` are the ``mean/`` entries.

Histograms, per-repeat statistics, pass@k and the perf summary of NeMo-Gym's profiler are not computed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr_client.compat_models import NeMoGymAggregateMetrics as AggregateMetrics

TASK_INDEX = "_ng_task_index"
ROLLOUT_INDEX = "_ng_rollout_index"
MASK = "mask_sample"
_SKIPPED = frozenset({MASK, "response", "responses_create_params"})


def _numbers(row: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in row.items():
        if key.startswith("_") or key in _SKIPPED:
            continue
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out


def _stats(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    columns: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for key, value in _numbers(row).items():
            columns[key].append(value)
    out: dict[str, float] = {}
    for key, values in columns.items():
        out[f"mean/{key}"] = statistics.fmean(values)
        out[f"max/{key}"] = max(values)
        out[f"min/{key}"] = min(values)
        out[f"median/{key}"] = statistics.median(values)
        if len(values) > 1:
            out[f"std/{key}"] = statistics.stdev(values)
    return out


def _coverage(rows: Sequence[Mapping[str, Any]], scored: Sequence[Mapping[str, Any]], masked: int) -> dict[str, int]:
    if not masked:
        return {}
    tasks = {row.get(TASK_INDEX, 0) for row in rows}
    measured = {row.get(TASK_INDEX, 0) for row in scored}
    return {
        "coverage/measured_rollouts": len(scored),
        "coverage/masked_rollouts": masked,
        "coverage/measured_tasks": len(measured),
        "coverage/fully_masked_tasks": len(tasks - measured),
    }


def aggregate(rows: Sequence[Mapping[str, Any]]) -> AggregateMetrics:
    if not rows:
        return AggregateMetrics()
    scored = [row for row in rows if not row.get(MASK)]
    coverage = _coverage(rows, scored, len(rows) - len(scored))
    if not scored:
        return AggregateMetrics(agent_metrics=dict(coverage), key_metrics=dict(coverage))
    by_task: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for row in scored:
        by_task[row.get(TASK_INDEX, 0)].append(row)
    groups = [
        {**_stats(by_task[task]), TASK_INDEX: task, "num_rollouts": len(by_task[task])}
        for task in sorted(by_task, key=str)
    ]
    agent = {**_stats(scored), **coverage}
    return AggregateMetrics(
        group_level_metrics=groups,
        agent_metrics=agent,
        key_metrics={k: v for k, v in agent.items() if k.startswith("mean/")},
    )
