"""A real Prometheus stopped and restarted on its own TSDB while vLLM's counters go on, an incident inside.

A day of history is backfilled (raw counters, the SLO's checkpoints); then Prometheus runs live
over it, scraping a vLLM stand-in whose counters follow the history's traffic exactly, with the
generated rules loaded. The process is stopped for seven and a half minutes — no scrape, no rule
evaluation — across the 5 minutes of the hour whose checkpoint-group run takes the hourly
checkpoint (the rules under test put them there: an hourly boundary crossed) while
team-b has a latency incident, and started again on the same data. Right after the restart
`slo status` exits 0 and marks its figures as resting on a gap; once the long windows are summed
again from checkpoints taken after the restart the budget equals the exact count of events, the
stop's included, within 0.1 percentage point, and the 6-hour burn rate holds the incident.

A checkpoint taken at t holds the counter as the normalized-counter group last read it, which read
the last scrape: up to `PIPELINE_LAG_S` before t. The exact count runs to the last checkpoint's
timestamp, so that checkpoint must come late enough after the incident for the lag to cover
normal traffic only (team-b's steady 0.5 requests a second, whose lag is the same at both ends of
the span): one minute of the incident missing from the last checkpoint is 4.1 pp of budget. So
the incident ends `INCIDENT_BEFORE_RESTART_S` before the restart, and every checkpoint after the
restart holds all of it.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.conventions import slo as c
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.prom import PrometheusReader
from inferwatch.promql import selector
from inferwatch.rules import to_prometheus_yaml
from inferwatch.slo.checkpoints import COARSE_LAG
from inferwatch.slo.model import SLO
from inferwatch.slo.rules import slo_rule_file
from inferwatch.slo.status import slo_status
from inferwatch.slo.windows import CHECKPOINT_INTERVAL, COUNTER_INTERVAL, LONG_WINDOWS_INTERVAL, parse_duration
from inferwatch.tools import Toolbox
from tests.slo.history import (
    DAY,
    SPEC,
    STEP,
    TRAFFIC,
    Traffic,
    budget_percent,
    counts,
    figure_span,
    passes,
    raw_series,
    timed,
    utc,
)
from tests.slo.history import slo as history_slo

pytestmark = pytest.mark.timeout(2400)

REPO = Path(__file__).resolve().parents[2]
HISTORY_S = DAY
STOP_S = 450
# Seconds from the stop to the start of team-b's incident, and from its end to the restart.
INCIDENT_AFTER_STOP_S = 30
INCIDENT_BEFORE_RESTART_S = 180
# How far a checkpoint's value can trail its timestamp: the normalized-counter group's interval
# (the checkpoint reads its last sample) plus the scrape interval (that sample read the last
# scrape), and 15 s for the groups' own timing.
PIPELINE_LAG_S = (COUNTER_INTERVAL + parse_duration(LocalStack.scrape_interval)).total_seconds() + 15


@dataclass
class Incidents:
    """Team-b's live incident, set once the stop is planned: (start, end) in unix seconds."""

    b: tuple[float, float] = (math.inf, math.inf)


@dataclass
class Live:
    """The traffic of the live part: the history's, and the planned incident."""

    start: float
    incidents: Incidents = field(default_factory=Incidents)

    def traffic(self, ns: str) -> Traffic:
        base = TRAFFIC[ns]

        def traffic(rel: float) -> tuple[float, float]:
            rate, bad = base(rel)
            a, b = self.incidents.b
            if ns == "team-b" and a <= self.start + rel < b:
                return rate, 0.3
            return rate, bad

        return traffic

    def counts(self, ns: str, a: float, b: float) -> tuple[float, float]:
        """Good and total events of ``ns`` in (a, b], as its counters count them."""
        return counts(self.traffic(ns), self.start, a, b)


class Exposition(BaseHTTPRequestHandler):
    """vLLM's TTFT histogram of both namespaces, its counters integrating the traffic up to now."""

    live: Live

    def do_GET(self) -> None:
        now = time.time()
        lines = []
        for ns in TRAFFIC:
            good, total = self.live.counts(ns, self.live.start, now)
            labels = f'namespace="{ns}",model_name="qwen",pod="{ns}-vllm-0"'
            name = "vllm:time_to_first_token_seconds"
            for le, value in (("1.0", good), ("2.5", total), ("+Inf", total)):
                lines.append(f'{name}_bucket{{{labels},le="{le}"}} {value!r}')
            lines.append(f"{name}_count{{{labels}}} {total!r}")
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no line per scrape."""


@dataclass
class Stack:
    """The live Prometheus, its stand-in target and the planned stop."""

    prom: BackfilledPrometheus
    live: Live
    stopped: float = 0.0
    restarted: float = 0.0
    early_status: list[dict[str, object]] = field(default_factory=list)
    early_exit: int = -1

    @property
    def url(self) -> str:
        return self.prom.url


def _live_config(work: Path, target: str, coarse_minute: int) -> Path:
    """The generated SLO rules (coarse checkpoints on ``coarse_minute``) and normalization rules, and the scrape."""
    rules = work / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "slo-rules.yaml").write_text(
        to_prometheus_yaml(slo_rule_file([history_slo()], coarse_phase_minutes=coarse_minute))
    )
    (rules / "normalize.yaml").write_text((REPO / "alerts/generated/normalize.yaml").read_text())
    stack = LocalStack(
        targets=(ScrapeTarget(job="vllm", address=target, honor_labels=True),),
        rule_files=(str(rules / "slo-rules.yaml"), str(rules / "normalize.yaml")),
    )
    config = work / "live-prometheus.yml"
    config.write_text(render_yaml(stack))
    return config


def _recorded_since(url: str, record: str, since: float) -> bool:
    """Whether the SLO's ``record`` has a series for every namespace (at least), each recorded after ``since``."""
    sel = selector(record, {c.SLO_LABEL: str(SPEC["name"])})
    answer = httpx.get(f"{url}/api/v1/query", params={"query": f"timestamp({sel})"}, timeout=10).json()
    times = [float(r["value"][1]) for r in answer["data"]["result"]]
    return len(times) >= len(TRAFFIC) and min(times) > since


def _figure_ends_after(url: str, s: SLO, t: float) -> bool:
    """Whether ``s``'s window figure, as last summed, counts up to a checkpoint after ``t`` in every namespace."""
    try:
        spans = figure_span(url, s, time.time())
    except ValueError:  # no window summed yet
        return False
    return len(spans) >= len(TRAFFIC) and min(end for _, end in spans.values()) > t


def _status_cli(url: str, tmp: Path) -> tuple[int, list[dict[str, object]]]:
    config = tmp / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", "--output", "json"])
    return res.exit_code, json.loads(res.stdout) if res.exit_code in (0, 4) else []


@pytest.fixture(scope="module")
def stack(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """History, live Prometheus, a 7.5-minute stop with the incident inside, and the restart."""
    work = tmp_path_factory.mktemp("slo-restart")
    s = history_slo()
    history_end = (time.time() // STEP) * STEP - STEP
    live = Live(start=history_end - HISTORY_S)
    prom = BackfilledPrometheus(tools, work, port=free_port())
    prom.add_raw([x for ns in TRAFFIC for x in raw_series(ns, live.traffic(ns), live.start, history_end)])
    prom.backfill_by_query(timed(passes(s).throughout), utc(live.start), utc(history_end))
    Exposition.live = live
    server = ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # plan: about a minute live, then the stop; the 5 minutes whose checkpoint-group run takes the
    # hourly checkpoint within it (from the first whole minute a minute or more after the stop)
    stop_at = time.time() + 90
    coarse_minute = datetime.fromtimestamp(stop_at + 120, UTC).minute
    assert (coarse_minute * 60 - stop_at) % 3600 + CHECKPOINT_INTERVAL.total_seconds() < STOP_S
    live.incidents.b = (stop_at + INCIDENT_AFTER_STOP_S, stop_at + STOP_S - INCIDENT_BEFORE_RESTART_S)
    prom.config_file = _live_config(work, f"127.0.0.1:{server.server_address[1]}", coarse_minute)
    out = Stack(prom, live)
    try:
        prom.start()
        time.sleep(max(0.0, stop_at - time.time()))
        out.stopped = time.time()
        prom.stop()
        time.sleep(STOP_S)
        prom.start()
        out.restarted = time.time()
        # right after the restart: the checkpoint group's first run (within its interval), the main group's, slo status
        counted = c.TOTAL_CHECKPOINT_FINE
        first_run = CHECKPOINT_INTERVAL.total_seconds() + 60
        wait_for(lambda: _recorded_since(out.url, counted, out.restarted), "checkpoints", timeout=first_run, interval=2)
        time.sleep(20)
        out.early_exit, out.early_status = _status_cli(out.url, work)
        # then the long windows, summed by a run of their group after the first checkpoint after the
        # restart was copied to the hourly ones (a run later), which holds the incident's last minute
        summed = c.TOTAL_EVENTS_WINDOW
        held = live.incidents.b[1] + STEP + PIPELINE_LAG_S
        assert held < out.restarted
        runs = 2 * CHECKPOINT_INTERVAL.total_seconds() + LONG_WINDOWS_INTERVAL.total_seconds() + 120
        wait_for(
            lambda: _recorded_since(out.url, summed, out.restarted + 90) and _figure_ends_after(out.url, s, held),
            "long windows",
            timeout=runs,
            interval=5,
        )
        # and the budget, by the next run of the SLO group after them (every minute)
        summed_at = time.time()
        budget = c.ERROR_BUDGET_REMAINING
        wait_for(lambda: _recorded_since(out.url, budget, summed_at), "budget", timeout=120, interval=2)
        yield out
    finally:
        prom.stop()
        server.shutdown()


def test_right_after_the_restart_status_answers_and_marks_the_gap(stack: Stack) -> None:
    """No exit 4 while burn rates show, and every figure says it rests on the gap just ended."""
    assert stack.early_exit == 0, stack.early_status
    assert {r["group"]["namespace"] for r in stack.early_status} == set(TRAFFIC)  # type: ignore[index]
    for row in stack.early_status:
        coverage = row["coverage"]
        assert isinstance(coverage, dict)
        assert set(coverage["on_gap"]) >= {"sli_percent", "budget_remaining_percent"}, row


def test_the_stop_crossed_a_coarse_checkpoint_and_the_budget_counts_every_event(stack: Stack) -> None:
    """The hourly checkpoint of the stopped minute was never taken; the budget still counts the stop's
    events (team-b's incident), within 0.1 pp of the exact count, and the 6 h burn rate holds them."""
    checkpoints = selector(c.TOTAL_CHECKPOINT_COARSE, {c.SLO_LABEL: str(SPEC["name"])})
    answer = httpx.post(
        f"{stack.url}/api/v1/query",
        data={"query": f"{checkpoints}[30m]", "time": f"{stack.restarted + 60 + 2 * COARSE_LAG.total_seconds():.3f}"},
    ).json()
    times = [float(t) for r in answer["data"]["result"] for t, _ in r["values"]]
    assert times and not any(stack.stopped < t < stack.restarted for t in times), times
    now = time.time()
    s = history_slo()
    rows = {
        r.group["namespace"]: r
        for r in slo_status(PrometheusReader(PrometheusSettings(url=stack.url)), [s], datetime.fromtimestamp(now, UTC))
    }
    spans = figure_span(stack.url, s, now)
    for ns, span in spans.items():
        want = budget_percent(*stack.live.counts(ns, *span), s.error_budget)
        got = rows[ns].budget_remaining_percent
        assert got is not None and abs(got - want) < 0.1, (ns, got, want, span)
        assert span[0] < stack.stopped and span[1] > stack.restarted  # the stop lies inside the span
    lost_good, lost_total = stack.live.counts("team-b", stack.stopped, stack.restarted)
    good, total = stack.live.counts("team-b", *spans["team-b"])
    without = budget_percent(good - lost_good, total - lost_total, s.error_budget)
    assert without - (rows["team-b"].budget_remaining_percent or 0.0) > 1  # the stop's events matter
    good6, total6 = stack.live.counts("team-b", now - 6 * 3600, now)
    burn6 = rows["team-b"].burn_rate_page_slow
    assert burn6 is not None and burn6 == pytest.approx((1 - good6 / total6) / s.error_budget, rel=0.05)
    assert rows["team-b"].coverage.on_gap  # the hour holds the stop
    assert rows["team-a"].state in ("ok", "ticket", "page", "exhausted")


def test_the_gap_alert_is_pending(stack: Stack) -> None:
    """InferwatchSLORecordingGap holds (reason gap) once the coverage shows the stop; it fires after its `for:`."""
    answer = httpx.get(
        f"{stack.url}/api/v1/query",
        params={"query": f'ALERTS{{alertname="{c.ALERT_RECORDING_GAP}",{c.GAP_REASON_LABEL}="{c.GAP_REASON_GAP}"}}'},
        timeout=10,
    ).json()
    states = {r["metric"]["alertstate"] for r in answer["data"]["result"]}
    assert states & {"pending", "firing"}, answer
    assert timedelta(seconds=stack.restarted - stack.stopped) >= timedelta(seconds=STOP_S)
