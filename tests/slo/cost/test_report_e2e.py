"""End to end: the weekly cost report over a backfilled history on a real Prometheus.

The history (tests/slo/cost/history.py) has known GPU-hours and token counts, a time-sliced
GPU, a MIG instance, a GPU held on weekdays only and a GPU nobody holds, namespace labels, over
the report's week and the weekend of the week before. Every figure is recomputed twice,
independently of the report's code: from the history's own definition (held share x price x time,
by hand) and from Prometheus (the level-2 recorded cost series the dashboards read, queried
directly); and the files are checked against each other (every figure of the HTML and Markdown
is what the CSV's rows add up to). A second history of two hours, read with the first through a
central Prometheus as two clusters, makes one report across clusters.

Set INFERWATCH_WRITE_EXAMPLES=1 to copy the report this module renders into docs/examples/.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import CostReportSettings, PrometheusSettings
from inferwatch.config.pricing import IdlePolicy
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.ports import free_port
from inferwatch.prom import PrometheusReader
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.focus import validate_focus_csv
from inferwatch.slo.cost.focus_csv import custom_column_types
from inferwatch.slo.cost.layout import coverage_note
from inferwatch.slo.cost.ledger import LineKind
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.render import report_paths
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.tools import Toolbox
from tests.conftest import Starter
from tests.slo.cost.history import GPUS, HOLDINGS, LOOKBACK, NODES, PODS, PRICING, STEP, WEEK, build_history
from tests.slo.cost.recompute import assert_ties_out, csv_figures
from tests.support.misbehaving import Misbehaving

# Backfilling two histories and the cost rules pass by pass takes minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)
TOLERANCE = 0.005
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
SETTINGS = CostReportSettings(team_labels=["team"])


@pytest.fixture(scope="module")
def history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """The backfilled Prometheus of cluster eu-1 (built once for this module; always stopped)."""
    hist = build_history(tools, tmp_path_factory.mktemp("cost-history"), cluster="eu-1")
    try:
        yield hist
    finally:
        hist.stop()


def _grid() -> list[float]:
    """The evaluation grid of the week: [start, end) every STEP seconds."""
    s, e = WEEK.start.timestamp(), WEEK.end.timestamp()
    return [s + i * STEP for i in range(int((e - s) / STEP))]


def _price(gpu_uuid: str) -> float:
    model = next(g.model for g in GPUS if g.uuid == gpu_uuid)
    return PRICING.gpu_hour.get(model, PRICING.default_gpu_hour)


def _expected_pod_costs() -> dict[tuple[str, str], float]:
    """Held GPU cost by (namespace, pod): ratio x price x held time, summed over the week."""
    out: dict[tuple[str, str], float] = {}
    for t in _grid():
        for h in HOLDINGS:
            if h.held(t):
                held_sum = sum(x.ratio for x in HOLDINGS if x.gpu == h.gpu and x.held(t))
                share = h.ratio / max(held_sum, 1.0)
                key = (h.namespace, h.pod)
                out[key] = out.get(key, 0.0) + share * _price(h.gpu) / 3600 * STEP
    return out


def _expected_tokens() -> dict[tuple[str, str], float]:
    """Prompt + generation tokens by (namespace, pod)."""
    return {(p.namespace, p.name): sum((p.prompt(t) + p.generation(t)) * STEP for t in _grid()) for p in PODS}


def _close(actual: float | Decimal, expected: float, what: str) -> None:
    actual = float(actual)
    assert math.isfinite(actual), f"{what}: report has no value (expected {expected:.4f})"
    assert abs(actual - expected) <= TOLERANCE * abs(expected), f"{what}: report {actual:.4f}, by hand {expected:.4f}"


def _reader(url: str) -> PrometheusReader:
    return PrometheusReader(PrometheusSettings(url=url))


@pytest.fixture(scope="module")
def report(history: BackfilledPrometheus) -> CostReport:
    """The report of the history's week, straight from the library."""
    return collect_report(_reader(history.url), WEEK, PRICING, settings=SETTINGS)


def test_cost_per_namespace_and_per_million_tokens_match_hand_computation(report: CostReport) -> None:
    pod_costs = _expected_pod_costs()
    tokens = _expected_tokens()
    total = sum(_price(g.uuid) * 7 * 24 for g in GPUS)
    _close(report.total_cost, total, "cluster GPU cost")
    expected_ns = {ns for ns, _ in pod_costs}
    assert {ns.namespace for ns in report.namespaces} == expected_ns
    for ns in report.namespaces:
        cost = sum(v for (n, _), v in pod_costs.items() if n == ns.namespace)
        ns_tokens = sum(v for (n, _), v in tokens.items() if n == ns.namespace)
        _close(ns.cost, cost, f"{ns.namespace} cost")
        _close(ns.tokens, ns_tokens, f"{ns.namespace} tokens")
        _close(ns.per_mtok, cost / ns_tokens * 1e6, f"{ns.namespace} cost per 1M tokens")
        for m in ns.models:
            pods = [p.name for p in PODS if p.namespace == ns.namespace and p.model == m.model]
            if not pods:
                continue
            m_cost = sum(pod_costs[(ns.namespace, pod)] for pod in pods)
            m_tokens = sum(tokens[(ns.namespace, pod)] for pod in pods)
            _close(m.per_mtok, m_cost / m_tokens * 1e6, f"{ns.namespace}/{m.model} cost per 1M tokens")
    # The time-sliced GPU is split in halves, the MIG instance pays its 3/7 slice.
    by_ns = {ns.namespace: ns for ns in report.namespaces}
    _close(by_ns["team-b"].cost, 0.5 * 4.0 * 168, "team-b (half a time-sliced H100)")
    _close(by_ns["team-m"].cost, 3 / 7 * 2.0 * 168, "team-m (3/7 MIG slice of an A100)")
    _close(by_ns["team-c"].cost, 4.0 * 120, "team-c (weekdays only)")


def test_every_figure_ties_out_to_the_cent(report: CostReport) -> None:
    # Idle: GPU-C on the weekend, 4/7 of GPU-M, all of GPU-D.
    _close(report.idle_cost, 4.0 * 48 + 4 / 7 * 2.0 * 168 + 1.0 * 168, "idle cost")
    assert sum((ns.cost for ns in report.namespaces), Decimal(0)) + report.idle_cost == report.total_cost
    for ns in report.namespaces:
        assert sum((m.cost for m in ns.models), Decimal(0)) == ns.cost, ns.namespace
        # Every pod of the history serves a model: at most the minute a pod started is on no model.
        unattributed = ns.unattributed
        assert unattributed is None or unattributed.cost <= Decimal("0.20"), (ns.namespace, unattributed)
    assert sum((g.idle_cost for g in report.idle_gpus), Decimal(0)) == report.idle_cost
    _close(report.total_gpu_hours, len(GPUS) * 168, "GPU-hours")
    assert report.clusters == ("default",) and report.coverage == {"default": 168}
    assert report.price_note == ""  # the recorded level-1 cost agrees with the priced GPU-hours


def test_figures_from_prometheus_directly(history: BackfilledPrometheus, report: CostReport) -> None:
    """The level-2 cost series the dashboards read, asked without the report's queries, agree with the report."""
    samples = _reader(history.url).query(
        f"sum by (namespace) (sum_over_time(inferwatch:cost_allocated:rate[7d])) * {STEP}",
        at=WEEK.end - timedelta(milliseconds=1),
    )
    recorded = {s.labels["namespace"]: s.value for s in samples}
    assert recorded.keys() == {ns.namespace for ns in report.namespaces}
    for ns in report.namespaces:
        _close(ns.cost, recorded[ns.namespace], f"{ns.namespace}: report vs recorded cost series")
    idle = _reader(history.url).query(
        f"sum(sum_over_time(inferwatch:cost_gpu_idle:rate[7d])) * {STEP}", at=WEEK.end - timedelta(milliseconds=1)
    )
    _close(report.idle_cost, idle[0].value, "idle: report vs recorded cost series")


def test_usage_based_cost_and_waste(report: CostReport) -> None:
    by_ns = {ns.namespace: ns for ns in report.namespaces}
    _close(by_ns["team-b"].utilization, 0.6, "team-b utilization")
    # Waste is the unused share of held time, priced: half an H100 40 % idle all week.
    _close(by_ns["team-b"].unused_cost, 0.5 * 4.0 * 168 * 0.4, "team-b held but not busy")
    # GPU-A: 90 % busy 12 h a day, 40 % the other 12 h.
    _close(by_ns["team-a"].busy_gpu_hours, 7 * (12 * 0.9 + 12 * 0.4) + 0.5 * 0.6 * 168, "team-a busy GPU-hours")
    for ns in report.namespaces:
        _close(ns.usage_cost + ns.unused_cost, float(ns.allocated_cost), f"{ns.namespace} usage + unused = held")
    assert report.savings == report.idle_cost + report.unused_cost


def test_input_output_split_by_prefill_decode_time_with_token_fallback(report: CostReport) -> None:
    models = {(m.namespace, m.model): m for m in report.models}
    llama = models[("team-a", "meta-llama/Llama-3.1-70B")]
    _close(llama.input_cost, 0.25 * float(llama.cost), "prefill share 0.2 / (0.2 + 0.6)")
    # team-c has no prefill/decode histograms: cost splits by tokens, so both prices are equal.
    mistral = models[("team-c", "mistralai/Mistral-7B")]
    _close(mistral.input_per_mtok, mistral.output_per_mtok, "token fallback: input = output price")
    _close(mistral.input_per_mtok, mistral.per_mtok, "token fallback: input = blended price")


def test_idle_shared_by_gpu_cost_weight(history: BackfilledPrometheus, report: CostReport) -> None:
    shared = collect_report(
        _reader(history.url), WEEK, PRICING.model_copy(update={"idle_policy": IdlePolicy.SHARE}), with_previous=False
    )
    assert shared.total_cost == report.total_cost  # the bill does not depend on the policy
    assert sum((ns.cost for ns in shared.namespaces), Decimal(0)) == shared.total_cost
    a_sep = next(ns for ns in report.namespaces if ns.namespace == "team-a")
    a_shared = next(ns for ns in shared.namespaces if ns.namespace == "team-a")
    _close(a_shared.idle_share, float(shared.idle_cost * a_sep.allocated_cost / report.attributed_cost), "team-a share")
    for ns in shared.namespaces:
        assert sum((m.cost for m in ns.models), Decimal(0)) == ns.cost
        if len([m for m in ns.models if m.cost]) == 1:
            _close(ns.models[0].per_mtok, ns.per_mtok, f"{ns.namespace}: one model, one price")


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local HTTP receiver standing in for a Slack incoming webhook."""
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "inferwatch.yaml"
    data = {
        "prometheus": {"url": url, "retries": 0},
        "pricing": PRICING.model_dump(mode="json"),
        "cost_report": SETTINGS.model_dump(mode="json", exclude_none=True),
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_writes_identical_files_that_tie_out_and_posts_summary(
    history: BackfilledPrometheus, report: CostReport, tmp_path: Path, webhook: str
) -> None:
    config = _config(tmp_path, history.url)
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["-c", str(config), "cost", "report", "--week", WEEK.label, "--out", str(out)]
    first = runner.invoke(cli, [*args, "--webhook", webhook])
    assert first.exit_code == 0, first.output
    assert "FOCUS 1.3" in first.output
    paths = report_paths(out, WEEK)
    contents = {key: p.read_bytes() for key, p in paths.items()}
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert {key: p.read_bytes() for key, p in paths.items()} == contents
    html, md, csv_text = (contents[k].decode() for k in ("html", "md", "csv"))
    namespaces = ('xmlns="http://www.w3.org/2000/svg"', 'xmlns:xlink="http://www.w3.org/1999/xlink"')
    external = html
    for ns in namespaces:
        external = external.replace(ns, "")
    assert html.count("<svg") == 4 and "<script" not in html and "http://" not in external
    assert "Partial week" not in html
    assert validate_focus_csv(csv_text, "1.3", custom_column_types()) == []
    f = assert_ties_out(csv_text, md, html, "EUR", ("team",))
    assert f.bill == report.total_cost and f.teams["team"]["search"] > 0 and "(no team label)" in f.teams["team"]
    assert json.loads(contents["focus-metadata"])["Schema"]["FocusVersion"] == "1.3"
    assert len(_Receiver.received) == 1
    text = _Receiver.received[0]["text"]
    assert WEEK.label in text and "gpu-node-3" in text and "team-b" in text and "By team:" in text
    if os.environ.get("INFERWATCH_WRITE_EXAMPLES"):
        for p in paths.values():
            shutil.copyfile(p, EXAMPLES / p.name)
    # docs/examples holds a report of this history (rule evaluation offsets may move the last
    # digits of edge-of-gap token counts, so compare the figures, not the bytes).
    example = csv_figures((EXAMPLES / paths["csv"].name).read_text(), ("team",))
    assert example.namespaces.keys() == f.namespaces.keys()
    for key, cost in f.namespaces.items():
        _close(example.namespaces[key], float(cost), f"docs/examples {key}")
    older = runner.invoke(cli, [*args, "--focus-version", "1.2", "--out", str(tmp_path / "v12")])
    assert older.exit_code == 0, older.output
    v12 = report_paths(tmp_path / "v12", WEEK)
    assert validate_focus_csv(v12["csv"].read_text(), "1.2", custom_column_types()) == []
    assert json.loads(v12["focus-metadata"].read_text())["Schema"]["FocusVersion"] == "1.2"


def test_previous_week_compared_like_with_like(report: CostReport) -> None:
    comp = report.comparison
    # W45 has data for its weekend only (48 h): both weeks are compared over those hours.
    assert comp is not None and comp.previous_week.label == "2026-W45" and comp.hours == {"default": 48}
    _close(comp.previous_bill.total_cost, 15.0 * 48, "W45 bill: five GPUs for 48 h")
    _close(comp.current_bill.total_cost, 15.0 * 48, "W46 weekend: the same five GPUs")
    # Idle that weekend: GPU-C (weekdays only), half of GPU-B (team-b not there yet), 4/7 of GPU-M, GPU-D.
    _close(comp.previous_bill.idle_cost, 4.0 * 48 + 0.5 * 4.0 * 48 + 4 / 7 * 2.0 * 48 + 1.0 * 48, "W45 idle")
    moved = {ch.name: ch for ch in comp.namespace_changes()}
    # team-b arrived: new in the weekend too. team-c runs on weekdays, unobserved in W45: not new, not moved.
    assert moved["team-b"].status == "new" and "team-c" not in moved
    _close(moved["team-b"].delta, 0.5 * 4.0 * 48, "team-b: its first weekend")
    # team-a and team-m held the same both weekends: only the history's first minutes (rates warming up) differ.
    for name in ("team-a", "team-m"):
        if name in moved:
            assert abs(moved[name].delta) <= Decimal("0.005") * moved[name].current, moved[name]
    assert coverage_note(report) == ""  # this week is fully covered; the comparison says its hours itself


def test_savings_name_idle_gpus_and_underused_pods(history: BackfilledPrometheus, report: CostReport) -> None:
    # Listed one by one: GPUs idle an hour or more (GPU-B was half idle for the minute before team-b came).
    idle = {g.gpu_uuid: g for g in report.idle_gpus if g.idle_gpu_hours >= 1}
    assert set(idle) == {"GPU-C", "GPU-M", "GPU-D"}
    _close(idle["GPU-D"].idle_gpu_hours, 168, "GPU-D idle hours")
    _close(idle["GPU-D"].idle_cost, 168 * 1.0, "GPU-D idle cost")
    _close(idle["GPU-M"].idle_cost, 4 / 7 * 2.0 * 168, "GPU-M unheld slices")
    _close(idle["GPU-C"].idle_gpu_hours, 48, "GPU-C weekend")
    assert {g.node for g in idle.values()} == {NODES[u] for u in idle}
    assert idle["GPU-D"].gpu_model == "NVIDIA L4"
    assert [(p.namespace, p.pod) for p in report.low_utilization] == [("team-m", "m-0")]  # under 55 %
    # Under 62 %: a-1 and b-0 (GPU-B 60 % busy) and m-0 (50 %); a-0 (65 %) and c-0 (70 %) are not.
    low = collect_report(
        _reader(history.url), WEEK, PRICING.model_copy(update={"low_utilization": 0.62}), with_previous=False
    ).low_utilization
    assert {(p.namespace, p.pod) for p in low} == {("team-a", "a-1"), ("team-b", "b-0"), ("team-m", "m-0")}
    by_pod = {p.pod: p for p in low}
    _close(by_pod["m-0"].utilization, 0.5, "m-0 utilization")
    _close(by_pod["m-0"].cost, 3 / 7 * 2.0 * 168, "m-0 cost")
    _close(by_pod["b-0"].unused_cost, 0.5 * 4.0 * 168 * 0.4, "b-0: its unused share, not its whole cost")


@pytest.fixture(scope="module")
def short_history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """Two clock hours of data on the Tuesday of the report's week, nothing else: cluster us-1."""
    start = WEEK.start + timedelta(days=1, hours=10)
    hist = build_history(
        tools, tmp_path_factory.mktemp("cost-short"), start, start + timedelta(hours=2, seconds=-1), cluster="us-1"
    )
    try:
        yield hist
    finally:
        hist.stop()


def test_two_hours_of_history_show_coverage_and_observed_figures(
    short_history: BackfilledPrometheus, tmp_path: Path
) -> None:
    report = collect_report(_reader(short_history.url), WEEK, PRICING)
    assert report.observed_hours == 2 and not report.full_coverage and report.comparison is None
    # Observed: 5 GPUs (4 + 4 + 4 + 2 + 1 EUR/h) for about two hours, not 168 hours.
    assert 15.0 * 2 * 0.9 <= report.total_cost <= 15.0 * 2 * 1.01, report.total_cost
    assert all(ns.observed_hours == 2 for ns in report.namespaces)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["-c", str(_config(tmp_path, short_history.url)), "cost", "report", "--week", WEEK.label, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "partial week: data for 2 of 168 hours" in result.output
    paths = report_paths(out, WEEK)
    note = "Partial week: data for 2 of 168 hours"
    for ext in ("html", "md"):
        text = paths[ext].read_text()
        assert note in text[: text.index("Summary")], f"{ext}: no coverage note at the top"
    rows = list(csv.DictReader(paths["csv"].read_text().splitlines()))
    assert rows and all(r["x_ClusterObservedHours"] == "2" and r["x_PeriodHours"] == "168" for r in rows)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == report.total_cost
    assert_ties_out(paths["csv"].read_text(), paths["md"].read_text(), paths["html"].read_text(), "EUR", ("team",))


def test_one_report_across_two_clusters(
    history: BackfilledPrometheus, short_history: BackfilledPrometheus, tmp_path: Path, prometheus_factory: Starter
) -> None:
    """A central Prometheus reads both clusters' Prometheus remotely; each answers with its cluster label."""
    config = tmp_path / "central.yml"
    remote = [{"url": f"{h.url}/api/v1/read", "read_recent": True} for h in (history, short_history)]
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}, "remote_read": remote}))
    central = prometheus_factory(config, tmp_path / "central", extra_args=[f"--query.lookback-delta={LOOKBACK}"])
    both = collect_report(_reader(central.url), WEEK, PRICING, settings=SETTINGS, with_previous=False)
    eu = collect_report(_reader(history.url), WEEK, PRICING, settings=SETTINGS, with_previous=False)
    us = collect_report(_reader(short_history.url), WEEK, PRICING, settings=SETTINGS, with_previous=False)
    assert both.clusters == ("eu-1", "us-1") and both.coverage == {"eu-1": 168, "us-1": 2}
    assert both.total_cost == eu.total_cost + us.total_cost
    for cluster, alone in (("eu-1", eu), ("us-1", us)):
        costs = {ns.namespace: ns.cost for ns in both.namespaces if ns.cluster == cluster}
        assert costs == {ns.namespace: ns.cost for ns in alone.namespaces}, cluster
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["-c", str(_config(tmp_path, central.url)), "cost", "report", "--week", WEEK.label, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    paths = report_paths(out, WEEK)
    f = assert_ties_out(paths["csv"].read_text(), paths["md"].read_text(), paths["html"].read_text(), "EUR", ("team",))
    assert f.clusters == {"eu-1", "us-1"}
    rows = f.rows
    assert all(r["ResourceId"].startswith(r["x_Cluster"] + "/") for r in rows)
    assert all(r["SubAccountId"].startswith(r["x_Cluster"] + "/") for r in rows if r["x_CostKind"] != "idle")
    ids = [(r["ResourceId"], r["SubAccountId"], r["x_Model"], r["x_CostKind"]) for r in rows]
    assert len(ids) == len(set(ids))  # the two clusters' rows do not collide
    assert {ln.kind for ln in both.lines if ln.cluster == "us-1"} == {LineKind.HELD, LineKind.IDLE}


def test_week_without_data_exits_4_and_writes_nothing(history: BackfilledPrometheus, tmp_path: Path) -> None:
    config = _config(tmp_path, history.url)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", "2026-W30", "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert "no cost series" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_html_answer_is_not_prometheus_exits_3_and_writes_nothing(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "html"
    out = tmp_path / "out"
    config = _config(tmp_path, misbehaving_prometheus)
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", WEEK.label, "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert f"not a Prometheus API answer from {misbehaving_prometheus}" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_http_500_is_retried_then_exits_3_and_writes_nothing(misbehaving_prometheus: str, tmp_path: Path) -> None:
    """HTTP 500 is retried like 503 (1 + 2 retries), then exit 3 naming the URL; no report is written."""
    Misbehaving.mode = "500"
    config = tmp_path / "inferwatch.yaml"
    settings = {"url": misbehaving_prometheus, "retries": 2, "retry_backoff_s": 0}
    config.write_text(yaml.safe_dump({"prometheus": settings}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", WEEK.label, "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert misbehaving_prometheus in result.output and "3 attempt(s)" in result.output, result.output
    assert Misbehaving.hits == 3
    assert "Traceback" not in result.output and not out.exists()


def test_unreachable_prometheus_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path, f"http://127.0.0.1:{free_port()}")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", "2026-W46", "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert not out.exists()


def test_bad_week_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cost", "report", "--week", "2026-W54", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no ISO week 54" in result.output
    assert IsoWeek.parse("2026-W47").start.isoformat() == "2026-11-16T00:00:00+00:00"
