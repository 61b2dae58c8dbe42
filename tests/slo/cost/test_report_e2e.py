"""End to end: the weekly cost report over a backfilled history on a real Prometheus.

The history (tests/slo/cost/history.py) has known GPU-hours and token counts, a time-sliced
GPU, a MIG instance, a GPU held on weekdays only and a GPU nobody holds, over the report's week
and the week before. Cost per namespace and $/1M tokens are computed here by hand from the same
definitions and must match the report within 0.5 %; namespaces plus idle must add up to the
cluster's GPU cost. A second history of only two hours shows the coverage note and the observed
(not extrapolated) figures.

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
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.config.pricing import IdlePolicy
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.ports import free_port
from inferwatch.prom import PrometheusReader
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.columns import coverage_note
from inferwatch.slo.cost.focus import validate_focus_csv
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.render import custom_column_types, report_paths
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.tools import Toolbox
from tests.slo.cost.history import GPUS, HOLDINGS, NODES, PODS, PRICING, STEP, WEEK, build_history
from tests.support.misbehaving import Misbehaving

# Backfilling two histories and the cost rules pass by pass takes minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)
TOLERANCE = 0.005
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


@pytest.fixture(scope="module")
def history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """The backfilled Prometheus (built once for this module; always stopped)."""
    hist = build_history(tools, tmp_path_factory.mktemp("cost-history"))
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


def _close(actual: float, expected: float, what: str) -> None:
    assert math.isfinite(actual), f"{what}: report has no value (expected {expected:.4f})"
    assert abs(actual - expected) <= TOLERANCE * abs(expected), f"{what}: report {actual:.4f}, by hand {expected:.4f}"


@pytest.fixture(scope="module")
def report(history: BackfilledPrometheus) -> CostReport:
    """The report of the history's week, straight from the library."""
    return collect_report(PrometheusReader(PrometheusSettings(url=history.url)), WEEK, PRICING)


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
            m_cost = sum(pod_costs[(ns.namespace, pod)] for pod in pods)
            m_tokens = sum(tokens[(ns.namespace, pod)] for pod in pods)
            _close(m.per_mtok, m_cost / m_tokens * 1e6, f"{ns.namespace}/{m.model} cost per 1M tokens")
    # The time-sliced GPU is split in halves, the MIG instance pays its 3/7 slice.
    by_ns = {ns.namespace: ns for ns in report.namespaces}
    _close(by_ns["team-b"].cost, 0.5 * 4.0 * 168, "team-b (half a time-sliced H100)")
    _close(by_ns["team-m"].cost, 3 / 7 * 2.0 * 168, "team-m (3/7 MIG slice of an A100)")
    _close(by_ns["team-c"].cost, 4.0 * 120, "team-c (weekdays only)")


def test_namespaces_plus_idle_reconcile_to_the_cluster_bill(report: CostReport) -> None:
    # Idle: GPU-C on the weekend, 4/7 of GPU-M, all of GPU-D.
    _close(report.idle_cost, 4.0 * 48 + 4 / 7 * 2.0 * 168 + 1.0 * 168, "idle cost")
    _close(report.attributed_cost + report.idle_cost, report.total_cost, "namespaces + idle")
    _close(report.total_gpu_hours, len(GPUS) * 168, "GPU-hours")


def test_usage_based_cost_is_utilization_times_allocated(report: CostReport) -> None:
    by_ns = {ns.namespace: ns for ns in report.namespaces}
    _close(by_ns["team-b"].utilization, 0.6, "team-b utilization")
    _close(by_ns["team-b"].usage_cost, 0.6 * by_ns["team-b"].allocated_cost, "team-b usage cost")
    # GPU-A: 90 % busy 12 h a day, 40 % the other 12 h.
    _close(by_ns["team-a"].busy_gpu_hours, 7 * (12 * 0.9 + 12 * 0.4) + 0.5 * 0.6 * 168, "team-a busy GPU-hours")
    for ns in report.namespaces:
        _close(ns.usage_cost / ns.allocated_cost, ns.utilization, f"{ns.namespace} usage/allocated")


def test_input_output_split_by_prefill_decode_time_with_token_fallback(report: CostReport) -> None:
    models = {(m.namespace, m.model): m for ns in report.namespaces for m in ns.models}
    llama = models[("team-a", "meta-llama/Llama-3.1-70B")]
    _close(llama.input_cost, 0.25 * llama.allocated_cost, "prefill share 0.2 / (0.2 + 0.6)")
    # team-c has no prefill/decode histograms: cost splits by tokens, so both prices are equal.
    mistral = models[("team-c", "mistralai/Mistral-7B")]
    _close(mistral.input_per_mtok, mistral.output_per_mtok, "token fallback: input = output price")
    _close(mistral.input_per_mtok, mistral.per_mtok, "token fallback: input = blended price")


def test_idle_shared_by_gpu_cost_weight(history: BackfilledPrometheus, report: CostReport) -> None:
    shared = collect_report(
        PrometheusReader(PrometheusSettings(url=history.url)),
        WEEK,
        PRICING.model_copy(update={"idle_policy": IdlePolicy.SHARE}),
    )
    _close(sum(ns.cost for ns in shared.namespaces), shared.total_cost, "shared: namespaces = whole bill")
    a_sep = next(ns for ns in report.namespaces if ns.namespace == "team-a")
    a_shared = next(ns for ns in shared.namespaces if ns.namespace == "team-a")
    _close(a_shared.idle_share, shared.idle_cost * a_sep.allocated_cost / report.attributed_cost, "team-a idle share")


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
    data = {"prometheus": {"url": url, "retries": 0}, "pricing": PRICING.model_dump(mode="json")}
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_writes_identical_files_on_rerun_and_posts_summary(
    history: BackfilledPrometheus, tmp_path: Path, webhook: str
) -> None:
    config = _config(tmp_path, history.url)
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["-c", str(config), "cost", "report", "--week", WEEK.label, "--out", str(out)]
    first = runner.invoke(cli, [*args, "--webhook", webhook])
    assert first.exit_code == 0, first.output
    paths = report_paths(out, WEEK)
    contents = {ext: p.read_bytes() for ext, p in paths.items()}
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert {ext: p.read_bytes() for ext, p in paths.items()} == contents
    html = contents["html"].decode()
    namespaces = ('xmlns="http://www.w3.org/2000/svg"', 'xmlns:xlink="http://www.w3.org/1999/xlink"')
    external = html
    for ns in namespaces:
        external = external.replace(ns, "")
    assert html.count("<svg") == 4 and "<script" not in html and "http://" not in external
    assert "Partial week" not in html and "team-a" in contents["md"].decode()
    csv_text = contents["csv"].decode()
    assert validate_focus_csv(csv_text, custom_column_types()) == []
    assert len(_Receiver.received) == 1
    text = _Receiver.received[0]["text"]
    assert WEEK.label in text and "gpu-node-3" in text and "team-b" in text
    if os.environ.get("INFERWATCH_WRITE_EXAMPLES"):
        for p in paths.values():
            shutil.copyfile(p, EXAMPLES / p.name)
    # docs/examples holds a report of this history (rule evaluation offsets may move the last
    # digits of edge-of-gap token counts, so compare the figures, not the bytes).
    example_text = (EXAMPLES / paths["csv"].name).read_text()
    assert validate_focus_csv(example_text, custom_column_types()) == []
    example_rows = list(csv.DictReader(example_text.splitlines()))
    rows = list(csv.DictReader(csv_text.splitlines()))
    assert [r["SubAccountId"] for r in example_rows] == [r["SubAccountId"] for r in rows]
    for ex, row in zip(example_rows, rows, strict=True):
        _close(float(ex["BilledCost"]), float(row["BilledCost"]), f"docs/examples {row['SubAccountId']}")
    assert (EXAMPLES / paths["html"].name).is_file() and (EXAMPLES / paths["md"].name).is_file()


def test_previous_week_compared_and_movers_named(report: CostReport) -> None:
    prev = report.previous
    # W45 has data for its weekend only (48 h): observed figures, with the coverage said.
    assert prev is not None and prev.week.label == "2026-W45" and prev.observed_hours == 48
    _close(prev.total_cost, 15.0 * 48, "W45 bill: five GPUs for 48 h")
    # Idle that weekend: GPU-C (weekdays only), half of GPU-B (team-b not there yet), 4/7 of GPU-M, GPU-D.
    _close(prev.idle_cost, 4.0 * 48 + 0.5 * 4.0 * 48 + 4 / 7 * 2.0 * 48 + 1.0 * 48, "W45 idle cost")
    moved = {ch.namespace: ch for ch in report.namespace_changes()}
    assert set(moved) == {"team-a", "team-b", "team-c", "team-m"}
    _close(moved["team-b"].delta, 0.5 * 4.0 * 168, "team-b: new this week")
    _close(moved["team-a"].delta, 1.5 * 4.0 * (168 - 48), "team-a: a full week against a weekend")
    assert "previous week 2026-W45 had data for 48 of 168 hours" in coverage_note(report)


def test_savings_name_idle_gpus_and_underused_pods(history: BackfilledPrometheus, report: CostReport) -> None:
    idle = {g.gpu_uuid: g for g in report.idle_gpus}
    assert set(idle) == {"GPU-C", "GPU-M", "GPU-D"}
    _close(idle["GPU-D"].idle_gpu_hours, 168, "GPU-D idle hours")
    _close(idle["GPU-D"].idle_cost, 168 * 1.0, "GPU-D idle cost")
    _close(idle["GPU-M"].idle_cost, 4 / 7 * 2.0 * 168, "GPU-M unheld slices")
    _close(idle["GPU-C"].idle_gpu_hours, 48, "GPU-C weekend")
    assert {g.node for g in report.idle_gpus} == {NODES[u] for u in idle}
    assert idle["GPU-D"].gpu_model == "NVIDIA L4"
    assert [(p.namespace, p.pod) for p in report.low_utilization] == [("team-m", "m-0")]  # under 55 %
    # Under 62 %: a-1 and b-0 (GPU-B 60 % busy) and m-0 (50 %); a-0 (65 %) and c-0 (70 %) are not.
    low = collect_report(
        PrometheusReader(PrometheusSettings(url=history.url)),
        WEEK,
        PRICING.model_copy(update={"low_utilization": 0.62}),
        with_previous=False,
    ).low_utilization
    assert {(p.namespace, p.pod) for p in low} == {("team-a", "a-1"), ("team-b", "b-0"), ("team-m", "m-0")}
    by_pod = {p.pod: p for p in low}
    _close(by_pod["m-0"].utilization, 0.5, "m-0 utilization")
    _close(by_pod["m-0"].cost, 3 / 7 * 2.0 * 168, "m-0 cost")
    _close(by_pod["b-0"].cost, 0.5 * 4.0 * 168, "b-0 cost")


def test_shared_idle_gives_namespace_and_its_model_one_price(history: BackfilledPrometheus) -> None:
    shared = collect_report(
        PrometheusReader(PrometheusSettings(url=history.url)),
        WEEK,
        PRICING.model_copy(update={"idle_policy": IdlePolicy.SHARE}),
        with_previous=False,
    )
    for ns in shared.namespaces:
        _close(sum(m.cost for m in ns.models), ns.cost, f"{ns.namespace}: models carry the namespace's cost")
        if len(ns.models) == 1:
            _close(ns.models[0].per_mtok, ns.per_mtok, f"{ns.namespace}: one model, one price")


@pytest.fixture(scope="module")
def short_history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """Two clock hours of data on the Tuesday of the report's week, nothing else."""
    start = WEEK.start + timedelta(days=1, hours=10)
    hist = build_history(tools, tmp_path_factory.mktemp("cost-short"), start, start + timedelta(hours=2, seconds=-1))
    try:
        yield hist
    finally:
        hist.stop()


def test_two_hours_of_history_show_coverage_and_observed_figures(
    short_history: BackfilledPrometheus, tmp_path: Path
) -> None:
    report = collect_report(PrometheusReader(PrometheusSettings(url=short_history.url)), WEEK, PRICING)
    assert report.observed_hours == 2 and not report.full_coverage and report.previous is None
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
    billed = sum(float(r["BilledCost"]) for r in rows)
    assert billed == pytest.approx(report.attributed_cost + report.idle_cost, abs=0.001)
    # Each rule level lags the one before by up to an evaluation: at the edges of two hours that
    # is a few percent between the bill and namespaces + idle (over a week, well under 0.5 %).
    assert billed == pytest.approx(report.total_cost, rel=0.03)


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


def test_week_without_data_exits_4_and_writes_nothing(history: BackfilledPrometheus, tmp_path: Path) -> None:
    config = _config(tmp_path, history.url)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-c", str(config), "cost", "report", "--week", "2026-W30", "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert "no cost series" in result.output
    assert not out.exists() or not any(out.iterdir())


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
