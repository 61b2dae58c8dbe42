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

import httpx
import pytest
import yaml
from click.testing import CliRunner
from inferwatch.alerts.normalize import normalization_groups
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import budget_rule, sli_rules, slo_groups, window_rules
from inferwatch.slo.status import slo_status

from inferwatch.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import normalized as norm
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox
from tests.slo.scale.victoriametrics import VictoriaMetricsHistory, start_vmalert
from tests.slo.test_status_e2e import DAY, SPEC, _series, _traffic_a, _traffic_b
from tests.support.processes import wait_for

pytestmark = [pytest.mark.scale, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[3]
GENERATED = [
    REPO / "alerts/generated/normalize.yaml",
    REPO / "alerts/generated/alerts.yaml",
    REPO / "slo/generated/slo-rules.yaml",
    REPO / "slo/generated/cost-rules.yaml",
]


def _file(path: Path, groups: tuple[RuleGroup, ...]) -> Path:
    path.write_text(to_prometheus_yaml(RuleFile(groups)))
    return path


@pytest.fixture(scope="module")
def vm_history(
    tools: Toolbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, float]]]:
    """VictoriaMetrics with the 30-day history and the SLO's recorded series; the instant; expected budgets."""
    work = tmp_path_factory.mktemp("vm-slo")
    slo, _ = compile_slo(SLOSpec.model_validate(SPEC), "test")
    end_dt = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    end = end_dt.timestamp()
    start = end - 30 * DAY
    expected: dict[str, float] = {}
    vm = VictoriaMetricsHistory(tools, work)
    try:
        for ns, traffic in (("team-a", _traffic_a), ("team-b", _traffic_b)):
            series, good, total = _series(ns, traffic, start, end)
            vm.add_raw(series)
            expected[ns] = (1 - (1 - good / total) / slo.error_budget) * 100
        wanted = {norm.histogram_series("ttft", p) for p in ("bucket", "count")}
        normalize = tuple(
            r for g in normalization_groups() for r in g.rules if isinstance(r, RecordingRule) and r.record in wanted
        )
        start_dt = datetime.fromtimestamp(start, UTC)
        last = end_dt - timedelta(minutes=10)
        main, hourly = slo_groups(slo)
        vm.replay(_file(work / "p1.yaml", (RuleGroup("normalize", normalize),)), start_dt, end_dt)
        vm.replay(_file(work / "p2.yaml", (RuleGroup("sli", sli_rules(slo)),)), start_dt, end_dt)
        vm.replay(_file(work / "p3.yaml", (hourly,)), start_dt, end_dt)
        vm.replay(
            _file(work / "p4.yaml", (RuleGroup("windows", (*window_rules(slo), budget_rule(slo))),)), last, end_dt
        )
        assert main.rules[: len(sli_rules(slo))] == sli_rules(slo)
        yield vm, end_dt, slo, expected
    finally:
        vm.stop()


def test_slo_status_on_victoriametrics_matches_raw_counts(
    vm_history: tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, float]], tmp_path: Path
) -> None:
    """`slo status` against VictoriaMetrics's API: each namespace's budget within 0.1 pp of the raw counts."""
    vm, end, slo, expected = vm_history
    rows = {r.group["namespace"]: r for r in slo_status(PrometheusReader(PrometheusSettings(url=vm.url)), [slo], end)}
    assert set(rows) == set(expected)
    for ns, want in expected.items():
        got = rows[ns].budget_remaining_percent
        assert got is not None and abs(got - want) < 0.1, (ns, got, want)
    assert abs(expected["team-a"] - expected["team-b"]) > 1
    # the CLI, as a user points it at VictoriaMetrics
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": vm.url, "retries": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json", "--at", end.isoformat()])
    assert res.exit_code == 0, res.output
    got_cli = {r["group"]["namespace"]: r["budget_remaining_percent"] for r in json.loads(res.stdout)}
    assert got_cli == pytest.approx(expected, abs=0.1)


def test_generated_rule_files_evaluate_on_vmalert(
    vm_history: tuple[VictoriaMetricsHistory, datetime, SLO, dict[str, float]], tools: Toolbox, tmp_path: Path
) -> None:
    """Every committed rule file (normalization, alerts, SLO, cost) loads in vmalert and evaluates without error."""
    vm = vm_history[0]
    alert = start_vmalert(tools, GENERATED, vm.url, tmp_path)
    try:

        def groups() -> list[dict[str, object]]:
            body = httpx.get(f"{alert.url}/api/v1/rules", timeout=10).json()
            return list(body["data"]["groups"])

        def all_evaluated() -> bool:
            gs = groups()
            return bool(gs) and all(
                not str(r.get("lastEvaluation", "")).startswith("0001")
                for g in gs
                for r in g["rules"]  # type: ignore[union-attr]
            )

        wait_for(all_evaluated, "vmalert to evaluate every rule once", timeout=120, interval=1)
        loaded = groups()
        names = {str(g["name"]) for g in loaded}
        for path in GENERATED:
            assert {g["name"] for g in yaml.safe_load(path.read_text())["groups"]} <= names, path
        errors = [
            (g["name"], r.get("name"), r.get("lastError"))
            for g in loaded
            for r in g["rules"]  # type: ignore[union-attr]
            if r.get("lastError")
        ]
        assert not errors, errors
    finally:
        alert.stop()
