"""`slo status` against misbehaving Prometheus endpoints: an HTML page with 200, HTTP 500, every SLO without data.

The endpoints are a small HTTP server on loopback speaking HTTP as a proxy in front of
Prometheus would; a real Prometheus cannot be made to answer like this.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.cli import cli

SPEC = {"name": "chat-ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}


class Misbehaving(BaseHTTPRequestHandler):
    """Answers every request as ``mode`` says: an HTML page with 200, HTTP 500, or an empty result."""

    mode: ClassVar[str] = "html"
    hits: ClassVar[int] = 0

    def _answer(self) -> None:
        type(self).hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.mode == "html":
            body, status, ctype = b"<html><body>Sign in to continue</body></html>", 200, "text/html"
        elif self.mode == "500":
            body, status, ctype = b"internal error", 500, "text/plain"
        else:
            body, status, ctype = (
                b'{"status":"success","data":{"resultType":"vector","result":[]}}',
                200,
                "application/json",
            )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the hit count, not a log."""


@pytest.fixture
def endpoint() -> Iterator[str]:
    """The misbehaving endpoint's URL (mode and hit count reset per test)."""
    Misbehaving.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _status(url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": {"url": url, "retries": 2, "retry_backoff_s": 0}, "slos": [SPEC]}))
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "status", *args])
    return res.exit_code, res.output


def test_html_page_with_200_is_not_a_prometheus_answer(endpoint: str, tmp_path: Path) -> None:
    """A proxy's login page: exit 3 naming the URL, never a JSON traceback."""
    Misbehaving.mode = "html"
    code, out = _status(endpoint, tmp_path)
    assert code == 3, out
    assert f"not a Prometheus API answer from {endpoint}" in out
    assert "Traceback" not in out


def test_http_500_is_retried_then_unavailable(endpoint: str, tmp_path: Path) -> None:
    """HTTP 500 is retried like 503 (1 + 2 retries), then exit 3 naming the URL and the attempts."""
    Misbehaving.mode = "500"
    code, out = _status(endpoint, tmp_path)
    assert code == 3, out
    assert endpoint in out and "3 attempt(s)" in out
    assert Misbehaving.hits == 3


def test_every_slo_without_data_exits_4(endpoint: str, tmp_path: Path) -> None:
    """Prometheus answers, but no SLO has a recorded series: the rows are printed, then exit 4."""
    Misbehaving.mode = "empty"
    code, out = _status(endpoint, tmp_path, "--output", "json")
    assert code == 4, out
    assert '"state": "no data"' in out and "no data" in out.splitlines()[-1]
