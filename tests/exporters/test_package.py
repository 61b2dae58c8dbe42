"""The package's public surface: every exported name loads, each module on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_every_exported_name_resolves() -> None:
    import inferwatch.exporters as exporters

    for name in exporters.__all__:
        assert getattr(exporters, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = exporters.nope


def test_importing_a_collector_does_not_load_grpc() -> None:
    """A sidecar never reads the kubelet: the pod-resources module (and gRPC) load only when asked for."""
    code = "import sys; from inferwatch.exporters import GpuSampler, VllmScraper; print('grpc' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    code = "import sys; from inferwatch.exporters import PodResourcesClient; print('grpc' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
