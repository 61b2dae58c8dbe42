"""End to end on loopback: llm-d-inference-sim -> Prometheus 3 with the generated rules -> Alertmanager
-> a webhook receiver. The normalized series appear with the right labels, the simulator's two
inter-token-latency names are not counted twice, and a TTFT page reaches the page receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from inferwatch.alerts.alertmanager import Receivers, alertmanager_config
from inferwatch.alerts.generate import rule_files
from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config import InferwatchConfig, PrometheusSettings, Thresholds
from inferwatch.conventions.normalized import histogram_series
from inferwatch.localstack.processes import wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.prom import PrometheusReader, Sample
from inferwatch.rules import RecordingRule, dump_yaml, to_prometheus_yaml
from tests.alerts.conftest import Webhook
from tests.conftest import Starter

MODEL = "e2e-model"
POD = {"namespace": "demo", "pod": "vllm-0", "model_name": MODEL}


@pytest.mark.slow
def test_sim_to_prometheus_to_alertmanager(
    tmp_path: Path,
    inference_sim_factory: Starter,
    prometheus_factory: Starter,
    alertmanager_factory: Starter,
    webhook: Webhook,
) -> None:
    # Every request takes 300 ms to its first token; a 0.1 s threshold held for 1 s pages at once.
    config = InferwatchConfig(thresholds=Thresholds(ttft_p95_seconds=0.1, ttft_for="1s"))
    sim = inference_sim_factory(
        tmp_path / "sim", model=MODEL, extra_args=["--time-to-first-token", "300ms", "--inter-token-latency", "5ms"]
    )

    am_config = alertmanager_config(Receivers(page_url=f"{webhook.url}/page", ticket_url=f"{webhook.url}/ticket"))
    for route in [am_config["route"], *am_config["route"]["routes"]]:
        route["group_wait"] = "1s"
    (tmp_path / "alertmanager.yml").write_text(dump_yaml(am_config))
    am = alertmanager_factory(tmp_path / "alertmanager.yml", tmp_path / "am")

    rule_paths = []
    for name, rf in rule_files(config).items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_prometheus_yaml(rf))
        rule_paths.append(str(path))
    # namespace and pod are target labels (as Kubernetes discovery adds them); model_name is vLLM's own.
    stack = LocalStack(
        targets=(ScrapeTarget("vllm", sim.url.removeprefix("http://"), {"namespace": "demo", "pod": "vllm-0"}),),
        rule_files=tuple(rule_paths),
        alertmanagers=(am.url.removeprefix("http://"),),
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    (tmp_path / "prometheus.yml").write_text(render_yaml(stack))
    prom = prometheus_factory(tmp_path / "prometheus.yml", tmp_path / "prom")
    reader = PrometheusReader(PrometheusSettings(url=prom.url))

    def traffic_then(expr: str) -> Callable[[], list[Sample]]:
        # Requests keep flowing while we wait, so counters rise between scrapes.
        def probe() -> list[Sample]:
            body = {"model": MODEL, "prompt": "hello", "max_tokens": 4}
            httpx.post(f"{sim.url}/v1/completions", json=body, timeout=30).raise_for_status()
            return reader.query(expr)

        return probe

    sel = '{namespace="demo",pod="vllm-0",model_name="' + MODEL + '"}'
    ttft = wait_for(
        traffic_then(f"inferwatch:vllm_ttft_seconds_count:rate5m{sel} > 0"), "normalized TTFT", timeout=60, interval=0.5
    )
    assert isinstance(ttft, list) and ttft[0].labels == {"__name__": "inferwatch:vllm_ttft_seconds_count:rate5m", **POD}
    for name in ("inferwatch:vllm_requests_running:sum", "inferwatch:vllm_kv_cache_usage:max"):
        assert reader.query(f"{name}{sel}"), name
    # The simulator counts a finished request up to ~15 ms after its first token: wait for the series.
    reasons = wait_for(
        traffic_then(f"inferwatch:vllm_requests_finished:rate5m{sel}"),
        "normalized finish reasons",
        timeout=60,
        interval=0.5,
    )
    assert isinstance(reasons, list)
    # The simulator says `finish_reason`; the normalized series says `finished_reason`, like vLLM.
    assert {s.labels.get("finished_reason") for s in reasons} <= {"length", "stop"}
    assert not any("finish_reason" in s.labels for s in reasons)
    # The simulator exposes inter-token latency under the current and the old name: counted once.
    # The rule's own expression and the single current name, evaluated at one instant, agree exactly.
    wait_for(
        traffic_then(f"inferwatch:vllm_itl_seconds_count:rate5m{sel} > 0"), "normalized ITL", timeout=60, interval=0.5
    )
    rule = next(
        r
        for g in normalization_groups()
        for r in g.rules
        if isinstance(r, RecordingRule) and r.record == histogram_series("itl", "count")
    )
    raw_expr = "sum by (namespace, model_name, pod) (rate(vllm:inter_token_latency_seconds_count[5m]))"

    def agree_at_a_committed_instant() -> list[Sample] | bool:
        # 3 s back every 1 s scrape has committed, so both queries read the same samples.
        at = datetime.now(UTC) - timedelta(seconds=3)
        normalized, raw = reader.query(rule.expr, at=at), reader.query(raw_expr, at=at)
        if not raw or raw[0].value <= 0:  # not yet non-zero 3 s back: keep the traffic flowing
            body = {"model": MODEL, "prompt": "hello", "max_tokens": 4}
            httpx.post(f"{sim.url}/v1/completions", json=body, timeout=30).raise_for_status()
            return False
        assert len(normalized) == 1 and len(raw) == 1
        assert normalized[0].value == raw[0].value, (normalized, raw)
        return True

    wait_for(agree_at_a_committed_instant, "ITL at an instant every scrape has committed", timeout=60, interval=0.5)

    # Traffic keeps flowing: below thresholds.latency_min_requests_per_second the alert stays quiet.
    def paged() -> bool:
        body = {"model": MODEL, "prompt": "hello", "max_tokens": 4}
        httpx.post(f"{sim.url}/v1/completions", json=body, timeout=30).raise_for_status()
        return bool(webhook.alertnames("/page"))

    wait_for(paged, "the TTFT page at the webhook", timeout=90, interval=0.5)
    assert ("VLLMTimeToFirstTokenHigh", "demo") in webhook.alertnames("/page"), am.log()[-2000:]
