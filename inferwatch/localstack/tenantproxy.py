"""A tenant-checking reverse proxy on loopback: a bearer token and X-Scope-OrgID, as Mimir's gateway wants them.

Grafana Mimir and Cortex answer a request without ``X-Scope-OrgID`` with 401 "no org id", and
their gateways (or OpenShift's Thanos querier, or kube-rbac-proxy) refuse a request without the
right bearer token; a real Prometheus checks neither. `TenantProxy` stands in front of a real
Prometheus and does both: the wrong or missing token is 401 (403 for a token of another
identity), a missing or unknown tenant is 401 "no org id", anything else is forwarded unchanged
(path, query, body) and the upstream's answer returned. It records what each request carried.
"""

from __future__ import annotations

import base64
import logging
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

log = logging.getLogger(__name__)

TENANT_HEADER = "X-Scope-OrgID"
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Seen:
    """What one request to the proxy carried and how it was answered."""

    path: str
    authorization: str | None
    tenant: str | None
    status: int = 0


@dataclass
class TenantProxy:
    """Forwards to ``upstream`` what carries ``Bearer <token>`` and an allowed tenant; 401/403 otherwise."""

    upstream: str
    token: str
    tenants: tuple[str, ...]
    forbidden_tokens: tuple[str, ...] = ()
    port: int = 0
    # How the proxy itself reaches the upstream: a CA for HTTPS, a basic-auth user.
    upstream_tls: ssl.SSLContext | None = None
    upstream_auth: tuple[str, str] | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
                body = self.rfile.read(length) if length else None
                seen = Seen(self.path, self.headers.get("Authorization"), self.headers.get(TENANT_HEADER))
                proxy.seen.append(seen)
                status, headers, payload = proxy.answer(self.command, self.path, dict(self.headers.items()), body)
                seen.status = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("tenant proxy: " + format, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="tenant-proxy", daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body the proxy answers a request with."""
        text = {"Content-Type": "text/plain; charset=utf-8"}
        auth = headers.get("Authorization", "")
        if auth in (f"Bearer {t}" for t in self.forbidden_tokens):
            return 403, text, b"access denied\n"
        if auth != f"Bearer {self.token}":
            return 401, {**text, "WWW-Authenticate": 'Bearer realm="tenant-proxy"'}, b"unauthorized\n"
        if headers.get(TENANT_HEADER) not in self.tenants:
            return 401, text, b"no org id\n"
        forward = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        if self.upstream_auth is not None:
            user, password = self.upstream_auth
            forward["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(self.upstream + path, data=body, headers=forward, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60, context=self.upstream_tls) as resp:
                return resp.status, {"Content-Type": resp.headers.get("Content-Type", "")}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {"Content-Type": err.headers.get("Content-Type", "")}, err.read()

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
