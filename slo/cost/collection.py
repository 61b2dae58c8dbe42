"""Collecting the weekly cost report: ask a reader the report's queries and assemble the model.

The reader is anything answering instant and range queries (inferwatch.prom.PrometheusReader in
production, which turns an unreachable Prometheus or an answer that is not its API into exit 3;
an in-memory fake in the unit tests). Python only joins the answers by label, applies the idle
policy to weekly totals and compares with the previous week; the PromQL is in
inferwatch.slo.cost.queries and the derived figures in inferwatch.slo.cost.model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from inferwatch.config import Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.errors import NoDataError
from inferwatch.prom import RangeSeries, Sample
from inferwatch.slo.cost.model import (
    WEEK_HOURS,
    CostReport,
    DailyPoint,
    IdleGpu,
    ModelCost,
    NamespaceCost,
    PodUtilization,
    share_idle,
)
from inferwatch.slo.cost.queries import Query, report_queries
from inferwatch.slo.cost.week import IsoWeek

log = logging.getLogger(__name__)

DAY_S = 86400
MIN_IDLE_GPU_HOURS = 1.0  # idle GPUs listed as savings: at least this much unheld time in the week

Progress = Callable[[str], None]
Keyed = dict[tuple[str, ...], float]


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
    scalars: dict[str, float] = field(default_factory=dict)
    keyed: dict[str, Keyed] = field(default_factory=dict)
    daily: dict[str, dict[tuple[str, ...], list[DailyPoint]]] = field(default_factory=dict)


def _run(reader: CostReader, week: IsoWeek, queries: list[Query], progress: Progress | None) -> _Answers:
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
            series = reader.query_range(q.expr, first, at, DAY_S)
            answers.daily[q.key] = {
                tuple(s.labels.get(label, "") for label in q.by): [
                    DailyPoint(round((t - week.start.timestamp()) / DAY_S) - 1, v)
                    for t, v in s.points
                    if math.isfinite(v)
                ]
                for s in series
            }
            continue
        samples = reader.query(q.expr, at=week.end if q.at_end else at)
        if not q.by:
            answers.scalars[q.key] = samples[0].value if samples else math.nan
        else:
            answers.keyed[q.key] = {tuple(s.labels.get(label, "") for label in q.by): s.value for s in samples}
    return answers


def collect_report(
    reader: CostReader,
    week: IsoWeek,
    pricing: Pricing,
    progress: Progress | None = None,
    *,
    with_previous: bool = True,
) -> CostReport:
    """Run the report's queries for ``week`` (and the previous week, to compare) and assemble it.

    Raises what the reader raises (PrometheusUnavailableError when Prometheus does not answer,
    or answers something that is not its API) and NoDataError when it holds no cost series for
    the week.
    """
    interval = float(pricing.rule_interval_s)
    answers = _run(reader, week, report_queries(interval, daily=True, savings=True), progress)
    total = answers.scalars["total_cost"]
    observed = answers.scalars["observed_hours"]
    if (not math.isfinite(total) and not answers.keyed["allocated_cost"]) or not observed > 0:
        raise NoDataError(
            f"Prometheus holds no cost series for {week.label} ({week.start:%Y-%m-%d} to {week.end:%Y-%m-%d} UTC): "
            "are inferwatch's cost recording rules (inferwatch:cost_*) loaded, in a cluster the chart's PrometheusRule "
            "<release>-cost? Right after an install there is no full week yet: report the week so far with "
            "--week current."
        )
    report = _assemble(week, pricing, answers)
    if not with_previous:
        return report
    before = week.previous()
    prev_answers = _run(reader, before, report_queries(interval, daily=False, savings=False), progress)
    prev_observed = prev_answers.scalars["observed_hours"]
    if not (math.isfinite(prev_observed) and prev_observed > 0):
        log.info("cost report %s: no data for the previous week %s to compare with", week.label, before.label)
        return report
    return replace(report, previous=_assemble(before, pricing, prev_answers))


def _get(values: Keyed, key: tuple[str, ...]) -> float:
    v = values.get(key, 0.0)
    return v if math.isfinite(v) else 0.0


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def _hours(v: float) -> int:
    return min(WEEK_HOURS, round(v)) if math.isfinite(v) else 0


def _node(labels: Keyed, gpu_uuid: str) -> str:
    """The best node name known for a GPU (node, then dcgm's Hostname, then the scrape instance)."""
    for key in sorted(labels):
        if key[0] == gpu_uuid:
            return next((v for v in key[1:] if v), "")
    return ""


def _namespaces(keyed: dict[str, Keyed]) -> tuple[NamespaceCost, ...]:
    """Every namespace that held GPUs or served tokens, with its models (no idle share yet)."""
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
    return tuple(namespaces)


def _idle_gpus(keyed: dict[str, Keyed]) -> tuple[IdleGpu, ...]:
    """The GPUs nobody held for an hour or more, costliest first."""
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
    return tuple(
        sorted((g for g in gpus if g.idle_gpu_hours >= MIN_IDLE_GPU_HOURS), key=lambda g: (-g.idle_cost, g.gpu_uuid))
    )


def _low_utilization(keyed: dict[str, Keyed], threshold: float) -> tuple[PodUtilization, ...]:
    """The pods whose GPUs were busy less than ``threshold`` of the time they held them, costliest first."""
    pods = []
    for key, gpu_hours in keyed["pod_gpu_hours"].items():
        busy = keyed["pod_busy_hours"].get(key)
        if busy is None or not math.isfinite(busy) or not gpu_hours > 0:
            continue  # no busy-time data (kube-state-metrics fallback): utilization unknown
        util = busy / gpu_hours
        if util < threshold:
            pods.append(PodUtilization(key[0], key[1], gpu_hours, util, _get(keyed["pod_cost"], key)))
    return tuple(sorted(pods, key=lambda p: (-p.cost, p.namespace, p.pod)))


def _assemble(week: IsoWeek, pricing: Pricing, a: _Answers) -> CostReport:
    keyed = a.keyed
    idle = _finite(a.scalars["idle_cost"])
    namespaces = _namespaces(keyed)
    shared = share_idle(namespaces, idle) if pricing.idle_policy is IdlePolicy.SHARE else namespaces
    with_savings = "gpu_idle_cost" in keyed  # the previous week is asked without them
    return CostReport(
        week=week,
        currency=pricing.currency,
        idle_policy=pricing.idle_policy,
        total_cost=_finite(a.scalars["total_cost"]),
        total_gpu_hours=_finite(a.scalars["total_gpu_hours"]),
        idle_cost=idle,
        idle_gpu_hours=_finite(a.scalars["idle_gpu_hours"]),
        namespaces=shared,
        observed_hours=_hours(a.scalars["observed_hours"]),
        rule_interval_s=pricing.rule_interval_s,
        low_utilization_threshold=pricing.low_utilization,
        idle_gpus=_idle_gpus(keyed) if with_savings else (),
        low_utilization=_low_utilization(keyed, pricing.low_utilization) if with_savings else (),
        daily_cost={k[0]: v for k, v in a.daily.get("d_cost", {}).items()},
        daily_per_mtok={(k[0], k[1]): v for k, v in a.daily.get("d_per_mtok", {}).items()},
        daily_utilization={k[0]: v for k, v in a.daily.get("d_utilization", {}).items()},
        daily_p95_ttft={k[0]: v for k, v in a.daily.get("d_p95_ttft", {}).items()},
    )
