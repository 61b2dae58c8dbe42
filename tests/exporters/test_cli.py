"""`inferwatch exporter run` as a real process: the whole contract against llm-d-inference-sim, and fail-fast."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.conftest import Starter
from tests.exporters.test_otlp import Receiver, _metrics
from tests.exporters.test_vllm import _chat
from tests.support.exporter import CONTRACT_GPU_SERIES, INFERWATCH, exporter_process, scrape


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
                (
                    {
                        "gpu_uuid": SIM_GPU_0,
                        "namespace": "llm",
                        "pod": "vllm-0",
                        "container": "vllm",
                        "source": "sidecar",
                    },
                    1.0,
                )
            ]
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.2)
        assert receiver.requests, exp.log()
        names = set(_metrics(receiver.requests[-1]))
        assert {"gen_ai.server.time_to_first_token", "gen_ai.server.request.duration", "hw.gpu.utilization"} <= names
    finally:
        receiver.close()
