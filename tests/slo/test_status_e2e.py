"""End to end: a real Prometheus holding a backfilled 30-day vLLM history with uneven traffic and an outage.

Raw vLLM histograms are backfilled with `promtool tsdb create-blocks-from openmetrics`; the SLO's
groups are then backfilled pass by pass, on their own intervals, around a 3-hour Prometheus
outage on day 25 (no scrape, no rule evaluation) with a 2-hour latency incident of team-b inside
it (tests/slo/history.py). `inferwatch slo status` must report the error budget an independent
count of every event gives — the outage's events included — within 0.1 percentage point, right
after the outage as at the end, and say that the window rests on a gap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.prom import PrometheusReader
from inferwatch.slo.model import SLO
from inferwatch.slo.status import StatusRow, slo_status
from inferwatch.tools import Toolbox
from tests.slo.history import (
    DAY,
    DAYS,
    OUTAGE,
    SPEC,
    TRAFFIC,
    budget_percent,
    counts,
    end_starts,
    figure_span,
    passes,
    raw_series,
    slo,
    spans,
    timed,
    utc,
)

# The 30-day backfill of the module fixture counts against the first test's time.
pytestmark = pytest.mark.timeout(1200)


@dataclass(frozen=True)
class History:
    """A running Prometheus over the history, and when the history starts."""

    url: str
    start: float
    slo: SLO

    def rows(self, at: datetime) -> dict[str, StatusRow]:
        """slo status per namespace at ``at``."""
        rows = slo_status(PrometheusReader(PrometheusSettings(url=self.url)), [self.slo], at)
        return {r.group["namespace"]: r for r in rows}

    def exact(self, ns: str, a: float, b: float) -> float:
        """The budget left (percent) from the exact count of ``ns``'s events in (a, b]."""
        return budget_percent(*counts(TRAFFIC[ns], self.start, a, b), self.slo.error_budget)


def build(tools: Toolbox, work: Path, end: datetime) -> BackfilledPrometheus:
    """The history up to ``end``: raw counters, then the SLO's groups around the outage and at two instants.

    The counters and checkpoints over 31 days come from range queries (a few blocks per pass);
    the groups that read the long windows are evaluated by promtool, at the times Prometheus
    would, where the tests look: 40 minutes from the end of the outage (Prometheus back) and up
    to ``end``.
    """
    s = slo()
    start = end.timestamp() - DAYS * DAY
    hist = BackfilledPrometheus(tools, work)
    hist.add_raw(
        [x for ns, traffic in TRAFFIC.items() for x in raw_series(ns, traffic, start, end.timestamp(), [OUTAGE])]
    )
    p = passes(s)
    for since, until in spans(utc(start), end, [OUTAGE]):
        hist.backfill_by_query(timed(p.throughout), since, until)
    hist.start()
    back = utc(start + OUTAGE[1] + 40 * 60)
    for at in (back, end):
        hist.backfill_groups(p.at_end, at - timedelta(minutes=40), at, starts=end_starts(s, at))
    return hist


@pytest.fixture(scope="module")
def history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[History, datetime]]:
    """A running Prometheus with the backfilled history, and the history's end."""
    end = datetime.now().astimezone().replace(second=0, microsecond=0) - timedelta(hours=1)
    hist = build(tools, tmp_path_factory.mktemp("slo-e2e"), end)
    try:
        yield History(hist.url, end.timestamp() - DAYS * DAY, slo()), end
    finally:
        hist.stop()


def _edge_pp(h: History, ns: str, span: tuple[float, float], end: float) -> float:
    """docs/slo.md's bound on |figure - exact count of the 30 days to ``end``| for a figure counting ``span``:
    the slices of the window outside the span, weighed by how their error ratio differs."""
    good_w, total_w = counts(TRAFFIC[ns], h.start, end - 30 * DAY, end)
    ratio_w = 1 - good_w / total_w
    bound = 0.0
    for a, b in ((end - 30 * DAY, span[0]), (span[1], end)):
        g, t = counts(TRAFFIC[ns], h.start, a, b)
        if t > 0:
            bound += (t / total_w) * abs((1 - g / t) - ratio_w)
    return 100 * bound / h.slo.error_budget


def test_budget_remaining_counts_every_event_through_the_outage(history: tuple[History, datetime]) -> None:
    """slo_status's budget left per namespace equals good/total of every event, the outage's included.

    Within 0.1 pp of the span the figure counts (its first to its last hourly checkpoint of the
    window), and within docs/slo.md's edge bound of the 30 days ending at the instant asked. The
    incident inside the outage moves team-b's budget by tens of points: losing it would show.
    """
    h, end = history
    rows = h.rows(end)
    assert set(rows) == set(TRAFFIC)
    for ns, span in figure_span(h.url, h.slo, end.timestamp()).items():
        row = rows[ns]
        assert row.budget_remaining_percent is not None
        assert abs(row.budget_remaining_percent - h.exact(ns, *span)) < 0.1, (ns, row, span)
        off = abs(row.budget_remaining_percent - h.exact(ns, end.timestamp() - 30 * DAY, end.timestamp()))
        assert off <= _edge_pp(h, ns, span, end.timestamp()) + 0.03, (ns, off)
        assert row.sli_percent is not None
        assert abs(row.sli_percent - (100 - (100 - row.budget_remaining_percent) / 100 * 0.5)) < 0.001
        assert row.burn_rate_page_long is not None and row.burn_rate_page_slow is not None
        # the window holds the outage: 3 h of 30 days unrecorded, the SLI and the budget rest on it
        assert row.coverage.covered_percent == pytest.approx(100 * (1 - 3 / 720), abs=0.01)
        assert row.coverage.on_gap == ("sli_percent", "budget_remaining_percent")
    # the incident inside the outage is worth tens of points of team-b's budget: losing it would show
    window = (end.timestamp() - 30 * DAY, end.timestamp())
    good, total = counts(TRAFFIC["team-b"], h.start, *window)
    lost_good, lost_total = counts(TRAFFIC["team-b"], h.start, h.start + OUTAGE[0], h.start + OUTAGE[1])
    without = budget_percent(good - lost_good, total - lost_total, h.slo.error_budget)
    assert without - h.exact("team-b", *window) > 15
    # the two namespaces really differ, so a mix-up of groups would be caught
    budgets = [rows[ns].budget_remaining_percent or 0.0 for ns in TRAFFIC]
    assert abs(budgets[0] - budgets[1]) > 1


def test_right_after_the_outage(history: tuple[History, datetime]) -> None:
    """40 minutes after Prometheus is back: the budget and the 6 h burn rate count the incident the
    outage held, and every figure over the gap is marked."""
    h, _ = history
    back = h.start + OUTAGE[1] + 40 * 60
    rows = h.rows(utc(back))
    b = rows["team-b"]
    span = figure_span(h.url, h.slo, back)["team-b"]
    assert b.budget_remaining_percent is not None
    assert abs(b.budget_remaining_percent - h.exact("team-b", *span)) < 0.1
    # the 6 h burn rate spans the outage: the incident's 30 % slow requests, not only the hour after
    # (the 5-minute checkpoints at its edges are at most 5 minutes from the window's)
    good, total = counts(TRAFFIC["team-b"], h.start, back - 6 * 3600, back)
    assert b.burn_rate_page_slow == pytest.approx((1 - good / total) / h.slo.error_budget, rel=0.02)
    assert b.burn_rate_page_slow is not None and b.burn_rate_page_slow > 6 * 3  # far above the page factor
    # the incident is over: the 30-minute and 1-hour windows after the outage are calm, no page;
    # the 3-day and 6-hour windows both hold it: a ticket
    assert b.burn_rate_page_long is not None and b.burn_rate_page_long < 6
    assert b.state in ("ticket", "exhausted")
    # the 1 h window still holds the outage's last 20 minutes
    assert b.coverage.on_gap == (
        "sli_percent",
        "budget_remaining_percent",
        "burn_rate_page_long",
        "burn_rate_page_slow",
    )


def test_cli_status_json_and_table(history: tuple[History, datetime], tmp_path: Path) -> None:
    """`inferwatch slo status --output json --at` prints the same budgets and the coverage; the table
    names every namespace and marks the figures resting on the gap."""
    h, end = history
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": h.url, "retries": 0}, "slos": [SPEC]}))
    at = end.isoformat()
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json", "--at", at])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    lib = h.rows(end)
    assert {r["group"]["namespace"]: r["budget_remaining_percent"] for r in rows} == pytest.approx(
        {ns: r.budget_remaining_percent for ns, r in lib.items()}, abs=1e-6
    )
    assert all(r["state"] in ("ok", "ticket", "page", "exhausted") for r in rows)
    assert all(r["coverage"]["on_gap"] == ["sli_percent", "budget_remaining_percent"] for r in rows)
    table = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--at", at])
    assert table.exit_code == 0, table.output
    assert "team-a" in table.stdout and "team-b" in table.stdout
    assert "99.6%" in table.stdout and "rests on a gap" in table.stdout


def test_check_against_scraped_buckets(history: tuple[History, datetime], tmp_path: Path) -> None:
    """`slo check --prometheus` accepts a scraped boundary ("1.0") and rejects one Prometheus does not hold."""
    h, end = history
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"slos": [SPEC]}))
    at = ["--at", end.isoformat()]
    res = CliRunner().invoke(cli, ["slo", "check", str(good), "--prometheus", h.url, *at])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.yaml"
    # 0.5 is a vLLM default boundary, but this deployment's histogram has only 1.0 and 2.5
    bad.write_text(yaml.safe_dump({"slos": [{**SPEC, "sli": {"kind": "ttft", "threshold_seconds": 0.5}}]}))
    res = CliRunner().invoke(cli, ["slo", "check", str(bad), "--prometheus", h.url, *at])
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
