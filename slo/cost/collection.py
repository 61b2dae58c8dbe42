"""Collecting the weekly cost report: ask a reader the report's queries and assemble the model.

The reader is anything answering instant and range queries (inferwatch.prom.PrometheusReader in
production, which turns an unreachable Prometheus or an answer that is not its API into exit 3;
an in-memory fake in the unit tests). Python only joins the answers by label, prices the hours
(inferwatch.slo.cost.ledger), compares the hours both weeks cover (inferwatch.slo.cost.compare)
and applies the idle policy; the PromQL is in inferwatch.slo.cost.queries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from inferwatch.config import CostReportSettings, Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.errors import NoDataError
from inferwatch.prom import RangeSeries, Sample
from inferwatch.slo.cost.compare import Comparison
from inferwatch.slo.cost.ledger import (
    CENT,
    ZERO,
    Hourly,
    Line,
    LineKind,
    PriceList,
    WeekData,
    apportion_decimal,
    build_lines,
    money,
    price,
    quantity,
)
from inferwatch.slo.cost.model import (
    CostReport,
    DailyPoint,
    IdleGpu,
    Key,
    PodUtilization,
    SilentPod,
    per_mtok,
    ratio,
)
from inferwatch.slo.cost.queries import Query, recorded_share, report_queries
from inferwatch.slo.cost.split import Weights, split_lines
from inferwatch.slo.cost.week import IsoWeek

log = logging.getLogger(__name__)

HOUR_S = 3600
DAY_S = 86400
MIN_IDLE_GPU_HOURS = 1.0  # idle GPUs listed one by one: at least this much unheld time in the week

Progress = Callable[[str], None]
Values = dict[Key, float]


class CostReader(Protocol):
    """What the report reads Prometheus through (PrometheusReader's query methods)."""

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        """Evaluate ``expr`` at ``at``: its instant-vector elements."""
        ...

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        """Evaluate ``expr`` over [start, end] every ``step_s`` seconds."""
        ...


@dataclass
class _Answers:
    hourly: dict[str, dict[Key, Hourly]] = field(default_factory=dict)
    keyed: dict[str, Values] = field(default_factory=dict)
    daily: dict[str, dict[Key, list[DailyPoint]]] = field(default_factory=dict)
    labels: dict[Key, dict[str, str]] = field(default_factory=dict)


def _key(labels: Mapping[str, str], by: tuple[str, ...], cluster_label: str, default_cluster: str) -> Key:
    return tuple((labels.get(k) or default_cluster) if k == cluster_label else labels.get(k, "") for k in by)


def _run(
    reader: CostReader, week: IsoWeek, queries: list[Query], settings: CostReportSettings, progress: Progress | None
) -> _Answers:
    # Instant queries and range points cover (t - window, t]; shift by a millisecond so a sample
    # exactly at an hour's start belongs to that hour, and one exactly at the week's end to the next week.
    at = week.end - timedelta(milliseconds=1)
    week_start = week.start.timestamp()
    answers = _Answers()

    def key(labels: Mapping[str, str], q: Query) -> Key:
        return _key(labels, q.by, settings.cluster_label, settings.default_cluster)

    for q in queries:
        if progress is not None:
            progress(q.key)
        log.debug("cost report %s query %s: %s", week.label, q.key, q.expr)
        if q.step:
            step = HOUR_S if q.step == "hour" else DAY_S
            first = week.start + timedelta(seconds=step) - timedelta(milliseconds=1)
            series = reader.query_range(q.expr, first, at, step)
            index = {
                key(s.labels, q): {round((t - week_start) / step) - 1: v for t, v in s.points if math.isfinite(v)}
                for s in series
            }
            if q.step == "hour":
                answers.hourly[q.key] = {k: Hourly(v) for k, v in index.items()}
            else:
                answers.daily[q.key] = {k: [DailyPoint(d, v) for d, v in sorted(v.items())] for k, v in index.items()}
            continue
        samples = reader.query(q.expr, at=at)
        answers.keyed[q.key] = {key(s.labels, q): s.value for s in samples}
        if q.all_labels:
            for s in samples:
                answers.labels[key(s.labels, q)] = dict(s.labels)
    return answers


def price_list(pricing: Pricing) -> PriceList:
    """The configured prices as decimals (GPU-hour by GPU model, default, energy x PUE)."""
    energy = None if pricing.energy_kwh is None else price(pricing.energy_kwh * pricing.pue)
    return PriceList({m: price(p) for m, p in pricing.gpu_hour.items()}, price(pricing.default_gpu_hour), energy)


def _week_data(a: _Answers, interval_s: float) -> WeekData:
    def h(key: str) -> dict[Key, Hourly]:
        return a.hourly.get(key, {})

    # Per cluster and hour, the evaluations that recorded the priced series: the share of the hour recorded.
    recorded = {
        k[0]: {hr: recorded_share(v, interval_s) for hr, v in s.values.items() if v > 0}
        for k, s in h("coverage").items()
    }
    return WeekData(
        coverage={c: frozenset(hours) for c, hours in recorded.items() if hours},
        recorded={c: hours for c, hours in recorded.items() if hours},
        held=h("held"),
        busy=h("busy"),
        energy=h("energy"),
        model_held=h("model_held"),
        model_busy=h("model_busy"),
        idle=h("idle"),
        prompt=h("prompt"),
        generation=h("generation"),
    )


def _ns_hours(data: WeekData) -> dict[Key, float]:
    """Hours each namespace held a GPU or served tokens (an hour recorded in part, in part)."""
    hours: dict[Key, set[int]] = {}
    for series in (data.held, data.prompt):
        for k, s in series.items():
            hours.setdefault((k[0], k[1]), set()).update(hr for hr, v in s.values.items() if v > 0)
    return {k: data.recorded_hours(k[0], v) for k, v in hours.items()}


def _observed_hours(data: WeekData) -> float:
    """Hours of the week in which any cluster recorded (each hour at the most any cluster recorded of it)."""
    every = frozenset().union(*data.coverage.values())
    return sum(max(data.share(c, hr) for c in data.coverage) for hr in every)


def _first(values: Values, prefix: Key) -> Key | None:
    return next((k for k in sorted(values) if k[: len(prefix)] == prefix), None)


def _idle_gpus(a: _Answers, lines: tuple[Line, ...], prices: PriceList) -> tuple[IdleGpu, ...]:
    """Every GPU with idle time, its share of its cluster's idle cost of its GPU model, costliest first."""
    hours = {k: v for k, v in a.keyed.get("gpu_idle_hours", {}).items() if math.isfinite(v) and v > 0}
    models = a.keyed.get("gpu_model", {})
    nodes = a.keyed.get("gpu_node", {})
    gpus: dict[tuple[str, str], list[Key]] = {}  # (cluster, gpu model) -> GPUs
    for cluster, uuid in sorted(hours):
        model_key = _first(models, (cluster, uuid))
        gpus.setdefault((cluster, model_key[2] if model_key else ""), []).append((cluster, uuid))
    idle: dict[tuple[str, str], Decimal] = {}
    for ln in lines:
        if ln.kind in (LineKind.IDLE, LineKind.IDLE_SHARE):
            k = (ln.cluster, ln.sku.gpu_model)
            idle[k] = idle.get(k, ZERO) + ln.cost
    out = []
    for (cluster, gpu_model), members in gpus.items():
        cents = idle.get((cluster, gpu_model))
        if cents is None:  # no idle line of this GPU model: price its hours alone
            costs = [money(prices.sku(gpu_model).unit_price, quantity(hours[g])) for g in members]
        else:
            costs = apportion_decimal(cents, [hours[g] for g in members], CENT)
        for g, cost in zip(members, costs, strict=True):
            node_key = _first(nodes, g)
            node = next((v for v in node_key[2:] if v), "") if node_key else ""
            out.append(IdleGpu(cluster, g[1], node, gpu_model, hours[g], cost))
    return tuple(sorted(out, key=lambda x: (-x.idle_cost, x.cluster, x.gpu_uuid)))


def _low_utilization(a: _Answers, threshold: float) -> tuple[PodUtilization, ...]:
    """The pods whose GPUs were busy less than ``threshold`` of the time they held them, costliest first."""
    pods = []
    busy_hours = a.keyed.get("pod_busy_hours", {})
    for key, gpu_hours in a.keyed.get("pod_gpu_hours", {}).items():
        busy = busy_hours.get(key)
        if busy is None or not math.isfinite(busy) or not gpu_hours > 0:
            continue  # no busy-time data (kube-state-metrics fallback): utilization unknown
        util = busy / gpu_hours
        cost = a.keyed.get("pod_cost", {}).get(key, 0.0)
        if util < threshold:
            pods.append(PodUtilization(key[0], key[1], key[2], gpu_hours, util, cost if math.isfinite(cost) else 0.0))
    return tuple(sorted(pods, key=lambda p: (-p.cost, p.cluster, p.namespace, p.pod)))


def _labels(a: _Answers) -> dict[Key, dict[str, str]]:
    """Each namespace's labels (kube-state-metrics' label_<key>, the prefix dropped)."""
    return {
        key: {k.removeprefix("label_"): v for k, v in sorted(labels.items()) if k.startswith("label_") and v}
        for key, labels in a.labels.items()
    }


def _positive(values: Values) -> dict[Key, float]:
    return {k: v for k, v in values.items() if math.isfinite(v) and v > 0}


def _named_first(parts: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(parts.items(), key=lambda kv: (kv[0] == "", kv[0]))


def _attribution(a: _Answers) -> tuple[Weights, Weights]:
    """The weights of the ledger's split: each namespace's tenants and the rest, each model's adapters and the rest.

    Tenants weigh their recorded held cost, the rest the recorded cost no tenant reported; adapters
    weigh theirs, the rest the model's recorded cost less its adapters'.
    """
    tenants: dict[Key, dict[str, float]] = {}
    for (cluster, ns, tenant), v in _positive(a.keyed.get("tenant_cost", {})).items():
        tenants.setdefault((cluster, ns), {})[tenant] = v
    rest = a.keyed.get("tenant_unattributed", {})
    for key, parts in tenants.items():
        parts[""] = max(rest.get(key, 0.0), 0.0) if math.isfinite(rest.get(key, 0.0)) else 0.0
    adapters: dict[Key, dict[str, float]] = {}
    for (cluster, ns, model, adapter), v in _positive(a.keyed.get("adapter_cost", {})).items():
        adapters.setdefault((cluster, ns, model), {})[adapter] = v
    model_cost = a.keyed.get("model_cost", {})
    for key, parts in adapters.items():
        whole = model_cost.get(key, 0.0)
        parts[""] = max(whole - sum(parts.values()), 0.0) if math.isfinite(whole) else 0.0
    return (
        {k: _named_first(v) for k, v in tenants.items()},
        {k: _named_first(v) for k, v in adapters.items()},
    )


def _daily(data: WeekData, prices: PriceList, share: bool) -> dict[str, dict[Key, list[DailyPoint]]]:
    """Cost and utilization per namespace and $/1M tokens per model, day by day (the charts)."""
    out: dict[str, dict[Key, list[DailyPoint]]] = {"cost": {}, "per_mtok": {}, "utilization": {}}
    for day in range(7):
        hours = set(range(24 * day, 24 * day + 24))
        lines = build_lines(data, prices, share, {c: hours for c in data.coverage})
        by_ns: dict[Key, list[Line]] = {}
        by_model: dict[Key, list[Line]] = {}
        for ln in lines:
            if ln.kind is LineKind.IDLE:
                continue
            by_ns.setdefault((ln.cluster, ln.namespace), []).append(ln)
            by_model.setdefault((ln.cluster, ln.namespace, ln.model), []).append(ln)
        for k, lns in by_ns.items():
            out["cost"].setdefault(k, []).append(DailyPoint(day, float(sum(ln.cost for ln in lns))))
            held = [ln for ln in lns if ln.kind is LineKind.HELD and ln.busy_gpu_hours is not None]
            util = ratio(float(sum(ln.busy_gpu_hours or 0 for ln in held)), float(sum(ln.gpu_hours for ln in held)))
            if math.isfinite(util):
                out["utilization"].setdefault(k, []).append(DailyPoint(day, util))
        for k, lns in by_model.items():
            value = per_mtok(sum(ln.cost for ln in lns), sum(ln.tokens for ln in lns))
            if k[2] and math.isfinite(value):
                out["per_mtok"].setdefault(k, []).append(DailyPoint(day, value))
    return out


def collect_report(
    reader: CostReader,
    week: IsoWeek,
    pricing: Pricing,
    progress: Progress | None = None,
    *,
    settings: CostReportSettings | None = None,
    with_previous: bool = True,
) -> CostReport:
    """Run the report's queries for ``week`` (and the previous week's hours, to compare) and assemble it.

    Raises what the reader raises (PrometheusUnavailableError when Prometheus does not answer,
    or answers something that is not its API) and NoDataError when it holds no cost series for
    the week.
    """
    settings = settings or CostReportSettings()
    interval = float(pricing.rule_interval_s)
    a = _run(reader, week, report_queries(interval, settings.cluster_label), settings, progress)
    data = _week_data(a, interval)
    if not data.coverage:
        raise NoDataError(
            f"Prometheus holds no cost series for {week.label} ({week.start:%Y-%m-%d} to {week.end:%Y-%m-%d} UTC): "
            "are inferwatch's cost recording rules (inferwatch:cost_*) loaded, in a cluster the chart's PrometheusRule "
            "<release>-cost? Right after an install there is no full week yet: report the week so far with "
            "--week current."
        )
    prices = price_list(pricing)
    share = pricing.idle_policy is IdlePolicy.SHARE
    tenants, adapters = _attribution(a)
    lines = split_lines(build_lines(data, prices, share), tenants, adapters)
    labels = _labels(a)
    inputs, model_costs = a.keyed.get("input_cost", {}), a.keyed.get("model_cost", {})
    daily = _daily(data, prices, share)
    recorded = [v for v in a.keyed.get("recorded_gpu_cost", {}).values() if math.isfinite(v)]
    report = CostReport(
        week=week,
        currency=pricing.currency,
        idle_policy=pricing.idle_policy,
        prices=prices,
        lines=lines,
        coverage={c: data.recorded_hours(c) for c in data.coverage},
        observed_hours=_observed_hours(data),
        gap_hours={c: {hr: data.share(c, hr) for hr in gaps} for c in data.coverage if (gaps := data.gap_hours(c))},
        rule_interval_s=pricing.rule_interval_s,
        low_utilization_threshold=pricing.low_utilization,
        team_keys=tuple(settings.team_labels),
        namespace_labels=labels,
        ns_observed_hours=_ns_hours(data),
        p95_ttft=a.keyed.get("p95_ttft", {}),
        model_p95_ttft=a.keyed.get("model_p95_ttft", {}),
        prefill_share={k: ratio(v, model_costs.get(k, math.nan)) for k, v in inputs.items()},
        model_energy=a.keyed.get("model_energy", {}),
        tenant_namespaces=frozenset(tenants),
        tenant_tokens=a.keyed.get("tenant_tokens", {}),
        adapter_models=frozenset(adapters),
        idle_gpus=_idle_gpus(a, lines, prices),
        low_utilization=_low_utilization(a, pricing.low_utilization),
        silent_pods=tuple(
            SilentPod(k[0], k[1], k[2], v)
            for k, v in sorted(a.keyed.get("silent_pods", {}).items())
            if math.isfinite(v) and v > 0
        ),
        recorded_gpu_cost=sum(recorded) if recorded else math.nan,
        daily_cost=daily["cost"],
        daily_per_mtok=daily["per_mtok"],
        daily_utilization=daily["utilization"],
        daily_p95_ttft=a.daily.get("d_p95_ttft", {}),
    )
    if not with_previous:
        return report
    before = week.previous()
    prev = _week_data(
        _run(reader, before, report_queries(interval, settings.cluster_label, previous=True), settings, progress),
        interval,
    )
    if not prev.coverage:
        log.info("cost report %s: no data for the previous week %s to compare with", week.label, before.label)
        return report
    # Like with like: the hours both weeks recorded in full (an hour a gap cut short is not compared).
    clusters = set(data.coverage) | set(prev.coverage)
    common = {c: data.full_hours(c) & prev.full_hours(c) for c in clusters}
    comparison = Comparison(
        previous_week=before,
        hours={c: len(h) for c, h in sorted(common.items()) if c in data.coverage},
        previous_coverage={c: prev.recorded_hours(c) for c in sorted(prev.coverage)},
        current=build_lines(data, prices, share, common),
        previous=build_lines(prev, prices, share, common),
        namespace_labels=labels,
    )
    return replace(report, comparison=comparison)
