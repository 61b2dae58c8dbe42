"""Basic authentication of the exporter's scrapes, as exporter-toolkit does it, and the ASGI guard around the app.

A bcrypt check costs ~100 ms of CPU (cost 10; 400 ms at 12), far more than a scrape, so
`BasicAuthVerifier` keeps exporter-toolkit's cache: the outcome of (user, hash, password) is
remembered, up to 100 entries with random eviction, so Prometheus's scrape every 15 s pays bcrypt
once, not every time. The key is a SHA-256 of the three, not the password itself. A user that
does not exist is checked against a fixed hash, so the answer takes as long as for a known user
(no user enumeration by timing), and checks run one at a time (a flood of wrong passwords costs one
core, not all of them). A miss runs in a worker thread: the event loop keeps answering scrapes.

`WebGuard` wraps the exporter's ASGI app: every path but the probes (/healthz, /readyz) needs a
valid user when the file lists any (401 with ``WWW-Authenticate: Basic`` otherwise, never data);
the response headers of ``http_server_config`` are added to every answer; while the file is broken,
every request but the probes gets 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import bcrypt
from anyio import to_thread

from inferwatch.exporters.web.config import WebConfig, WebConfigFile

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CACHE_SIZE = 100
# exporter-toolkit's bcrypt hash of "fakepassword", checked for unknown users.
FAKE_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
# The kubelet's probes carry no credentials; they reveal "ok" / "ready" / which source is waiting.
PROBE_PATHS = ("/healthz", "/readyz")


def parse_basic(header: bytes | None) -> tuple[bytes, bytes] | None:
    """(user, password) of an ``Authorization: Basic …`` header, or None when it is not one."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


class BasicAuthVerifier:
    """Checks basic-auth credentials against bcrypt hashes, remembering outcomes as exporter-toolkit does."""

    def __init__(self, size: int = CACHE_SIZE, rng: random.Random | None = None) -> None:
        self._size = size
        self._cache: dict[bytes, bool] = {}
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self._rng = rng or random.Random()
        self.bcrypt_checks = 0

    @staticmethod
    def _key(user: bytes, hashed: bytes, password: bytes) -> bytes:
        h = hashlib.sha256()
        for part in (user, hashed, password):
            h.update(len(part).to_bytes(4, "big"))
            h.update(part)
        return h.digest()

    def cached(self, user: bytes, password: bytes, users: dict[str, str]) -> bool | None:
        """The remembered outcome for these credentials under ``users``, or None (bcrypt must decide)."""
        hashed = users.get(user.decode("utf-8", "replace"), "").encode() or FAKE_HASH
        with self._cache_lock:
            return self._cache.get(self._key(user, hashed, password))

    def verify(self, user: bytes, password: bytes, users: dict[str, str]) -> bool:
        """Whether ``user`` may in with ``password`` (blocking: bcrypt when not remembered)."""
        name = user.decode("utf-8", "replace")
        known = name in users
        hashed = users[name].encode() if known else FAKE_HASH
        key = self._key(user, hashed, password)
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        with self._bcrypt_lock:
            self.bcrypt_checks += 1
            try:
                ok = bcrypt.checkpw(password, hashed)
            except ValueError:
                ok = False
        ok = ok and known
        with self._cache_lock:
            self._make_room()
            self._cache[key] = ok
        return ok

    def _make_room(self) -> None:
        if len(self._cache) < self._size:
            return
        # As exporter-toolkit: drop a tenth (at least one) at random, so this happens rarely.
        for key in self._rng.sample(list(self._cache), max(1, len(self._cache) // 10)):
            del self._cache[key]


async def _answer(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                        *headers],
        }
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class WebGuard:
    """ASGI middleware applying the web configuration file: basic auth (probes exempt) and response headers."""

    def __init__(self, app: ASGIApp, web: WebConfigFile, verifier: BasicAuthVerifier | None = None) -> None:
        self.app = app
        self.web = web
        self.verifier = verifier or BasicAuthVerifier()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope`` if the web configuration lets it through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = self.web.current()
        probe = scope["path"] in PROBE_PATHS
        if config is None and not probe:
            await _answer(send, 500, b"Internal Server Error\n", ())
            return
        extra = (
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in config.http_server_config.headers.items()]
            if config
            else []
        )
        if config is not None and config.basic_auth_users and not probe and not await self._allowed(scope, config):
            await _answer(send, 401, b"Unauthorized\n", [(b"www-authenticate", b"Basic"), *extra])
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _allowed(self, scope: Scope, config: WebConfig) -> bool:
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), None)
        creds = parse_basic(header)
        if creds is None:
            return False
        user, password = creds
        users = config.basic_auth_users
        hit = self.verifier.cached(user, password, users)
        if hit is not None:
            return hit
        ok: bool = await to_thread.run_sync(self.verifier.verify, user, password, users)
        if not ok:
            log.info("scrape refused: wrong basic-auth credentials client=%s", (scope.get("client") or ("?",))[0])
        return ok
