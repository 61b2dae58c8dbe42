"""The generated rules on a scale-out backend: VictoriaMetrics single-node + vmalert.

The 30-day history of tests/slo/test_status_e2e.py (uneven traffic, an incident, a no-traffic
stretch) is imported into VictoriaMetrics; vmalert replays the normalization rules and the
SLO's groups over it pass by pass; `slo status` then reads VictoriaMetrics's
Prometheus-compatible API and must give the budget the raw counts give (the figure the
Prometheus end-to-end test is held to), within 0.1 percentage point. Every generated rule
file (normalization, alerts, SLO, cost) must load and evaluate without error in vmalert.

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

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import normalized as norm
from inferwatch.localstack.processes import ProcessGroup, wait_for
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import budget_rule, hourly_rules, sli_rules, slo_groups, window_rules, window_sum_rules
from inferwatch.slo.status import slo_status
from inferwatch.tools import Toolbox
from tests.slo.cost.history import END, PRICING, START, WEEK, _normalization_used, build_history, raw_series
from tests.slo.scale.victoriametrics import VictoriaMetricsHistory, start_vmalert
from tests.slo.test_status_e2e import (
    DAY,
    SPEC,
    TRAFFIC,
    _series,
    budget_percent,
    counts,
    edge_bound_pp,
    last_window_sum,
)

pytestmark = [pytest.mark.scale, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[3]
GENERATED = [
    REPO / "alerts/generated/normalize.yaml",
    REPO / "alerts/generated/alerts.yaml",
    REPO / "slo/generated/slo-rules.yaml",
    REPO / "slo/generated/cost-rules.yaml",
]


@pytest.fixture(scope="module")
def vm_history(
    tools: Toolbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, dict[str, float]]]]:
    """VictoriaMetrics with the 30-day history and the SLO's recorded series; the instant; expected budgets."""
    work = tmp_path_factory.mktemp("vm-slo")
    slo, _ = compile_slo(SLOSpec.model_validate(SPEC), "test")
    end_dt = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    end = end_dt.timestamp()
    start = end - 30 * DAY
    expected: dict[str, float] = {}
    vm = VictoriaMetricsHistory(tools, work)
    try:
        for ns, traffic in TRAFFIC.items():
            series, good, total = _series(ns, traffic, start, end)
            vm.add_raw(series)
            expected[ns] = (1 - (1 - good / total) / slo.error_budget) * 100
        wanted = {norm.histogram_series("ttft", p) for p in ("bucket", "count")}
        normalize = tuple(
            r for g in normalization_groups() for r in g.rules if isinstance(r, RecordingRule) and r.record in wanted
        )
        start_dt = datetime.fromtimestamp(start, UTC)
        last = end_dt - timedelta(minutes=10)
        main = slo_groups(slo)[0]
        groups = (
            RuleGroup("normalize", normalize),
            RuleGroup("sli", sli_rules(slo)),
            RuleGroup("hourly", hourly_rules(slo), interval="1h"),
            RuleGroup("window-sums", window_sum_rules(slo), interval="1h"),
            RuleGroup("windows", window_rules(slo)),
            RuleGroup("budget", (budget_rule(slo),)),
        )
        starts = {r.record: end_dt - timedelta(hours=2) for r in window_sum_rules(slo)}
        starts |= {r.record: last for r in (*window_rules(slo), budget_rule(slo))}
        vm.replay_groups(groups, start_dt, end_dt, starts)
        assert main.rules[: len(sli_rules(slo))] == sli_rules(slo)
        tau = last_window_sum(vm.url, end_dt)
        at_tau = {
            ns: budget_percent(*counts(traffic, start, tau - 30 * DAY, tau), slo.error_budget)
            for ns, traffic in TRAFFIC.items()
        }
        bounds = {ns: edge_bound_pp(traffic, start, tau, end, slo.error_budget) for ns, traffic in TRAFFIC.items()}
        yield vm, end_dt, slo, {"tau": at_tau, "end": expected, "bound": bounds}
    finally:
        vm.stop()


def test_slo_status_on_victoriametrics_matches_raw_counts(
    vm_history: tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    """`slo status` against VictoriaMetrics's API: each namespace's budget within 0.1 pp of the raw counts.

    As on Prometheus (tests/slo/test_status_e2e.py): against the 30 days ending at the hourly
    group's last evaluation, and within the documented edge bound of the 30 days ending now.
    """
    vm, end, slo, expected = vm_history
    rows = {r.group["namespace"]: r for r in slo_status(PrometheusReader(PrometheusSettings(url=vm.url)), [slo], end)}
    assert set(rows) == set(expected["end"])
    for ns, want in expected["tau"].items():
        got = rows[ns].budget_remaining_percent
        assert got is not None and abs(got - want) < 0.1, (ns, got, want)
        assert abs(got - expected["end"][ns]) <= expected["bound"][ns] + 0.03, (ns, got, expected)
    assert abs(expected["end"]["team-a"] - expected["end"]["team-b"]) > 1
    # the CLI, as a user points it at VictoriaMetrics
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": vm.url, "retries": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json", "--at", end.isoformat()])
    assert res.exit_code == 0, res.output
    got_cli = {r["group"]["namespace"]: r["budget_remaining_percent"] for r in json.loads(res.stdout)}
    assert got_cli == pytest.approx(expected["tau"], abs=0.1)


def test_generated_rule_files_evaluate_on_vmalert(
    vm_history: tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, dict[str, float]]],
    tools: Toolbox,
    tmp_path: Path,
) -> None:
    """Every committed rule file (normalization, alerts, SLO, cost) loads in vmalert and evaluates without error.

    Groups on the default interval are evaluated by vmalert itself; the hourly SLO groups would
    first run up to an hour later, so their expressions are run once through VictoriaMetrics's API.
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
        hourly = [g for g in loaded if g not in frequent(loaded)]
        assert hourly, "the SLO hourly groups are loaded with their own interval"
        for g in hourly:
            assert float(g["interval"]) == 3600
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
        vm.add_raw(raw_series())
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
