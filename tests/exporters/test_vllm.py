"""The vLLM pass-through: name translation, the collector, and scrapes of a real llm-d-inference-sim."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from inferwatch.exporters.vllm import VllmCollector, VllmScraper, parse_exposition, translate_families
from tests.conftest import Starter
from tests.exporters.fake_vllm import fake_vllm

OLD_ONLY = """\
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:gpu_cache_usage_perc{engine="1",model_name="m"} 0.5
# HELP vllm:gpu_prefix_cache_queries_total Prefix cache queries.
# TYPE vllm:gpu_prefix_cache_queries_total counter
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="m"} 100.0
# HELP vllm:gpu_prefix_cache_hits_total Prefix cache hits.
# TYPE vllm:gpu_prefix_cache_hits_total counter
vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 40.0
# HELP vllm:time_per_output_token_seconds TPOT.
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{engine="0",le="0.05",model_name="m"} 3.0
vllm:time_per_output_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 4.0
vllm:time_per_output_token_seconds_sum{engine="0",model_name="m"} 0.3
vllm:time_per_output_token_seconds_count{engine="0",model_name="m"} 4.0
# HELP vllm:num_requests_waiting_by_reason A family inferwatch does not know.
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 7.0
# HELP python_gc_objects_collected_total The vLLM process's own metric.
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 12.0
"""

BOTH = """\
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.75
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.11
"""


def _registry(scraper: VllmScraper) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(VllmCollector(scraper))
    return registry


def test_old_names_are_translated_and_labels_kept() -> None:
    families = {f.name: f for f in translate_families(parse_exposition(OLD_ONLY))}
    assert set(families) == {
        "vllm:kv_cache_usage_perc",
        "vllm:prefix_cache_queries",
        "vllm:prefix_cache_hits",
        "vllm:inter_token_latency_seconds",
        "vllm:num_requests_waiting_by_reason",
    }
    kv = families["vllm:kv_cache_usage_perc"]
    assert [(s.name, s.labels, s.value) for s in kv.samples] == [
        ("vllm:kv_cache_usage_perc", {"engine": "0", "model_name": "m"}, 0.25),
        ("vllm:kv_cache_usage_perc", {"engine": "1", "model_name": "m"}, 0.5),
    ]
    assert [s.name for s in families["vllm:prefix_cache_hits"].samples] == ["vllm:prefix_cache_hits_total"]
    itl = families["vllm:inter_token_latency_seconds"]
    assert itl.type == "histogram"
    assert {s.name for s in itl.samples} == {
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:inter_token_latency_seconds_sum",
        "vllm:inter_token_latency_seconds_count",
    }
    unknown = families["vllm:num_requests_waiting_by_reason"]
    assert unknown.samples[0].labels == {"engine": "0", "model_name": "m", "reason": "capacity"}


def test_current_name_wins_when_both_are_present() -> None:
    families = translate_families(parse_exposition(BOTH))
    assert [f.name for f in families] == ["vllm:kv_cache_usage_perc"]
    assert [s.value for s in families[0].samples] == [0.75]


def test_collector_exposes_pass_through_once_with_up_and_duration() -> None:
    with fake_vllm() as vllm:
        vllm.serve(OLD_ONLY)
        scraper = VllmScraper(vllm.url, interval_s=60, timeout_s=2, max_body_bytes=1 << 20)
        registry = _registry(scraper)
        assert registry.get_sample_value("inferwatch_vllm_up") == 0  # before the first scrape
        scraper.scrape_once()
        scraper.stop()
    assert registry.get_sample_value("inferwatch_vllm_up") == 1
    duration = registry.get_sample_value("inferwatch_vllm_scrape_duration_seconds")
    assert duration is not None and duration >= 0
    labels = {"engine": "0", "model_name": "m"}
    assert registry.get_sample_value("vllm:prefix_cache_queries_total", labels) == 100
    assert registry.get_sample_value("vllm:inter_token_latency_seconds_count", labels) == 4
    text = generate_latest(registry).decode()
    assert "gpu_cache_usage_perc" not in text and "time_per_output_token" not in text
    assert "python_gc" not in text
    assert text.count("# TYPE vllm:kv_cache_usage_perc gauge") == 1


def _chat(base_url: str, model: str, n: int) -> None:
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            r = client.post(
                f"{base_url}/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": f"hello {i}"}], "max_tokens": 8},
            )
            r.raise_for_status()


def successes(registry: CollectorRegistry, model: str) -> float:
    """vllm:request_success_total of `model` summed over finish_reason (stop or length, at random)."""
    return sum(
        s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "vllm:request_success_total" and s.labels.get("model_name") == model
    )


def scrape_until(scraper: VllmScraper, check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    """Scrape until `check()` holds: the simulator updates its counters just after answering."""
    deadline = time.monotonic() + timeout
    while True:
        scraper.scrape_once()
        if check():
            return
        if time.monotonic() > deadline:
            snap = scraper.snapshot()
            raise AssertionError(f"never saw {what}; last scrape up={snap and snap.up} error={snap and snap.error}")
        time.sleep(0.1)


def test_real_simulator_pass_through(tmp_path: Path, inference_sim_factory: Starter) -> None:
    sim = inference_sim_factory(tmp_path / "sim", model="sim-model")
    _chat(sim.url, "sim-model", 3)
    scraper = VllmScraper(sim.url + "/metrics", interval_s=60, timeout_s=5, max_body_bytes=1 << 22)
    try:
        registry = _registry(scraper)
        labels = {"model_name": "sim-model"}
        scrape_until(scraper, lambda: successes(registry, "sim-model") == 3, "3 successes")
        assert registry.get_sample_value("inferwatch_vllm_up") == 1
        assert registry.get_sample_value("vllm:inter_token_latency_seconds_count", labels) is not None
        text = generate_latest(registry).decode()
        # The simulator emits the old TPOT family next to the current one: exposed once, current name.
        assert "time_per_output_token_seconds" not in text
        assert text.count("# TYPE vllm:inter_token_latency_seconds histogram") == 1
    finally:
        scraper.stop()


@pytest.mark.parametrize("status", [500, 404])
def test_http_error_status_is_down(status: int) -> None:
    with fake_vllm() as vllm:
        vllm.serve("nope", status)
        scraper = VllmScraper(vllm.url, interval_s=60, timeout_s=2, max_body_bytes=1024)
        snap = scraper.scrape_once()
        scraper.stop()
    assert not snap.up and snap.error == f"HTTP {status}"
    registry = _registry(scraper)
    assert registry.get_sample_value("inferwatch_vllm_up") == 0
    assert registry.get_sample_value("inferwatch_vllm_scrape_errors_total", {"reason": "http_status"}) == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the system's openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_endpoint_verified_with_the_configured_ca(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = OLD_ONLY.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/metrics"
    trusted = VllmScraper(url, interval_s=60, timeout_s=5, max_body_bytes=1 << 20, verify=str(cert))
    untrusted = VllmScraper(url, interval_s=60, timeout_s=5, max_body_bytes=1 << 20)
    unverified = VllmScraper(url, interval_s=60, timeout_s=5, max_body_bytes=1 << 20, verify=False)
    try:
        snap = trusted.scrape_once()
        assert snap.up, snap.error
        bad = untrusted.scrape_once()
        assert not bad.up and bad.error is not None and "CERTIFICATE_VERIFY_FAILED" in bad.error
        # exporter.vllm_tls_verify: false reads the endpoint without checking its certificate
        skipped = unverified.scrape_once()
        assert skipped.up, skipped.error
    finally:
        trusted.stop()
        untrusted.stop()
        unverified.stop()
        server.shutdown()
        server.server_close()
