"""A fake vLLM /metrics endpoint: a real HTTP server on loopback answering whatever body a test sets."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    """What the next GET answers: status and body; without `length` the body ends with the connection."""

    body: bytes = b""
    status: int = 200
    length: bool = True


class FakeVllm:
    """A local HTTP server; `url` is its /metrics address and `answer` is read on every request."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests += 1
                answer = fake.answer
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                if answer.length:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # a client that stops reading at its limit
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/metrics"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-vllm", daemon=True)
        self._thread.start()

    def serve(self, body: str | bytes, status: int = 200, *, length: bool = True) -> None:
        """Answer `body` with `status` from now on (`length=False`: no Content-Length, as a stream)."""
        self.answer = Answer(body.encode() if isinstance(body, str) else body, status, length)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def fake_vllm() -> Iterator[FakeVllm]:
    """A running FakeVllm, always closed afterwards."""
    server = FakeVllm()
    try:
        yield server
    finally:
        server.close()
