"""The exporter's HTTP side: a FastAPI app serving /metrics, /healthz and /readyz from memory.

Background components (GPU sampler, vLLM scraper, pod-resources watcher, OTLP pusher) start in
the app's lifespan and stop, in reverse order, on shutdown (uvicorn turns SIGTERM into a
graceful shutdown). `/metrics` only renders the collectors of a private registry, which read
snapshots, so a scrape never waits on NVML, vLLM or the kubelet. `/readyz` answers 200 once every
configured source has finished its first complete attempt.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

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


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The exposition of `registry` in the format the Accept header asks for, and its content type."""
    if wants_openmetrics(accept):
        # prometheus_client's default UNDERSCORES escaping rewrites the ':' of vllm:* sample names
        # (it checks samples against the label-name alphabet); every name here is a valid legacy
        # name, so ALLOWUTF8 writes them unchanged.
        om_body: bytes = openmetrics.generate_latest(  # type: ignore[no-untyped-call]
            registry, escaping=openmetrics.ALLOWUTF8
        )
        return om_body, openmetrics.CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def create_app(registry: CollectorRegistry, sources: Sequence[Source]) -> FastAPI:
    """The exporter's ASGI app over `registry`, running `sources` for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Source] = []
        try:
            for source in sources:
                source.component.start()
                started.append(source)
                log.info("source started name=%s ready=%s", source.name, source.ready())
            yield
        finally:
            for source in reversed(started):
                try:
                    source.component.stop()
                except Exception:  # one failing stop must not keep the others running
                    log.exception("stopping source %s failed", source.name)
                log.info("source stopped name=%s", source.name)

    app = FastAPI(title="inferwatch exporter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    # Plain `def` endpoints run in the thread pool, so rendering never blocks the event loop.
    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        body, content_type = render_metrics(registry, request.headers.get("accept"))
        return Response(content=body, media_type=content_type)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(content="ok\n", media_type="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        waiting = [s.name for s in sources if not s.ready()]
        if waiting:
            return Response(content=f"waiting for: {', '.join(waiting)}\n", media_type="text/plain", status_code=503)
        return Response(content="ready\n", media_type="text/plain")

    return app


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Run `app` under uvicorn until SIGINT/SIGTERM, then shut down gracefully (logs go to `logging`)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=5, lifespan="on"
    )
    uvicorn.Server(config).run()
