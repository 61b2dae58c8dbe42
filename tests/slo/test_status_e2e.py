"""End to end: a real Prometheus holding a backfilled 30-day vLLM history with uneven traffic.

Raw vLLM histograms are backfilled with `promtool tsdb create-blocks-from openmetrics`; the
normalization rules, the SLO's event rules and its window rules are then backfilled pass by
pass in dependency order. `inferwatch slo status` must report the error budget an independent
computation from the raw counts gives, within 0.1 percentage point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.localstack.backfill import Series
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import budget_rule, hourly_rules, sli_rules, window_rules, window_sum_rules
from inferwatch.slo.status import slo_status
from inferwatch.tools import Toolbox
from tests.support.series import counter_points

# The 30-day backfill of the module fixture counts against the first test's time (215 s seen under load).
pytestmark = pytest.mark.timeout(900)

DAY = 86400.0
STEP = 60.0
SPEC = {
    "name": "chat-ttft",
    "objective": 99.5,
    "sli": {"kind": "ttft", "threshold_seconds": 1.0},
    "group_by": ["namespace"],
}


def _traffic_a(t: float) -> tuple[float, float]:
    """Namespace a: diurnal traffic, a 6-hour incident on day 10, 12 hours without traffic on day 20."""
    day = t / DAY
    if 20.0 <= day % 30 < 20.5:
        return 0.0, 0.0
    rate = 2.0 + 1.5 * math.sin(2 * math.pi * t / DAY)
    bad = 0.06 if 10.0 <= day % 30 < 10.25 else 0.002
    return rate, bad


def _traffic_b(t: float) -> tuple[float, float]:
    """Namespace b: low steady traffic, three days down to nothing, errors that grow over time."""
    day = t / DAY
    if 5.0 <= day % 30 < 8.0:
        return 0.0, 0.0
    return 0.5, 0.001 + 0.0002 * (day % 30)


def _series(
    ns: str, traffic: Callable[[float], tuple[float, float]], start: float, end: float
) -> tuple[list[Series], float, float]:
    """Raw vLLM TTFT histogram series of one namespace, and the exact good and total counts."""

    def rel(t: float) -> float:
        return t - start

    total = counter_points(lambda t: traffic(rel(t))[0], start, end, STEP)
    good = counter_points(lambda t: traffic(rel(t))[0] * (1 - traffic(rel(t))[1]), start, end, STEP)
    labels = {"namespace": ns, "model_name": "qwen", "pod": f"{ns}-vllm-0"}
    name = "vllm:time_to_first_token_seconds"
    series = [
        Series(f"{name}_bucket", {**labels, "le": "1.0"}, good),
        Series(f"{name}_bucket", {**labels, "le": "2.5"}, [(t, v) for t, v in total]),
        Series(f"{name}_bucket", {**labels, "le": "+Inf"}, total),
        Series(f"{name}_count", labels, total),
    ]
    return series, good[-1][1] - good[0][1], total[-1][1] - total[0][1]


TRAFFIC = {"team-a": _traffic_a, "team-b": _traffic_b}


def last_window_sum(url: str, at: datetime) -> float:
    """When the hourly group last summed the SLO window before ``at`` (the end of the window the figure names)."""
    answer = httpx.post(
        f"{url}/api/v1/query",
        data={"query": f'{c.TOTAL_EVENTS_WINDOW}{{window="30d"}}[2h]', "time": f"{at.timestamp():.3f}"},
        timeout=30,
    ).json()
    return max(float(t) for r in answer["data"]["result"] for t, _ in r["values"])


def counts(traffic: Callable[[float], tuple[float, float]], start: float, a: float, b: float) -> tuple[float, float]:
    """Good and total events in (a, b], exactly as `_series` integrates them (one step's events land at its end)."""
    good = total = 0.0
    k0 = max(math.floor((a - start) / STEP), 0)
    k1 = math.floor((b - start) / STEP)
    for k in range(k0, k1):
        rate, bad = traffic(k * STEP)
        total += rate * STEP
        good += rate * (1 - bad) * STEP
    return good, total


def budget_percent(good: float, total: float, error_budget: float) -> float:
    """Budget remaining in percent from good and total events."""
    return (1 - (1 - good / total) / error_budget) * 100


def edge_bound_pp(
    traffic: Callable[[float], tuple[float, float]], start: float, tau: float, end: float, error_budget: float
) -> float:
    """docs/slo.md's bound on |figure - exact count at ``end``| for a window ending at ``tau``: the two δ slices."""
    good_w, total_w = counts(traffic, start, end - 30 * DAY, end)
    ratio_w = 1 - good_w / total_w
    bound = 0.0
    for a, b in ((tau, end), (tau - 30 * DAY, end - 30 * DAY)):
        g, t = counts(traffic, start, a, b)
        if t > 0:
            bound += (t / total_w) * abs((1 - g / t) - ratio_w)
    return 100 * bound / error_budget


@pytest.fixture(scope="module")
def history(
    tools: Toolbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, datetime, SLO, dict[str, dict[str, float]]]]:
    """A running Prometheus with the backfilled history; the evaluation time; expected budgets left."""
    work = tmp_path_factory.mktemp("slo-e2e")
    slo, _ = compile_slo(SLOSpec.model_validate(SPEC), "test")
    end_dt = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    end = end_dt.timestamp()
    start = end - 30 * DAY
    expected: dict[str, float] = {}
    bounds: dict[str, float] = {}
    raw: list[Series] = []
    for ns, traffic in TRAFFIC.items():
        series, good, total = _series(ns, traffic, start, end)
        raw += series
        expected[ns] = (1 - (1 - good / total) / slo.error_budget) * 100
    hist = BackfilledPrometheus(tools, work)
    hist.add_raw(raw)
    hist.start()
    wanted = {norm.histogram_series("ttft", p) for p in ("bucket", "count")}
    normalize = tuple(
        r for g in normalization_groups() for r in g.rules if isinstance(r, RecordingRule) and r.record in wanted
    )
    start_dt = datetime.fromtimestamp(start, UTC)
    last = end_dt - timedelta(minutes=10)
    groups = (
        RuleGroup("normalize", normalize),
        RuleGroup("sli", sli_rules(slo)),
        # the hourly group, on its own 1 h interval and the offset Prometheus would give it: its
        # hourly sums over the history, its window sums (a later pass, as they read them) at the end
        RuleGroup("hourly", (*hourly_rules(slo), *window_sum_rules(slo)), interval="1h"),
        RuleGroup("windows", window_rules(slo)),
        RuleGroup("budget", (budget_rule(slo),)),
    )
    starts = {r.record: end_dt - timedelta(hours=2) for r in window_sum_rules(slo)}
    starts |= {r.record: last for r in (*window_rules(slo), budget_rule(slo))}
    hist.backfill_groups(groups, start_dt, end_dt, starts=starts)
    try:
        tau = last_window_sum(hist.url, end_dt)
        at_tau = {}
        for ns, traffic in TRAFFIC.items():
            at_tau[ns] = budget_percent(*counts(traffic, start, tau - 30 * DAY, tau), slo.error_budget)
            bounds[ns] = edge_bound_pp(traffic, start, tau, end, slo.error_budget)
        yield hist.url, end_dt, slo, {"tau": at_tau, "end": expected, "bound": bounds}
    finally:
        hist.stop()


def test_budget_remaining_matches_raw_counts(history: tuple[str, datetime, SLO, dict[str, dict[str, float]]]) -> None:
    """slo_status's budget left per namespace equals good/total from the raw counters.

    Within 0.1 pp of the 30 days ending at the hourly group's last evaluation (the window the
    figure names), and within docs/slo.md's edge bound of the 30 days ending at the instant asked.
    """
    url, end, slo, expected = history
    rows = slo_status(PrometheusReader(PrometheusSettings(url=url)), [slo], end)
    got = {r.group["namespace"]: r for r in rows}
    assert set(got) == set(expected["end"])
    for ns, want in expected["tau"].items():
        row = got[ns]
        assert row.budget_remaining_percent is not None
        assert abs(row.budget_remaining_percent - want) < 0.1, (ns, row, want)
        off = abs(row.budget_remaining_percent - expected["end"][ns])
        assert off <= expected["bound"][ns] + 0.03, (ns, off, expected["bound"][ns])
        assert row.sli_percent is not None
        assert abs(row.sli_percent - (100 - (100 - row.budget_remaining_percent) / 100 * 0.5)) < 0.001
        assert row.burn_rate_page_long is not None and row.burn_rate_page_slow is not None
    # the two namespaces really differ, so a mix-up of groups would be caught
    assert abs(expected["end"]["team-a"] - expected["end"]["team-b"]) > 1


def test_cli_status_json_and_table(
    history: tuple[str, datetime, SLO, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    """`inferwatch slo status --output json --at` prints the same budgets; the table names every namespace."""
    url, end, _, expected = history
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 0}, "slos": [SPEC]}))
    at = end.isoformat()
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json", "--at", at])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {r["group"]["namespace"]: round(r["budget_remaining_percent"], 6) for r in rows} == pytest.approx(
        {ns: round(v, 6) for ns, v in expected["tau"].items()}, abs=0.1
    )
    assert all(r["state"] in ("ok", "ticket", "page", "exhausted") for r in rows)
    table = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--at", at])
    assert table.exit_code == 0, table.output
    assert "team-a" in table.stdout and "team-b" in table.stdout


def test_check_against_scraped_buckets(
    history: tuple[str, datetime, SLO, dict[str, dict[str, float]]], tmp_path: Path
) -> None:
    """`slo check --prometheus` accepts a scraped boundary ("1.0") and rejects one Prometheus does not hold."""
    url, _, _, _ = history
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["slo", "check", str(good), "--prometheus", url])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.yaml"
    # 0.5 is a vLLM default boundary, but this deployment's histogram has only 1.0 and 2.5
    bad.write_text(yaml.safe_dump({"slos": [{**SPEC, "sli": {"kind": "ttft", "threshold_seconds": 0.5}}]}))
    res = CliRunner().invoke(cli, ["slo", "check", str(bad), "--prometheus", url])
    assert res.exit_code == 2
    assert str(bad) in res.output and "SLO 'chat-ttft': sli.threshold_seconds" in res.output
    assert "scraped" in res.output


def test_status_unreachable_prometheus_exits_3(tmp_path: Path) -> None:
    """A Prometheus that does not answer: a clear error naming the URL, exit status 3."""
    from inferwatch.localstack.ports import free_port

    url = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 1, "retry_backoff_s": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status"])
    assert res.exit_code == 3
    assert url in res.output and "2 attempt(s)" in res.output
