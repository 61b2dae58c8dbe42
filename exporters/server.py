"""The exporter's HTTP side: a Starlette app serving /metrics, /healthz and /readyz from memory.

Background components (GPU sampler, vLLM scraper, pod-resources watcher, OTLP pusher) start in
the app's lifespan and stop, in reverse order, on shutdown (uvicorn turns SIGTERM into a
graceful shutdown). `/metrics` only renders the collectors of a private registry, which read
snapshots, so a scrape never waits on NVML, vLLM or the kubelet. `/readyz` answers 200 once every
configured source has finished its first complete attempt. Sources whose exposition is large
(the vLLM pass-through) are `CachedPart`s: rendered once per new snapshot, joined per scrape.
"""

from __future__ import annotations

import gc
import logging
import ssl
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inferwatch.exporters.priority import SCRAPES
from inferwatch.exporters.worker import PeriodicWorker

log = logging.getLogger(__name__)

OPENMETRICS_TYPE = "application/openmetrics-text"


class Component(Protocol):
    """Something with a background life: started before serving, stopped at shutdown."""

    def start(self) -> None:
        """Begin (may take the first sample synchronously)."""

    def stop(self) -> None:
        """End and release resources."""


@dataclass(frozen=True)
class Source:
    """A named background component and the test of its first complete snapshot."""

    name: str
    component: Component
    ready: Callable[[], bool]


def wants_openmetrics(accept: str | None) -> bool:
    """Whether an Accept header asks for OpenMetrics text."""
    return any(part.split(";")[0].strip() == OPENMETRICS_TYPE for part in (accept or "").split(","))


EOF_LINE = b"# EOF\n"
RENDER_POLL_S = 0.05


class _InPieces:
    """A registry's families one at a time, stepping aside for scrapes between two (inferwatch.exporters.priority).

    A background render of the vLLM part formats ~2,000 samples; in one piece it holds the GIL for
    tens of milliseconds, and a scrape arriving meanwhile gets it back only at forced switches. Each
    family is a piece of well under a millisecond (issue 23: scrape p99 on real NVML).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """The registry's families, with a yield of the interpreter after each."""
        for family in self._registry.collect():
            yield family
            SCRAPES.step_aside()


def _render(registry: CollectorRegistry | _InPieces, openmetrics_format: bool) -> bytes:
    if openmetrics_format:
        # prometheus_client's default UNDERSCORES escaping rewrites the ':' of vllm:* sample names
        # (it checks samples against the label-name alphabet); every name here is a valid legacy
        # name, so ALLOWUTF8 writes them unchanged.
        body: bytes = openmetrics.generate_latest(  # type: ignore[no-untyped-call]
            registry, escaping=openmetrics.ALLOWUTF8
        )
        return body.removesuffix(EOF_LINE)
    return generate_latest(registry)  # it only calls collect()


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The exposition of `registry` in the format the Accept header asks for, and its content type."""
    if wants_openmetrics(accept):
        return _render(registry, True) + EOF_LINE, openmetrics.CONTENT_TYPE_LATEST
    return _render(registry, False), CONTENT_TYPE_PLAIN_0_0_4


class CachedPart:
    """Collectors whose exposition is rendered once per new snapshot, in the background.

    `version()` returns the object the collectors render (a snapshot; compared by identity).
    Rendering ~250 KB of vLLM text costs tens of milliseconds, so the renderer thread refreshes
    each wanted format (text always, OpenMetrics once asked for) when the snapshot changes, and a
    scrape takes the newest rendered body as it is: one of the current snapshot, or of the one
    before while the renderer catches up (it lags a new snapshot by a poll and a render, tens of
    milliseconds, against sampling cadences of seconds). A scrape renders only what was never
    rendered, or a part whose renderer has fallen `max_lag_s` behind. `passthrough(version, format)`,
    when given, returns text already in the exposition format (the engine's families) that follows
    the collectors' text.
    """

    def __init__(
        self,
        name: str,
        registry: CollectorRegistry,
        version: Callable[[], object],
        *,
        max_lag_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        passthrough: Callable[[object, bool], bytes] | None = None,
    ) -> None:
        """`registry` holds this part's collectors only."""
        self.name = name
        self.registry = registry
        self._version = version
        self._passthrough = passthrough
        self._max_lag = max_lag_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[bool, tuple[object, bytes]] = {}
        self._wanted: set[bool] = {False}
        self._behind_since: float | None = None

    def latest(self, openmetrics_format: bool) -> bytes | None:
        """The newest rendered exposition (see the class docstring), or None when a scrape must render."""
        self._wanted.add(openmetrics_format)
        cached = self._cache.get(openmetrics_format)
        if cached is None:
            return None
        if cached[0] is self._version():
            return cached[1]
        now = self._clock()
        if self._behind_since is None:
            self._behind_since = now
        return cached[1] if now - self._behind_since < self._max_lag else None

    def render(self, openmetrics_format: bool) -> bytes:
        """This part's exposition (without `# EOF`) of the current snapshot, rendered unless cached."""
        with self._lock:
            version = self._version()
            cached = self._cache.get(openmetrics_format)
            if cached is not None and cached[0] is version:
                return cached[1]
            body = _render(_InPieces(self.registry), openmetrics_format)
            if self._passthrough is not None:
                body += self._passthrough(version, openmetrics_format)
            self._cache[openmetrics_format] = (version, body)
            self._behind_since = None
            return body

    def refresh(self) -> None:
        """Render every format a scrape has asked for whose snapshot changed (the renderer's step)."""
        for openmetrics_format in tuple(self._wanted):
            self.render(openmetrics_format)


class _Renderer:
    """Keeps every cached part fresh on a background worker."""

    def __init__(self, parts: Sequence[CachedPart]) -> None:
        self._parts = parts
        self._worker = PeriodicWorker("inferwatch-renderer", self._refresh_all, interval_s=RENDER_POLL_S)

    def start(self) -> None:
        self._refresh_all()  # the first scrape finds the text form ready
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    @staticmethod
    def _refresh(part: CachedPart) -> None:
        try:
            part.refresh()
        except Exception:  # a failing render must not stop the others; a scrape renders it once lagging
            log.exception("rendering %s failed", part.name)

    def _refresh_all(self) -> None:
        for part in self._parts:
            self._refresh(part)


def create_app(
    registry: CollectorRegistry, sources: Sequence[Source], *, cached: Sequence[CachedPart] = ()
) -> Starlette:
    """The exporter's ASGI app, running `sources` for the app's lifetime.

    /metrics joins the `cached` parts (rendered once per snapshot) and `registry` (small, cheap
    collectors rendered in every scrape). Starlette, not FastAPI: three fixed routes need no request
    validation or OpenAPI models, and a sidecar in every vLLM pod keeps the ~6 MB they cost (issue 23).
    """
    renderer = _Renderer(cached)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        started: list[Source] = []
        try:
            for source in sources:
                source.component.start()
                started.append(source)
                log.info("source started name=%s ready=%s", source.name, source.ready())
            renderer.start()
            yield
        finally:
            renderer.stop()
            for source in reversed(started):
                try:
                    source.component.stop()
                except Exception:  # one failing stop must not keep the others running
                    log.exception("stopping source %s failed", source.name)
                log.info("source stopped name=%s", source.name)

    # A scrape is answered on the event loop from the rendered parts: a hop to the thread pool and
    # back costs two more waits for the GIL, which the samplers' threads hold at times. Only a part
    # never rendered in this format (or whose renderer lags) is rendered, in the thread pool, so
    # rendering never blocks the loop. `registry` holds small collectors of snapshots (process,
    # attribution), cheap enough for the loop.
    async def metrics(request: Request) -> Response:
        SCRAPES.begin()  # background parses and renders step aside until it is answered
        try:
            om = wants_openmetrics(request.headers.get("accept"))
            parts: list[bytes] = []
            for part in cached:
                latest = part.latest(om)
                if latest is None:
                    SCRAPES.end()  # waiting on a render now: the render must not step aside for it
                    try:
                        latest = await run_in_threadpool(part.render, om)
                    finally:
                        SCRAPES.begin()
                parts.append(latest)
            body = b"".join([*parts, _render(registry, om)])
        finally:
            SCRAPES.end()
        if om:
            return Response(content=body + EOF_LINE, media_type=openmetrics.CONTENT_TYPE_LATEST)
        return Response(content=body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    # The probes run on the loop too (each `ready()` reads a snapshot): no thread-pool thread for them.
    async def healthz(_: Request) -> Response:
        return Response(content="ok\n", media_type="text/plain")

    async def readyz(_: Request) -> Response:
        waiting = [s.name for s in sources if not s.ready()]
        if waiting:
            return Response(content=f"waiting for: {', '.join(waiting)}\n", media_type="text/plain", status_code=503)
        return Response(content="ready\n", media_type="text/plain")

    routes = [Route("/metrics", metrics), Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes, lifespan=lifespan)


# CPython hands the GIL to a waiting thread only after the holder ran this long (default 5 ms). A
# background vLLM parse (~40 ms for 250 KB) or render runs far longer, so with the default a scrape
# arriving meanwhile waits up to 5 ms at each of its steps: on 2 cores with vLLM parsed every
# second, bench/exporter_bench.py put the p99 near 18 ms at 5 ms and near 5 ms at 0.2 ms. A forced
# switch happens only while another thread waits, so the short interval costs nothing otherwise.
GIL_SWITCH_INTERVAL_S = 0.0002


def freeze_startup_objects() -> int:
    """Put every object alive now (modules, classes, the configuration) out of the cyclic GC's reach.

    After its imports the exporter holds ~70,000 objects that live as long as the process. A full
    collection walks every one of them while holding the interpreter (tens of ms on a busy core,
    stalling every scrape in flight) and the vLLM parse's garbage triggers one every few parses.
    `gc.freeze()` moves them to the permanent generation: collections then walk only what came
    since. Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def serve(app: Starlette, *, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
    """Run `app` under uvicorn until SIGINT/SIGTERM, then shut down gracefully (logs go to `logging`).

    ``ssl_context``: serve HTTPS with it (the web configuration's, inferwatch.exporters.web.tls).
    The exporter owns its process, so it also sets the interpreter's GIL switch interval and
    freezes its start-up objects (`freeze_startup_objects`).
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    log.debug("froze %d start-up objects out of the cyclic GC", freeze_startup_objects())
    # The asyncio loop, h11 and no websockets, whatever else the image holds: "auto" would load
    # uvloop or httptools where installed, and the exporter's memory would depend on the image.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        ws="none",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
        ssl_context_factory=(lambda _config, _default: ssl_context) if ssl_context is not None else None,
    )
    uvicorn.Server(config).run()
