"""The toolchain is real: Prometheus answers its API, every other tool answers --version."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.config import PrometheusSettings
from inferwatch.errors import PrometheusUnavailableError
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.prom import PrometheusReader
from inferwatch.tools import Toolbox
from tests.conftest import Starter


def test_prometheus_starts_with_generated_config_and_answers_buildinfo(
    tmp_path: Path, prometheus_factory: Starter
) -> None:
    cfg = tmp_path / "prometheus.yml"
    # A static target on a closed port still makes a complete, loadable configuration.
    cfg.write_text(render_yaml(LocalStack(targets=(ScrapeTarget("self", "127.0.0.1:1", {"namespace": "t"}),))))
    prom = prometheus_factory(cfg, tmp_path)
    reader = PrometheusReader(PrometheusSettings(url=prom.url))
    assert reader.build_info()["version"].startswith("3.")
    assert reader.query("vector(42)")[0].value == 42.0


def test_unreachable_prometheus_is_a_clear_error_after_retries() -> None:
    reader = PrometheusReader(PrometheusSettings(url=f"http://127.0.0.1:{free_port()}", retries=1, retry_backoff_s=0))
    with pytest.raises(PrometheusUnavailableError, match="2 attempt"):
        reader.query("up")


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        ("promtool", ["--version"], "promtool, version 3."),
        ("promtool2", ["--version"], "promtool, version 2."),
        ("amtool", ["--version"], "amtool, version 0."),
        ("alertmanager", ["--version"], "alertmanager, version 0."),
        ("helm", ["version", "--short"], "v3."),
        ("kubeconform", ["-v"], "v0."),
        ("llm-d-inference-sim", ["--help"], "--model"),
    ],
)
def test_tool_answers_version(tools: Toolbox, tool: str, args: list[str], expect: str) -> None:
    proc = tools.run(tool, *args, timeout=30)
    out = proc.stdout + proc.stderr
    assert expect in out, out
