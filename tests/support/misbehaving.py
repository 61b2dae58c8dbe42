"""A Prometheus endpoint that misbehaves as a proxy in front of one would (a real Prometheus cannot).

The `misbehaving_prometheus` fixture (every test module gets it through tests/conftest.py)
answers every request as `Misbehaving.mode` says: an HTML login page with 200, HTTP 500, or an
empty result; `Misbehaving.hits` counts the requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest


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
def misbehaving_prometheus() -> Iterator[str]:
    """The misbehaving endpoint's URL (hit count reset; each test sets the mode)."""
    Misbehaving.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
