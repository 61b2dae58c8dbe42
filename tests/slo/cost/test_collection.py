"""The weekly cost report's arithmetic, against an in-memory reader (no Prometheus).

FakePrometheus answers each of the report's queries (inferwatch.slo.cost.queries) with figures
written below per week and query key, as Prometheus would after aggregating the cost rules; it
checks that each query is asked at the right time. Every expected number is computed here by
hand from those figures: namespaces + idle = the bill, $/1M tokens = cost ÷ tokens, the coverage
hours, the previous week's figures and the movers, the savings. The same arithmetic over a real
backfilled Prometheus is tests/slo/cost/test_report_e2e.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from inferwatch.config import Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.errors import NoDataError, PrometheusUnavailableError
from inferwatch.prom import RangeSeries, Sample
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.model import CostReport, DailyPoint
from inferwatch.slo.cost.queries import Query, query_count, report_queries
from inferwatch.slo.cost.week import IsoWeek

WEEK = IsoWeek(2026, 46)
BEFORE = WEEK.previous()
MS = timedelta(milliseconds=1)
DAY_S = 86400

# One week's answers by query key: a number (an aggregate over everything), or a value per label
# tuple (in the query's `by` order; "" = the label is absent), or seven daily values per tuple.
Figures = dict[str, float | dict[tuple[str, ...], float] | dict[tuple[str, ...], list[float]]]

LLAMA, MISTRAL, QWEN, PHI = "meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B", "Qwen/Qwen2.5-7B", "microsoft/phi-4"

THIS_WEEK: Figures = {
    "total_cost": 1000.0,
    "total_gpu_hours": 400.0,
    "idle_cost": 150.0,
    "idle_gpu_hours": 60.0,
    "allocated_cost": {("team-a",): 600.0, ("team-b",): 250.0},
    "usage_cost": {("team-a",): 420.0, ("team-b",): 50.0},
    "allocated_gpu_hours": {("team-a",): 240.0, ("team-b",): 105.0},
    "busy_gpu_hours": {("team-a",): 168.0, ("team-b",): 20.0},
    "energy_kwh": {("team-a",): 50.0, ("team-b",): 20.0},
    "energy_cost": {("team-a",): 15.0, ("team-b",): 6.0},
    "p95_ttft": {("team-a",): 0.8},  # team-b served no request with a TTFT
    "m_allocated_cost": {("team-a", LLAMA): 400.0, ("team-a", MISTRAL): 200.0, ("team-b", QWEN): 150.0},
    "m_usage_cost": {("team-a", LLAMA): 300.0, ("team-a", MISTRAL): 120.0, ("team-b", QWEN): 40.0},
    "m_input_cost": {("team-a", LLAMA): 100.0, ("team-a", MISTRAL): 40.0, ("team-b", QWEN): 30.0},
    # team-c served tokens from a GPU nobody attributes to it: a namespace with tokens and no cost
    "m_prompt_tokens": {("team-a", LLAMA): 6e6, ("team-a", MISTRAL): 1e6, ("team-b", QWEN): 5e5, ("team-c", PHI): 1e3},
    "m_generation_tokens": {("team-a", LLAMA): 2e6, ("team-a", MISTRAL): 1e6, ("team-b", QWEN): 5e5},
    "observed_hours": 168.4,
    "ns_observed_hours": {("team-a",): 168.0, ("team-b",): 99.6},
    "gpu_idle_cost": {("GPU-1", "H100"): 120.0, ("GPU-2", "A100"): 29.5, ("GPU-3", "L4"): 0.5},
    "gpu_idle_hours": {("GPU-1",): 48.0, ("GPU-2",): 10.0, ("GPU-3",): 0.25},
    "gpu_node": {("GPU-1", "node-1", "", "10.0.0.1:9400"): 1.0, ("GPU-2", "", "dgx-2", "10.0.0.2:9400"): 1.0},
    "pod_cost": {
        ("team-a", "a-1"): 250.0,
        ("team-a", "a-2"): 250.0,
        ("team-a", "a-3"): 100.0,
        ("team-b", "b-1"): 240.0,
    },
    "pod_gpu_hours": {
        ("team-a", "a-1"): 100.0,
        ("team-a", "a-2"): 100.0,
        ("team-a", "a-3"): 40.0,
        ("team-b", "b-1"): 100.0,
        ("team-b", "b-2"): 5.0,
    },
    "pod_busy_hours": {
        ("team-a", "a-1"): 90.0,
        ("team-a", "a-2"): 70.0,
        ("team-a", "a-3"): 8.0,
        ("team-b", "b-1"): 20.0,
    },
    "d_cost": {
        ("team-a",): [90.0, 90.0, 90.0, 90.0, 90.0, 75.0, 75.0],
        ("team-b",): [40.0, 40.0, math.nan, 40.0, 40.0, 25.0, 25.0],
    },
    "d_per_mtok": {("team-a", LLAMA): [55.0] * 7},
    "d_utilization": {("team-a",): [0.7] * 7},
    "d_p95_ttft": {("team-a",): [0.8] * 7},
}

PREVIOUS_WEEK: Figures = {
    "total_cost": 800.0,
    "total_gpu_hours": 300.0,
    "idle_cost": 100.0,
    "idle_gpu_hours": 40.0,
    "allocated_cost": {("team-a",): 500.0, ("team-b",): 200.0},
    "usage_cost": {("team-a",): 300.0, ("team-b",): 60.0},
    "allocated_gpu_hours": {("team-a",): 200.0, ("team-b",): 80.0},
    "busy_gpu_hours": {("team-a",): 120.0, ("team-b",): 24.0},
    "energy_kwh": {},
    "energy_cost": {},
    "p95_ttft": {},
    "m_allocated_cost": {("team-a", LLAMA): 350.0, ("team-a", MISTRAL): 150.0, ("team-b", QWEN): 200.0},
    "m_usage_cost": {},
    "m_input_cost": {},
    "m_prompt_tokens": {("team-a", LLAMA): 5e6, ("team-a", MISTRAL): 1e6, ("team-b", QWEN): 1e6},
    "m_generation_tokens": {},
    "observed_hours": 100.0,
    "ns_observed_hours": {("team-a",): 100.0, ("team-b",): 100.0},
}


@dataclass
class FakePrometheus:
    """An in-memory stand-in for PrometheusReader: figures by week and query key, no PromQL."""

    weeks: dict[IsoWeek, Figures]
    interval_s: float = 60.0
    asked: list[tuple[IsoWeek, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_expr = {q.expr: q for q in report_queries(self.interval_s, daily=True, savings=True)}

    def _week(self, q: Query, at: datetime) -> IsoWeek:
        """The week an evaluation time belongs to: its end less 1 ms (or its end, for hour-aligned counts)."""
        week = next((w for w in self.weeks if at == (w.end if q.at_end else w.end - MS)), None)
        if week is None:  # asked at a time the report never uses, or about a week with no data
            week = next(w for w in (WEEK, BEFORE, BEFORE.previous()) if at in (w.end, w.end - MS))
        self.asked.append((week, q.key))
        return week

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        q = self._by_expr[expr]
        assert at is not None and not q.daily, q.key
        value = self.weeks.get(self._week(q, at), {}).get(q.key)
        if value is None:
            return []
        if isinstance(value, float):
            return [Sample({}, value)]
        return [Sample({k: v for k, v in zip(q.by, key, strict=True) if v}, x) for key, x in value.items()]

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        q = self._by_expr[expr]
        week = self._week(q, end)
        assert q.daily and step_s == DAY_S and start == week.start + timedelta(days=1) - MS, q.key
        days = self.weeks[week].get(q.key, {})
        assert isinstance(days, dict)
        times = [start.timestamp() + i * DAY_S for i in range(7)]
        return [
            RangeSeries(dict(zip(q.by, key, strict=True)), list(zip(times, values, strict=True)))
            for key, values in days.items()
            if isinstance(values, list)
        ]


def _collect(policy: IdlePolicy, weeks: dict[IsoWeek, Figures] | None = None) -> CostReport:
    reader = FakePrometheus(weeks if weeks is not None else {WEEK: THIS_WEEK, BEFORE: PREVIOUS_WEEK})
    return collect_report(reader, WEEK, Pricing(idle_policy=policy, currency="EUR"))


def test_namespaces_plus_idle_is_the_bill_when_idle_is_its_own_line() -> None:
    report = _collect(IdlePolicy.SEPARATE)
    assert [ns.namespace for ns in report.namespaces] == ["team-a", "team-b", "team-c"]
    assert [ns.cost for ns in report.namespaces] == [600.0, 250.0, 0.0]
    assert report.attributed_cost == 850.0 and report.reported_idle_cost == 150.0
    assert report.attributed_cost + report.reported_idle_cost == pytest.approx(1000.0) == report.total_cost
    assert report.idle_ratio == pytest.approx(0.15)
    assert (report.total_gpu_hours, report.idle_gpu_hours, report.currency) == (400.0, 60.0, "EUR")


def test_namespaces_share_idle_by_held_cost_and_add_up_to_the_bill() -> None:
    report = _collect(IdlePolicy.SHARE)
    a, b, c = report.namespaces
    share_a, share_b = 150.0 * 600 / 850, 150.0 * 250 / 850
    assert (a.idle_share, b.idle_share, c.idle_share) == pytest.approx((share_a, share_b, 0.0))
    assert (a.cost, b.cost) == pytest.approx((600 + share_a, 250 + share_b))
    assert sum(ns.cost for ns in report.namespaces) == pytest.approx(1000.0)
    assert report.reported_idle_cost == 0.0
    # A model carries the part of its namespace's share that its held cost is of the namespace's.
    llama, mistral = a.models
    assert (llama.idle_share, mistral.idle_share) == pytest.approx((share_a * 400 / 600, share_a * 200 / 600))
    assert llama.cost + mistral.cost == pytest.approx(a.cost)
    # team-b's pods that serve no model hold 100 of its 250: its only model carries 150/250 of the share.
    assert b.models[0].idle_share == pytest.approx(share_b * 150 / 250)


def test_cost_per_million_tokens_is_cost_over_tokens() -> None:
    report = _collect(IdlePolicy.SHARE)
    a, b, c = report.namespaces
    a_cost = 600 + 150.0 * 600 / 850
    assert a.tokens == 10e6 and a.per_mtok == pytest.approx(a_cost / 10)
    assert a.usage_per_mtok == pytest.approx(420 / 10)
    assert b.per_mtok == pytest.approx((250 + 150.0 * 250 / 850) / 1)
    assert c.tokens == 1e3 and c.per_mtok == 0.0  # tokens served, no cost attributed
    llama = a.models[0]
    llama_cost = 400 + 150.0 * 600 / 850 * 400 / 600
    assert llama.per_mtok == pytest.approx(llama_cost / 8)
    assert llama.usage_per_mtok == pytest.approx(300 / 8)
    # 100 of llama's 400 held was prefill: a quarter of its charged cost is priced per prompt token.
    assert llama.prefill_share == pytest.approx(0.25)
    assert llama.input_per_mtok == pytest.approx(llama_cost * 0.25 / 6)
    assert llama.output_per_mtok == pytest.approx(llama_cost * 0.75 / 2)
    assert report.tokens == 10e6 + 1e6 + 1e3
    assert report.per_mtok == pytest.approx(1000 / (11.001e6) * 1e6)
    assert a.utilization == pytest.approx(168 / 240) and b.utilization == pytest.approx(20 / 105)
    assert (a.energy_kwh, a.energy_cost, a.p95_ttft_s) == (50.0, 15.0, 0.8) and math.isnan(b.p95_ttft_s)


def test_coverage_counts_observed_hours_capped_at_the_week() -> None:
    report = _collect(IdlePolicy.SEPARATE)
    assert report.observed_hours == 168 and report.full_coverage  # 168.4 rounds to the week's 168
    assert [ns.observed_hours for ns in report.namespaces] == [168, 100, 0]
    assert report.previous is not None
    assert report.previous.observed_hours == 100 and not report.previous.full_coverage
    partial = _collect(IdlePolicy.SEPARATE, {WEEK: {**THIS_WEEK, "observed_hours": 2.0}})
    assert partial.observed_hours == 2 and not partial.full_coverage and partial.period_hours == 168


def test_previous_week_figures_and_what_moved_most() -> None:
    report = _collect(IdlePolicy.SHARE)
    previous = report.previous
    assert previous is not None and previous.week == BEFORE
    assert previous.total_cost == 800.0 and previous.idle_gpus == () and previous.daily_cost == {}
    before_a, before_b = 500 + 100.0 * 500 / 700, 200 + 100.0 * 200 / 700
    assert [ns.cost for ns in previous.namespaces] == pytest.approx([before_a, before_b])
    now_a, now_b = 600 + 150.0 * 600 / 850, 250 + 150.0 * 250 / 850
    moved = report.namespace_changes()
    assert [(ch.namespace, ch.previous, ch.current) for ch in moved] == [
        ("team-a", pytest.approx(before_a), pytest.approx(now_a)),
        ("team-b", pytest.approx(before_b), pytest.approx(now_b)),
    ]  # team-c: 0 then 0, did not move
    assert moved[0].delta == pytest.approx(now_a - before_a)
    assert moved[0].ratio == pytest.approx((now_a - before_a) / before_a)
    qwen_now, qwen_before = 150 + (now_b - 250) * 150 / 250, 200 + (before_b - 200)
    llama_now, llama_before = 400 + (now_a - 600) * 400 / 600, 350 + (before_a - 500) * 350 / 500
    changes = report.model_changes()
    models = {(ch.namespace, ch.model): ch.delta for ch in changes}
    assert models[("team-b", QWEN)] == pytest.approx(qwen_now - qwen_before)
    assert models[("team-a", LLAMA)] == pytest.approx(llama_now - llama_before)
    assert (changes[0].namespace, changes[0].model) == ("team-a", LLAMA)  # the largest move first


def test_no_previous_week_leaves_nothing_to_compare() -> None:
    report = _collect(IdlePolicy.SEPARATE, {WEEK: THIS_WEEK})
    assert report.previous is None and report.namespace_changes() == () and report.model_changes() == ()


def test_savings_list_idle_gpus_and_underused_pods() -> None:
    report = _collect(IdlePolicy.SEPARATE)
    # GPU-3 was idle a quarter of an hour (a pod being replaced): not a saving.
    assert [(g.gpu_uuid, g.node, g.gpu_model, g.idle_gpu_hours, g.idle_cost) for g in report.idle_gpus] == [
        ("GPU-1", "node-1", "H100", 48.0, 120.0),
        ("GPU-2", "dgx-2", "A100", 10.0, 29.5),  # no node label: dcgm's Hostname
    ]
    assert report.idle_gpu_savings == 149.5
    # Under 30 % busy: b-1 (20/100) and a-3 (8/40); b-2 has no busy-time data, so no utilization.
    low = report.low_utilization
    assert [(p.namespace, p.pod, p.gpu_hours, p.cost) for p in low] == [
        ("team-b", "b-1", 100.0, 240.0),
        ("team-a", "a-3", 40.0, 100.0),
    ]
    assert [p.utilization for p in low] == pytest.approx([0.2, 0.2])
    assert [p.unused_cost for p in low] == pytest.approx([192.0, 80.0])
    assert report.low_utilization_cost == 340.0 and report.low_utilization_threshold == 0.3


def test_daily_series_are_indexed_by_day_of_the_week() -> None:
    report = _collect(IdlePolicy.SEPARATE)
    assert report.daily_cost["team-a"] == [DailyPoint(d, v) for d, v in enumerate([90.0] * 5 + [75.0] * 2)]
    assert [p.day for p in report.daily_cost["team-b"]] == [0, 1, 3, 4, 5, 6]  # no value on Wednesday
    assert report.daily_per_mtok == {("team-a", LLAMA): [DailyPoint(d, 55.0) for d in range(7)]}
    assert set(report.daily_utilization) == set(report.daily_p95_ttft) == {"team-a"}


def test_every_query_is_asked_once_per_week_and_counted() -> None:
    reader = FakePrometheus({WEEK: THIS_WEEK, BEFORE: PREVIOUS_WEEK})
    steps: list[str] = []
    collect_report(reader, WEEK, Pricing(), steps.append)
    assert len(steps) == len(reader.asked) == query_count()
    assert len(set(reader.asked)) == len(reader.asked)
    assert {w for w, _ in reader.asked} == {WEEK, BEFORE}
    # The previous week is only compared with: no savings, no daily series.
    assert {k for w, k in reader.asked if w == BEFORE} == {
        q.key for q in report_queries(60, daily=False, savings=False)
    }


def test_a_week_without_cost_series_is_no_data() -> None:
    empty: Figures = {key: {} for key in THIS_WEEK} | {"total_cost": math.nan, "observed_hours": math.nan}
    with pytest.raises(NoDataError, match="no cost series for 2026-W46"):
        _collect(IdlePolicy.SEPARATE, {WEEK: empty})
    with pytest.raises(NoDataError):
        _collect(IdlePolicy.SEPARATE, {WEEK: {**THIS_WEEK, "observed_hours": 0.0}})


def test_what_the_reader_raises_reaches_the_caller() -> None:
    class Down(FakePrometheus):
        def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
            raise PrometheusUnavailableError("Prometheus at http://prom:9090 did not answer")

    with pytest.raises(PrometheusUnavailableError, match="prom:9090"):
        collect_report(Down({}), WEEK, Pricing())
