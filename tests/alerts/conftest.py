"""Fixtures of the rules-area tests: a webhook receiver that records what Alertmanager posts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest


class Webhook:
    """A webhook receiver on loopback that records what Alertmanager posts, by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alertnames(self, path: str) -> set[tuple[str, str]]:
        """(alertname, namespace) of every alert posted to ``path``."""
        return {
            (a["labels"]["alertname"], a["labels"].get("namespace", ""))
            for p, body in self.received
            if p == path
            for a in body["alerts"]
        }


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A started webhook receiver on loopback, shut down after the test."""
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
