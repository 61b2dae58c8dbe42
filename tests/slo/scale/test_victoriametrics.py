"""The generated rules on a scale-out backend: VictoriaMetrics single-node + vmalert.

The 30-day history of tests/slo/test_status_e2e.py (uneven traffic, two namespaces, a 3-hour
outage of the monitoring stack with team-b's incident inside: no raw sample, no rule evaluated) is
imported into VictoriaMetrics; vmalert replays the SLO's counter and checkpoint groups around the
outage and its long-window and main groups at the end, pass by pass; `slo status` then reads
VictoriaMetrics's Prometheus-compatible API and must give the budget the exact count gives,
the outage's events included, within 0.1 percentage point. Every generated rule file
(normalization, alerts, SLO, cost) must load and evaluate without error in vmalert.

Run with `make test-scale` (`pytest -m scale`): the replay takes minutes on a small machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.conventions import slo as c
from inferwatch.localstack.processes import ProcessGroup, wait_for
from inferwatch.prom import PrometheusReader
from inferwatch.promql import selector
from inferwatch.slo.checkpoints import COARSE_LAG
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.slo.model import SLO
from inferwatch.slo.status import slo_status
from inferwatch.slo.windows import LONG_WINDOWS_INTERVAL
from inferwatch.tools import Toolbox
from tests.slo.cost.history import END, PRICING, START, WEEK, _normalization_used, build_history
from tests.slo.cost.history import raw_series as cost_raw_series
from tests.slo.history import (
    DAY,
    DAYS,
    OUTAGE,
    SPEC,
    TRAFFIC,
    budget_percent,
    counts,
    end_starts,
    passes,
    raw_series,
    slo,
    spans,
    utc,
)
from tests.slo.scale.victoriametrics import VictoriaMetricsHistory, start_vmalert

# The bound on a hang, not a timing: the week's backfill and replay take ~8 minutes alone on 2 cores,
# several times that beside a cold Go build.
pytestmark = [pytest.mark.scale, pytest.mark.timeout(2700)]

REPO = Path(__file__).resolve().parents[3]
# The minute of the hour the history ends at (see `vm_history`).
END_MINUTE = 55
GENERATED = [
    REPO / "alerts/generated/normalize.yaml",
    REPO / "alerts/generated/alerts.yaml",
    REPO / "slo/generated/slo-rules.yaml",
    REPO / "slo/generated/cost-rules.yaml",
]


@pytest.fixture(scope="module")
def vm_history(
    tools: Toolbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VictoriaMetricsHistory, datetime, float]]:
    """VictoriaMetrics with the 31-day history (the outage inside) and the SLO's recorded series; the end; the start."""
    work = tmp_path_factory.mktemp("vm-slo")
    s = slo()
    # At minute `END_MINUTE` of an hour: on a 5-minute boundary, as every heartbeat is, so the replay's chunk
    # ends fall on heartbeats (the case that once counted a whole window with a 3-hour outage in it
    # as recorded in full); and with the window's start 50 minutes after the hourly checkpoint
    # before it, which MetricsQL's increase() does not read (see `_vm_span`), whatever the clock.
    end = datetime.now(UTC).replace(minute=END_MINUTE, second=0, microsecond=0) - timedelta(hours=2)
    start = end.timestamp() - DAYS * DAY
    vm = VictoriaMetricsHistory(tools, work)
    try:
        for ns, traffic in TRAFFIC.items():
            vm.add_raw(raw_series(ns, traffic, start, end.timestamp(), [OUTAGE]))
        p = passes(s)
        for since, until in spans(utc(start), end, [OUTAGE]):  # no rule ran inside the outage
            vm.replay_groups(p.throughout, since, until)
        vm.replay_groups(p.at_end, end - timedelta(minutes=40), end, end_starts(s, end))
        yield vm, end, start
    finally:
        vm.stop()


def _vm_span(url: str, s: SLO, at: float) -> dict[str, tuple[float, float]]:
    """Per namespace, the span VictoriaMetrics's increase() counts for the SLO window's sum last made
    before ``at``: from the first hourly checkpoint inside the window to the last, each holding the
    counter `COARSE_LAG` before its timestamp.

    MetricsQL does not extrapolate, and counts from the sample before a window only where its query
    fetched it: no more than 5 minutes before the window's start for an instant query, as a live
    vmalert makes (45 for the point at the end of the replay's 40-minute range query). With the
    window starting at minute `END_MINUTE`, the checkpoint before it (copied at minute 5) is 50 minutes older, so the
    first inside is where the count starts (and the pod's counter there is far above an hour's
    events, so MetricsQL does not take it for a counter that started at 0).
    """

    def samples(expr: str, t: float) -> dict[str, list[float]]:
        body = httpx.post(f"{url}/api/v1/query", data={"query": expr, "time": f"{t:.3f}"}, timeout=60).json()
        assert body["status"] == "success", body
        return {r["metric"].get("namespace", ""): [float(x) for x, _ in r["values"]] for r in body["data"]["result"]}

    sums = samples(f"{selector(c.TOTAL_EVENTS_WINDOW, {c.SLO_LABEL: s.name, c.WINDOW_LABEL: s.window})}[10m]", at)
    tau = max(t for times in sums.values() for t in times)
    window = s.period.total_seconds()
    checkpoints = selector(c.TOTAL_CHECKPOINT_COARSE, {c.SLO_LABEL: s.name})
    out = {}
    lag = COARSE_LAG.total_seconds()
    for ns, times in samples(f"{checkpoints}[{int(window // DAY) + 1}d]", tau).items():
        inside = [t for t in times if tau - window < t <= tau]
        out[ns] = (inside[0] - lag, inside[-1] - lag)
    return out


def test_slo_status_on_victoriametrics_counts_every_event_through_the_outage(
    vm_history: tuple[VictoriaMetricsHistory, datetime, float], tmp_path: Path
) -> None:
    """`slo status` against VictoriaMetrics's API: each namespace's budget within 0.1 pp of the exact count
    of the span the figure counts, the outage's events included (tens of points of team-b's budget)."""
    vm, end, start = vm_history
    s = slo()
    rows = {r.group["namespace"]: r for r in slo_status(PrometheusReader(PrometheusSettings(url=vm.url)), [s], end)}
    assert set(rows) == set(TRAFFIC)
    expected = {}
    for ns, span in _vm_span(vm.url, s, end.timestamp()).items():
        assert span[0] < start + OUTAGE[0] and span[1] > start + OUTAGE[1], span  # the outage inside
        expected[ns] = budget_percent(*counts(TRAFFIC[ns], start, *span), s.error_budget)
        got = rows[ns].budget_remaining_percent
        assert got is not None and abs(got - expected[ns]) < 0.1, (ns, got, expected[ns], span)
        assert rows[ns].coverage.on_gap  # the window holds the outage, and says so
    good, total = counts(TRAFFIC["team-b"], start, *_vm_span(vm.url, s, end.timestamp())["team-b"])
    lost_good, lost_total = counts(TRAFFIC["team-b"], start, start + OUTAGE[0], start + OUTAGE[1])
    without = budget_percent(good - lost_good, total - lost_total, s.error_budget)
    assert without - expected["team-b"] > 15
    # the CLI, as a user points it at VictoriaMetrics
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": vm.url, "retries": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json", "--at", end.isoformat()])
    assert res.exit_code == 0, res.output
    got_cli = {r["group"]["namespace"]: r["budget_remaining_percent"] for r in json.loads(res.stdout)}
    assert got_cli == pytest.approx(expected, abs=0.1)


def test_generated_rule_files_evaluate_on_vmalert(
    vm_history: tuple[VictoriaMetricsHistory, datetime, float],
    tools: Toolbox,
    tmp_path: Path,
) -> None:
    """Every committed rule file (normalization, alerts, SLO, cost) loads in vmalert and evaluates without error.

    Groups on the default interval are evaluated by vmalert itself; the SLOs' long-window groups
    (every 5 minutes) may first run minutes later, so their expressions are run once through
    VictoriaMetrics's API.
    """
    vm = vm_history[0]
    with ProcessGroup(tmp_path) as group:
        alert = start_vmalert(group, tools, GENERATED, vm.url, tmp_path)

        def groups() -> list[dict[str, Any]]:
            body = httpx.get(f"{alert.url}/api/v1/rules", timeout=10).json()
            return list(body["data"]["groups"])

        def frequent(gs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [g for g in gs if float(g.get("interval", 0)) <= 60]

        def all_evaluated() -> bool:
            gs = frequent(groups())
            return bool(gs) and all(
                not str(r.get("lastEvaluation", "")).startswith("0001") for g in gs for r in g["rules"]
            )

        wait_for(all_evaluated, "vmalert to evaluate every rule once", timeout=180, interval=1)
        loaded = groups()
        names = {str(g["name"]) for g in loaded}
        for path in GENERATED:
            assert {g["name"] for g in yaml.safe_load(path.read_text())["groups"]} <= names, path
        errors = [
            (g["name"], r.get("name"), r.get("lastError")) for g in loaded for r in g["rules"] if r.get("lastError")
        ]
        assert not errors, errors
        slow = [g for g in loaded if g not in frequent(loaded)]
        assert slow, "the SLO long-window groups are loaded with their own interval"
        for g in slow:
            assert float(g["interval"]) == LONG_WINDOWS_INTERVAL.total_seconds()
            for r in g["rules"]:
                answer = httpx.get(f"{vm.url}/api/v1/query", params={"query": r["query"]}, timeout=30).json()
                assert answer["status"] == "success", (g["name"], r["name"], answer)


def _cost_reports(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> tuple[CostReport, CostReport]:
    """The week's cost report from the cost test's history on Prometheus and on VictoriaMetrics + vmalert."""
    prom = build_history(tools, tmp_path_factory.mktemp("cost-prom"))
    try:
        on_prom = collect_report(PrometheusReader(PrometheusSettings(url=prom.url)), WEEK, PRICING)
    finally:
        prom.stop()
    work = tmp_path_factory.mktemp("cost-vm")
    vm = VictoriaMetricsHistory(tools, work)
    try:
        vm.add_raw(cost_raw_series())
        vm.replay_groups([*_normalization_used().groups, *cost_groups(PRICING)], START, END)
        on_vm = collect_report(PrometheusReader(PrometheusSettings(url=vm.url)), WEEK, PRICING)
    finally:
        vm.stop()
    return on_prom, on_vm


def test_cost_report_on_victoriametrics_matches_prometheus(
    tools: Toolbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`cost report`'s figures from VictoriaMetrics equal those from Prometheus within 0.5 %."""
    on_prom, on_vm = _cost_reports(tools, tmp_path_factory)
    assert float(on_vm.total_cost) == pytest.approx(float(on_prom.total_cost), rel=0.005)
    assert float(on_vm.idle_cost) == pytest.approx(float(on_prom.idle_cost), rel=0.005)
    prom_ns = {ns.namespace: ns for ns in on_prom.namespaces}
    vm_ns = {ns.namespace: ns for ns in on_vm.namespaces}
    assert set(vm_ns) == set(prom_ns) and len(prom_ns) >= 3
    for name, want in prom_ns.items():
        got = vm_ns[name]
        for figure in ("gpu_hours", "busy_gpu_hours", "allocated_cost", "unused_cost", "energy_kwh", "prompt_tokens"):
            assert float(getattr(got, figure)) == pytest.approx(float(getattr(want, figure)), rel=0.005), (name, figure)
