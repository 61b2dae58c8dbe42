"""A Prometheus endpoint that misbehaves as a proxy in front of one would (a real Prometheus cannot).

The `misbehaving_prometheus` fixture (every test module gets it through tests/conftest.py)
answers every request as `Misbehaving.mode` says: an HTML login page with 200, HTTP 500, an
empty result, or (for the client's auth and error handling) 401, 403, 501 and 503 pages, a
401 page echoing the request's headers back as some proxies do, JSON of another API;
`Misbehaving.hits` counts the requests and `Misbehaving.seen` keeps their headers.
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
    seen: ClassVar[list[dict[str, str]]] = []

    PAGES: ClassVar[dict[str, tuple[bytes, int, str]]] = {
        "html": (b"<html><body>Sign in to continue</body></html>", 200, "text/html"),
        "500": (b"internal error", 500, "text/plain"),
        "401": (b"no org id\n", 401, "text/plain"),
        "403": (b'{"status":"error","error":"forbidden"}', 403, "application/json"),
        "501": (
            b"<!DOCTYPE html><html><head><title>501 Not Implemented</title><style>body{x:y}</style></head>"
            b"<body><h1>Not Implemented</h1>\x00\x1b[31m<p>POST is not served here</p></body></html>",
            501,
            "text/html",
        ),
        "503": (b"upstream connect error", 503, "text/plain"),
        "other-json": (b'{"status":"success","data":{"unexpected":true}}', 200, "application/json"),
    }

    def _answer(self) -> None:
        type(self).hits += 1
        type(self).seen.append(dict(self.headers.items()))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.mode in self.PAGES:
            body, status, ctype = self.PAGES[self.mode]
        elif self.mode == "echo401":
            echoed = "".join(
                f"<li>{k}: {v}</li>" for k, v in self.headers.items() if k.lower().startswith(("auth", "x-"))
            )
            body, status, ctype = f"<html><body><ul>{echoed}</ul></body></html>".encode(), 401, "text/html"
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
    Misbehaving.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
