"""`inferwatch exporter run` as a real process: the whole contract against llm-d-inference-sim, and fail-fast."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Starter
from tests.exporters.test_otlp import Receiver, _metrics
from tests.exporters.test_vllm import _chat
from tests.support.processes import free_port

INFERWATCH = [sys.executable, "-m", "inferwatch"]


@dataclass
class ExporterProcess:
    """A running `inferwatch exporter run` and where it answers."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the exporter logged so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def exporter_process(
    workdir: Path, args: Sequence[str], env: dict[str, str] | None = None
) -> Iterator[ExporterProcess]:
    """Start the exporter on a free port, wait for /readyz, and always stop it (SIGTERM, then SIGKILL)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "exporter.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*INFERWATCH, "exporter", "run", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    running = ExporterProcess(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(running)
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_ready(exp: ExporterProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if exp.proc.poll() is not None:
            raise AssertionError(f"exporter exited with {exp.proc.returncode}:\n{exp.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(exp.url + "/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"exporter never ready:\n{exp.log()}")


def scrape(url: str, accept: str | None = None) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics as {sample name: [(labels, value)]} through prometheus_client's parser."""
    headers = {"Accept": accept} if accept else {}
    r = httpx.get(url + "/metrics", headers=headers, timeout=10)
    r.raise_for_status()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


CONTRACT_GPU_SERIES = [
    "inferwatch_gpu_info",
    "inferwatch_gpu_up",
    "inferwatch_gpu_utilization_ratio",
    "inferwatch_gpu_busy_seconds_total",
    "inferwatch_gpu_memory_used_bytes",
    "inferwatch_gpu_memory_total_bytes",
    "inferwatch_gpu_power_watts",
    "inferwatch_gpu_power_limit_watts",
    "inferwatch_gpu_energy_joules_total",
    "inferwatch_gpu_temperature_celsius",
    "inferwatch_gpu_clock_hertz",
    "inferwatch_gpu_throttle_active",
]


def test_sidecar_against_simulator_serves_the_whole_contract(tmp_path: Path, inference_sim_factory: Starter) -> None:
    sim = inference_sim_factory(tmp_path / "sim", model="demo-model")
    _chat(sim.url, "demo-model", 4)
    args = ["--mode", "sidecar", "--gpu-backend", "simulated", "--vllm-url", sim.url + "/metrics"]
    with exporter_process(tmp_path / "exp", args) as exp:
        assert httpx.get(exp.url + "/healthz").status_code == 200
        deadline = time.monotonic() + 20
        while True:  # the simulator counts a request just after answering it; the exporter scrapes every 5 s
            samples = scrape(exp.url)
            success = {lbl["finish_reason"]: v for lbl, v in samples.get("vllm:request_success_total", [])}
            if sum(success.values()) == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        missing = [name for name in CONTRACT_GPU_SERIES if name not in samples]
        assert not missing, missing
        assert len(samples["inferwatch_gpu_up"]) == 2 and all(v == 1 for _, v in samples["inferwatch_gpu_up"])
        assert samples["inferwatch_vllm_up"] == [({}, 1.0)]
        assert "inferwatch_vllm_scrape_duration_seconds" in samples
        assert samples["inferwatch_exporter_info"][0][0]["gpu_backend"] == "simulated"
        assert sum(success.values()) == 4, success
        assert ({"model_name": "demo-model"}, 4.0) in samples["vllm:e2e_request_latency_seconds_count"]
        assert "vllm:inter_token_latency_seconds_count" in samples
        assert not [n for n in samples if "time_per_output_token" in n or "gpu_cache_usage" in n]
        # OpenMetrics on request, vllm:* names intact.
        r = httpx.get(exp.url + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert r.headers["content-type"].startswith("application/openmetrics-text")
        assert r.text.endswith("# EOF\n") and "vllm:e2e_request_latency_seconds_count" in r.text
        os.killpg(exp.proc.pid, signal.SIGTERM)
        # uvicorn finishes the graceful shutdown, then re-raises SIGTERM (exit status 143 in a pod).
        assert exp.proc.wait(timeout=20) in (0, -signal.SIGTERM), exp.log()
    log = exp.log()
    assert "SIMULATED" in log and "source stopped name=vllm" in log and "source stopped name=gpu" in log
    assert "Application shutdown complete" in log
    assert all(line.startswith("ts=") for line in log.splitlines() if line), log


def _run_fail(args: Sequence[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INFERWATCH, "exporter", "run", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def test_bad_setting_fails_fast_naming_it(tmp_path: Path) -> None:
    r = _run_fail(["--gpu-backend", "simulated", "--vllm-url", "ftp://vllm:8000/metrics"], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "exporter.vllm_url" in r.stderr
    r = _run_fail(["--gpu-backend", "simulated", "--port", "70000"], tmp_path)
    assert r.returncode == 2 and "exporter.port" in r.stderr, r.stderr


def test_busy_port_fails_fast(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _run_fail(["--gpu-backend", "simulated", "--host", "127.0.0.1", "--port", str(port)], tmp_path)
    assert r.returncode == 2 and "exporter.port" in r.stderr, r.stderr


SIM_GPU_0 = "GPU-50000000-0000-4000-8000-000000000000"  # the simulated backend's first GPU


def test_sidecar_attribution_gpu_list_and_otlp_push(tmp_path: Path, inference_sim_factory: Starter) -> None:
    sim = inference_sim_factory(tmp_path / "sim", model="demo-model")
    _chat(sim.url, "demo-model", 2)
    receiver = Receiver()
    env = {  # as the downward API would set them
        "INFERWATCH_EXPORTER__POD_NAMESPACE": "llm",
        "INFERWATCH_EXPORTER__POD_NAME": "vllm-0",
        "INFERWATCH_EXPORTER__CONTAINER_NAME": "vllm",
        "INFERWATCH_EXPORTER__OTLP_INTERVAL_S": "0.5",
    }
    args = ["--gpu-backend", "simulated", "--vllm-url", sim.url + "/metrics", "--gpu-uuid", SIM_GPU_0]
    args += ["--otlp-endpoint", receiver.url]
    try:
        with exporter_process(tmp_path / "exp", args, env) as exp:
            samples = scrape(exp.url)
            assert [lbl["gpu_uuid"] for lbl, _ in samples["inferwatch_gpu_up"]] == [SIM_GPU_0]
            assert samples["inferwatch_gpu_allocation_ratio"] == [
                ({"gpu_uuid": SIM_GPU_0, "namespace": "llm", "pod": "vllm-0", "container": "vllm"}, 1.0)
            ]
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.2)
        assert receiver.requests, exp.log()
        names = set(_metrics(receiver.requests[-1]))
        assert {"gen_ai.server.time_to_first_token", "gen_ai.server.request.duration", "hw.gpu.utilization"} <= names
    finally:
        receiver.close()
