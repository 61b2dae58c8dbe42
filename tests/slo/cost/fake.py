"""An in-memory stand-in for Prometheus that answers the cost report's queries with figures written by hand.

Figures are given per week and query key (inferwatch.slo.cost.queries): for the hourly queries a
value per hour (or one value for every hour of a range) per label tuple, for the instant queries a
value per label tuple, for the daily query seven values. Label tuples follow the query's ``by``
order; "" means the label is absent (a single-cluster Prometheus has no ``cluster`` label). The
fake checks that each query is asked at the time the report must ask it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from inferwatch.prom import RangeSeries, Sample
from inferwatch.slo.cost.queries import Query, report_queries
from inferwatch.slo.cost.week import IsoWeek

MS = timedelta(milliseconds=1)
HOUR_S = 3600
DAY_S = 86400
WEEK_HOURS = 168
# The coverage query's answer for an hour recorded at every evaluation (the fake's rules run every 60 s).
EVALUATIONS_PER_HOUR = 60.0

# One week's answers by query key.
Figures = dict[str, Any]


def every_hour(value: float, hours: Iterable[int] = range(WEEK_HOURS)) -> dict[int, float]:
    """The same value in each of ``hours``."""
    return dict.fromkeys(hours, value)


def weekdays(value: float) -> dict[int, float]:
    """``value`` Monday to Friday, nothing at the weekend."""
    return every_hour(value, range(5 * 24))


@dataclass
class FakePrometheus:
    """Answers by week and query key, no PromQL; remembers what was asked when."""

    weeks: dict[IsoWeek, Figures]
    interval_s: float = 60.0
    cluster_label: str = "cluster"
    asked: list[tuple[IsoWeek, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_expr = {q.expr: q for q in report_queries(self.interval_s, self.cluster_label)}

    def _week(self, q: Query, at: datetime) -> IsoWeek:
        for week in (*self.weeks, *(w.previous() for w in self.weeks)):
            if at == week.end - MS:
                self.asked.append((week, q.key))
                return week
        raise AssertionError(f"{q.key} asked at {at}, not at the end of a week less 1 ms")

    def _labels(self, q: Query, key: tuple[str, ...]) -> dict[str, str]:
        return {k: v for k, v in zip(q.by, key, strict=True) if v}

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        q = self._by_expr[expr]
        assert at is not None and not q.step, q.key
        value = self.weeks.get(self._week(q, at), {}).get(q.key)
        if value is None:
            return []
        if q.all_labels:
            return [Sample({**self._labels(q, k), **labels}, 1.0) for k, labels in value.items()]
        return [Sample(self._labels(q, k), x) for k, x in value.items()]

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        q = self._by_expr[expr]
        week = self._week(q, end)
        step = HOUR_S if q.step == "hour" else DAY_S
        assert q.step and step_s == step and start == week.start + timedelta(seconds=step) - MS, q.key
        series: Mapping[tuple[str, ...], Any] = self.weeks.get(week, {}).get(q.key, {})
        out = []
        for key, values in series.items():
            points = values.items() if isinstance(values, Mapping) else enumerate(values)
            out.append(
                RangeSeries(
                    self._labels(q, key),
                    [(start.timestamp() + i * step, v) for i, v in sorted(points) if not math.isnan(v)],
                )
            )
        return out
