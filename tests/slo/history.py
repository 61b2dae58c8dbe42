"""The SLO end-to-end histories: 30 days of vLLM TTFT counters with uneven traffic, an incident inside a
Prometheus outage, and the SLO's recorded series over them as Prometheus would have recorded them.

Raw counters are sampled every minute; a Prometheus outage is a stretch with no raw sample (the
counters keep counting: the first sample after it holds the jump) and no recorded sample (no rule
was evaluated). The SLO's groups are backfilled pass by pass on their own intervals around the
outage: the counters and checkpoints over the whole history, the long windows, coverage and burn
rates at its end. Exact good and total counts over any span come from the traffic functions, as
the counters integrate them. tests/slo/test_status_e2e.py (Prometheus),
tests/slo/scale/test_victoriametrics.py (VictoriaMetrics + vmalert) and
tests/slo/test_restart_e2e.py (a real stop of Prometheus) share them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config.durations import duration_seconds
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.localstack.backfill import Series
from inferwatch.localstack.backfilled import TimedRule
from inferwatch.promql import selector
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.slo.checkpoints import COARSE_LAG
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import slo_rule_file
from tests.support.series import counter_points

DAY = 86400.0
STEP = 60.0
SPEC = {
    "name": "chat-ttft",
    "objective": 99.5,
    "sli": {"kind": "ttft", "threshold_seconds": 1.0},
    "group_by": ["namespace"],
}
# The days of the history: one more than the SLO window, so the window starts inside it.
DAYS = 31
# team-b's outage: Prometheus down 3 hours on day 25 (from the history's start), a 2-hour
# latency incident inside it. What the independent check measured: the old rules lost the
# incident (team-b's budget 34 pp too high); the counters never did.
OUTAGE = (25 * DAY + 10 * 3600.0, 25 * DAY + 13 * 3600.0)
INCIDENT_B = (25 * DAY + 10.5 * 3600, 25 * DAY + 12.5 * 3600)

Traffic = Callable[[float], tuple[float, float]]


def traffic_a(t: float) -> tuple[float, float]:
    """Namespace a: diurnal traffic, a 6-hour incident on day 10, 12 hours without traffic on day 20."""
    day = t / DAY
    if 20.0 <= day < 20.5:
        return 0.0, 0.0
    rate = 2.0 + 1.5 * math.sin(2 * math.pi * t / DAY)
    bad = 0.06 if 10.0 <= day < 10.25 else 0.002
    return rate, bad


def traffic_b(t: float) -> tuple[float, float]:
    """Namespace b: low steady traffic, three days down to nothing, errors that grow over time, and
    the incident inside the outage."""
    day = t / DAY
    if 5.0 <= day < 8.0:
        return 0.0, 0.0
    if INCIDENT_B[0] <= t < INCIDENT_B[1]:
        return 0.5, 0.3
    return 0.5, 0.001 + 0.0002 * day


TRAFFIC: dict[str, Traffic] = {"team-a": traffic_a, "team-b": traffic_b}


def slo() -> SLO:
    """The SLO of every end-to-end history: TTFT <= 1 s at 99.5 % over 30 days, per namespace."""
    return compile_slo(SLOSpec.model_validate(SPEC), "test")[0]


def raw_series(
    ns: str, traffic: Traffic, start: float, end: float, gaps: Sequence[tuple[float, float]] = ()
) -> list[Series]:
    """Raw vLLM TTFT histogram series of one namespace (one pod), every minute, none inside ``gaps``
    (relative to ``start``)."""

    def rel(t: float) -> float:
        return t - start

    def scraped(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(t, v) for t, v in points if not any(a <= rel(t) < b for a, b in gaps)]

    total = scraped(counter_points(lambda t: traffic(rel(t))[0], start, end, STEP))
    good = scraped(counter_points(lambda t: traffic(rel(t))[0] * (1 - traffic(rel(t))[1]), start, end, STEP))
    labels = {"namespace": ns, "model_name": "qwen", "pod": f"{ns}-vllm-0"}
    name = "vllm:time_to_first_token_seconds"
    return [
        Series(f"{name}_bucket", {**labels, "le": "1.0"}, good),
        Series(f"{name}_bucket", {**labels, "le": "2.5"}, total),
        Series(f"{name}_bucket", {**labels, "le": "+Inf"}, total),
        Series(f"{name}_count", labels, total),
    ]


def counts(traffic: Traffic, start: float, a: float, b: float) -> tuple[float, float]:
    """Good and total events in (a, b], exactly as the counters integrate them (one step's events land at its end)."""
    good = total = 0.0
    k0 = max(math.floor((a - start) / STEP + 1e-9), 0)
    k1 = math.floor((b - start) / STEP + 1e-9)
    for k in range(k0, k1):
        rate, bad = traffic(k * STEP)
        total += rate * STEP
        good += rate * (1 - bad) * STEP
    return good, total


def budget_percent(good: float, total: float, error_budget: float) -> float:
    """Budget remaining in percent from good and total events."""
    return (1 - (1 - good / total) / error_budget) * 100


@dataclass(frozen=True)
class Passes:
    """The SLO's groups as the history backfills them: what runs over the whole history, what at its end."""

    throughout: tuple[RuleGroup, ...]  # the shared counters and the SLO's checkpoints
    at_end: tuple[RuleGroup, ...]  # the 5-minute rates, long windows and coverage, the main group's records


def passes(s: SLO) -> Passes:
    """The groups of the SLO's generated rule file, split by how much of the history they must cover."""
    groups = {g.name: g for g in slo_rule_file([s]).groups}
    counters = groups[c.COUNTER_GROUP]
    checkpoints = groups[f"inferwatch-slo-{s.name}{c.CHECKPOINT_GROUP_SUFFIX}"]
    long_windows = groups[f"inferwatch-slo-{s.name}{c.LONG_GROUP_SUFFIX}"]
    main = groups[f"inferwatch-slo-{s.name}"]
    wanted = {norm.histogram_series("ttft", p) for p in ("bucket", "count")}
    rates = tuple(
        r for g in normalization_groups() for r in g.rules if isinstance(r, RecordingRule) and r.record in wanted
    )
    recorded = tuple(r for r in main.rules if isinstance(r, RecordingRule))
    return Passes(
        throughout=(counters, checkpoints),
        at_end=(RuleGroup("normalize", rates), long_windows, RuleGroup(main.name, recorded)),
    )


def timed(groups: Sequence[RuleGroup]) -> list[TimedRule]:
    """The recording rules of ``groups``, each with its group's interval (seconds), for `backfill_by_query`."""
    return [(r, duration_seconds(g.interval or "1m")) for g in groups for r in g.rules if isinstance(r, RecordingRule)]


def spans(start: datetime, end: datetime, gaps: Sequence[tuple[float, float]]) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end] outside ``gaps`` (seconds from ``start``): when Prometheus ran."""
    out, since = [], start
    for a, b in sorted(gaps):
        out.append((since, start + timedelta(seconds=a) - timedelta(seconds=1)))
        since = start + timedelta(seconds=b)
    out.append((since, end))
    return out


def end_starts(s: SLO, end: datetime) -> dict[str, datetime]:
    """Where the at-end groups start: the rates and long windows 40 minutes before the end (the
    long-window lookback and more), the burn rates and budget 10 minutes before."""
    p = passes(s)
    early = end - timedelta(minutes=40)
    late = end - timedelta(minutes=10)
    out = {r.record: early for g in p.at_end[:2] for r in g.rules if isinstance(r, RecordingRule)}
    out |= {r.record: late for r in p.at_end[2].rules if isinstance(r, RecordingRule)}
    return out


def utc(t: float) -> datetime:
    """A unix time as an aware datetime."""
    return datetime.fromtimestamp(t, UTC)


def _samples(url: str, expr: str, at: float) -> dict[str, list[tuple[float, float]]]:
    """A range-vector query's samples per namespace (unix seconds, value)."""
    answer = httpx.post(f"{url}/api/v1/query", data={"query": expr, "time": f"{at:.3f}"}, timeout=60).json()
    assert answer["status"] == "success", answer
    return {
        r["metric"].get("namespace", ""): [(float(t), float(v)) for t, v in r["values"]]
        for r in answer["data"]["result"]
    }


def figure_span(url: str, s: SLO, at: float) -> dict[str, tuple[float, float]]:
    """Per namespace, the span the SLO window's figure at ``at`` counts: from its first to its last
    hourly checkpoint within the 30 days the long-window group last summed before ``at`` (each
    holding the counter `COARSE_LAG` before its timestamp).

    Prometheus scales increase() to the whole window at the span's rate: with one pod per
    namespace, good and total alike, so the figure is the span's exact good / total.
    """
    window = selector(c.TOTAL_EVENTS_WINDOW, {c.SLO_LABEL: s.name, c.WINDOW_LABEL: s.window})
    sums = _samples(url, f"{window}[{c.WINDOW_SUM_LOOKBACK}]", at)
    tau = max(t for points in sums.values() for t, _ in points)
    checkpoints = selector(c.TOTAL_CHECKPOINT_COARSE, {c.SLO_LABEL: s.name})
    lag = COARSE_LAG.total_seconds()
    return {
        ns: (points[0][0] - lag, points[-1][0] - lag)
        for ns, points in _samples(url, f"{checkpoints}[{s.window}]", tau).items()
    }
