"""The Kubernetes tier's toolchain is real and pinned (scripts/install-k8s-tools.sh; `make test-k8s`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from inferwatch.localstack.ports import free_port
from inferwatch.tools import Toolbox
from tests.conftest import Starter

pytestmark = pytest.mark.k8s

KUBERNETES = "v1.37.2"


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        # The version ldflags: without them the API server's /version says v0.0.0 and helm refuses
        # a chart's kubeVersion.
        ("kube-apiserver", ["--version"], f"Kubernetes {KUBERNETES}"),
        ("kube-controller-manager", ["--version"], f"Kubernetes {KUBERNETES}"),
        ("kine", ["--version"], "v0.17.5"),
        ("prometheus-operator", ["--version"], "prometheus-operator, version 0.85.0"),
    ],
)
def test_k8s_tool_answers_version(tools: Toolbox, tool: str, args: list[str], expect: str) -> None:
    proc = tools.run(tool, *args, timeout=30)
    out = proc.stdout + proc.stderr
    assert expect in out, out


def test_prometheus_has_kubernetes_service_discovery(tmp_path: Path, prometheus_factory: Starter) -> None:
    # Prometheus itself, not promtool: promtool links Kubernetes SD whatever the build tags, so
    # `promtool check config` passes on a config that a Prometheus built without it refuses.
    cfg = tmp_path / "k8s-sd.yml"
    cfg.write_text(
        "scrape_configs:\n  - job_name: pods\n    kubernetes_sd_configs:\n      - role: pod\n"
        f"        api_server: https://127.0.0.1:{free_port()}\n"
    )
    prom = prometheus_factory(cfg, tmp_path)
    status = httpx.get(f"{prom.url}/api/v1/status/config", timeout=10).json()
    assert "kubernetes_sd_configs" in status["data"]["yaml"]


def test_prometheus_operator_crds_are_installed_beside_the_binaries(tools: Toolbox) -> None:
    crds = tools.path("prometheus-operator").parent.parent / "share" / "prometheus-operator-crds"
    names = sorted(p.name for p in crds.glob("*.yaml"))
    for kind in ("servicemonitors", "podmonitors", "prometheusrules", "prometheuses"):
        assert f"monitoring.coreos.com_{kind}.yaml" in names, names
    assert (crds / "VERSION").read_text().strip() == "v0.85.0"
