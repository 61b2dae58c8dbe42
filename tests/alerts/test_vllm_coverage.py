"""`inferwatch rules vllm-coverage`: the vLLM families the normalization rules do not read, from vLLM's source."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.alerts import vllm_families
from inferwatch.app.cli import cli

# What vLLM's vllm/v1/metrics/loggers.py looks like: prometheus_client families named by literals.
LOGGERS = """
import prometheus_client

class PrometheusStatLogger:
    def __init__(self, labelnames):
        self.gauge_scheduler_running = prometheus_client.Gauge(
            name="vllm:num_requests_running", documentation="running", labelnames=labelnames)
        self.gauge_waiting_by_reason = prometheus_client.Gauge(
            name="vllm:num_requests_waiting_by_reason", documentation="waiting", labelnames=labelnames)
        self.counter_rejections = prometheus_client.Counter(
            name="vllm:admission_rejections", documentation="rejected", labelnames=labelnames)
        self.counter_preemptions = prometheus_client.Counter(
            name="vllm:num_preemptions", documentation="preempted", labelnames=labelnames)
        self.histogram_ttft = prometheus_client.Histogram(
            name="vllm:time_to_first_token_seconds", documentation="ttft", labelnames=labelnames)
        self.not_a_metric = "vllm: loading model"
"""


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small `vllm` package on sys.path declaring five families."""
    pkg = tmp_path / "site" / "vllm"
    (pkg / "v1" / "metrics").mkdir(parents=True)
    for d in (pkg, pkg / "v1", pkg / "v1" / "metrics"):
        (d / "__init__.py").write_text("raise ImportError('vllm must not be imported, only read')\n")
    (pkg / "v1" / "metrics" / "loggers.py").write_text(LOGGERS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    return pkg


def test_lists_declared_families_normalization_does_not_read(fake_vllm: Path) -> None:
    result = CliRunner().invoke(cli, ["rules", "vllm-coverage"])
    assert result.exit_code == 0, result.output
    listed = {line.strip() for line in result.output.splitlines() if line.startswith("  ")}
    # counters are declared without `_total`; known ones (running, preemptions, TTFT) are not listed
    assert listed == {"vllm:num_requests_waiting_by_reason", "vllm:admission_rejections"}
    assert f"{fake_vllm}: 2 vLLM metric families not normalized" in result.output


def test_without_vllm_installed_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{vllm_families.__name__}.importlib.util.find_spec", lambda _name: None)
    result = CliRunner().invoke(cli, ["rules", "vllm-coverage"])
    assert result.exit_code == 5
    assert "vLLM is not installed" in result.stderr and ".[vllm]" in result.stderr
