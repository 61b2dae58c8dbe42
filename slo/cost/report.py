"""The weekly cost report's data: aggregated queries over the cost recording rules.

Prometheus does the arithmetic: every figure is one query returning a handful of aggregated
series (per namespace, per namespace and model, per GPU, per pod, per day). Python only joins
them by label, applies the idle policy to weekly totals and compares with the previous week.

Figures are what was observed, never extrapolated: a recorded rate integrates as
``sum_over_time(rule[7d]) * rule interval``, so a week with two hours of data shows two hours'
cost, and the report says how many hours of the week had data (the coverage).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from inferwatch.slo.cost.week import IsoWeek

from inferwatch.config import Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.errors import NoDataError, PrometheusUnavailableError
from inferwatch.prom import PrometheusReader, RangeSeries, Sample

log = logging.getLogger(__name__)

DAY_S = 86400
WEEK_HOURS = 168
P95_TTFT_QUANTILE = 0.95
MOVERS = 5  # namespaces and models listed under "moved most"
MIN_IDLE_GPU_HOURS = 1.0  # idle GPUs listed as savings: at least this much unheld time in the week
NODE_LABELS = ("node", "Hostname", "instance")  # where a GPU's node name is found, best first


def _per_mtok(cost: float, tokens: float) -> float:
    return cost / tokens * 1e6 if tokens > 0 else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


@dataclass(frozen=True)
class ModelCost:
    """One model served in one namespace over the week."""

    namespace: str
    model: str
    allocated_cost: float
    usage_cost: float
    input_cost: float
    prompt_tokens: float
    generation_tokens: float
    idle_share: float = 0.0

    @property
    def cost(self) -> float:
        """What the model is charged: its pods' held GPU cost plus its part of the namespace's idle share."""
        return self.allocated_cost + self.idle_share

    @property
    def tokens(self) -> float:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens (NaN without tokens)."""
        return _per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based (busy time only) cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)

    @property
    def prefill_share(self) -> float:
        """Share of the model's cost that is prefill (input)."""
        return _ratio(self.input_cost, self.allocated_cost)

    @property
    def input_per_mtok(self) -> float:
        """Charged cost of prefill per million prompt tokens."""
        share = self.prefill_share
        return _per_mtok(self.cost * share, self.prompt_tokens) if math.isfinite(share) else math.nan

    @property
    def output_per_mtok(self) -> float:
        """Charged cost of decode per million generation tokens."""
        share = self.prefill_share
        return _per_mtok(self.cost * (1 - share), self.generation_tokens) if math.isfinite(share) else math.nan


@dataclass(frozen=True)
class NamespaceCost:
    """One namespace over the week."""

    namespace: str
    allocated_gpu_hours: float
    busy_gpu_hours: float
    allocated_cost: float
    usage_cost: float
    idle_share: float
    energy_kwh: float
    energy_cost: float
    prompt_tokens: float
    generation_tokens: float
    p95_ttft_s: float
    models: tuple[ModelCost, ...]
    observed_hours: int = WEEK_HOURS

    @property
    def cost(self) -> float:
        """What the namespace is charged: its held GPU cost plus its share of idle (if shared)."""
        return self.allocated_cost + self.idle_share

    @property
    def tokens(self) -> float:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def utilization(self) -> float:
        """Busy GPU-hours / held GPU-hours (= usage cost / allocated cost)."""
        return _ratio(self.busy_gpu_hours, self.allocated_gpu_hours)

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens."""
        return _per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)


@dataclass(frozen=True)
class IdleGpu:
    """A GPU (or the unheld part of it) that nobody held: a saving if it is given back or packed."""

    gpu_uuid: str
    node: str
    gpu_model: str
    idle_gpu_hours: float
    idle_cost: float


@dataclass(frozen=True)
class PodUtilization:
    """A pod holding GPUs that stayed under the utilization threshold."""

    namespace: str
    pod: str
    gpu_hours: float
    utilization: float
    cost: float

    @property
    def unused_cost(self) -> float:
        """The part of its cost the GPUs spent not busy."""
        return self.cost * (1 - self.utilization)


@dataclass(frozen=True)
class DailyPoint:
    """One value of one series on one day (day = index 0..6 from Monday)."""

    day: int
    value: float


@dataclass(frozen=True)
class Change:
    """How much one namespace (or one namespace's model) cost this week against the previous one."""

    namespace: str
    model: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        """Current minus previous cost."""
        return self.current - self.previous

    @property
    def ratio(self) -> float:
        """Relative change (NaN when the previous week had no cost)."""
        return _ratio(self.delta, self.previous)


@dataclass(frozen=True)
class CostReport:
    """Everything the weekly report shows."""

    week: IsoWeek
    currency: str
    idle_policy: IdlePolicy
    total_cost: float
    total_gpu_hours: float
    idle_cost: float
    idle_gpu_hours: float
    namespaces: tuple[NamespaceCost, ...]
    observed_hours: int = WEEK_HOURS
    rule_interval_s: int = 60
    low_utilization_threshold: float = 0.3
    idle_gpus: tuple[IdleGpu, ...] = ()
    low_utilization: tuple[PodUtilization, ...] = ()
    previous: CostReport | None = None
    daily_cost: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_per_mtok: dict[tuple[str, str], list[DailyPoint]] = field(default_factory=dict)
    daily_utilization: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_p95_ttft: dict[str, list[DailyPoint]] = field(default_factory=dict)

    @property
    def period_hours(self) -> int:
        """Hours in the week."""
        return WEEK_HOURS

    @property
    def full_coverage(self) -> bool:
        """Every hour of the week had data."""
        return self.observed_hours >= WEEK_HOURS

    @property
    def attributed_cost(self) -> float:
        """Cost held by namespaces (without the idle share)."""
        return sum(ns.allocated_cost for ns in self.namespaces)

    @property
    def reported_idle_cost(self) -> float:
        """Idle cost left on its own line (0 when shared out)."""
        return self.idle_cost if self.idle_policy is IdlePolicy.SEPARATE else 0.0

    @property
    def tokens(self) -> float:
        """Every namespace's prompt plus generation tokens."""
        return sum(ns.tokens for ns in self.namespaces)

    @property
    def per_mtok(self) -> float:
        """The whole GPU bill (idle included) per million tokens served."""
        return _per_mtok(self.total_cost, self.tokens)

    @property
    def idle_ratio(self) -> float:
        """Idle cost / the whole GPU bill."""
        return _ratio(self.idle_cost, self.total_cost)

    @property
    def idle_gpu_savings(self) -> float:
        """What the idle GPUs cost."""
        return sum(g.idle_cost for g in self.idle_gpus)

    @property
    def low_utilization_cost(self) -> float:
        """What the pods under the utilization threshold cost."""
        return sum(p.cost for p in self.low_utilization)

    def namespace_changes(self) -> tuple[Change, ...]:
        """The namespaces whose cost moved most against the previous week (none without one)."""
        if self.previous is None:
            return ()
        now = {ns.namespace: ns.cost for ns in self.namespaces}
        before = {ns.namespace: ns.cost for ns in self.previous.namespaces}
        return _top_changes({(k, ""): v for k, v in now.items()}, {(k, ""): v for k, v in before.items()})

    def model_changes(self) -> tuple[Change, ...]:
        """The (namespace, model) pairs whose cost moved most against the previous week."""
        if self.previous is None:
            return ()

        def costs(r: CostReport) -> dict[tuple[str, str], float]:
            return {(m.namespace, m.model): m.cost for ns in r.namespaces for m in ns.models}

        return _top_changes(costs(self), costs(self.previous))


def _top_changes(now: dict[tuple[str, str], float], before: dict[tuple[str, str], float]) -> tuple[Change, ...]:
    changes = [Change(k[0], k[1], before.get(k, 0.0), now.get(k, 0.0)) for k in sorted(now.keys() | before.keys())]
    moved = [ch for ch in changes if abs(ch.delta) > 0.005]
    moved.sort(key=lambda ch: (-abs(ch.delta), ch.namespace, ch.model))
    return tuple(moved[:MOVERS])


@dataclass(frozen=True)
class _Query:
    key: str
    expr: str
    by: tuple[str, ...]
    daily: bool = False
    at_end: bool = False  # evaluated at the week's end exactly (hour-aligned subqueries)


def _integral(series: str, window: str, by: tuple[str, ...], interval_s: float, scale: float = 1.0) -> str:
    """The integral over ``window`` of a per-second recorded rate: Σ samples × rule interval.

    Only evaluations that happened count: a week with two hours of rule evaluations integrates
    to two hours, never to a week (no extrapolation).
    """
    grouping = f"by ({', '.join(by)}) " if by else ""
    return f"sum {grouping}(sum_over_time({series}[{window}])) * {interval_s * scale!r}"


def _hours_with_data(inner: str) -> str:
    """Hours of the week in which ``inner`` (a count over ``[1h] offset 1ms``) had data.

    Evaluated at the week's end: the hour-aligned subquery steps are start+1h … end, and each
    step counts the samples of [step-1h, step) (the 1 ms offset keeps a sample at a boundary in
    the hour it starts).
    """
    return f"count_over_time(({inner})[7d:1h])"


def _queries(interval_s: float, *, daily: bool, savings: bool) -> list[_Query]:
    ns: tuple[str, ...] = (n.NAMESPACE,)
    nm: tuple[str, ...] = (n.NAMESPACE, n.MODEL)
    pod: tuple[str, ...] = (n.NAMESPACE, n.POD)
    gpu: tuple[str, ...] = (n.GPU_UUID, n.GPU_MODEL)
    w = "7d"
    hour = 1 / 3600

    def integral(series: str, window: str, by: tuple[str, ...], scale: float = 1.0) -> str:
        return _integral(series, window, by, interval_s, scale)

    def in_hour(series: str, by: str = "") -> str:
        grouping = f" by ({by})" if by else ""
        return f"count{grouping} (count_over_time({series}[1h] offset 1ms))"

    ttft = n.histogram_series("ttft", "bucket")
    queries = [
        _Query("total_cost", integral(c.GPU_COST_RATE, w, ()), ()),
        _Query("total_gpu_hours", f"sum(count_over_time({c.GPU_COST_RATE}[{w}])) * {interval_s * hour!r}", ()),
        _Query("idle_cost", integral(c.GPU_IDLE_COST_RATE, w, ()), ()),
        _Query("idle_gpu_hours", integral(c.GPU_IDLE_SECONDS_RATE, w, (), hour), ()),
        _Query("allocated_cost", integral(c.ALLOCATED_COST_RATE, w, ns), ns),
        _Query("usage_cost", integral(c.BUSY_COST_RATE, w, ns), ns),
        _Query("allocated_gpu_hours", integral(c.ALLOCATED_GPU_SECONDS_RATE, w, ns, hour), ns),
        _Query("busy_gpu_hours", integral(c.BUSY_GPU_SECONDS_RATE, w, ns, hour), ns),
        _Query("energy_kwh", integral(c.ENERGY_JOULES_RATE, w, ns, 1 / 3_600_000), ns),
        _Query("energy_cost", integral(c.ENERGY_COST_RATE, w, ns), ns),
        _Query(
            "p95_ttft",
            f"histogram_quantile({P95_TTFT_QUANTILE}, sum by ({n.NAMESPACE}, {n.LE}) (sum_over_time({ttft}[{w}])))",
            ns,
        ),
        _Query("m_allocated_cost", integral(c.MODEL_ALLOCATED_COST_RATE, w, nm), nm),
        _Query("m_usage_cost", integral(c.MODEL_BUSY_COST_RATE, w, nm), nm),
        _Query("m_input_cost", integral(c.MODEL_INPUT_COST_RATE, w, nm), nm),
        _Query("m_prompt_tokens", integral(c.PROMPT_TOKENS_RATE, w, nm), nm),
        _Query("m_generation_tokens", integral(c.GENERATION_TOKENS_RATE, w, nm), nm),
        _Query(
            "observed_hours",
            _hours_with_data(f"{in_hour(c.GPU_COST_RATE)} or {in_hour(c.ALLOCATED_COST_RATE)}"),
            (),
            at_end=True,
        ),
        _Query(
            "ns_observed_hours",
            _hours_with_data(
                f"{in_hour(c.ALLOCATED_COST_RATE, n.NAMESPACE)} or {in_hour(c.PROMPT_TOKENS_RATE, n.NAMESPACE)}"
            ),
            ns,
            at_end=True,
        ),
    ]
    if savings:
        node_labels = ", ".join(NODE_LABELS)
        queries += [
            _Query("gpu_idle_cost", integral(c.GPU_IDLE_COST_RATE, w, gpu), gpu),
            _Query("gpu_idle_hours", integral(c.GPU_IDLE_SECONDS_RATE, w, (n.GPU_UUID,), hour), (n.GPU_UUID,)),
            # The node of each GPU, from the exporters' info series (one row per GPU).
            _Query(
                "gpu_node",
                f"group by ({n.GPU_UUID}, {node_labels}) (last_over_time(inferwatch_gpu_info[{w}]))\n"
                f"or group by ({n.GPU_UUID}, {node_labels}) "
                f'(label_replace(last_over_time(DCGM_FI_DEV_GPU_UTIL[{w}]), "{n.GPU_UUID}", "$1", "UUID", "(.+)"))',
                (n.GPU_UUID, *NODE_LABELS),
            ),
            _Query("pod_cost", integral(c.ALLOCATED_COST_RATE, w, pod), pod),
            _Query("pod_gpu_hours", integral(c.ALLOCATED_GPU_SECONDS_RATE, w, pod, hour), pod),
            _Query("pod_busy_hours", integral(c.BUSY_GPU_SECONDS_RATE, w, pod, hour), pod),
        ]
    if daily:
        day_tokens = f"({integral(c.PROMPT_TOKENS_RATE, '1d', nm)} + on ({n.NAMESPACE}, {n.MODEL}) " + (
            f"{integral(c.GENERATION_TOKENS_RATE, '1d', nm)} > 0)"
        )
        queries += [
            _Query("d_cost", integral(c.ALLOCATED_COST_RATE, "1d", ns), ns, daily=True),
            _Query(
                "d_per_mtok",
                f"{integral(c.MODEL_ALLOCATED_COST_RATE, '1d', nm)}\n/ on ({n.NAMESPACE}, {n.MODEL}) "
                f"{day_tokens} * 1000000",
                nm,
                daily=True,
            ),
            _Query(
                "d_utilization",
                f"{integral(c.BUSY_GPU_SECONDS_RATE, '1d', ns)}\n/ on ({n.NAMESPACE}) "
                f"({integral(c.ALLOCATED_GPU_SECONDS_RATE, '1d', ns)} > 0)",
                ns,
                daily=True,
            ),
            _Query(
                "d_p95_ttft",
                f"histogram_quantile({P95_TTFT_QUANTILE}, sum by ({n.NAMESPACE}, {n.LE}) (sum_over_time({ttft}[1d])))",
                ns,
                daily=True,
            ),
        ]
    return queries


Progress = Callable[[str], None]


def query_count(with_previous: bool = True) -> int:
    """How many queries one report runs (for a progress bar)."""
    this_week = len(_queries(60, daily=True, savings=True))
    return this_week + (len(_queries(60, daily=False, savings=False)) if with_previous else 0)


@dataclass
class _Answers:
    scalars: dict[str, float] = field(default_factory=dict)
    keyed: dict[str, dict[tuple[str, ...], float]] = field(default_factory=dict)
    daily: dict[str, dict[tuple[str, ...], list[DailyPoint]]] = field(default_factory=dict)


def _ask(reader: PrometheusReader, fn: Callable[[], list[Any]]) -> list[Any]:
    """Run one query; an answer that is not the Prometheus API's JSON (an HTML login page from a
    proxy, say) is "Prometheus unavailable" (exit 3), not a traceback."""
    try:
        return list(fn())
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise PrometheusUnavailableError(
            f"not a Prometheus API answer from {reader.settings.url} ({type(err).__name__})"
        ) from None


def _run(reader: PrometheusReader, week: IsoWeek, queries: list[_Query], progress: Progress | None) -> _Answers:
    # Instant queries at the week's end cover (start, end]; shift by a millisecond so a sample
    # exactly at the start belongs to this week and one exactly at the end to the next.
    at = week.end - timedelta(milliseconds=1)
    answers = _Answers()
    for q in queries:
        if progress is not None:
            progress(q.key)
        log.debug("cost report %s query %s: %s", week.label, q.key, q.expr)
        if q.daily:
            first = week.start + timedelta(days=1) - timedelta(milliseconds=1)
            series: list[RangeSeries] = _ask(reader, partial(reader.query_range, q.expr, first, at, DAY_S))
            answers.daily[q.key] = {
                tuple(s.labels.get(label, "") for label in q.by): [
                    DailyPoint(round((t - week.start.timestamp()) / DAY_S) - 1, v)
                    for t, v in s.points
                    if math.isfinite(v)
                ]
                for s in series
            }
            continue
        when: datetime = week.end if q.at_end else at
        samples: list[Sample] = _ask(reader, partial(reader.query, q.expr, at=when))
        if not q.by:
            answers.scalars[q.key] = samples[0].value if samples else math.nan
        else:
            answers.keyed[q.key] = {tuple(s.labels.get(label, "") for label in q.by): s.value for s in samples}
    return answers


def collect_report(
    reader: PrometheusReader,
    week: IsoWeek,
    pricing: Pricing,
    progress: Progress | None = None,
    *,
    with_previous: bool = True,
) -> CostReport:
    """Run the report's queries for ``week`` (and the previous week, to compare) and assemble it.

    Raises PrometheusUnavailableError when Prometheus does not answer (or answers something
    that is not its API) and NoDataError when it holds no cost series for the week.
    """
    interval = float(pricing.rule_interval_s)
    answers = _run(reader, week, _queries(interval, daily=True, savings=True), progress)
    total = answers.scalars["total_cost"]
    observed = answers.scalars["observed_hours"]
    if (not math.isfinite(total) and not answers.keyed["allocated_cost"]) or not observed > 0:
        raise NoDataError(
            f"Prometheus holds no cost series for {week.label} ({week.start:%Y-%m-%d} to {week.end:%Y-%m-%d} UTC): "
            "are the cost recording rules loaded (slo/generated/cost-rules.yaml)?"
        )
    report = _assemble(week, pricing, answers)
    if not with_previous:
        return report
    before = week.previous()
    prev_answers = _run(reader, before, _queries(interval, daily=False, savings=False), progress)
    prev_observed = prev_answers.scalars["observed_hours"]
    if not (math.isfinite(prev_observed) and prev_observed > 0):
        log.info("cost report %s: no data for the previous week %s to compare with", week.label, before.label)
        return report
    return replace(report, previous=_assemble(before, pricing, prev_answers))


def share_idle(namespaces: tuple[NamespaceCost, ...], idle_cost: float) -> tuple[NamespaceCost, ...]:
    """Spread ``idle_cost`` over namespaces by their held GPU cost (``idle_policy: share``).

    A namespace's share follows its cost down to its models: each model carries the part of it
    that its pods' held cost is of the namespace's, so a namespace and its models price a
    token alike.
    """
    attributed = sum(ns.allocated_cost for ns in namespaces)
    if attributed <= 0:
        return namespaces
    out = []
    for ns in namespaces:
        share = idle_cost * ns.allocated_cost / attributed
        models = tuple(
            replace(m, idle_share=share * m.allocated_cost / ns.allocated_cost if ns.allocated_cost > 0 else 0.0)
            for m in ns.models
        )
        out.append(replace(ns, idle_share=share, models=models))
    return tuple(out)


def _get(values: dict[tuple[str, ...], float], key: tuple[str, ...]) -> float:
    v = values.get(key, 0.0)
    return v if math.isfinite(v) else 0.0


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def _hours(v: float) -> int:
    return min(WEEK_HOURS, round(v)) if math.isfinite(v) else 0


def _node(labels: dict[tuple[str, ...], float], gpu_uuid: str) -> str:
    """The best node name known for a GPU (node, then dcgm's Hostname, then the scrape instance)."""
    for key in sorted(labels):
        if key[0] == gpu_uuid:
            return next((v for v in key[1:] if v), "")
    return ""


def _assemble(week: IsoWeek, pricing: Pricing, a: _Answers) -> CostReport:
    keyed = a.keyed
    total = _finite(a.scalars["total_cost"])
    idle = _finite(a.scalars["idle_cost"])
    names = sorted({k[0] for k in keyed["allocated_cost"]} | {k[0] for k in keyed["m_prompt_tokens"]})
    namespaces = []
    for ns in names:
        model_keys = sorted(k for k in keyed["m_prompt_tokens"].keys() | keyed["m_allocated_cost"].keys() if k[0] == ns)
        models = tuple(
            ModelCost(
                namespace=ns,
                model=k[1],
                allocated_cost=_get(keyed["m_allocated_cost"], k),
                usage_cost=_get(keyed["m_usage_cost"], k),
                input_cost=_get(keyed["m_input_cost"], k),
                prompt_tokens=_get(keyed["m_prompt_tokens"], k),
                generation_tokens=_get(keyed["m_generation_tokens"], k),
            )
            for k in model_keys
        )
        namespaces.append(
            NamespaceCost(
                namespace=ns,
                allocated_gpu_hours=_get(keyed["allocated_gpu_hours"], (ns,)),
                busy_gpu_hours=_get(keyed["busy_gpu_hours"], (ns,)),
                allocated_cost=_get(keyed["allocated_cost"], (ns,)),
                usage_cost=_get(keyed["usage_cost"], (ns,)),
                idle_share=0.0,
                energy_kwh=_get(keyed["energy_kwh"], (ns,)),
                energy_cost=_get(keyed["energy_cost"], (ns,)),
                prompt_tokens=sum(m.prompt_tokens for m in models),
                generation_tokens=sum(m.generation_tokens for m in models),
                p95_ttft_s=keyed["p95_ttft"].get((ns,), math.nan),
                models=models,
                observed_hours=_hours(keyed["ns_observed_hours"].get((ns,), math.nan)),
            )
        )
    shared = share_idle(tuple(namespaces), idle) if pricing.idle_policy is IdlePolicy.SHARE else tuple(namespaces)
    idle_gpus: tuple[IdleGpu, ...] = ()
    low: tuple[PodUtilization, ...] = ()
    if "gpu_idle_cost" in keyed:
        hours = keyed["gpu_idle_hours"]
        gpus = [
            IdleGpu(
                gpu_uuid=uuid,
                node=_node(keyed["gpu_node"], uuid),
                gpu_model=model,
                idle_gpu_hours=_get(hours, (uuid,)),
                idle_cost=_finite(v),
            )
            for (uuid, model), v in keyed["gpu_idle_cost"].items()
        ]
        # A GPU idle for minutes (a pod being replaced) is not a saving: list those idle an hour or more.
        idle_gpus = tuple(
            sorted(
                (g for g in gpus if g.idle_gpu_hours >= MIN_IDLE_GPU_HOURS), key=lambda g: (-g.idle_cost, g.gpu_uuid)
            )
        )
        pods = []
        for key, gpu_hours in keyed["pod_gpu_hours"].items():
            busy = keyed["pod_busy_hours"].get(key)
            if busy is None or not math.isfinite(busy) or not gpu_hours > 0:
                continue  # no busy-time data (kube-state-metrics fallback): utilization unknown
            util = busy / gpu_hours
            if util < pricing.low_utilization:
                pods.append(PodUtilization(key[0], key[1], gpu_hours, util, _get(keyed["pod_cost"], key)))
        low = tuple(sorted(pods, key=lambda p: (-p.cost, p.namespace, p.pod)))
    return CostReport(
        week=week,
        currency=pricing.currency,
        idle_policy=pricing.idle_policy,
        total_cost=total,
        total_gpu_hours=_finite(a.scalars["total_gpu_hours"]),
        idle_cost=idle,
        idle_gpu_hours=_finite(a.scalars["idle_gpu_hours"]),
        namespaces=shared,
        observed_hours=_hours(a.scalars["observed_hours"]),
        rule_interval_s=pricing.rule_interval_s,
        low_utilization_threshold=pricing.low_utilization,
        idle_gpus=idle_gpus,
        low_utilization=low,
        daily_cost={k[0]: v for k, v in a.daily.get("d_cost", {}).items()},
        daily_per_mtok={(k[0], k[1]): v for k, v in a.daily.get("d_per_mtok", {}).items()},
        daily_utilization={k[0]: v for k, v in a.daily.get("d_utilization", {}).items()},
        daily_p95_ttft={k[0]: v for k, v in a.daily.get("d_p95_ttft", {}).items()},
    )
