"""The exporter's TLS listener, its certificate re-read when it is renewed.

exporter-toolkit loads the certificate again for every new connection. Here the listening
SSLContext has an SNI callback (OpenSSL calls it for every handshake, with or without a server
name) that checks the web configuration and the certificate, key and client CA files (a `stat`
each) and, when one changed, builds a new context and hands it to the connection: cert-manager's
renewal, or a Secret swapped by the kubelet, reaches the next connection without a restart.
Prometheus keeps its connection open between scrapes, so this costs a few `stat` calls per
connection, not per scrape. A renewed file that cannot be loaded (a key not yet written) leaves
the previous certificate in use and is logged once.

What OpenSSL fixes when a connection starts stays the context's at start: switching
``client_auth_type`` needs a restart (the new certificates are used at once).
"""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path

from inferwatch.exporters.web.config import TLSServerConfig, WebConfigFile, build_server_context

log = logging.getLogger(__name__)

Signature = tuple[tuple[int, int, int] | None, ...]


def _files_signature(t: TLSServerConfig) -> Signature:
    out: list[tuple[int, int, int] | None] = []
    for path in (t.cert_file, t.key_file, t.client_ca_file):
        try:
            st = Path(path).stat() if path else None
        except OSError:
            st = None
        out.append((st.st_mtime_ns, st.st_size, st.st_ino) if st else None)
    return tuple(out)


class ReloadingTLS:
    """The SSLContext the exporter listens with, swapped for a fresh one when its files change."""

    def __init__(self, web: WebConfigFile) -> None:
        config = web.current()
        if config is None or not config.tls_server_config.enabled:
            raise ValueError("the web configuration does not enable TLS")
        self._web = web
        self._lock = threading.Lock()
        self._tls = config.tls_server_config
        self._signature = _files_signature(self._tls)
        self._current = build_server_context(self._tls)
        self._failed: Signature | None = None
        self.reloads = 0
        self.listening = self._current
        self.listening.sni_callback = self._on_hello

    def _on_hello(self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext) -> None:
        newest = self.newest()
        if newest is not ctx:
            conn.context = newest

    def newest(self) -> ssl.SSLContext:
        """The context of the files as they are now (rebuilt when one changed and loads)."""
        config = self._web.current()
        tls = config.tls_server_config if config is not None and config.tls_server_config.enabled else self._tls
        signature = _files_signature(tls)
        if tls == self._tls and signature == self._signature:
            return self._current
        with self._lock:
            if tls == self._tls and signature == self._signature:
                return self._current
            if signature == self._failed:
                return self._current
            try:
                fresh = build_server_context(tls)
            except (ssl.SSLError, OSError, ValueError) as err:
                self._failed = signature
                log.error("TLS certificate %s could not be loaded; keeping the previous one: %s", tls.cert_file,
                          getattr(err, "reason", None) or err)  # fmt: skip
                return self._current
            fresh.sni_callback = self._on_hello
            self._tls, self._signature, self._current, self._failed = tls, signature, fresh, None
            self.reloads += 1
            log.info("TLS certificate %s reloaded", tls.cert_file)
            return fresh
