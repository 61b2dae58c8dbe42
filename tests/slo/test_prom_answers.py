"""`slo status` against misbehaving Prometheus endpoints: an HTML page with 200, HTTP 500, every SLO without data.

The endpoints are a small HTTP server on loopback speaking HTTP as a proxy in front of
Prometheus would; a real Prometheus cannot be made to answer like this.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from tests.support.misbehaving import Misbehaving

SPEC = {"name": "chat-ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}


def _status(url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 2, "retry_backoff_s": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", *args])
    return res.exit_code, res.output


def test_html_page_with_200_is_not_a_prometheus_answer(misbehaving_prometheus: str, tmp_path: Path) -> None:
    """A proxy's login page: exit 3 naming the URL, never a JSON traceback."""
    Misbehaving.mode = "html"
    code, out = _status(misbehaving_prometheus, tmp_path)
    assert code == 3, out
    assert f"not a Prometheus API answer from {misbehaving_prometheus}" in out
    assert "Traceback" not in out


def test_http_500_is_retried_then_unavailable(misbehaving_prometheus: str, tmp_path: Path) -> None:
    """HTTP 500 is retried like 503 (1 + 2 retries), then exit 3 naming the URL and the attempts."""
    Misbehaving.mode = "500"
    code, out = _status(misbehaving_prometheus, tmp_path)
    assert code == 3, out
    assert misbehaving_prometheus in out and "3 attempt(s)" in out
    assert Misbehaving.hits == 3


def test_every_slo_without_data_exits_4(misbehaving_prometheus: str, tmp_path: Path) -> None:
    """Prometheus answers, but no SLO has a recorded series: the rows are printed, then exit 4."""
    Misbehaving.mode = "empty"
    code, out = _status(misbehaving_prometheus, tmp_path, "--output", "json")
    assert code == 4, out
    assert '"state": "no data"' in out and "no data" in out.splitlines()[-1]
