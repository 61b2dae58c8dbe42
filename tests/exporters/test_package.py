"""The package's surface: one module per source, each loaded on its own; the package imports nothing."""

from __future__ import annotations

import subprocess
import sys


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
