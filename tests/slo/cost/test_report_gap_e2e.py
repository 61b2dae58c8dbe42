"""End to end: a Prometheus outage in the cost recording, on a real Prometheus (issue 27).

A four-hour history (Tuesday 10:00 to 14:00 of the report's week) with Prometheus down from 11:20 to
12:10: nothing scraped and no rule evaluated in between, the cost rules backfilled before and after
it, as a live Prometheus would have recorded them. No counter keeps the GPU time of the gap (GPU
allocations are gauges), so the report cannot count it; what it must do is claim no more than was
recorded and name the hours resting on the gap:

- its coverage is the cost rules' evaluations recorded, counted here from the TSDB's own heartbeat
  samples (before issue 27 it claimed 4 hours: any hour with a sample counted whole);
- the bill is the five GPUs' 15 EUR an hour over exactly those recorded hours;
- 11:00 and 12:00 are named as resting on a gap in every format, and the CLI says so;
- InferwatchCostRecordingGap's expression, on the same Prometheus an hour after the restart, holds
  for every cost group with reason `gap` and the seconds each recorded.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from inferwatch.alerts.groups.cost import recording_gap_expr
from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.conventions import cost as c
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.prom import PrometheusReader
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.layout import coverage_note
from inferwatch.slo.cost.render import report_paths
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.tools import Toolbox
from tests.slo.cost.history import PRICING, STEP, WEEK, build_history

pytestmark = pytest.mark.timeout(900)
START = WEEK.start + timedelta(days=1, hours=10)  # Tuesday 2026-11-10 10:00 UTC: hour 34 of the week
END = START + timedelta(hours=4, seconds=-1)
OUTAGE = (START + timedelta(hours=1, minutes=20), START + timedelta(hours=2, minutes=10))
GPU_PRICE_PER_HOUR = 4.0 + 4.0 + 4.0 + 2.0 + 1.0  # the five GPUs, held or idle: every hour recorded costs this
EVALUATIONS_PER_HOUR = 3600 / STEP


@pytest.fixture(scope="module")
def outage_history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """The four hours with the outage (built once for this module; always stopped)."""
    hist = build_history(tools, tmp_path_factory.mktemp("cost-outage"), START, END, outage=OUTAGE)
    try:
        yield hist
    finally:
        hist.stop()


def _recorded_per_hour(url: str, selector: str) -> dict[int, float]:
    """Hour of the week -> the share of it ``selector``'s series were recorded (the most of any), from the TSDB."""
    response = requests.post(
        f"{url}/api/v1/query", data={"query": f"{selector}[5h]", "time": f"{END.timestamp():.3f}"}, timeout=30
    )
    response.raise_for_status()
    counts: dict[int, int] = {}
    for series in response.json()["data"]["result"]:
        per_hour: dict[int, int] = {}
        for t, _ in series["values"]:
            hour = int((float(t) - WEEK.start.timestamp()) // 3600)
            per_hour[hour] = per_hour.get(hour, 0) + 1
        for hour, n in per_hour.items():
            counts[hour] = max(counts.get(hour, 0), n)
    return {hour: min(1.0, n / EVALUATIONS_PER_HOUR) for hour, n in counts.items()}


def test_the_report_claims_only_the_recorded_time_and_names_the_gap(
    outage_history: BackfilledPrometheus, tmp_path: Path
) -> None:
    recorded = _recorded_per_hour(outage_history.url, f'{c.RECORDING_HEARTBEAT}{{rule_group="{c.PRICED_GROUP}"}}')
    priced = _recorded_per_hour(outage_history.url, c.SKU_IDLE_GPU_SECONDS_RATE)
    assert sorted(recorded) == sorted(priced) == [34, 35, 36, 37]
    assert recorded[34] == recorded[37] == 1.0
    # 11:00-11:20 and 12:10-13:00, give or take the evaluation the restart costs.
    one = 1 / EVALUATIONS_PER_HOUR
    assert abs(recorded[35] - 1 / 3) <= one and abs(recorded[36] - 5 / 6) <= 2 * one
    # What was priced is what was recorded, but for the evaluation right after the restart (nothing scraped yet).
    assert all(0 <= recorded[h] - priced[h] <= one for h in recorded), (recorded, priced)

    report = collect_report(PrometheusReader(PrometheusSettings(url=outage_history.url)), WEEK, PRICING)
    hours = sum(recorded.values())
    assert report.coverage == {"default": pytest.approx(hours)} and report.observed_hours == pytest.approx(hours)
    assert report.gap_hours == {"default": {35: pytest.approx(recorded[35]), 36: pytest.approx(recorded[36])}}
    # The bill is the GPUs' price over the recorded time (one evaluation at the restart's edge aside).
    tolerance = GPU_PRICE_PER_HOUR / EVALUATIONS_PER_HOUR
    assert abs(float(report.total_cost) - GPU_PRICE_PER_HOUR * hours) <= tolerance, (report.total_cost, hours)
    assert all(ns.observed_hours == pytest.approx(hours) for ns in report.namespaces)

    config = tmp_path / "inferwatch.yaml"
    data = {"prometheus": {"url": outage_history.url, "retries": 0}, "pricing": PRICING.model_dump(mode="json")}
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", WEEK.label, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "with gaps in the recording" in result.output
    note = coverage_note(report)
    assert "Tue 2026-11-10 11:00 to 13:00" in note and "rests on a gap" in note
    paths = report_paths(out, WEEK)
    for ext in ("html", "md"):
        text = paths[ext].read_text()
        top = text[: text.index("Summary")]
        assert "Tue 2026-11-10 11:00 to 13:00" in top and "rests on a gap" in top, ext
    rows = list(csv.DictReader(paths["csv"].read_text().splitlines()))
    assert rows and all(float(r["x_ClusterObservedHours"]) == pytest.approx(hours, abs=1e-4) for r in rows)


def test_the_recording_gap_alert_holds_for_every_cost_group_after_the_restart(
    outage_history: BackfilledPrometheus,
) -> None:
    """An hour after the restart the last hour holds 50 of its 60 minutes at most: reason `gap`, every group."""
    at = START + timedelta(hours=3)  # 13:00: the window 12:00-13:00 lost 12:00-12:10
    response = requests.post(
        f"{outage_history.url}/api/v1/query",
        data={"query": recording_gap_expr(), "time": f"{at.timestamp():.3f}"},
        timeout=30,
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    groups = {g.name for g in cost_groups(PRICING)}
    assert {r["metric"][c.RULE_GROUP_LABEL] for r in result} == groups
    assert {r["metric"][c.GAP_REASON_LABEL] for r in result} == {c.GAP_REASON_GAP}
    for r in result:
        assert 2400 <= float(r["value"][1]) <= 3000, r  # 40 to 50 minutes of the last hour recorded
    # Once the last hour is whole again: quiet.
    assert _alert_at(outage_history.url, END - timedelta(minutes=1)) == {}
    # The history ends (every group stops): `stopped` two hours on, forgotten (removed) after a day.
    assert _alert_at(outage_history.url, END + timedelta(hours=2)) == dict.fromkeys(groups, c.GAP_REASON_STOPPED)
    assert _alert_at(outage_history.url, END + timedelta(days=1, minutes=5)) == {}


def _alert_at(url: str, at: datetime) -> dict[str, str]:
    """The cost groups for which InferwatchCostRecordingGap's expression holds at ``at``, with its reason."""
    response = requests.post(
        f"{url}/api/v1/query", data={"query": recording_gap_expr(), "time": f"{at.timestamp():.3f}"}, timeout=30
    )
    response.raise_for_status()
    return {r["metric"][c.RULE_GROUP_LABEL]: r["metric"][c.GAP_REASON_LABEL] for r in response.json()["data"]["result"]}
