"""Robustness: bad vLLM endpoints, a vLLM restart, 500 concurrent scrapes, pod-resources socket absent/restarted."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from inferwatch.exporters.gpu import GpuCollector, GpuSampler, open_backend
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.exporters.vllm import VllmCollector, VllmScraper
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import wait_for
from tests.conftest import Starter
from tests.exporters.test_vllm import OLD_ONLY, _chat, scrape_until, successes
from tests.support.exporter import exporter_process, scrape

FIFTY_MB = 50 * 1024 * 1024


class BadVllm:
    """A local HTTP server whose answer to /metrics is set by the test (`mode`)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.release = threading.Event()
        bad = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if bad.mode == "hang":
                    bad.release.wait(30)  # never answers within the scraper's time limit
                    return
                if bad.mode == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()  # no Content-Length: only the streamed size can stop it
                    line = b'vllm:num_requests_running{model_name="m"} 1\n' * 1000
                    sent = 0
                    try:
                        while sent < FIFTY_MB:
                            self.wfile.write(line)
                            sent += len(line)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                body = {"ok": OLD_ONLY, "garbage": "<html><body>502 Bad Gateway</body></html>\n{{{"}[bad.mode].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bad_vllm() -> Iterator[BadVllm]:
    server = BadVllm()
    yield server
    server.close()


@pytest.fixture
def gpu_sampler() -> Iterator[GpuSampler]:
    sampler = GpuSampler(open_backend("simulated", simulated_gpus=2), interval_s=0.5, slow_interval_s=5)
    sampler.start()
    yield sampler
    sampler.stop()


def _registry(sampler: GpuSampler, scraper: VllmScraper) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(GpuCollector(sampler))
    registry.register(VllmCollector(scraper))
    return registry


@pytest.mark.parametrize(
    ("mode", "reason", "label"),
    [("hang", "timed out", "timeout"), ("garbage", "unparseable", "unparseable"), ("huge", "byte limit", "too_large")],
)
def test_bad_vllm_response_is_down_with_reason_and_gpus_keep_serving(
    mode: str,
    reason: str,
    label: str,
    bad_vllm: BadVllm,
    gpu_sampler: GpuSampler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scraper = VllmScraper(bad_vllm.url, interval_s=60, timeout_s=1, max_body_bytes=4 * 1024 * 1024)
    registry = _registry(gpu_sampler, scraper)
    try:
        assert scraper.scrape_once().up
        bad_vllm.mode = mode
        with caplog.at_level(logging.WARNING, logger="inferwatch.exporters.vllm"):
            snap = scraper.scrape_once()
        assert not snap.up and snap.error is not None and reason in snap.error
        assert any(reason in r.getMessage() and bad_vllm.url in r.getMessage() for r in caplog.records)
        assert registry.get_sample_value("inferwatch_vllm_up") == 0
        assert registry.get_sample_value("inferwatch_vllm_scrape_errors_total", {"reason": label}) == 1
        assert registry.get_sample_value("vllm:kv_cache_usage_perc", {"engine": "0", "model_name": "m"}) is None
        gpu = gpu_sampler.snapshot()
        assert gpu is not None
        assert registry.get_sample_value("inferwatch_gpu_up", {"gpu_uuid": gpu.gpus[0].uuid}) == 1
        # And it comes back.
        bad_vllm.mode = "ok"
        bad_vllm.release.set()
        assert scraper.scrape_once().up
        assert registry.get_sample_value("inferwatch_vllm_up") == 1
        assert registry.get_sample_value("inferwatch_vllm_scrape_errors_total", {"reason": label}) == 1  # kept
    finally:
        scraper.stop()


def test_refused_connection_is_down(gpu_sampler: GpuSampler) -> None:
    scraper = VllmScraper(f"http://127.0.0.1:{free_port()}/metrics", interval_s=60, timeout_s=1, max_body_bytes=1024)
    try:
        snap = scraper.scrape_once()
        assert not snap.up and snap.error is not None and "Connection refused" in snap.error
        registry = _registry(gpu_sampler, scraper)
        assert registry.get_sample_value("inferwatch_vllm_up") == 0
        scraper.scrape_once()
        assert registry.get_sample_value("inferwatch_vllm_scrape_errors_total", {"reason": "connection"}) == 2
    finally:
        scraper.stop()


def test_vllm_restart_counter_reset_passes_through(tmp_path: Path, inference_sim_factory: Starter) -> None:
    port = free_port()
    # Both simulator runs on one port, as a restarted vLLM container would be.
    sim = inference_sim_factory(tmp_path / "sim1", model="m", port=port)
    _chat(sim.url, "m", 3)
    scraper = VllmScraper(f"http://127.0.0.1:{port}/metrics", interval_s=60, timeout_s=3, max_body_bytes=1 << 22)
    registry = CollectorRegistry()
    registry.register(VllmCollector(scraper))

    def success() -> float:
        return successes(registry, "m")

    try:
        scrape_until(scraper, lambda: success() == 3, "3 successes")
        sim.stop()
        scraper.scrape_once()
        assert registry.get_sample_value("inferwatch_vllm_up") == 0 and success() == 0
        sim2 = inference_sim_factory(tmp_path / "sim2", model="m", port=port)
        _chat(sim2.url, "m", 1)
        # The counter restarts from zero; the pass-through must not hide the reset (Prometheus' rate() handles it).
        scrape_until(scraper, lambda: success() == 1, "the reset counter")
        assert registry.get_sample_value("inferwatch_vllm_up") == 1
    finally:
        scraper.stop()


def test_500_scrapes_at_50_concurrent_all_answered(tmp_path: Path, inference_sim_factory: Starter) -> None:
    sim = inference_sim_factory(tmp_path / "sim", model="m")
    _chat(sim.url, "m", 2)
    args = ["--mode", "sidecar", "--gpu-backend", "simulated", "--vllm-url", sim.url + "/metrics"]
    with exporter_process(tmp_path / "exp", args) as exp:

        async def hammer() -> list[tuple[int, bool]]:
            limit = asyncio.Semaphore(50)
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=50)) as client:

                async def one() -> tuple[int, bool]:
                    async with limit:
                        r = await client.get(exp.url + "/metrics")
                        return r.status_code, "inferwatch_vllm_up 1.0" in r.text and "inferwatch_gpu_up" in r.text

                return await asyncio.gather(*(one() for _ in range(500)))

        results = asyncio.run(hammer())
        assert len(results) == 500
        assert all(code == 200 and complete for code, complete in results), exp.log()[-2000:]


def test_daemonset_survives_absent_then_restarted_kubelet_socket(tmp_path: Path) -> None:
    sock_dir = tmp_path / "pr"
    sock_dir.mkdir()
    sock = sock_dir / "kubelet.sock"
    args = ["--mode", "daemonset", "--gpu-backend", "simulated", "--pod-resources-socket", str(sock)]
    kubelet: PodResourcesServer | None = None
    with exporter_process(tmp_path / "exp", args) as exp:
        try:
            # Ready without a kubelet: GPUs are served, attribution is simply absent.
            samples = scrape(exp.url)
            assert samples["inferwatch_podresources_up"] == [({}, 0.0)]
            assert "inferwatch_gpu_allocation_ratio" not in samples
            gpu_uuid = samples["inferwatch_gpu_up"][0][0]["gpu_uuid"]
            allocatable = {GPU_RESOURCE: tuple(f"{gpu_uuid}::{i}" for i in range(4))}
            kubelet = PodResourcesServer(
                sock,
                NodeAllocation(
                    (ContainerDevices("llm", "vllm-0", "vllm", GPU_RESOURCE, (f"{gpu_uuid}::0",)),), allocatable
                ),
            )

            def ratio(pod: str) -> float | None:
                for labels, value in scrape(exp.url).get("inferwatch_gpu_allocation_ratio", []):
                    if labels["pod"] == pod and labels["gpu_uuid"] == gpu_uuid:
                        return value
                return None

            wait_for(lambda: ratio("vllm-0") == 0.25, "time-sliced allocation after the socket appeared")
            # Kubelet restart: socket removed and recreated with a new assignment.
            kubelet.restart(NodeAllocation((ContainerDevices("llm", "vllm-1", "vllm", GPU_RESOURCE, (gpu_uuid,)),)))
            wait_for(lambda: ratio("vllm-1") == 1.0, "allocation from the restarted kubelet")
            assert scrape(exp.url)["inferwatch_podresources_up"] == [({}, 1.0)]
        finally:
            if kubelet is not None:
                kubelet.stop()
    assert "pod-resources socket" in exp.log()
