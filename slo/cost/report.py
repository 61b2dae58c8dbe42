"""The weekly cost report's data: aggregated queries over the cost recording rules.

Prometheus does the arithmetic: every figure is one query returning a handful of aggregated
series (per namespace, per namespace and model, per day). Python only joins them by label and
applies the idle policy to weekly totals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from inferwatch.slo.cost.week import IsoWeek

from inferwatch.config import Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.errors import NoDataError
from inferwatch.prom import PrometheusReader

log = logging.getLogger(__name__)

DAY_S = 86400
P95_TTFT_QUANTILE = 0.95


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

    @property
    def tokens(self) -> float:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def per_mtok(self) -> float:
        """Allocation-based cost per million tokens (NaN without tokens)."""
        return _per_mtok(self.allocated_cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based (busy time only) cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)

    @property
    def input_per_mtok(self) -> float:
        """Allocated cost of prefill per million prompt tokens."""
        return _per_mtok(self.input_cost, self.prompt_tokens)

    @property
    def output_per_mtok(self) -> float:
        """Allocated cost of decode per million generation tokens."""
        return _per_mtok(self.allocated_cost - self.input_cost, self.generation_tokens)


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
        return self.busy_gpu_hours / self.allocated_gpu_hours if self.allocated_gpu_hours > 0 else math.nan

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens."""
        return _per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)


@dataclass(frozen=True)
class DailyPoint:
    """One value of one series on one day (day = index 0..6 from Monday)."""

    day: int
    value: float


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
    daily_cost: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_per_mtok: dict[tuple[str, str], list[DailyPoint]] = field(default_factory=dict)
    daily_utilization: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_p95_ttft: dict[str, list[DailyPoint]] = field(default_factory=dict)

    @property
    def attributed_cost(self) -> float:
        """Cost held by namespaces (without the idle share)."""
        return sum(ns.allocated_cost for ns in self.namespaces)

    @property
    def reported_idle_cost(self) -> float:
        """Idle cost left on its own line (0 when shared out)."""
        return self.idle_cost if self.idle_policy is IdlePolicy.SEPARATE else 0.0


def _per_mtok(cost: float, tokens: float) -> float:
    return cost / tokens * 1e6 if tokens > 0 else math.nan


@dataclass(frozen=True)
class _Query:
    key: str
    expr: str
    by: tuple[str, ...]
    daily: bool = False


_WINDOW_S = {"7d": 7 * DAY_S, "1d": DAY_S}


def _integral(series: str, window: str, by: tuple[str, ...], scale: float = 1.0) -> str:
    """The integral over ``window`` of a per-second recorded rate.

    Σ samples × (window / number of rule evaluations in the window): the evaluations are
    counted on the default-price rule, which every evaluation of the cost rules records, so
    evaluations Prometheus missed (a restart) do not shrink the week.
    """
    grouping = f"by ({', '.join(by)}) " if by else ""
    evaluations = f"scalar(count_over_time({c.PRICE_GPU_HOUR_DEFAULT}[{window}]))"
    return f"sum {grouping}(sum_over_time({series}[{window}])) * {_WINDOW_S[window] * scale!r} / {evaluations}"


def _count_integral(series: str, window: str, scale: float) -> str:
    evaluations = f"scalar(count_over_time({c.PRICE_GPU_HOUR_DEFAULT}[{window}]))"
    return f"sum(count_over_time({series}[{window}])) * {_WINDOW_S[window] * scale!r} / {evaluations}"


def _queries() -> list[_Query]:
    ns: tuple[str, ...] = (n.NAMESPACE,)
    nm: tuple[str, ...] = (n.NAMESPACE, n.MODEL)
    w = "7d"
    hour = 1 / 3600
    day_tokens = f"({_integral(c.PROMPT_TOKENS_RATE, '1d', nm)} + on ({n.NAMESPACE}, {n.MODEL}) " + (
        f"{_integral(c.GENERATION_TOKENS_RATE, '1d', nm)} > 0)"
    )
    ttft = n.histogram_series("ttft", "bucket")
    return [
        _Query("total_cost", _integral(c.GPU_COST_RATE, w, ()), ()),
        _Query("total_gpu_hours", _count_integral(c.GPU_COST_RATE, w, hour), ()),
        _Query("idle_cost", _integral(c.GPU_IDLE_COST_RATE, w, ()), ()),
        _Query("idle_gpu_hours", _integral(c.GPU_IDLE_SECONDS_RATE, w, (), hour), ()),
        _Query("allocated_cost", _integral(c.ALLOCATED_COST_RATE, w, ns), ns),
        _Query("usage_cost", _integral(c.BUSY_COST_RATE, w, ns), ns),
        _Query("allocated_gpu_hours", _integral(c.ALLOCATED_GPU_SECONDS_RATE, w, ns, hour), ns),
        _Query("busy_gpu_hours", _integral(c.BUSY_GPU_SECONDS_RATE, w, ns, hour), ns),
        _Query("energy_kwh", _integral(c.ENERGY_JOULES_RATE, w, ns, 1 / 3_600_000), ns),
        _Query("energy_cost", _integral(c.ENERGY_COST_RATE, w, ns), ns),
        _Query(
            "p95_ttft",
            f"histogram_quantile({P95_TTFT_QUANTILE}, sum by ({n.NAMESPACE}, {n.LE}) (sum_over_time({ttft}[{w}])))",
            ns,
        ),
        _Query("m_allocated_cost", _integral(c.MODEL_ALLOCATED_COST_RATE, w, nm), nm),
        _Query("m_usage_cost", _integral(c.MODEL_BUSY_COST_RATE, w, nm), nm),
        _Query("m_input_cost", _integral(c.MODEL_INPUT_COST_RATE, w, nm), nm),
        _Query("m_prompt_tokens", _integral(c.PROMPT_TOKENS_RATE, w, nm), nm),
        _Query("m_generation_tokens", _integral(c.GENERATION_TOKENS_RATE, w, nm), nm),
        _Query("d_cost", _integral(c.ALLOCATED_COST_RATE, "1d", ns), ns, daily=True),
        _Query(
            "d_per_mtok",
            f"{_integral(c.MODEL_ALLOCATED_COST_RATE, '1d', nm)}\n/ on ({n.NAMESPACE}, {n.MODEL}) "
            f"{day_tokens} * 1000000",
            nm,
            daily=True,
        ),
        _Query(
            "d_utilization",
            f"{_integral(c.BUSY_GPU_SECONDS_RATE, '1d', ns)}\n/ on ({n.NAMESPACE}) "
            f"({_integral(c.ALLOCATED_GPU_SECONDS_RATE, '1d', ns)} > 0)",
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


Progress = Callable[[str], None]


def query_count() -> int:
    """How many queries one report runs (for a progress bar)."""
    return len(_queries())


def collect_report(
    reader: PrometheusReader, week: IsoWeek, pricing: Pricing, progress: Progress | None = None
) -> CostReport:
    """Run the report's queries for ``week`` and assemble the report.

    Raises PrometheusUnavailableError when Prometheus does not answer and NoDataError when it
    holds no cost series for the week.
    """
    # Instant queries at the week's end cover (start, end]; shift by a millisecond so the last
    # sample (at end) belongs to this week and the first (at start) to the previous one.
    at = week.end - timedelta(milliseconds=1)
    scalars: dict[str, float] = {}
    keyed: dict[str, dict[tuple[str, ...], float]] = {}
    daily: dict[str, dict[tuple[str, ...], list[DailyPoint]]] = {}
    for q in _queries():
        if progress is not None:
            progress(q.key)
        log.debug("cost report query %s: %s", q.key, q.expr)
        if q.daily:
            series = reader.query_range(q.expr, week.start + timedelta(days=1) - timedelta(milliseconds=1), at, DAY_S)
            out: dict[tuple[str, ...], list[DailyPoint]] = {}
            for s in series:
                key = tuple(s.labels.get(label, "") for label in q.by)
                out[key] = [
                    DailyPoint(round((t - week.start.timestamp()) / DAY_S) - 1, v)
                    for t, v in s.points
                    if math.isfinite(v)
                ]
            daily[q.key] = out
            continue
        samples = reader.query(q.expr, at=at)
        if not q.by:
            scalars[q.key] = samples[0].value if samples else math.nan
        else:
            keyed[q.key] = {tuple(s.labels.get(label, "") for label in q.by): s.value for s in samples}
    total = scalars["total_cost"]
    if not math.isfinite(total) and not keyed["allocated_cost"]:
        raise NoDataError(
            f"Prometheus holds no cost series for {week.label} ({week.start:%Y-%m-%d} to {week.end:%Y-%m-%d} UTC): "
            "are the cost recording rules loaded (slo/generated/cost-rules.yaml)?"
        )
    return _assemble(week, pricing, scalars, keyed, daily)


def _get(values: dict[tuple[str, ...], float], key: tuple[str, ...]) -> float:
    v = values.get(key, 0.0)
    return v if math.isfinite(v) else 0.0


def _assemble(
    week: IsoWeek,
    pricing: Pricing,
    scalars: dict[str, float],
    keyed: dict[str, dict[tuple[str, ...], float]],
    daily: dict[str, dict[tuple[str, ...], list[DailyPoint]]],
) -> CostReport:
    def finite(v: float) -> float:
        return v if math.isfinite(v) else 0.0

    total = finite(scalars["total_cost"])
    idle = finite(scalars["idle_cost"])
    names = sorted({k[0] for k in keyed["allocated_cost"]} | {k[0] for k in keyed["m_prompt_tokens"]})
    attributed = sum(_get(keyed["allocated_cost"], (ns,)) for ns in names)
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
        allocated = _get(keyed["allocated_cost"], (ns,))
        share = idle * allocated / attributed if pricing.idle_policy is IdlePolicy.SHARE and attributed > 0 else 0.0
        namespaces.append(
            NamespaceCost(
                namespace=ns,
                allocated_gpu_hours=_get(keyed["allocated_gpu_hours"], (ns,)),
                busy_gpu_hours=_get(keyed["busy_gpu_hours"], (ns,)),
                allocated_cost=allocated,
                usage_cost=_get(keyed["usage_cost"], (ns,)),
                idle_share=share,
                energy_kwh=_get(keyed["energy_kwh"], (ns,)),
                energy_cost=_get(keyed["energy_cost"], (ns,)),
                prompt_tokens=sum(m.prompt_tokens for m in models),
                generation_tokens=sum(m.generation_tokens for m in models),
                p95_ttft_s=keyed["p95_ttft"].get((ns,), math.nan),
                models=models,
            )
        )
    return CostReport(
        week=week,
        currency=pricing.currency,
        idle_policy=pricing.idle_policy,
        total_cost=total,
        total_gpu_hours=finite(scalars["total_gpu_hours"]),
        idle_cost=idle,
        idle_gpu_hours=finite(scalars["idle_gpu_hours"]),
        namespaces=tuple(namespaces),
        daily_cost={k[0]: v for k, v in daily["d_cost"].items()},
        daily_per_mtok={(k[0], k[1]): v for k, v in daily["d_per_mtok"].items()},
        daily_utilization={k[0]: v for k, v in daily["d_utilization"].items()},
        daily_p95_ttft={k[0]: v for k, v in daily["d_p95_ttft"].items()},
    )
