"""Replay a backlog curve through a worker group's ScaledObject: the replica counts KEDA and the HPA it
makes would choose, tick by tick. No cluster is needed; the decision rules are written out here.

    python deploy/helm/keda_simulate.py --group math --curve backlog.csv            (renders the chart)
    helm template r deploy/helm/rlvr-stack | python deploy/helm/keda_simulate.py --manifest - --group math \\
        --curve backlog.csv

The curve is a CSV: a ``time_s`` column, then one column per trigger key, named by the key
(``rlvr:tasks:math``, ``rlvr:demand:judge``), by the verifier for a task stream (``math``) or by its last
two parts for another key (``demand:judge``); each value is the trigger's metric at that time (the
group's lag for ``lagCount``, its pending entries for ``pendingEntriesCount``, the list's length for a
demand list). A key without a column counts 0, as KEDA counts a stream or list that does not exist yet.

What is modelled, at every tick (the ScaledObject's pollingInterval unless --interval says otherwise;
the metric at a tick is the curve's last sample at or before it):

* KEDA's activation: a group at 0 replicas goes to 1 when some trigger's metric is above its activation
  threshold (activationLagCount, activationListLength); the HPA takes over from the next tick.
* Scale to zero: with minReplicaCount 0, when no trigger has been active for cooldownPeriod (and the
  object is older than initialCooldownPeriod), KEDA sets 0 replicas.
* The HPA (autoscaling/v2, AverageValue targets): per trigger ceil(metric / target), unless
  metric / (target * replicas) is within the 10 % tolerance of 1; the max over the triggers; then the
  behavior: the scale-up window keeps the min and the scale-down window the max of the recommendations
  in it, and the rate policies limit the change per period (selectPolicy Max/Min/Disabled); clamped to
  [max(minReplicaCount, 1), maxReplicaCount].

Not modelled: pod start-up time (a replica counts from the tick it is asked for), the HPA's
readiness and missing-metric rules, KEDA's fallback, and the controllers' own sync jitter.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TOLERANCE = 0.1  # the HPA controller's default --horizontal-pod-autoscaler-tolerance
CHART = Path(__file__).resolve().parent / "rlvr-stack"
STREAM_METRICS = ("lagCount", "pendingEntriesCount", "streamLength")  # a redis-streams trigger's target, one of these


@dataclass(frozen=True)
class Policy:
    kind: str  # Pods | Percent
    value: int
    period_s: int


@dataclass(frozen=True)
class Rules:
    window_s: int
    policies: tuple[Policy, ...]
    select: str = "Max"  # Max | Min | Disabled


# the HPA's defaults when a ScaledObject gives no behavior
DEFAULT_UP = Rules(0, (Policy("Pods", 4, 15), Policy("Percent", 100, 15)), "Max")
DEFAULT_DOWN = Rules(300, (Policy("Percent", 100, 15),), "Max")


@dataclass(frozen=True)
class Trigger:
    name: str
    key: str  # the stream (redis-streams) or the list (redis)
    metric: str  # lagCount | pendingEntriesCount | streamLength | listLength
    target: float
    activation: float


@dataclass(frozen=True)
class ScalingSpec:
    name: str
    min_replicas: int
    max_replicas: int
    polling_s: int
    cooldown_s: int
    initial_cooldown_s: int
    triggers: tuple[Trigger, ...]
    up: Rules = DEFAULT_UP
    down: Rules = DEFAULT_DOWN


@dataclass(frozen=True)
class Step:
    time_s: float
    metrics: Mapping[str, float]
    active: bool
    desired: int | None  # the HPA's recommendation before its behavior (None: the HPA did not act)
    replicas: int
    note: str = ""


def _rules(raw: Mapping[str, Any] | None, default: Rules) -> Rules:
    if not raw:
        return default
    policies = tuple(
        Policy(str(p["type"]), int(p["value"]), int(p["periodSeconds"])) for p in raw.get("policies", [])
    ) or default.policies
    window = raw.get("stabilizationWindowSeconds")
    return Rules(default.window_s if window is None else int(window), policies, str(raw.get("selectPolicy", "Max")))


def spec_from_scaled_object(doc: Mapping[str, Any]) -> ScalingSpec:
    """The settings that decide replica counts, read from a rendered ScaledObject."""
    spec = doc["spec"]
    triggers = []
    for i, trig in enumerate(spec["triggers"]):
        meta, name = trig["metadata"], str(trig.get("name", i))
        if trig["type"] == "redis-streams":
            metric = next((m for m in STREAM_METRICS if m in meta), "pendingEntriesCount")
            key, activation = str(meta["stream"]), float(meta.get("activationLagCount", 0))
        elif trig["type"] == "redis":
            metric, key, activation = "listLength", str(meta["listName"]), float(meta.get("activationListLength", 0))
        else:
            raise SystemExit(f"trigger {name}: type {trig['type']!r} is not simulated (redis-streams, redis)")
        triggers.append(Trigger(name, key, metric, float(meta.get(metric, 5)), activation))
    behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    return ScalingSpec(
        name=str(doc["metadata"]["name"]),
        min_replicas=int(spec.get("minReplicaCount", 0)),
        max_replicas=int(spec.get("maxReplicaCount", 100)),
        polling_s=int(spec.get("pollingInterval", 30)),
        cooldown_s=int(spec.get("cooldownPeriod", 300)),
        initial_cooldown_s=int(spec.get("initialCooldownPeriod", 0)),
        triggers=tuple(triggers),
        up=_rules(behavior.get("scaleUp"), DEFAULT_UP),
        down=_rules(behavior.get("scaleDown"), DEFAULT_DOWN),
    )


def find_scaled_object(docs: Iterable[Mapping[str, Any] | None], group: str) -> Mapping[str, Any]:
    """The ScaledObject of a worker group in a rendered manifest."""
    found = []
    for doc in docs:
        if doc and doc.get("kind") == "ScaledObject":
            found.append(doc)
            if doc["metadata"].get("labels", {}).get("rlvr-stack/worker-group") == group:
                return doc
    names = ", ".join(str(d["metadata"].get("labels", {}).get("rlvr-stack/worker-group")) for d in found)
    raise SystemExit(f"no ScaledObject for the worker group {group!r} (found: {names or 'none'}; is keda.enabled on?)")


def _column_key(col: str, keys: Sequence[str]) -> str | None:
    for key in keys:
        if col == key or (":" in col and key.endswith(":" + col)) or key.endswith(":tasks:" + col):
            return key
    return None


def read_curve(path: Path | str, keys: Sequence[str]) -> list[tuple[float, dict[str, float]]]:
    """Rows of (time, trigger key → metric)."""
    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "time_s" not in reader.fieldnames:
        raise SystemExit("the curve needs a time_s column")
    columns: dict[str, str] = {}
    for col in reader.fieldnames:
        if col == "time_s":
            continue
        key = _column_key(col, keys)
        if key is None:
            raise SystemExit(f"curve column {col!r} names none of the group's trigger keys: {', '.join(keys)}")
        columns[col] = key
    rows = []
    for row in reader:
        values = {columns[c]: float(row[c] or 0) for c in columns}
        rows.append((float(row["time_s"]), values))
    rows.sort(key=lambda r: r[0])
    return rows


@dataclass
class _Hpa:
    """The HPA's memory: its recent recommendations and replica changes."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas added; negative: removed)

    def changed_within(self, now: float, period_s: int, sign: int) -> int:
        return sum(d for t, d in self.events if t > now - period_s and d * sign > 0) * sign


def _limit(current: int, rules: Rules, hpa: _Hpa, now: float, up: bool) -> int:
    if rules.select == "Disabled":
        return current
    wider = max if (rules.select == "Max") == up else min
    result: int | None = None
    for p in rules.policies:
        if up:
            start = current - hpa.changed_within(now, p.period_s, +1)
            proposed = start + p.value if p.kind == "Pods" else math.ceil(start * (1 + p.value / 100))
        else:
            start = current + hpa.changed_within(now, p.period_s, -1)
            proposed = start - p.value if p.kind == "Pods" else int(start * (1 - p.value / 100))
        result = proposed if result is None else wider(result, proposed)
    return current if result is None else result


def _hpa_step(spec: ScalingSpec, hpa: _Hpa, now: float, current: int, metrics: Mapping[str, float]) -> tuple[int, int]:
    """(raw recommendation, replicas after the behavior) for one HPA sync."""
    proposals = []
    for trig in spec.triggers:
        value = metrics.get(trig.key, 0.0)
        ratio = value / (trig.target * current)
        proposals.append(current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(value / trig.target))
    desired = max(proposals)
    # stabilisation: up to the min of the up-window's recommendations, down to the max of the down-window's
    up_rec = min([r for t, r in hpa.recommendations if t > now - spec.up.window_s] + [desired])
    down_rec = max([r for t, r in hpa.recommendations if t > now - spec.down.window_s] + [desired])
    hpa.recommendations.append((now, desired))
    keep_s = max(spec.up.window_s, spec.down.window_s)
    hpa.recommendations = [(t, r) for t, r in hpa.recommendations if t > now - keep_s]
    target = min(max(current, up_rec), down_rec)
    low, high = max(spec.min_replicas, 1), spec.max_replicas
    if target > current:
        target = min(target, high, max(_limit(current, spec.up, hpa, now, up=True), current))
    elif target < current:
        target = max(target, low, min(_limit(current, spec.down, hpa, now, up=False), current))
    return desired, target


def simulate(
    spec: ScalingSpec,
    curve: Sequence[tuple[float, Mapping[str, float]]],
    *,
    interval_s: float | None = None,
    start_replicas: int | None = None,
) -> list[Step]:
    """One Step per tick from the curve's first time to its last."""
    if not curve:
        return []
    step_s = float(interval_s or spec.polling_s)
    t0, t_end = curve[0][0], curve[-1][0]
    replicas = spec.min_replicas if start_replicas is None else start_replicas
    hpa = _Hpa()
    last_active: float | None = None
    out: list[Step] = []
    i, tick = 0, 0
    while True:
        now = t0 + tick * step_s
        if now > t_end + 1e-9:
            break
        while i + 1 < len(curve) and curve[i + 1][0] <= now + 1e-9:
            i += 1
        metrics = {t.key: float(curve[i][1].get(t.key, 0.0)) for t in spec.triggers}
        active = any(metrics[t.key] > t.activation for t in spec.triggers)
        if active:
            last_active = now
        desired: int | None = None
        note = ""
        before = replicas
        if replicas == 0:
            if active:
                replicas, note = 1, "activated"
        elif (
            spec.min_replicas == 0
            and not active
            and now - t0 >= spec.initial_cooldown_s
            and (last_active is None or now - last_active >= spec.cooldown_s)
        ):
            replicas, note = 0, "cooldown passed: scaled to zero"
            hpa = _Hpa()
        else:
            desired, replicas = _hpa_step(spec, hpa, now, replicas, metrics)
        if replicas != before and replicas and before:
            hpa.events.append((now, replicas - before))
        out.append(Step(now, metrics, active, desired, replicas, note))
        tick += 1
    return out


def render(chart: Path, values: Sequence[str], helm: str) -> list[Mapping[str, Any] | None]:
    cmd = [helm, "template", "sim", str(chart)]
    for v in values:
        cmd += ["-f", v]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return list(yaml.safe_load_all(done.stdout))


def _report(spec: ScalingSpec, steps: Sequence[Step]) -> str:
    """The settings, then a row per tick; a trigger key that stays at 0 over the whole curve gets no column."""
    keys = [t.key for t in spec.triggers if any(s.metrics[t.key] for s in steps)] or [spec.triggers[0].key]
    width = max(12, *(len(k) for k in keys))
    lines = [
        f"{spec.name}: replicas {spec.min_replicas}-{spec.max_replicas}, poll {spec.polling_s}s, "
        f"cooldown {spec.cooldown_s}s, scale-down window {spec.down.window_s}s",
        *(f"  trigger {t.key}: {t.metric} {t.target:g}, activation above {t.activation:g}" for t in spec.triggers),
        f"{'time_s':>8} " + " ".join(f"{k:>{width}}" for k in keys) + f" {'desired':>7} {'replicas':>8}  note",
    ]
    for s in steps:
        desired = "-" if s.desired is None else str(s.desired)
        values = " ".join(f"{s.metrics[k]:>{width}g}" for k in keys)
        lines.append(f"{s.time_s:>8g} {values} {desired:>7} {s.replicas:>8}  {s.note}".rstrip())
    if steps:
        step_s = steps[1].time_s - steps[0].time_s if len(steps) > 1 else 0.0
        pod_s = sum(s.replicas for s in steps) * step_s
        lines.append(f"peak {max(s.replicas for s in steps)} replicas; {pod_s / 60:.1f} pod-minutes over the curve")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curve", required=True, help="CSV: time_s, then one column per trigger key ('-': stdin)")
    p.add_argument("--group", required=True, help="the worker group (workers.groups.<name>)")
    p.add_argument("--manifest", help="rendered chart (helm template output, '-': stdin); default: render it")
    p.add_argument("--values", action="append", default=[], help="values file for the render (repeatable)")
    p.add_argument("--helm", default=str(Path(sys.prefix) / "bin" / "helm"), help="helm binary for the render")
    p.add_argument("--interval", type=float, default=None, help="seconds between ticks (default: pollingInterval)")
    p.add_argument("--start-replicas", type=int, default=None, help="replicas at the first tick (default: min)")
    args = p.parse_args(argv)
    if args.manifest:
        text = sys.stdin.read() if args.manifest == "-" else Path(args.manifest).read_text(encoding="utf-8")
        docs: list[Mapping[str, Any] | None] = list(yaml.safe_load_all(text))
    else:
        docs = render(CHART, args.values, args.helm)
    spec = spec_from_scaled_object(find_scaled_object(docs, args.group))
    curve = read_curve(args.curve, [t.key for t in spec.triggers])
    steps = simulate(spec, curve, interval_s=args.interval, start_replicas=args.start_replicas)
    print(_report(spec, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
