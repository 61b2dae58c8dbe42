"""The package's surface: one module per source, each loaded on its own; the package imports nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.exporters.fake_vllm import fake_vllm
from tests.support.exporter import exporter_process, scrape

VLLM_TEXT = (
    "# HELP vllm:num_requests_running Requests running.\n# TYPE vllm:num_requests_running gauge\n"
    'vllm:num_requests_running{engine="0",model_name="m"} 2.0\n'
)


def _loaded_after(code: str, *modules: str) -> str:
    probe = f"import sys; {code}; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def test_the_package_loads_none_of_its_modules() -> None:
    assert _loaded_after("import inferwatch.exporters", "inferwatch.exporters.gpu", "inferwatch.exporters.vllm") == ""


def test_importing_a_collector_does_not_load_grpc() -> None:
    """A sidecar never reads the kubelet: the pod-resources module (and gRPC) load only when asked for."""
    code = "from inferwatch.exporters.gpu import GpuSampler; from inferwatch.exporters.vllm import VllmScraper"
    assert _loaded_after(code, "grpc") == ""
    assert _loaded_after("from inferwatch.exporters.podresources import PodResourcesClient", "grpc") == "grpc"


# Libraries a sidecar must never load (issue 23): the report's and the controller's extras, what
# FastAPI, httpx and rich bring, gRPC and the OpenTelemetry SDK (daemonset mode and OTLP only),
# pydantic-settings (a sidecar reads its own section: inferwatch.config.exporter).
NEVER_IN_A_SIDECAR = (
    "matplotlib", "numpy", "PIL", "lightkube", "fastapi", "httpx", "rich", "pygments",
    "grpc", "opentelemetry", "jinja2", "grafanalib", "bcrypt", "pydantic_settings",
)  # fmt: skip


def test_a_serving_sidecar_never_imported_the_report_or_controller_libraries(tmp_path: Path) -> None:
    """The real `inferwatch exporter run --mode sidecar`, scraped while it reads a vLLM endpoint: every
    module it imported from start to shutdown (python -X importtime, on stderr) is checked."""
    with fake_vllm() as vllm:
        vllm.serve(VLLM_TEXT)
        args = ["--mode", "sidecar", "--gpu-backend", "simulated", "--vllm-url", vllm.url]
        with exporter_process(tmp_path, args, {"PYTHONPROFILEIMPORTTIME": "1"}) as exp:
            assert scrape(exp.url)["inferwatch_vllm_up"] == [({}, 1.0)]
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in (tmp_path / "exporter.log").read_text().splitlines()
        if line.startswith("import time:")
    }
    assert "inferwatch" in imported and "uvicorn" in imported  # the log is the import trace
    assert sorted(imported.intersection(NEVER_IN_A_SIDECAR)) == []
